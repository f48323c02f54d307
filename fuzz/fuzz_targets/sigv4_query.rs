#![no_main]

use libfuzzer_sys::fuzz_target;

mod sigv4_query {
    include!("../src/sigv4_query.rs");
}

fuzz_target!(|data: &[u8]| sigv4_query::check_sigv4_query(data));
