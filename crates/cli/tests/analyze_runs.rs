//! `tcpdoctor analyze` on inputs with several snapshots: a snapshot whose listeners come after
//! its connections (Windows) behind one that lists them first (Linux), and a long log of
//! snapshots, whose observations are not all kept (the combined diagnosis keeps the first, the
//! latest and a growth trend). No root needed: the inputs are written here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::PathBuf;

mod common;
use common::tcpdoctor;

/// A file removed on drop (also when a test panics).
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, text: &str) -> TempFile {
        let p = std::env::temp_dir().join(format!(
            "tcpdoctor-analyze-runs-{tag}-{}.txt",
            std::process::id()
        ));
        std::fs::write(&p, text).unwrap();
        TempFile(p)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn analyze_json(f: &TempFile) -> Value {
    let p = f.0.to_str().unwrap();
    let (code, out, err) = tcpdoctor(&["analyze", "--json", p]);
    // 1: a finding at warning or worse (the default --fail-on).
    assert!(code == 0 || code == 1, "analyze {p}: exit {code}: {err}");
    serde_json::from_str(&out).unwrap()
}

fn ids(findings: &Value) -> Vec<String> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

/// The `connection-growth` finding's summary and its first group's `series` metric
/// (`value`, `label`).
fn growth(v: &Value) -> (String, Value) {
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "connection-growth")
        .unwrap_or_else(|| panic!("no connection-growth in {}", v["findings"]));
    let series = f["evidence"]["groups"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "series")
        .unwrap_or_else(|| panic!("no series metric: {f}"))
        .clone();
    (f["summary"].as_str().unwrap().to_string(), series)
}

const LINUX_HEADER: &str = "Active Internet connections (servers and established)\n\
    Proto Recv-Q Send-Q Local Address           Foreign Address         State      \n";

/// Linux `netstat -tan`: the listener first, then `tw` TIME_WAIT on it from clients.
fn linux_snapshot(tw: usize) -> String {
    let mut s = LINUX_HEADER.to_string();
    s.push_str("tcp        0      0 0.0.0.0:80              0.0.0.0:*               LISTEN     \n");
    for i in 0..tw {
        s.push_str(&format!(
            "tcp        0      0 10.0.0.1:80             10.0.{}.{}:{}          TIME_WAIT  \n",
            i / 200,
            i % 200 + 1,
            40000 + i
        ));
    }
    s
}

#[test]
fn windows_snapshots_behind_a_linux_one_are_read_again_with_their_listeners() {
    // Windows prints the listener after the connections: only a second reading that knows
    // the listening ports sees these TIME_WAIT as the server's (closed first by the server),
    // not as 3,000 outgoing connections. The first reading learns the ports of the first
    // Windows snapshot from its observation, and those of the next one while it only collects.
    let windows = |port: u16| {
        let mut t = String::from(
            "\nActive Connections\n\n  Proto  Local Address          Foreign Address        State           PID\n",
        );
        for i in 0..3000 {
            t.push_str(&format!(
                "  TCP    10.0.0.1:{port:<5}         10.1.{}.{}:{}         TIME_WAIT       0\n",
                i / 200,
                i % 200 + 1,
                40000 + i
            ));
        }
        t.push_str(&format!(
            "  TCP    0.0.0.0:{port:<5}          0.0.0.0:0              LISTENING       1234\n"
        ));
        t
    };
    let text = linux_snapshot(3000) + &windows(443) + &windows(8443);
    let f = TempFile::new("mixed", &text);
    let v = analyze_json(&f);
    assert_eq!(v["format"], "netstat-linux+windows-netstat");
    assert_eq!(v["total"], 9003);
    let snaps = v["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 3);
    for (s, format) in snaps
        .iter()
        .zip(["netstat-linux", "windows-netstat", "windows-netstat"])
    {
        assert_eq!(s["format"], format);
        assert_eq!(s["total"], 3001);
        assert_eq!(ids(&s["findings"]), ["time-wait-server-side"], "{format}");
    }
    assert_eq!(ids(&v["findings"]), ["time-wait-server-side"]);
    let tw = &v["findings"][0];
    assert!(
        tw["summary"].as_str().unwrap().contains("8443"),
        "the combined diagnosis is the latest snapshot's: {}",
        tw["summary"]
    );
}

#[test]
fn a_long_log_of_snapshots_keeps_every_entry_and_shows_a_spaced_series() {
    // 100 snapshots, as `while sleep 1; do netstat -tan; done > log` writes them: peer
    // 10.0.0.9 holds 10 ESTABLISHED at the first and one more at each next.
    let scans = 100usize;
    let mut text = String::new();
    for k in 0..scans {
        text.push_str(LINUX_HEADER);
        text.push_str(
            "tcp        0      0 0.0.0.0:3306            0.0.0.0:*               LISTEN     \n",
        );
        for i in 0..10 + k {
            text.push_str(&format!(
                "tcp        0      0 10.0.0.1:3306           10.0.0.9:{}          ESTABLISHED\n",
                40000 + i
            ));
        }
    }
    let f = TempFile::new("log", &text);
    let v = analyze_json(&f);
    let snaps = v["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), scans);
    for (k, s) in snaps.iter().enumerate() {
        assert_eq!(s["index"], k);
        assert_eq!(s["total"], 11 + k, "snapshot {k}");
    }
    let total: usize = (0..scans).map(|k| 11 + k).sum();
    assert_eq!(v["total"], total);
    assert_eq!(v["states"]["ESTABLISHED"], total - scans);

    let (summary, series) = growth(&v);
    assert_eq!(
        summary,
        "peer 10.0.0.9 ESTABLISHED grew from 10 to 109 across 100 scans"
    );
    // The text lists the first and last five and sums up the 90 others; -v lists all.
    let p = f.0.to_str().unwrap();
    let (_, text, _) = tcpdoctor(&["analyze", p]);
    assert_eq!(text.matches("  snapshot ").count(), 10, "{text}");
    assert!(
        text.contains("  ... snapshots 6-95 (90 more, 16-105 sockets each; -v lists them)\n      no findings in them\n"),
        "{text}"
    );
    assert!(text.contains("Sockets: 6,050 in 100 snapshots"), "{text}");
    let (_, all, _) = tcpdoctor(&["analyze", "-v", p]);
    assert_eq!(all.matches("  snapshot ").count(), 100);
    // Scans 0, 4, ..., 96 (the spacing doubled at scans 32 and 64) and the last, 99.
    let mut want: Vec<String> = (0..scans)
        .step_by(4)
        .map(|k| (10 + k).to_string())
        .collect();
    want.push("109".into());
    assert_eq!(series["value"], want.join(" -> "));
    assert_eq!(
        series["label"],
        "ESTABLISHED count every 4 scans of 100, and at the last"
    );
}

#[test]
fn snapshots_after_a_big_one_are_diagnosed_on_their_own_thread_in_order() {
    // A second snapshot of 70,000 rows moves the diagnosis of the snapshots that end from then
    // on to a thread of its own (65,536 rows and more; one big snapshot stays here), and the 39
    // small ones that follow go there in batches: every entry must still come in order, and
    // the growth across all 41 be exact.
    let big = || {
        let mut text = String::from(LINUX_HEADER);
        text.push_str(
            "tcp        0      0 0.0.0.0:3306            0.0.0.0:*               LISTEN     \n",
        );
        for i in 0..70_000u32 {
            text.push_str(&format!(
                "tcp        0      0 10.0.0.1:3306           10.1.{}.{}:{}          ESTABLISHED\n",
                i / 250,
                i % 250 + 1,
                40000 + i % 20000
            ));
        }
        text
    };
    let row = |i: usize| {
        format!(
            "tcp        0      0 10.0.0.1:3306           10.0.0.9:{}          ESTABLISHED\n",
            40000 + i
        )
    };
    let mut text = big();
    for i in 0..10 {
        text.push_str(&row(i));
    }
    text.push_str(&big());
    for i in 0..11 {
        text.push_str(&row(i));
    }
    for k in 2..=40usize {
        text.push_str(LINUX_HEADER);
        text.push_str(
            "tcp        0      0 0.0.0.0:3306            0.0.0.0:*               LISTEN     \n",
        );
        for i in 0..10 + k {
            text.push_str(&row(i));
        }
    }
    let f = TempFile::new("big-then-small", &text);
    let v = analyze_json(&f);
    let snaps = v["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 41);
    assert_eq!(snaps[0]["total"], 70_011);
    assert_eq!(snaps[1]["total"], 70_012);
    for (k, s) in snaps.iter().enumerate().skip(2) {
        assert_eq!(s["index"], k);
        assert_eq!(s["total"], 11 + k, "snapshot {k}");
    }
    let (summary, series) = growth(&v);
    assert_eq!(
        summary,
        "peer 10.0.0.9 ESTABLISHED grew from 10 to 50 across 41 scans"
    );
    // Scans 0, 2, ..., 40 (the spacing doubled at scan 32; the last is one of them).
    let want: Vec<String> = (0..=40).step_by(2).map(|k| (10 + k).to_string()).collect();
    assert_eq!(series["value"], want.join(" -> "));
    assert_eq!(series["label"], "ESTABLISHED count every 2 scans of 41");
}

#[test]
fn without_a_temporary_directory_json_keeps_the_entries_in_memory_and_says_so() {
    let text = linux_snapshot(10) + &linux_snapshot(12);
    let f = TempFile::new("no-tmp", &text);
    let mut cmd = std::process::Command::new(common::BIN);
    cmd.args(["analyze", "--json", f.0.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .env("TMPDIR", "/nonexistent/tcpdoctor-test");
    let out =
        tcpdoctor_testkit::run_with_timeout(&mut cmd, std::time::Duration::from_secs(60)).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["snapshots"].as_array().unwrap().len(), 2);
    assert_eq!(v["total"], 24);
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n
                .starts_with("Could not create a temporary file in /nonexistent/tcpdoctor-test")),
        "{notes:?}"
    );
}
