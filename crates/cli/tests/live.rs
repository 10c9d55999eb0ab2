//! The foundation on the real kernel: exact socket scenarios in throwaway namespaces, read by
//! the `tcpdoctor` binary through `-N`, from both sources, and compared with the kernel's own
//! per-state count (`/proc/net/tcp{,6}`, read by the scenario itself when ready).
//!
//! Needs root (namespaces); without it every test says so and returns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::process::Command;
use std::time::Duration;
use tcpdoctor_model::{Family, StateCounts, TcpState};
use tcpdoctor_testkit::{require_root, run_with_timeout, Netns, TwSide};

mod common;
use common::{tcpdoctor, BIN};

fn json(args: &[&str]) -> Value {
    let (code, out, err) = tcpdoctor(args);
    assert_eq!(code, 0, "tcpdoctor {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON from {args:?}: {e}\n{out}"))
}

fn states(v: &Value) -> StateCounts {
    serde_json::from_value(v["states"].clone()).expect("states map")
}

/// Every state key present, zeros included, and the values add up to `total`.
fn assert_contract(v: &Value) {
    let m = v["states"].as_object().expect("states object");
    assert_eq!(m.len(), 11, "states has exactly the 11 Linux names");
    for s in TcpState::ALL {
        assert!(m.contains_key(s.name()), "missing {}", s.name());
    }
    let sum: u64 = m.values().map(|x| x.as_u64().unwrap()).sum();
    assert_eq!(v["total"].as_u64(), Some(sum));
    assert_eq!(v["schema_version"], 1);
}

#[test]
fn summary_counts_exactly_from_both_sources_v4_and_v6() {
    if !require_root("summary_counts_exactly_from_both_sources_v4_and_v6") {
        return;
    }
    let ns = Netns::new("tdt-sum").unwrap();
    let sc = ns
        .scenario(&[
            "--family", "both", "--listen", "3", "--est", "5", "--cw", "2", "--tw", "4",
        ])
        .unwrap();
    let r = sc.report();
    assert!(r.settled, "scenario did not settle: {:?}", r.kernel);
    // Per family: LISTEN 3, ESTABLISHED 10, CLOSE_WAIT 2, FIN_WAIT2 2, TIME_WAIT 4 = 21.
    let mut expected = StateCounts::default();
    for (s, n) in [
        (TcpState::Listen, 6),
        (TcpState::Established, 20),
        (TcpState::CloseWait, 4),
        (TcpState::FinWait2, 4),
        (TcpState::TimeWait, 8),
    ] {
        expected.add_n(s, n);
    }
    assert_eq!(r.expected, expected);
    for source in ["netlink", "proc"] {
        let v = json(&["summary", "--json", "-N", ns.name(), "--source", source]);
        assert_contract(&v);
        assert_eq!(states(&v), expected, "source {source}");
        assert_eq!(v["total"], 42);
        assert_eq!(v["families"]["ipv4"], 21, "source {source}");
        assert_eq!(v["families"]["ipv6"], 21, "source {source}");
        assert_eq!(v["scan"]["source"], source);
        assert_eq!(v["scan"]["netns"], ns.name());
        // The kernel's own figure: sockstat tw counts TIME_WAIT (+ FIN_WAIT2 minis) of the netns.
        assert_eq!(v["time_wait_check"]["kernel_tw"], 8, "source {source}");
        assert_eq!(v["time_wait_check"]["listed_time_wait"], 8);
    }
    // -N after the subcommand, and before it, mean the same.
    let a = json(&["-N", ns.name(), "summary", "--json"]);
    assert_eq!(states(&a), expected);
}

#[test]
fn time_wait_timers_sides_and_state_filters() {
    if !require_root("time_wait_timers_sides_and_state_filters") {
        return;
    }
    for side in ["client", "server"] {
        let ns = Netns::new("tdt-tw").unwrap();
        let sc = ns
            .scenario(&["--listen", "1", "--tw", "6", "--tw-side", side])
            .unwrap();
        let r = sc.report();
        assert_eq!(
            r.tw_side,
            if side == "client" {
                TwSide::Client
            } else {
                TwSide::Server
            }
        );
        let fam = r.family(Family::Inet).unwrap();
        let listener = fam.listeners[0];
        for source in ["netlink", "proc"] {
            let v = json(&[
                "ls",
                "--json",
                "-N",
                ns.name(),
                "--state",
                "time-wait",
                "--source",
                source,
            ]);
            assert_contract(&v);
            let socks = v["sockets"].as_array().unwrap();
            assert_eq!(socks.len(), 6, "{side}/{source}");
            for s in socks {
                assert_eq!(s["state"], "TIME_WAIT");
                assert_eq!(s["timer"]["kind"], "timewait", "{side}/{source}: {s}");
                let ms = s["timer"]["expires_ms"].as_u64().unwrap();
                assert!(
                    ms > 0 && ms <= 60_000,
                    "TIME_WAIT lasts 60 s on Linux: {ms}"
                );
                assert!(
                    s.get("inode").is_none(),
                    "TIME_WAIT sockets have no inode: {s}"
                );
                let local = s["local"]["port"].as_u64().unwrap();
                if side == "server" {
                    assert_eq!(
                        local,
                        u64::from(listener),
                        "server side: TW on the listening port"
                    );
                } else {
                    assert_eq!(s["remote"]["port"].as_u64(), Some(u64::from(listener)));
                }
            }
            // Only TIME_WAIT came back: the kernel filtered (netlink) or we did (proc).
            assert_eq!(v["states"]["TIME_WAIT"], 6);
            assert_eq!(v["total"], 6);
        }
        // ss spelling, netstat spelling and an ss group mean the same thing.
        for spelling in ["time-wait", "TIME_WAIT", "bucket"] {
            let v = json(&["summary", "--json", "-N", ns.name(), "--state", spelling]);
            assert_eq!(v["total"], 6, "{spelling}");
            assert_eq!(v["filtered"], true);
        }
        let v = json(&["summary", "--json", "-N", ns.name(), "--state", "connected"]);
        assert_eq!(v["total"], 6, "connected = all but LISTEN and CLOSE");
    }
}

#[test]
fn port_and_cidr_filters_and_grouping() {
    if !require_root("port_and_cidr_filters_and_grouping") {
        return;
    }
    let ns = Netns::new("tdt-flt").unwrap();
    let sc = ns
        .scenario(&[
            "--family",
            "both",
            "--listen",
            "2",
            "--est",
            "4",
            "--tw",
            "3",
            "--tw-side",
            "server",
        ])
        .unwrap();
    let v4 = sc.report().family(Family::Inet).unwrap().clone();
    let p0 = v4.listeners[0];
    // Connections go round-robin over the listeners: 2 of 4 on p0; TIME_WAIT 2 of 3 on p0.
    let v = json(&[
        "summary",
        "--json",
        "-N",
        ns.name(),
        "--sport",
        &p0.to_string(),
        "--src",
        "127.0.0.0/8",
    ]);
    assert_eq!(v["states"]["LISTEN"], 1);
    assert_eq!(v["states"]["ESTABLISHED"], 2);
    assert_eq!(v["states"]["TIME_WAIT"], 2);
    let v = json(&["summary", "--json", "-N", ns.name(), "--dst", "::1"]);
    assert_eq!(v["families"]["ipv4"], 0);
    assert_eq!(
        v["states"]["ESTABLISHED"], 8,
        "both ends of 4 v6 pairs have peer ::1"
    );
    assert_eq!(v["states"]["TIME_WAIT"], 3);
    let (p1, p0s) = (v4.listeners[1].to_string(), p0.to_string());
    let v = json(&[
        "ls",
        "--json",
        "-N",
        ns.name(),
        "--dport",
        &p0s,
        "--dport",
        &p1,
        "--dst",
        "127.0.0.1/32",
        "--state",
        "estab",
    ]);
    assert_eq!(v["total"], 4, "v4 client ends towards either listener");

    // --by service: the listening ports are local services (this host is the server).
    let v = json(&[
        "summary",
        "--json",
        "-N",
        ns.name(),
        "--by",
        "service",
        "--top",
        "50",
    ]);
    let groups = v["groups"]["groups"].as_array().unwrap();
    let local = groups
        .iter()
        .find(|g| g["key"] == format!("local:{p0}"))
        .unwrap_or_else(|| panic!("no local:{p0} group in {groups:?}"));
    assert_eq!(local["direction"], "local");
    // v4 and v6 listeners get different kernel ports, so local:p0 is v4 only: LISTEN 1,
    // 2 server ends ESTABLISHED, 2 TIME_WAIT.
    assert_eq!(local["states"]["TIME_WAIT"], 2);
    assert_eq!(v["groups"]["total"], v["total"]);

    // --by peer: everything talks to loopback.
    let v = json(&["summary", "--json", "-N", ns.name(), "--by", "peer"]);
    let keys: Vec<&str> = v["groups"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"127.0.0.1") && keys.contains(&"::1") && keys.contains(&"none"),
        "{keys:?}"
    );
}

#[test]
fn process_attribution_names_the_scenario_pid() {
    if !require_root("process_attribution_names_the_scenario_pid") {
        return;
    }
    let ns = Netns::new("tdt-own").unwrap();
    let sc = ns
        .scenario(&["--listen", "1", "--est", "3", "--close-wait-hold", "2"])
        .unwrap();
    let pid = sc.report().pid;
    let holder = sc
        .report()
        .family(Family::Inet)
        .unwrap()
        .close_wait_hold
        .clone()
        .unwrap()
        .holder_pid;

    let v = json(&["summary", "--json", "-N", ns.name(), "--by", "process"]);
    let groups = v["groups"]["groups"].as_array().unwrap();
    let mine = groups
        .iter()
        .find(|g| g["key"] == format!("pid:{pid}"))
        .expect("scenario pid group");
    // LISTEN 1 + 6 ESTABLISHED ends + 2 FIN_WAIT2 client ends of the hold.
    assert_eq!(mine["states"]["ESTABLISHED"], 6);
    assert_eq!(mine["states"]["LISTEN"], 1);
    assert_eq!(mine["states"]["FIN_WAIT2"], 2);
    assert_eq!(mine["process"]["comm"], "tcpdoctor-scena");
    let held = groups
        .iter()
        .find(|g| g["key"] == format!("pid:{holder}"))
        .expect("holder group");
    assert_eq!(held["states"]["CLOSE_WAIT"], 2);

    // ls -p and --pid: every CLOSE_WAIT socket is the holder's.
    let v = json(&[
        "ls",
        "--json",
        "-N",
        ns.name(),
        "--pid",
        &holder.to_string(),
    ]);
    assert_eq!(v["states"]["CLOSE_WAIT"], 2);
    for s in v["sockets"].as_array().unwrap() {
        assert_eq!(s["owners"][0]["pid"], holder);
        assert!(s["inode"].as_u64().unwrap() > 0);
    }
    let v = json(&[
        "ls",
        "--json",
        "-N",
        ns.name(),
        "--process",
        "tcpdoctor-scena",
        "--state",
        "listen",
    ]);
    assert_eq!(v["total"], 1);
    let (code, text, _) = tcpdoctor(&["ls", "-p", "-N", ns.name(), "--state", "close-wait"]);
    assert_eq!(code, 0);
    assert!(text.contains(&format!("({holder})")), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("CLOSE_WAIT")).count(),
        2,
        "{text}"
    );
}

#[test]
fn listen_backlog_and_accept_queue() {
    if !require_root("listen_backlog_and_accept_queue") {
        return;
    }
    let ns = Netns::new("tdt-bl").unwrap();
    let sc = ns
        .scenario(&["--backlog-overflow", "6", "--backlog", "2"])
        .unwrap();
    let port = sc
        .report()
        .family(Family::Inet)
        .unwrap()
        .backlog_overflow
        .clone()
        .unwrap()
        .port;
    let v = json(&[
        "ls",
        "--json",
        "-N",
        ns.name(),
        "--state",
        "listen",
        "--sport",
        &port.to_string(),
    ]);
    let s = &v["sockets"][0];
    assert_eq!(s["send_q"], 2, "backlog");
    assert_eq!(s["recv_q"], 3, "accept queue holds backlog+1");
}

#[test]
fn human_output_and_errors() {
    if !require_root("human_output_and_errors") {
        return;
    }
    let ns = Netns::new("tdt-txt").unwrap();
    let _sc = ns.scenario(&["--listen", "2", "--est", "600"]).unwrap();
    let (code, out, _) = tcpdoctor(&["summary", "-N", ns.name()]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("TCP sockets: 1,202  (IPv4 1,202, IPv6 0)"),
        "{out}"
    );
    assert!(!out.contains('\x1b'), "no colour when not a terminal");
    let (_, colored, _) = tcpdoctor(&["summary", "-N", ns.name(), "--color", "always"]);
    assert!(colored.contains("\x1b[1m"));

    // A closed pipe is not an error, and the dump stops early.
    let script = format!(
        "set -o pipefail; {BIN} ls -N {} | head -n 2 >/dev/null",
        ns.name()
    );
    let mut sh = Command::new("bash");
    sh.args(["-c", &script]);
    let out = run_with_timeout(&mut sh, Duration::from_secs(60)).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "broken pipe exit: {}",
        out.stderr
    );
    assert!(out.stderr.is_empty(), "{}", out.stderr);

    for (args, needle) in [
        (vec!["ls", "--state", "bogus"], "unknown TCP state 'bogus'"),
        (vec!["ls", "--sport", "70000"], "invalid port '70000'"),
        (
            vec!["ls", "--dst", "10.0.0.0/33"],
            "invalid address or CIDR",
        ),
        (
            vec!["-N", "tdt-no-such-ns", "summary"],
            "network namespace 'tdt-no-such-ns' not found",
        ),
    ] {
        let (code, _, err) = tcpdoctor(&args);
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
