//! The parser never panics, on any bytes: every corpus file, mutated many ways with a
//! deterministic PRNG (no extra dependencies), through every forced format, sequentially and
//! on worker threads; and the counts it reports always add up.

use std::path::PathBuf;
use tcpdoctor_text::{parse_bytes, parse_reader, Format, ParseOptions, ParseStats, TextSink};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&[u8]] = &[
    b"tcp",
    b"tcp6",
    b"tcp46",
    b"TCP",
    b"udp",
    b"u_str",
    b"ESTAB",
    b"LISTEN",
    b"TIME_WAIT",
    b"ABH\x99REN",
    b":",
    b".",
    b"*",
    b"[",
    b"]",
    b"%",
    b"(",
    b")",
    b"/",
    b"\r",
    b"\n",
    b"\t",
    b"\xff",
    b"\xc3",
    b"\xe2\x80\xa6",
    b"users:((\"x\",pid=",
    b"timer:(on,",
    b"...",
    b"Proto",
    b"Recv-Q",
    b"Netid",
    b"State",
    b"sl",
    b"local_address",
    b"Active Connections",
    b"TCP: IPv4",
    b"LocalAddress",
    b"Total:",
    b"$ ss -tn state time-wait\n",
    b"C:\\>netstat -ano\n",
    b"0100007F:0CEA",
    b"::ffff:",
    b"65536",
    b"4294967296",
    b"99999999999999999999999",
    b"[::]:0",
    b"*.*",
    b"--snip--",
    b"(state)",
    b"Tcpcb",
    b"0",
    b"-",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    let rounds = 1 + rng.below(8);
    for _ in 0..rounds {
        let len = v.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(i..i, t.iter().copied());
            }
            2 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(64)).min(len);
                v.drain(a..b);
            }
            3 if len > 0 => {
                // Repeat a range (copy-paste artefacts).
                let a = rng.below(len);
                let b = (a + rng.below(400)).min(len);
                let chunk = v[a..b].to_vec();
                v.splice(b..b, chunk);
            }
            4 => v.truncate(rng.below(len + 1)),
            5 if len > 0 => {
                let i = rng.below(len);
                v[i] = (rng.next() & 0xFF) as u8;
            }
            6 => {
                // Lines swapped around.
                let mut lines: Vec<Vec<u8>> =
                    v.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                if lines.len() > 2 {
                    let a = rng.below(lines.len());
                    let b = rng.below(lines.len());
                    lines.swap(a, b);
                }
                v = lines.join(&b"\n"[..]);
            }
            _ => {
                let i = rng.below(len + 1);
                let n = rng.below(20);
                let junk: Vec<u8> = (0..n).map(|_| (rng.next() & 0xFF) as u8).collect();
                v.splice(i..i, junk);
            }
        }
    }
    v
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let expected = std::fs::read_to_string(dir.join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    let mut paths: Vec<&str> = expected
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .collect();
    paths.dedup();
    paths
        .iter()
        .map(|p| std::fs::read(dir.join(p)).expect("fixture"))
        .collect()
}

fn check(bytes: &[u8], opts: &ParseOptions) {
    if let Ok(out) = parse_bytes(bytes, opts) {
        assert_eq!(out.snapshots.len(), out.details.len());
        let mut total = 0;
        for (s, d) in out.snapshots.iter().zip(&out.details) {
            assert_eq!(s.sockets.len() as u64, d.counts.total());
            assert_eq!(s.unknown_rows.len() as u64, d.unknown_rows);
            assert!(d.first_line <= d.last_line.max(d.first_line));
            total += d.counts.total();
        }
        assert_eq!(out.states.total(), total);
        assert!(out.skipped.len() as u64 <= out.skipped_total);
    }
}

#[test]
fn mutated_corpus_never_panics() {
    let files = corpus();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let forced: Vec<Option<Format>> = std::iter::once(None)
        .chain(Format::ALL.iter().copied().map(Some))
        .collect();
    let mut runs = 0;
    for f in &files {
        for k in 0..120 {
            let m = mutate(&mut rng, f);
            let opts = ParseOptions {
                format: forced[k % forced.len()],
                ..ParseOptions::default()
            };
            check(&m, &opts);
            runs += 1;
        }
    }
    assert_eq!(runs, files.len() * 120);
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for n in 0..2000 {
        let len = rng.below(600);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                // Mostly printable, with separators and high bytes.
                match rng.below(10) {
                    0 => b'\n',
                    1 => b' ',
                    2 => (rng.next() & 0xFF) as u8,
                    _ => b"tcp0123456789.:*[]%/-_()ABCDEFabcdef ESTABLISHEDLISTEN"[rng.below(54)],
                }
            })
            .collect();
        let opts = ParseOptions {
            threads: 1,
            max_line_bytes: 1 + n % 300,
            ..ParseOptions::default()
        };
        check(&bytes, &opts);
    }
    // UTF-16 byte-order marks followed by odd lengths.
    for tail in [
        &b""[..],
        b"\x00",
        b"a",
        b"\x00\xd8",
        b"\x00\xd8\x00\xdc\x41",
    ] {
        let mut v = vec![0xFF, 0xFE];
        v.extend_from_slice(tail);
        check(&v, &ParseOptions::default());
        let mut v = vec![0xFE, 0xFF];
        v.extend_from_slice(tail);
        check(&v, &ParseOptions::default());
    }
}

struct Null;
impl TextSink for Null {
    fn socket(&mut self, _s: &tcpdoctor_model::Socket, _line: usize) {}
}

#[test]
fn mutated_big_input_on_threads_matches_sequential() {
    let files = corpus();
    let mut rng = Rng(7);
    let mut big = Vec::new();
    while big.len() < 3 << 20 {
        let f = &files[rng.below(files.len())];
        big.extend(mutate(&mut rng, f));
        big.push(b'\n');
    }
    let run = |threads: usize| -> Result<ParseStats, String> {
        let opts = ParseOptions {
            threads,
            ..ParseOptions::default()
        };
        parse_reader(&big[..], &opts, &mut Null).map_err(|e| e.to_string())
    };
    let one = run(1);
    assert_eq!(run(2), one);
    assert_eq!(run(4), one);
}
