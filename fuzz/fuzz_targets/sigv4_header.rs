#![no_main]

use libfuzzer_sys::fuzz_target;

mod sigv4_header {
    include!("../src/sigv4_header.rs");
}

fuzz_target!(|data: &[u8]| sigv4_header::check_sigv4_header(data));
