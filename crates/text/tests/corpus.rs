//! Conformance: every output file listed in the corpus's EXPECTED.tsv gives exactly the
//! expected TCP count per state and in total. The expectations are read from the file, never
//! typed in here. See tests/fixtures/corpus/README.md ("Known ambiguities") for the rules:
//! NO_STATE = a TCP row without state (an unknown row with an empty state word); Solaris
//! IDLE/BOUND count as CLOSE; duplicates count as printed.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use tcpdoctor_model::TcpState;
use tcpdoctor_text::{parse_bytes, ParseOptions, TextError};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus")
}

struct Expected {
    states: BTreeMap<String, u64>,
    total: u64,
}

fn expected() -> BTreeMap<String, Expected> {
    let text = std::fs::read_to_string(corpus_dir().join("EXPECTED.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(&header[..4], &["path", "state", "count", "tcp_rows_total"]);
    let mut out: BTreeMap<String, Expected> = BTreeMap::new();
    for l in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = l.split('\t').collect();
        let e = out.entry(f[0].to_string()).or_insert_with(|| Expected {
            states: BTreeMap::new(),
            total: 0,
        });
        e.total = f[3].parse().unwrap();
        let count: u64 = f[2].parse().unwrap();
        if f[1] != "-" {
            e.states.insert(f[1].to_string(), count);
        }
    }
    out
}

/// What the parser makes of one file, in EXPECTED's vocabulary.
fn observed(bytes: &[u8]) -> Result<(BTreeMap<String, u64>, u64), String> {
    match parse_bytes(bytes, &ParseOptions::default()) {
        Ok(out) => {
            let mut m: BTreeMap<String, u64> = BTreeMap::new();
            let mut total = 0;
            for d in &out.details {
                for s in TcpState::ALL {
                    // Duplicates are counted as printed in EXPECTED.
                    let n = d.counts.get(s) + d.duplicate_counts.get(s);
                    if n > 0 {
                        *m.entry(s.name().to_string()).or_default() += n;
                        total += n;
                    }
                }
            }
            for snap in &out.snapshots {
                for u in &snap.unknown_rows {
                    let key = if u.raw_state.is_empty() {
                        "NO_STATE".to_string()
                    } else {
                        format!("UNKNOWN({})", u.raw_state)
                    };
                    *m.entry(key).or_default() += 1;
                    total += 1;
                }
            }
            Ok((m, total))
        }
        Err(TextError::NothingRecognised { message, .. }) => Err(message),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn every_expected_file_counts_exactly() {
    let exp = expected();
    assert!(exp.len() >= 61, "EXPECTED.tsv lists {} files", exp.len());
    let mut failures = Vec::new();
    for (path, e) in &exp {
        let bytes = std::fs::read(corpus_dir().join(path)).unwrap();
        match observed(&bytes) {
            Ok((m, total)) => {
                if m != e.states || total != e.total {
                    failures.push(format!(
                        "{path}: expected {:?} (total {}), got {:?} (total {total})",
                        e.states, e.total, m
                    ));
                }
            }
            Err(msg) => {
                if e.total != 0 {
                    failures.push(format!(
                        "{path}: expected {} TCP rows, got error: {msg}",
                        e.total
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files differ:\n{}",
        failures.len(),
        exp.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_files_without_sockets_say_why() {
    // The -i/-r tables are recognised as such: the error names them.
    for path in [
        "jc/centos-7.7/netstat-r.out",
        "jc/freebsd12/netstat-i.out",
        "inspec/linux/netstat-rn-linux",
    ] {
        let bytes = std::fs::read(corpus_dir().join(path)).unwrap();
        match parse_bytes(&bytes, &ParseOptions::default()) {
            Err(TextError::NothingRecognised { message, .. }) => {
                assert!(
                    message.contains("netstat -r") || message.contains("netstat -i"),
                    "{path}: {message}"
                )
            }
            other => panic!("{path}: {other:?}"),
        }
    }
}

#[test]
fn corpus_formats_and_systems() {
    use tcpdoctor_text::SourceOs;
    let cases = [
        (
            "jc/centos-7.7/netstat-sudo-aeep.out",
            "netstat-linux",
            SourceOs::Linux,
        ),
        ("jc/centos-7.7/ss-sudo-a.out", "ss", SourceOs::Linux),
        (
            "jc/windows-10/netstat-aonb.out",
            "windows-netstat",
            SourceOs::Windows,
        ),
        ("jc/osx-10.14.6/netstat.out", "bsd-netstat", SourceOs::MacOs),
        (
            "jc/osx-10.14.6/netstat-An.out",
            "bsd-netstat",
            SourceOs::MacOs,
        ),
        (
            "perl-Parse-Netstat/darwin/netstat-an-darwin",
            "bsd-netstat",
            SourceOs::MacOs,
        ),
        (
            "jc/freebsd12/netstat-an.out",
            "bsd-netstat",
            SourceOs::FreeBsd,
        ),
        (
            "jc/freebsd12/netstat-AaT.out",
            "bsd-netstat",
            SourceOs::FreeBsd,
        ),
        (
            "perl-Parse-Netstat/freebsd-9.2/netstat-an-freebsd-9.2",
            "bsd-netstat",
            SourceOs::FreeBsd,
        ),
        (
            "inspec/hpux/hpux-netstat-inet6",
            "hpux-netstat",
            SourceOs::HpUx,
        ),
        (
            "inspec/solaris-11/s11-netstat-an-finet-finet6",
            "solaris-netstat",
            SourceOs::Solaris,
        ),
        (
            "perl-Parse-Netstat/solaris/netstat-n-solaris",
            "solaris-netstat",
            SourceOs::Solaris,
        ),
        (
            "inspec/windows/netstat-anbo-pipe-select-string-pattern.utf8",
            "windows-netstat",
            SourceOs::Windows,
        ),
        (
            "perl-Parse-Netstat/windows/netstat-anp-win32",
            "windows-netstat",
            SourceOs::Windows,
        ),
        (
            "inspec/busybox/netstat-tulpen-busybox",
            "netstat-linux",
            SourceOs::Linux,
        ),
    ];
    let mut bad = Vec::new();
    for (path, format, os) in cases {
        let bytes = std::fs::read(corpus_dir().join(path)).unwrap();
        let out = parse_bytes(&bytes, &ParseOptions::default()).unwrap();
        if out.format != format || out.os != os || out.snapshots.len() != 1 {
            bad.push(format!(
                "{path}: {} {:?} ({} snapshots)",
                out.format,
                out.os,
                out.snapshots.len()
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
