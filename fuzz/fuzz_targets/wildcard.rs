#![no_main]

use libfuzzer_sys::fuzz_target;

mod wildcard {
    include!("../src/wildcard.rs");
}

fuzz_target!(|data: &[u8]| wildcard::check_wildcard(data));
