//! Counts the TCP sockets of the current network namespace per state with the netlink source,
//! like `shared/bench/netlink-dump`: the dump+count path of `tcpdoctor summary`, for timing.
//!
//! Usage: `dump_count [-n NETNS] [-s STATE]... [-4|-6] [--per-family|--one-walk] [--sport R] [--dport R] [-r REPS] [-v]`
//!
//! Measured on the 2-vCPU dev VM (kernel 6.18), release build, inside a netns filled by
//! `mkscenario`, commands alternated in one run, median wall time:
//!
//! | sockets | `netlink-dump` | `netlink-dump -u` | `count` (one walk) | `count --per-family` |
//! |---------|----------------|-------------------|--------------------|----------------------|
//! | 100k    | 132.5 ms       | 100.9 ms          | 93.5 ms (0.71x)    | 109.9 ms (0.83x)     |
//! | 125k    | 155.9 ms       | 124.2 ms          | 124.1 ms (0.80x)   | 147.5 ms (0.95x)     |
//! | 1M      | 1236 ms        | 865 ms            | 1100 ms (0.89x)    | 1046 ms (0.85x)      |
//! | 1M      | 1411 ms        | 1187 ms           | 1076 ms (0.76x)    | not run              |
//!
//! User CPU for 1M sockets is about 12 ms; the rest is the kernel's walk.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use tcpdoctor_model::{CountingSink, StateSet};
use tcpdoctor_sources::netlink::{dump, DumpOptions, Families, RequestMode};
use tcpdoctor_sources::sys::enter_netns;

fn main() -> ExitCode {
    let mut opts = DumpOptions {
        states: StateSet::EMPTY,
        ..DumpOptions::default()
    };
    let mut netns = None;
    let mut verbose = false;
    let mut reps = 1u32;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |what: &str| match args.next() {
            Some(v) => v,
            None => {
                eprintln!("count: {a} needs {what}");
                std::process::exit(2)
            }
        };
        match a.as_str() {
            "-n" => netns = Some(val("a namespace name")),
            "-s" => match StateSet::parse(&val("a state")) {
                Ok(s) => opts.states = opts.states.union(s),
                Err(e) => {
                    eprintln!("count: {e}");
                    return ExitCode::from(2);
                }
            },
            "-4" => opts.families = Families::V4,
            "-6" => opts.families = Families::V6,
            "--per-family" => opts.mode = RequestMode::PerFamily,
            "--one-walk" => opts.mode = RequestMode::OneWalk,
            "--sport" | "--dport" => {
                let v = val("a port range");
                match v.parse() {
                    Ok(p) if a == "--sport" => opts.sport.push(p),
                    Ok(p) => opts.dport.push(p),
                    Err(e) => {
                        eprintln!("count: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            "-r" => reps = val("a count").parse().unwrap_or(1),
            "-v" => verbose = true,
            _ => {
                eprintln!("usage: count [-n NETNS] [-s STATE]... [-4|-6] [--per-family|--one-walk] [--sport R] [--dport R] [-r REPS] [-v]");
                return ExitCode::from(2);
            }
        }
    }
    if opts.states.is_empty() {
        opts.states = StateSet::ALL;
    }
    let _guard = match netns.as_deref().map(enter_netns).transpose() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("count: {e}");
            return ExitCode::FAILURE;
        }
    };
    for _ in 0..reps.max(1) {
        let mut sink = CountingSink::default();
        let stats = match dump(&opts, &mut sink) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("count: {e}");
                return ExitCode::FAILURE;
            }
        };
        for (s, n) in sink.0.iter().filter(|(_, n)| *n > 0) {
            println!("{} {n}", s.name());
        }
        println!("TOTAL {}", sink.0.total());
        if verbose {
            eprintln!("{stats:?}");
        }
    }
    ExitCode::SUCCESS
}
