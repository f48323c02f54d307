#![no_main]

use libfuzzer_sys::fuzz_target;

mod chunk_decoder {
    include!("../src/chunk_decoder.rs");
}

fuzz_target!(|data: &[u8]| chunk_decoder::check_chunk_decoder(data));
