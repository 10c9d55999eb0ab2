//! Table-driven scenario tests: every `tests/scenarios/*.json` file is run and its expected
//! findings checked (ids, severities, key evidence); every text of every finding is scanned
//! for folklore; the main scenarios are snapshotted with insta.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use tcpdoctor_diagnose::Value;

fn check_metric(
    file: &str,
    id: &str,
    f: &tcpdoctor_diagnose::Finding,
    name: &str,
    want: &serde_json::Value,
) {
    let got = f.evidence.get(name).unwrap_or_else(|| {
        panic!(
            "{file}: {id}: no metric {name}; have {:?}",
            f.evidence
                .metrics
                .iter()
                .map(|m| &m.name)
                .collect::<Vec<_>>()
        )
    });
    match (got, want) {
        (Value::Int(g), w) if w.is_i64() => {
            assert_eq!(*g, w.as_i64().unwrap(), "{file}: {id}.{name}")
        }
        (Value::Float(g), w) if w.is_number() => {
            let w = w.as_f64().unwrap();
            assert!(
                (g - w).abs() <= 0.05 * w.abs().max(1.0) / 10.0 + 0.005,
                "{file}: {id}.{name}: got {g}, want {w}"
            )
        }
        (Value::Text(g), w) if w.is_string() => {
            assert_eq!(g, w.as_str().unwrap(), "{file}: {id}.{name}")
        }
        (g, w) => panic!("{file}: {id}.{name}: got {g:?}, want {w}"),
    }
}

#[test]
fn every_scenario_gives_its_findings() {
    let files = scenario_files();
    assert!(
        files.len() >= 20,
        "expected the full scenario set, found {}",
        files.len()
    );
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let sc = load(&path);
        let report = run(&sc);
        let got: Vec<(String, String)> = report
            .findings
            .iter()
            .map(|f| (f.id.clone(), f.severity.name().to_string()))
            .collect();
        let mut want: Vec<(String, String)> = sc
            .expect
            .iter()
            .map(|e| (e.id.clone(), e.severity.clone()))
            .collect();
        if sc.exact {
            let mut g = got.clone();
            g.sort();
            want.sort();
            assert_eq!(
                g,
                want,
                "{file} ({}): findings differ\n{}",
                sc.description,
                text(&report)
            );
        }
        for e in &sc.expect {
            let f = report
                .findings
                .iter()
                .find(|f| f.id == e.id && f.severity.name() == e.severity)
                .unwrap_or_else(|| {
                    panic!("{file}: missing {} {}\n{}", e.id, e.severity, text(&report))
                });
            for (name, v) in &e.metrics {
                check_metric(&file, &e.id, f, name, v);
            }
            if let Some(s) = &e.summary_contains {
                assert!(
                    f.summary.contains(s.as_str()),
                    "{file}: {} summary {:?} lacks {:?}",
                    e.id,
                    f.summary,
                    s
                );
            }
        }
        // Worst first.
        for w in report.findings.windows(2) {
            assert!(
                w[0].severity >= w[1].severity,
                "{file}: findings not worst first"
            );
        }
        // The JSON contract.
        let j = serde_json::to_value(&report).unwrap();
        assert_eq!(j["schema_version"], tcpdoctor_model::SCHEMA_VERSION);
        assert_eq!(j["states"].as_object().unwrap().len(), 11, "{file}");
        assert_eq!(j["total"].as_u64().unwrap(), report.total);
    }
}

/// Sentences of a text: split at ". ", ";" and new lines (not at every '.', which would cut
/// `net.ipv4.tcp_fin_timeout` apart), lower-cased.
fn sentences(t: &str) -> Vec<String> {
    t.replace(". ", "\n")
        .split(['\n', ';'])
        .map(|s| s.to_ascii_lowercase())
        .collect()
}

fn negated(s: &str) -> bool {
    [
        " not ",
        "never",
        " no ",
        "n't",
        "removed",
        "cannot",
        "does nothing",
        "nothing to do",
        "no such",
        "drops",
        "dropped",
        "break",
        "fails",
        "=0",
    ]
    .iter()
    .any(|w| s.contains(w))
        || s.starts_with("no ")
}

/// The prose of a finding that could carry a claim: everything but the quoted bad advice of
/// `avoid` entries and the commands (checked separately).
fn prose(f: &tcpdoctor_diagnose::Finding) -> Vec<&str> {
    let mut v = vec![f.summary.as_str(), f.explanation.as_str()];
    v.extend(f.remedies.iter().map(|r| r.text.as_str()));
    v.extend(f.avoid.iter().map(|a| a.why.as_str()));
    v
}

/// Folklore scan over every text of every finding of every scenario.
pub fn assert_no_folklore(file: &str, report: &tcpdoctor_diagnose::Report) -> usize {
    let mut scanned = 0;
    for f in &report.findings {
        scanned += 1;
        for r in &f.remedies {
            let body = format!("{} {}", r.text, r.commands.join(" "));
            // 1. No remedy recommends tcp_tw_recycle; the only command naming it turns it off
            //    or finds where it is set.
            if body.contains("tcp_tw_recycle") {
                assert_eq!(
                    f.id, "sysctl-tw-recycle-enabled",
                    "{file}: remedy mentions tcp_tw_recycle: {body}"
                );
                assert!(
                    r.commands.iter().all(|c| !c.contains("tcp_tw_recycle=1")),
                    "{file}: {body}"
                );
            }
            // 2. tcp_tw_reuse is never a remedy for server-side TIME_WAIT.
            if f.id == "time-wait-server-side" {
                assert!(
                    !body.contains("tw_reuse"),
                    "{file}: server-side remedy offers tcp_tw_reuse: {body}"
                );
            }
            // 3. tcp_fin_timeout is never a remedy for TIME_WAIT problems.
            if f.id.starts_with("time-wait")
                || f.id == "ephemeral-port-exhaustion"
                || f.id == "tw-bucket-overflow"
            {
                assert!(
                    !body.contains("fin_timeout"),
                    "{file}: {} remedy uses tcp_fin_timeout: {body}",
                    f.id
                );
            }
        }
        // 4. No claim that tcp_fin_timeout shortens TIME_WAIT and no endorsement of
        //    tcp_tw_recycle: every sentence naming them must be a negation.
        for t in prose(f) {
            for s in sentences(t) {
                if s.contains("fin_timeout") && s.contains("time_wait") {
                    assert!(
                        negated(&s),
                        "{file}: {}: fin_timeout/TIME_WAIT sentence without a negation: {s:?}",
                        f.id
                    );
                }
                if s.contains("tw_recycle") {
                    assert!(
                        negated(&s),
                        "{file}: {}: tcp_tw_recycle sentence without a negation: {s:?}",
                        f.id
                    );
                }
            }
        }
        // 5. Facts are cited.
        assert!(
            !f.facts.is_empty(),
            "{file}: {} cites no fact-sheet section",
            f.id
        );
    }
    scanned
}

#[test]
fn no_folklore_in_any_finding() {
    let mut scanned = 0;
    for path in scenario_files() {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        scanned += assert_no_folklore(&file, &run(&load(&path)));
    }
    assert!(scanned >= 20, "scanned only {scanned} findings");
}

#[test]
fn folklore_scan_can_fail() {
    let mut f = tcpdoctor_diagnose::Finding::new(
        "time-wait-server-side",
        tcpdoctor_diagnose::Severity::Info,
        "x",
    );
    f.explanation = "Set net.ipv4.tcp_fin_timeout=30 to shorten TIME_WAIT.".into();
    let mut r = run(&load(&scenario_files()[0]));
    r.findings = vec![f.clone()];
    assert!(std::panic::catch_unwind(|| assert_no_folklore("t", &r)).is_err());
    f.explanation.clear();
    f.remedies.push(
        tcpdoctor_diagnose::Remedy::new(tcpdoctor_diagnose::RemedyLevel::Kernel, "x")
            .cmd("sysctl -w net.ipv4.tcp_tw_reuse=1"),
    );
    r.findings = vec![f];
    assert!(std::panic::catch_unwind(|| assert_no_folklore("t", &r)).is_err());
}

#[test]
fn main_scenarios_snapshot() {
    for name in [
        "time-wait-server-side-mysql",
        "time-wait-client-side",
        "ephemeral-port-exhaustion-critical",
        "close-wait-leak",
        "close-wait-leak-server-side",
        "connection-growth",
        "accept-queue-overflow",
        "syn-recv-flood",
        "pasted-windows-exhaustion",
        "mysql-connection-leak-growing",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/scenarios/{name}.json"));
        let report = run(&load(&path));
        insta::assert_snapshot!(name, text(&report));
    }
}

#[test]
fn sysctl_audit_follows_the_findings_and_passes_its_own_write_check() {
    use tcpdoctor_diagnose::{audit, emit_sysctl_d, validate_write, Verdict};
    for path in scenario_files() {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let sc = load(&path);
        let report = run(&sc);
        for row in audit(&sc.kernel, Some(&report)) {
            if let (Verdict::Change, Some(v)) = (row.verdict, &row.recommended) {
                validate_write(&sc.kernel, &row.key, v).unwrap_or_else(|e| {
                    panic!(
                        "{file}: audit recommends {}={v} but the write check refuses: {e}",
                        row.key
                    )
                });
                assert!(
                    !(row.key == "net.ipv4.tcp_tw_reuse"
                        && report.finding("time-wait-server-side").is_some()
                        && report.finding("ephemeral-port-exhaustion").is_none()
                        && v == "1"),
                    "{file}: tw_reuse=1 for server-side TIME_WAIT"
                );
            }
        }
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios/ephemeral-port-exhaustion-critical.json");
    let sc = load(&path);
    let report = run(&sc);
    let a = audit(&sc.kernel, Some(&report));
    let row = |k: &str| a.iter().find(|r| r.key == k).unwrap().clone();
    let r = row("net.ipv4.ip_local_port_range");
    assert_eq!(
        (r.verdict, r.recommended.as_deref()),
        (Verdict::Change, Some("32768 60999"))
    );
    assert_eq!(r.findings, vec!["ephemeral-port-exhaustion".to_string()]);
    let r = row("net.ipv4.tcp_tw_reuse");
    assert_eq!(
        (r.verdict, r.recommended.as_deref()),
        (Verdict::Change, Some("1"))
    );
    assert_eq!(row("net.ipv4.tcp_tw_recycle").verdict, Verdict::Absent);
    assert_eq!(row("net.ipv4.tcp_fin_timeout").verdict, Verdict::Ok);
    insta::assert_snapshot!(
        "sysctl-d-port-exhaustion",
        emit_sysctl_d(&a, "scenario ephemeral-port-exhaustion-critical")
    );

    // Server-side TIME_WAIT: the audit changes nothing.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios/time-wait-server-side-mysql.json");
    let sc = load(&path);
    let a = audit(&sc.kernel, Some(&run(&sc)));
    assert!(a.iter().all(|r| r.verdict != Verdict::Change), "{a:#?}");
}

#[test]
fn check_mode_on_scenarios() {
    use tcpdoctor_diagnose::{check, CheckConfig, Status};
    let load_run = |name: &str| {
        run(&load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("tests/scenarios/{name}.json")),
        ))
    };
    let r = check(
        &load_run("ephemeral-port-exhaustion-critical"),
        &CheckConfig::default(),
    );
    assert_eq!((r.status, r.exit_code()), (Status::Critical, 2));
    let out = r.output();
    assert!(
        out.starts_with(
            "TCP CRITICAL - ephemeral-port-exhaustion: 900 of 950 usable ephemeral ports (95%)"
        ),
        "{out}"
    );
    assert!(out.contains("'port_use_pct'=94.74%;;;0;100"), "{out}");
    assert!(out.contains("'new_conn_per_s'=30;;;0;"), "{out}");
    let mut cfg = CheckConfig::default();
    cfg.add_warn("time_wait=1000").unwrap();
    cfg.add_crit("time_wait=5000").unwrap();
    let r = check(&load_run("time-wait-server-side-mysql"), &cfg);
    assert_eq!(r.status, Status::Warning);
    assert_eq!(r.reasons, vec!["time_wait 1200 > 1000".to_string()]);
    assert!(r.output().contains("'time_wait'=1200;1000;5000;0;"));
    let r = check(&load_run("healthy-host"), &CheckConfig::default());
    assert_eq!(r.status, Status::Ok);
    insta::assert_snapshot!(
        "check-port-exhaustion",
        check(
            &load_run("ephemeral-port-exhaustion-critical"),
            &CheckConfig::default()
        )
        .output()
    );
}

/// What must not depend on how the sockets were split across observations: everything a
/// finding says except which sample sockets it shows.
fn without_samples(r: &tcpdoctor_diagnose::Report) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap();
    if let Some(fs) = v.get_mut("findings").and_then(|f| f.as_array_mut()) {
        for f in fs {
            if let Some(e) = f.get_mut("evidence").and_then(|e| e.as_object_mut()) {
                e.remove("samples");
            }
        }
    }
    v
}

#[test]
fn observations_merged_from_parts_give_the_same_report() {
    // The text pipeline observes big inputs in parts on worker threads and merges them: the
    // report must be the one a single observation gives (samples aside), for every scenario
    // and for several ways of splitting.
    for path in scenario_files() {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let sc = load(&path);
        let whole = without_samples(&run(&sc));
        let one: Vec<String> = observe_split(&sc, 1, 1).iter().map(counts).collect();
        for (parts, turn) in [(2, 1), (3, 5)] {
            let merged: Vec<String> = observe_split(&sc, parts, turn).iter().map(counts).collect();
            assert_eq!(one, merged, "{file}: {parts} parts, turns of {turn}");
        }
        for (parts, turn) in [(2, 1), (2, 7), (3, 5), (4, 64)] {
            let split = without_samples(&run_split(&sc, parts, turn));
            assert_eq!(whole, split, "{file}: {parts} parts, turns of {turn}");
        }
    }
}

#[test]
fn a_trend_fed_while_scans_stream_gives_the_report_of_all_observations() {
    // `analyze` keeps only the first and the last observation of a long run and feeds every
    // one to a Trend: the report must be the one every observation gives.
    let mut multi = 0;
    for path in scenario_files() {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let sc = load(&path);
        if sc.scans.len() >= 3 {
            multi += 1;
        }
        assert_eq!(
            serde_json::to_value(run(&sc)).unwrap(),
            serde_json::to_value(run_streamed(&sc)).unwrap(),
            "{file}"
        );
    }
    assert!(multi >= 2, "scenarios with three or more scans: {multi}");
}
