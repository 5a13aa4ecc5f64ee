#![no_main]
//! libFuzzer wrapper of the `fsst_table` target of `heliosdb_compress::fuzz`.

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn run() -> fn(&[u8]) {
    static RUN: OnceLock<fn(&[u8])> = OnceLock::new();
    *RUN.get_or_init(|| {
        heliosdb_compress::fuzz::targets()
            .into_iter()
            .find(|t| t.name == "fsst_table")
            .expect("target fsst_table exists")
            .run
    })
}

fuzz_target!(|data: &[u8]| run()(data));
