//! Fuzzes the snapshot reader: any input must give `Ok` or a `SnapError`, never a panic,
//! a hang or an unbounded allocation. Run with `cargo fuzz run reader` in `snapfmt/`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = snapfmt::decode(data);
});
