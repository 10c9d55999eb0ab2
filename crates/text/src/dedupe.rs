//! Copy-paste duplicate detection with bounded memory.
//!
//! A connected TCP row (concrete remote endpoint) that repeats an earlier row of the same
//! snapshot character for character cannot be a second socket: the kernel never holds two
//! sockets with the same 4-tuple. Such a repeat is a copy-paste artefact and is counted once.
//! Listeners and unbound rows are never checked: `SO_REUSEPORT` listeners look identical and
//! are real.
//!
//! Memory: instead of the rows, a 64-bit fingerprint of each connected row (trimmed line
//! text) is kept with the line it came from, in an open-addressing table of at most
//! `cap` entries per snapshot (12 bytes each, about 25 MB at the default cap of 2^20 rows;
//! allocated lazily and grown by doubling, so small inputs use almost nothing). When the table
//! is full, later rows are still looked up but no longer remembered, and the snapshot reports
//! that the cap was reached. Two different rows share a fingerprint with probability about
//! n²/2^65 (3·10^-8 at a million rows); such a false match would show up as a reported
//! duplicate with both line numbers, never silently.

/// 64-bit fingerprint of a row: a fast multiply-rotate hash over 8-byte words with a strong
/// final mix (splitmix64 finaliser), so that rows differing in one digit spread well.
#[inline]
pub(crate) fn fingerprint(text: &[u8]) -> u64 {
    const K1: u64 = 0x9E37_79B9_7F4A_7C15;
    const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    let mut h1: u64 = 0x243F_6A88_85A3_08D3 ^ text.len() as u64;
    let mut h2: u64 = 0x1319_8A2E_0370_7344;
    let mut chunks = text.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let w = u64::from_le_bytes(w);
        h1 = (h1 ^ w).wrapping_mul(K1).rotate_left(31);
        h2 = (h2 ^ w.rotate_left(17)).wrapping_mul(K2).rotate_left(27);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut w = [0u8; 8];
        w[..rem.len()].copy_from_slice(rem);
        let w = u64::from_le_bytes(w) ^ ((rem.len() as u64) << 59);
        h1 = (h1 ^ w).wrapping_mul(K1).rotate_left(31);
        h2 = (h2 ^ w.rotate_left(17)).wrapping_mul(K2).rotate_left(27);
    }
    let mut z = h1 ^ h2.rotate_left(32);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// First time: keep the row.
    New,
    /// A repeat of the row on this 1-based line.
    Repeat(usize),
}

/// A bounded fingerprint table (open addressing, linear probing; fingerprint 0 marks an
/// empty slot, a real 0 is stored as 1).
#[derive(Debug)]
pub(crate) struct Dedupe {
    keys: Vec<u64>,
    lines: Vec<u32>,
    len: usize,
    cap: usize,
    reached: bool,
}

impl Dedupe {
    pub(crate) fn new(cap: usize) -> Dedupe {
        Dedupe {
            keys: Vec::new(),
            lines: Vec::new(),
            len: 0,
            cap,
            reached: false,
        }
    }

    /// Whether the cap was reached.
    pub(crate) fn cap_reached(&self) -> bool {
        self.reached
    }

    fn grow(&mut self) {
        let new_size = if self.keys.is_empty() {
            1024
        } else {
            self.keys.len() * 2
        };
        let old_keys = std::mem::replace(&mut self.keys, vec![0; new_size]);
        let old_lines = std::mem::replace(&mut self.lines, vec![0; new_size]);
        let mask = new_size - 1;
        for (k, l) in old_keys.into_iter().zip(old_lines) {
            if k != 0 {
                let mut i = (k as usize) & mask;
                while self.keys[i] != 0 {
                    i = (i + 1) & mask;
                }
                self.keys[i] = k;
                self.lines[i] = l;
            }
        }
    }

    /// Checks a fingerprint and remembers it (while there is room).
    #[inline]
    pub(crate) fn check(&mut self, fp: u64, line: usize) -> Seen {
        if self.cap == 0 {
            return Seen::New;
        }
        let fp = if fp == 0 { 1 } else { fp };
        if !self.keys.is_empty() {
            let mask = self.keys.len() - 1;
            let mut i = (fp as usize) & mask;
            loop {
                let k = self.keys[i];
                if k == 0 {
                    break;
                }
                if k == fp {
                    return Seen::Repeat(self.lines[i] as usize);
                }
                i = (i + 1) & mask;
            }
        }
        if self.len >= self.cap {
            self.reached = true;
            return Seen::New;
        }
        // Keep the load factor at or below 1/2.
        if (self.len + 1) * 2 > self.keys.len() {
            self.grow();
        }
        let mask = self.keys.len() - 1;
        let mut i = (fp as usize) & mask;
        while self.keys[i] != 0 {
            i = (i + 1) & mask;
        }
        self.keys[i] = fp;
        self.lines[i] = u32::try_from(line).unwrap_or(u32::MAX);
        self.len += 1;
        Seen::New
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_repeats_and_respects_the_cap() {
        let mut d = Dedupe::new(3);
        assert_eq!(d.check(fingerprint(b"a"), 1), Seen::New);
        assert_eq!(d.check(fingerprint(b"b"), 2), Seen::New);
        assert_eq!(d.check(fingerprint(b"a"), 3), Seen::Repeat(1));
        assert_eq!(d.check(fingerprint(b"c"), 4), Seen::New);
        assert!(!d.cap_reached());
        assert_eq!(d.check(fingerprint(b"d"), 5), Seen::New);
        assert!(d.cap_reached());
        assert_eq!(d.check(fingerprint(b"d"), 6), Seen::New); // not remembered
        assert_eq!(d.check(fingerprint(b"c"), 7), Seen::Repeat(4));
    }

    #[test]
    fn fingerprints_differ_for_close_rows() {
        let a =
            fingerprint(b"tcp        0      0 10.0.0.1:40000          10.0.0.2:443  ESTABLISHED");
        let b =
            fingerprint(b"tcp        0      0 10.0.0.1:40001          10.0.0.2:443  ESTABLISHED");
        assert_ne!(a, b);
        assert_ne!(fingerprint(b""), fingerprint(b"\0"));
        let mut d = Dedupe::new(1 << 20);
        for i in 0..200_000u32 {
            assert_eq!(
                d.check(fingerprint(format!("row {i}").as_bytes()), i as usize + 1),
                Seen::New
            );
        }
    }
}
