//! Streams a (possibly huge) netstat/ss file through the full parser and prints the TCP
//! count per state, like `awk '/^tcp/ {++S[$NF]} END {for (a in S) print a, S[a]}'` but with
//! every row turned into a `Socket` (addresses, ports, queues, owners, timers).
//!
//! `cargo run --release -p tcpdoctor-text --example count -- FILE`
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::BufReader;
use tcpdoctor_model::{Host, Port, Socket, StateCounts};
use tcpdoctor_text::{parse_reader, ParseOptions, TextSink};

/// Counts states and touches every parsed field so the work cannot be optimised away.
#[derive(Default)]
struct Count {
    states: StateCounts,
    port_sum: u64,
    v6: u64,
    queued: u64,
}

impl TextSink for Count {
    fn socket(&mut self, s: &Socket, _line: usize) {
        self.states.add(s.state);
        if let Port::Num(p) = s.local.port {
            self.port_sum += u64::from(p);
        }
        if let Port::Num(p) = s.remote.port {
            self.port_sum += u64::from(p);
        }
        if let Host::Ip(ip) = s.remote.host {
            self.v6 += u64::from(ip.is_ipv6());
        }
        self.queued += u64::from(s.send_q.unwrap_or(0)) + u64::from(s.recv_q.unwrap_or(0));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.iter().find(|a| !a.starts_with("--")).cloned() else {
        eprintln!("usage: count FILE [--dedupe-cap=N] [--threads=N]");
        std::process::exit(2);
    };
    let mut opts = ParseOptions::default();
    for a in &args {
        if let Some(v) = a.strip_prefix("--dedupe-cap=") {
            opts.dedupe_cap = v.parse().unwrap_or(opts.dedupe_cap);
        }
        if let Some(v) = a.strip_prefix("--threads=") {
            opts.threads = v.parse().unwrap_or(0);
        }
    }
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let mut sink = Count::default();
    let start = std::time::Instant::now();
    match parse_reader(BufReader::with_capacity(1 << 20, file), &opts, &mut sink) {
        Ok(stats) => {
            for (s, n) in sink.states.iter().filter(|(_, n)| *n > 0) {
                println!("{s} {n}");
            }
            eprintln!(
                "format {} lines {} sockets {} unknown {} duplicates {} skipped {} ({:.3} s; port sum {}, v6 peers {}, queued {})",
                stats.format,
                stats.lines,
                stats.sockets,
                stats.unknown_rows,
                stats.duplicates,
                stats.skipped,
                start.elapsed().as_secs_f64(),
                sink.port_sum,
                sink.v6,
                sink.queued
            );
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}
