//! Fuzz target: the text parser must never panic, on any bytes, in any forced format, and
//! the counts it reports must add up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcpdoctor_text::{parse_bytes, Format, ParseOptions};

fuzz_target!(|data: &[u8]| {
    // The first byte picks a forced format (or detection), the rest is the input.
    let (sel, input) = match data.split_first() {
        Some((s, rest)) => (*s as usize, rest),
        None => (0, data),
    };
    let format = if sel % 13 < Format::ALL.len() { Some(Format::ALL[sel % 13]) } else { None };
    let opts = ParseOptions { format, threads: 1, max_line_bytes: 4096, ..ParseOptions::default() };
    if let Ok(out) = parse_bytes(input, &opts) {
        assert_eq!(out.snapshots.len(), out.details.len());
        let mut total = 0;
        for (s, d) in out.snapshots.iter().zip(&out.details) {
            assert_eq!(s.sockets.len() as u64, d.counts.total());
            assert_eq!(s.unknown_rows.len() as u64, d.unknown_rows);
            total += d.counts.total();
        }
        assert_eq!(out.states.total(), total);
    }
});
