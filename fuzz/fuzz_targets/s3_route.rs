#![no_main]

use libfuzzer_sys::fuzz_target;

mod s3_route {
    include!("../src/s3_route.rs");
}

fuzz_target!(|data: &[u8]| s3_route::check_s3_route(data));
