#![no_main]

use libfuzzer_sys::fuzz_target;

mod sts_inputs {
    include!("../src/sts_inputs.rs");
}

fuzz_target!(|data: &[u8]| sts_inputs::check_sts_inputs(data));
