#![no_main]

use libfuzzer_sys::fuzz_target;

mod policy_parse {
    include!("../src/policy_parse.rs");
}

fuzz_target!(|data: &[u8]| policy_parse::check_policy_parse(data));
