//! Prints what the text parser makes of a file (or stdin): per snapshot its format, OS,
//! command, per-state counts, unknown rows, gaps, and the skipped lines.
//!
//! `cargo run -p tcpdoctor-text --example dump -- FILE [--sockets]`
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Read;
use tcpdoctor_text::{parse_bytes, ParseOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut bytes = Vec::new();
    match args.first().map(String::as_str) {
        None | Some("-") => {
            std::io::stdin()
                .read_to_end(&mut bytes)
                .expect("read stdin");
        }
        Some(p) => bytes = std::fs::read(p).expect("read file"),
    }
    let show_sockets = args.iter().any(|a| a == "--sockets");
    match parse_bytes(&bytes, &ParseOptions::default()) {
        Err(e) => {
            println!("error: {e}");
            if let Some(h) = e.hint() {
                println!("hint: {h}");
            }
        }
        Ok(out) => {
            println!("format {} os {} lines {}", out.format, out.os, out.lines);
            for (snap, d) in out.snapshots.iter().zip(&out.details) {
                println!(
                    "#{} lines {}-{} {} {} cmd={:?} host={:?} dups={} other={} owners={}",
                    d.index,
                    d.first_line,
                    d.last_line,
                    d.format,
                    d.os,
                    d.command,
                    snap.info.host,
                    d.duplicates,
                    d.other_rows,
                    snap.info.owners_resolved
                );
                let counts: Vec<String> = d
                    .counts
                    .iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(s, n)| format!("{s}:{n}"))
                    .collect();
                println!("   {}", counts.join(" "));
                for u in &snap.unknown_rows {
                    println!(
                        "   unknown line {} state {:?}: {}",
                        u.line, u.raw_state, u.text
                    );
                }
                for g in &snap.info.gaps {
                    println!("   gap {:?}: {}", g.kind, g.message);
                }
                if let Some(s) = &d.ss_summary {
                    println!("   ss -s {s:?}");
                }
                if show_sockets {
                    for s in &snap.sockets {
                        println!("   {}", serde_json::to_string(s).unwrap_or_default());
                    }
                }
            }
            for s in &out.skipped {
                println!("skipped line {}: {} | {}", s.line, s.reason, s.text);
            }
        }
    }
}
