//! Fuzzes the header decoder behind the checksums: the input is taken as encoded header bytes
//! (and, after a 0xff byte, page data), framed with a correct preamble (`snapfmt::frame`), so
//! every input passes the checksums and reaches postcard decoding, `Header::validate` and the
//! preamble/header/size consistency rules. Any input must give `Ok` or a `SnapError`, never a
//! panic, a hang or an unbounded allocation; a decoded header must round-trip through `encode`.
//! Run with `cargo xtask fuzz` (or `cargo +nightly-2026-05-20 fuzz run header` in `snapfmt/`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let (header, data) = match input.iter().position(|&b| b == 0xff) {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &[][..]),
    };
    let file = snapfmt::frame(header, data);
    if let Ok(d) = snapfmt::decode(&file) {
        // Whatever decodes must encode again to a file that decodes to the same header.
        let pages = vec![0u8; d.data_len as usize];
        let (again, _) = snapfmt::encode(&d.header, &pages).expect("a decoded header encodes");
        assert_eq!(snapfmt::decode(&again).expect("re-encoded file decodes").header, d.header);
    }
});
