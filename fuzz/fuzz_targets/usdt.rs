// cargo-fuzz target `usdt`: see rbt_fuzz::targets::usdt.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rbt_fuzz::targets::usdt(data));
