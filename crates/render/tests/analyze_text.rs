//! The text report of `analyze` for inputs with several snapshots: a short run lists each
//! one; a long one (a log of `netstat` every second) lists the first and last few and sums up
//! what the others found, unless verbose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tcpdoctor_diagnose::{diagnose, DiagnoseInput, Finding, Severity, SourceOs};
use tcpdoctor_model::{KernelContext, ScanInfo, SourceKind, StateCounts, TcpState};
use tcpdoctor_render::analyze::{
    render_json, render_text, write_json, AnalyzeReport, InputInfo, SnapshotEntry, SnapshotList,
    SHOWN_AT_EACH_END,
};
use tcpdoctor_render::Style;

/// `n` snapshots of 50 lines each; snapshot k has 40 + k % 7 sockets, a close-wait-leak
/// warning every third one and a time-wait-server-side info every fifth. `keep_all` as for
/// `-v` and `--json`.
fn report(n: usize, keep_all: bool) -> AnalyzeReport {
    let kernel = KernelContext::default();
    let mut diagnosis = diagnose(&DiagnoseInput::new(&[], &kernel, SourceOs::Linux));
    let entries: Vec<SnapshotEntry> = (0..n)
        .map(|k| {
            let mut states = StateCounts::default();
            for _ in 0..40 + k % 7 {
                states.add(TcpState::Established);
            }
            let mut findings = Vec::new();
            if k % 3 == 0 {
                findings.push(Finding::new("close-wait-leak", Severity::Warning, "x"));
            }
            if k % 5 == 0 {
                findings.push(Finding::new("time-wait-server-side", Severity::Info, "y"));
            }
            SnapshotEntry {
                input: "log.txt".into(),
                index: k,
                format: "netstat-linux".into(),
                os: "linux".into(),
                command: None,
                first_line: 50 * k + 1,
                last_line: 50 * k + 50,
                total: states.total(),
                states,
                unknown_state: 0,
                duplicates: 0,
                findings,
                ss_summary: None,
            }
        })
        .collect();
    // As analyze does: the totals are the sums over every snapshot.
    let mut snapshots = SnapshotList::new(keep_all);
    for e in entries {
        diagnosis.states.merge(&e.states);
        snapshots.push(e);
    }
    diagnosis.total = diagnosis.states.total();
    AnalyzeReport {
        report: "analyze",
        diagnosis,
        format: "netstat-linux".into(),
        inputs: vec![InputInfo {
            name: "log.txt".into(),
            format: "netstat-linux".into(),
            os: "linux".into(),
            lines: 50 * n,
        }],
        snapshots,
        unknown_state: 0,
        unknown_rows: Vec::new(),
        duplicates: 0,
        skipped: Vec::new(),
        skipped_total: 0,
        scan: ScanInfo::new(SourceKind::Text),
    }
}

/// The part of the text before the combined diagnosis.
fn head(text: &str) -> String {
    text.lines()
        .take_while(|l| !l.contains("together ("))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn a_long_run_lists_the_first_and_last_snapshots_and_sums_up_the_others() {
    let text = render_text(&report(1000, false), &Style { color: false }, false);
    insta::assert_snapshot!(head(&text));
    // The totals are sums over all of them, and the findings the last one's: both are said.
    let sums = (0..1000u64).map(|k| 40 + k % 7).sum::<u64>();
    assert!(
        text.contains(&format!(
            "Sockets: {} in 1,000 snapshots  ESTABLISHED {0}\n  in the last one: 45  ESTABLISHED 45\n",
            tcpdoctor_render::fmt::thousands(sums)
        )),
        "{text}"
    );
    // Verbose lists all of them.
    let all = render_text(&report(1000, true), &Style { color: false }, true);
    assert_eq!(all.matches("  snapshot ").count(), 1000);
    // JSON has every one, and refuses a list that summed some up.
    let json: serde_json::Value =
        serde_json::from_str(&render_json(&report(1000, true)).unwrap()).unwrap();
    assert_eq!(json["snapshots"].as_array().unwrap().len(), 1000);
    assert!(render_json(&report(1000, false)).is_err());
}

#[test]
fn a_short_run_lists_every_snapshot() {
    let n = 2 * SHOWN_AT_EACH_END + 2;
    let text = render_text(&report(n, false), &Style { color: false }, false);
    assert_eq!(text.matches("  snapshot ").count(), n);
    assert!(!text.contains("-v lists them"));
    let text = render_text(&report(n + 1, false), &Style { color: false }, false);
    assert_eq!(text.matches("  snapshot ").count(), 2 * SHOWN_AT_EACH_END);
}

#[test]
fn snapshots_streamed_after_the_listed_ones_give_the_same_json() {
    // `analyze --json` keeps a long run's entries in a file and streams them into the report:
    // the bytes must be those of the report with every entry listed.
    let whole = render_json(&report(40, true)).unwrap();
    let mut first = report(40, true);
    let mut listed = SnapshotList::new(true);
    let mut rest = Vec::new();
    for e in first.snapshots.listed() {
        if e.index < 15 {
            listed.push(e.clone());
        } else {
            rest.push(serde_json::to_value(e).unwrap());
        }
    }
    first.snapshots = listed;
    let mut out = Vec::new();
    write_json(&first, &mut rest.into_iter().map(Ok), &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), whole);
    // A failure while reading them back is an error, not a short array.
    let mut failing = std::iter::once(Err(std::io::Error::other("disk gone")));
    assert!(write_json(&report(3, true), &mut failing, &mut Vec::new()).is_err());
}
