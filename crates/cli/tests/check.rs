//! `tcpdoctor check` (monitoring-plugin conventions) on the real kernel, in throwaway
//! namespaces with known socket counts: OK on a quiet namespace, WARNING and CRITICAL from
//! metric and finding-severity thresholds with exact perfdata, and UNKNOWN with exit 3 (never
//! 2) for the plugin's own errors.
//!
//! Needs root (namespaces); without it every test says so and returns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use tcpdoctor_testkit::{require_root, Netns};

mod common;
use common::tcpdoctor;

/// `tcpdoctor -N NS check --interval 0 EXTRA...`: (exit status, the one output line).
fn check(ns: &str, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["-N", ns, "check", "--interval", "0"];
    args.extend_from_slice(extra);
    let (code, out, err) = tcpdoctor(&args);
    assert_eq!(out.lines().count(), 1, "one line expected: {out:?} {err}");
    assert!(out.ends_with('\n'));
    (code, out.trim_end().to_string())
}

/// The perfdata item `'label'=...` of a plugin line.
fn perf<'a>(line: &'a str, label: &str) -> &'a str {
    let (_, perf) = line.split_once(" | ").expect("perfdata after ' | '");
    perf.split(' ')
        .find(|p| p.starts_with(&format!("'{label}'=")))
        .unwrap_or_else(|| panic!("no perfdata {label} in {perf}"))
}

#[test]
fn quiet_namespace_is_ok() {
    if !require_root("quiet_namespace_is_ok") {
        return;
    }
    let ns = Netns::new("tdc-ok").unwrap();
    let (code, line) = check(
        ns.name(),
        &["--warn", "time_wait=20000", "--crit", "time_wait=50000"],
    );
    assert_eq!(code, 0, "{line}");
    assert!(
        line.starts_with(
            "TCP OK - 0 sockets, 0 ESTABLISHED, 0 TIME_WAIT, 0 CLOSE_WAIT; no findings at or above the thresholds | "
        ),
        "{line}"
    );
    assert_eq!(perf(&line, "time_wait"), "'time_wait'=0;20000;50000;0;");
    assert_eq!(perf(&line, "total"), "'total'=0;;;0;");
    assert_eq!(perf(&line, "port_use_pct"), "'port_use_pct'=0%;;;0;100");
    assert_eq!(perf(&line, "sockstat_tw"), "'sockstat_tw'=0;;;0;");
    // Without --interval 0 the counters are read twice: the rates are measured too.
    let (code, out, _) = tcpdoctor(&["-N", ns.name(), "check"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(perf(&out, "new_conn_per_s"), "'new_conn_per_s'=0;;;0;");
}

#[test]
fn time_wait_thresholds_warn_and_crit_with_exact_perfdata() {
    if !require_root("time_wait_thresholds_warn_and_crit_with_exact_perfdata") {
        return;
    }
    let ns = Netns::new("tdc-tw").unwrap();
    let sc = ns
        .scenario(&["--listen", "1", "--tw", "400", "--tw-side", "server"])
        .unwrap();
    assert!(sc.report().settled, "{:?}", sc.report().kernel);
    let n = ns.name();

    // The server-side TIME_WAIT finding is info: not enough for WARNING by default.
    let (code, line) = check(n, &[]);
    assert_eq!(code, 0, "{line}");
    assert!(line.starts_with("TCP OK - 401 sockets, 0 ESTABLISHED, 400 TIME_WAIT, 0 CLOSE_WAIT;"));
    assert_eq!(perf(&line, "time_wait"), "'time_wait'=400;;;0;");
    assert_eq!(perf(&line, "listen"), "'listen'=1;;;0;");
    assert_eq!(perf(&line, "total"), "'total'=401;;;0;");
    assert_eq!(perf(&line, "sockstat_tw"), "'sockstat_tw'=400;;;0;");

    let (code, line) = check(n, &["--warn", "time_wait=300", "--crit", "time_wait=500"]);
    assert_eq!(code, 1, "{line}");
    assert!(
        line.starts_with(
            "TCP WARNING - time_wait 400 > 300; 401 sockets, 0 ESTABLISHED, 400 TIME_WAIT, 0 CLOSE_WAIT | "
        ),
        "{line}"
    );
    assert_eq!(perf(&line, "time_wait"), "'time_wait'=400;300;500;0;");

    let (code, line) = check(n, &["--warn", "time_wait=100", "--crit", "time_wait=399"]);
    assert_eq!(code, 2, "{line}");
    assert!(
        line.starts_with("TCP CRITICAL - time_wait 400 > 399; "),
        "{line}"
    );
    assert_eq!(perf(&line, "time_wait"), "'time_wait'=400;100;399;0;");

    // At the threshold is not above it.
    let (code, _) = check(n, &["--crit", "time_wait=400"]);
    assert_eq!(code, 0);

    // Finding severity thresholds: info findings count.
    let (code, line) = check(n, &["--warn", "finding=info"]);
    assert_eq!(code, 1, "{line}");
    assert!(
        line.starts_with("TCP WARNING - time-wait-server-side: 400 TIME_WAIT on local port "),
        "{line}"
    );
    let (code, line) = check(n, &["--crit", "finding=info"]);
    assert_eq!(code, 2, "{line}");

    // --json: the CheckResult with the line and the exit status.
    let (code, out, _) = tcpdoctor(&[
        "-N",
        n,
        "check",
        "--interval",
        "0",
        "--json",
        "--warn",
        "time_wait=300",
    ]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["report"], "check");
    assert_eq!(v["status"], "WARNING");
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["reasons"][0], "time_wait 400 > 300");
    let tw = v["perfdata"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["label"] == "time_wait")
        .unwrap();
    assert_eq!(tw["value"], 400.0);
    assert_eq!(tw["warn"], 300.0);
    assert!(v["output"].as_str().unwrap().starts_with("TCP WARNING - "));
}

#[test]
fn close_wait_leak_warns_by_default_and_can_be_silenced() {
    if !require_root("close_wait_leak_warns_by_default_and_can_be_silenced") {
        return;
    }
    let ns = Netns::new("tdc-cw").unwrap();
    let sc = ns
        .scenario(&["--listen", "1", "--close-wait-hold", "30"])
        .unwrap();
    assert!(sc.report().settled);
    let (code, line) = check(ns.name(), &[]);
    assert_eq!(code, 1, "{line}");
    assert!(
        line.starts_with("TCP WARNING - close-wait-leak: "),
        "{line}"
    );
    assert_eq!(perf(&line, "close_wait"), "'close_wait'=30;;;0;");
    let (code, line) = check(ns.name(), &["--crit", "finding=warning"]);
    assert_eq!(code, 2, "{line}");
    let (code, line) = check(ns.name(), &["--warn", "finding=none"]);
    assert_eq!(code, 0, "{line}");
}

#[test]
fn own_errors_are_unknown_with_exit_3() {
    if !require_root("own_errors_are_unknown_with_exit_3") {
        return;
    }
    // An unknown namespace.
    let (code, line) = check("tdc-no-such-namespace", &[]);
    assert_eq!(code, 3, "{line}");
    assert!(
        line.starts_with("TCP UNKNOWN - network namespace 'tdc-no-such-namespace' not found"),
        "{line}"
    );
    assert!(!line.contains(" | "), "no perfdata on UNKNOWN: {line}");
    let ns = Netns::new("tdc-unk").unwrap();
    // A bad threshold.
    let (code, line) = check(ns.name(), &["--warn", "bogus=1"]);
    assert_eq!(code, 3, "{line}");
    assert!(
        line.starts_with("TCP UNKNOWN - --warn bogus=1: unknown metric 'bogus'"),
        "{line}"
    );
    let (code, line) = check(ns.name(), &["--crit", "time_wait=lots"]);
    assert_eq!(code, 3, "{line}");
    // A metric this run cannot measure (rates need two readings) is UNKNOWN, never OK.
    let (code, line) = check(ns.name(), &["--warn", "new_conn_per_s=10"]);
    assert_eq!(code, 3, "{line}");
    assert!(
        line.starts_with("TCP UNKNOWN - new_conn_per_s cannot be measured"),
        "{line}"
    );
    // --json keeps the exit status.
    let (code, out, _) = tcpdoctor(&["-N", "tdc-no-such-namespace", "check", "--json"]);
    assert_eq!(code, 3);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "UNKNOWN");
    assert_eq!(v["exit_code"], 3);
}

#[test]
fn usage_errors_are_unknown_with_exit_3_too() {
    // Plugin hosts read exit 2 as CRITICAL, so even clap's own errors must be UNKNOWN (3).
    for args in [
        &["check", "--bogus"][..],
        &["check", "--warn"][..],
        &["check", "--interval", "x"][..],
    ] {
        let (code, out, _) = tcpdoctor(args);
        assert_eq!(code, 3, "{args:?}: {out}");
        assert!(out.starts_with("TCP UNKNOWN - "), "{args:?}: {out}");
        assert_eq!(out.lines().count(), 1, "{out}");
    }
    // Other commands keep clap's exit 2.
    let (code, _, err) = tcpdoctor(&["summary", "--bogus"]);
    assert_eq!(code, 2, "{err}");
}
