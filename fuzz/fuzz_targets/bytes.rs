// cargo-fuzz target `bytes`: see rbt_fuzz::targets::bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rbt_fuzz::targets::bytes(data));
