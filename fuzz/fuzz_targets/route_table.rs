#![no_main]

use libfuzzer_sys::fuzz_target;

mod route_table {
    include!("../src/route_table.rs");
}

fuzz_target!(|data: &[u8]| route_table::check_route_table(data));
