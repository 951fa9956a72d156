// cargo-fuzz target `btf`: see rbt_fuzz::targets::btf.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rbt_fuzz::targets::btf(data));
