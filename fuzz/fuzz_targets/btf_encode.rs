// cargo-fuzz target `btf_encode`: see rbt_fuzz::targets::btf_encode.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rbt_fuzz::targets::btf_encode(data));
