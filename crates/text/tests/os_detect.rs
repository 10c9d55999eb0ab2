//! OS and format detection from the text alone (no title, no command line), on the small
//! fixtures of `tests/fixtures/detect/` (sources in its README) and on corpus files.

#![allow(clippy::unwrap_used)]

mod common;

use common::parse;
use std::path::PathBuf;
use tcpdoctor_model::TcpState;
use tcpdoctor_text::SourceOs;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(path: &str) -> String {
    String::from_utf8(std::fs::read(fixtures().join(path)).unwrap()).unwrap()
}

#[test]
fn openbsd_blocks_are_one_snapshot() {
    // One `netstat -an`: tcp, udp, tcp6, udp6 tables, each with its own title and header.
    let o = parse(&read("detect/openbsd-netstat-an.txt"));
    assert_eq!(o.snapshots.len(), 1, "{:?}", o.details);
    assert_eq!(o.format, "bsd-netstat");
    assert_eq!(o.os, SourceOs::OpenBsd);
    assert_eq!(o.states.get(TcpState::Established), 2);
    assert_eq!(o.states.get(TcpState::TimeWait), 1);
    assert_eq!(o.states.get(TcpState::Listen), 4);
    assert_eq!(o.states.total(), 7);
    assert_eq!(o.details[0].other_rows, 3);
    assert_eq!(o.details[0].unknown_rows, 0);
}

#[test]
fn openbsd_without_title_lines() {
    // Only the tables (titles cut off when pasting): the TCP-State header tells OpenBSD.
    let text: String = read("detect/openbsd-netstat-an.txt")
        .lines()
        .filter(|l| !l.starts_with("Active"))
        .map(|l| format!("{l}\n"))
        .collect();
    let o = parse(&text);
    assert_eq!(o.snapshots.len(), 1, "{:?}", o.details);
    assert_eq!(o.os, SourceOs::OpenBsd);
    assert_eq!(o.states.total(), 7);
    assert_eq!(o.states.get(TcpState::Listen), 4);
}

#[test]
fn openbsd_two_pastes_are_two_snapshots() {
    // The same output pasted twice: the third TCP-State header starts a new snapshot.
    let one = read("detect/openbsd-netstat-an.txt");
    let o = parse(&format!("{one}{one}"));
    assert_eq!(o.snapshots.len(), 2, "{:?}", o.details);
    assert_eq!(o.os, SourceOs::OpenBsd);
    for d in &o.details {
        assert_eq!(d.counts.total(), 7);
    }
}

#[test]
fn hpux_inet6_corpus_file() {
    // The `(IPv6, ` title is HP-UX's own (inspec's real HP-UX fixture).
    let o = parse(&read("corpus/inspec/hpux/hpux-netstat-inet6"));
    assert_eq!(o.format, "hpux-netstat");
    assert_eq!(o.os, SourceOs::HpUx);
    assert_eq!(o.states.get(TcpState::Listen), 4);
    assert_eq!(o.states.get(TcpState::Established), 2);
    assert_eq!(o.states.get(TcpState::TimeWait), 1);
}

#[test]
fn hpux_ipv4_table_alone_is_not_guessed() {
    // HP-UX `netstat -an -f inet` prints the 4.4BSD layout (`tcp`, `(state)`) that other
    // BSD netstats share: without a clue the OS stays unknown rather than guessed.
    let o = parse(&read("corpus/inspec/hpux/hpux-netstat-inet"));
    assert_eq!(o.format, "bsd-netstat");
    assert_eq!(o.os, SourceOs::Unknown);
    assert_eq!(o.states.get(TcpState::Listen), 4);
    assert_eq!(o.states.get(TcpState::Established), 2);
    assert_eq!(o.states.total(), 6);
}
