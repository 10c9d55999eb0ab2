//! `awk_floor FILE`: exactly what the awk command does
//! (`awk '/^tcp/ {++S[$NF]} END {for (a in S) print a, S[a]}'`), in Rust: split lines, count
//! the last field of the lines that start with `tcp`. No address, queue or state is parsed.
//!
//! A reference for `scripts/bench-analyze` and docs/benchmarks.md: the time any program needs
//! just to read the file and find the lines, against which `tcpdoctor analyze`'s full parse and
//! diagnosis are measured.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::io::Read;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: awk_floor FILE");
        std::process::exit(2);
    };
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut have = 0usize;
    loop {
        if have == buf.len() {
            // A line longer than the buffer: grow it.
            buf.resize(buf.len() * 2, 0);
        }
        let n = match file.read(&mut buf[have..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(2);
            }
        };
        let end = have + n;
        // At the end of the file the last line may have no newline.
        let cut = if n == 0 {
            end
        } else {
            match memchr::memrchr(b'\n', &buf[..end]) {
                Some(i) => i + 1,
                None => {
                    have = end;
                    continue;
                }
            }
        };
        let mut start = 0;
        while start < cut {
            let stop = memchr::memchr(b'\n', &buf[start..cut]).map_or(cut, |i| start + i + 1);
            let line = &buf[start..stop];
            start = stop;
            if !line.starts_with(b"tcp") {
                continue;
            }
            // $NF: the last run of non-blanks.
            let line = line.trim_ascii_end();
            let from = line
                .iter()
                .rposition(|b| b.is_ascii_whitespace())
                .map_or(0, |i| i + 1);
            let field = &line[from..];
            match counts.get_mut(field) {
                Some(c) => *c += 1,
                None => {
                    counts.insert(field.to_vec(), 1);
                }
            }
        }
        if n == 0 {
            break;
        }
        buf.copy_within(start..end, 0);
        have = end - start;
    }
    for (k, v) in &counts {
        println!("{} {v}", String::from_utf8_lossy(k));
    }
}
