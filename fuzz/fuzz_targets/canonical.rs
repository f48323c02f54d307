#![no_main]

use libfuzzer_sys::fuzz_target;

mod canonical {
    include!("../src/canonical.rs");
}

fuzz_target!(|data: &[u8]| canonical::check_canonical(data));
