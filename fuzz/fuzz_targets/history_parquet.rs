//! History Parquet bytes → `read_history`, strict and with `--skip-bad-rows`.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| common::read_history_bytes_both_ways("parquet", data));
