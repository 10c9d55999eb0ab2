//! Copy-paste duplicate detection with bounded memory.
//!
//! A connected TCP row (concrete remote endpoint) that repeats an earlier row of the same
//! snapshot character for character cannot be a second socket: the kernel never holds two
//! sockets with the same 4-tuple. Such a repeat is a copy-paste artefact and is counted once.
//! Listeners and unbound rows are never checked: `SO_REUSEPORT` listeners look identical and
//! are real.
//!
//! Memory: instead of the rows, a 64-bit fingerprint of each connected row (its trimmed
//! text) is kept with the line it came from and a 2-byte tag, in an open-addressing table of
//! at most `cap` entries per snapshot ([`ParseOptions::dedupe_cap`](crate::ParseOptions),
//! default 2^16 = 65 536 connected rows). The table holds at most 2 × cap slots of 14 bytes
//! (1.8 MB at the default), is allocated lazily and grows by doubling, so small inputs use
//! almost nothing. When it is full, later rows are still looked up but no longer remembered,
//! and the snapshot says the cap was reached (a gap). The default is sized for what
//! copy-paste produces (a terminal paste of tens of thousands of rows at most) and so that
//! lookups stay in the CPU cache on multi-million-row files, which come from redirected
//! output, not from a clipboard. Two different rows share a fingerprint with probability
//! about n²/2^65 (10^-10 at 65 536 rows); such a false match would show up as a reported
//! duplicate with both line numbers, never silently.

/// 64-bit fingerprint of a row: a multiply-rotate hash over 8-byte words, with the length
/// mixed in and a strong final mix (splitmix64 finaliser), so that rows differing in one
/// digit spread well.
#[inline]
pub(crate) fn fingerprint(text: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = 0x243F_6A88_85A3_08D3 ^ (text.len() as u64).wrapping_mul(K);
    let mut chunks = text.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut w = [0u8; 8];
        w[..rem.len()].copy_from_slice(rem);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    let mut z = h;
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

/// A bounded fingerprint table (open addressing, linear probing). Beside the 8-byte keys it
/// keeps a 2-byte tag per slot (0 = empty), so that looking up a row that is new, the common
/// case, reads only the small tag array (256 KB at the default cap) and stays in cache.
#[derive(Debug)]
pub(crate) struct Dedupe {
    tags: Vec<u16>,
    keys: Vec<u64>,
    lines: Vec<u32>,
    len: usize,
    cap: usize,
    reached: bool,
}

#[inline]
fn tag_of(fp: u64) -> u16 {
    ((fp >> 48) as u16) | 1
}

impl Dedupe {
    pub(crate) fn new(cap: usize) -> Dedupe {
        Dedupe {
            tags: Vec::new(),
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
        let new_size = if self.tags.is_empty() {
            1024
        } else {
            self.tags.len() * 2
        };
        let old_tags = std::mem::replace(&mut self.tags, vec![0; new_size]);
        let old_keys = std::mem::replace(&mut self.keys, vec![0; new_size]);
        let old_lines = std::mem::replace(&mut self.lines, vec![0; new_size]);
        let mask = new_size - 1;
        for ((t, k), l) in old_tags.into_iter().zip(old_keys).zip(old_lines) {
            if t != 0 {
                let mut i = (k as usize) & mask;
                while self.tags[i] != 0 {
                    i = (i + 1) & mask;
                }
                self.tags[i] = t;
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
        let tag = tag_of(fp);
        if !self.tags.is_empty() {
            let mask = self.tags.len() - 1;
            let mut i = (fp as usize) & mask;
            loop {
                let t = self.tags[i];
                if t == 0 {
                    if self.len < self.cap && (self.len + 1) * 2 <= self.tags.len() {
                        // Room without growing: insert here.
                        self.tags[i] = tag;
                        self.keys[i] = fp;
                        self.lines[i] = u32::try_from(line).unwrap_or(u32::MAX);
                        self.len += 1;
                        return Seen::New;
                    }
                    break;
                }
                if t == tag && self.keys[i] == fp {
                    return Seen::Repeat(self.lines[i] as usize);
                }
                i = (i + 1) & mask;
            }
        }
        if self.len >= self.cap {
            self.reached = true;
            return Seen::New;
        }
        self.grow();
        let mask = self.tags.len() - 1;
        let mut i = (fp as usize) & mask;
        while self.tags[i] != 0 {
            i = (i + 1) & mask;
        }
        self.tags[i] = tag;
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
