#![no_main]

use libfuzzer_sys::fuzz_target;

mod policy_validate {
    include!("../src/policy_validate.rs");
}

fuzz_target!(|data: &[u8]| policy_validate::check_policy_validate(data));
