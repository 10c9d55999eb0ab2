//! `tcpdoctor` (the diagnosis) on the real kernel: each classic situation is built exactly in a
//! throwaway namespace by the test kit, read through `tcpdoctor -N NS --json`, and must yield its
//! finding id with the right evidence (the port, the remote service, the pid), and no remedy
//! that the facts forbid (tcp-facts 2.4, 3.4, 1.6).
//!
//! Needs root (namespaces); without it every test says so and returns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use tcpdoctor_model::Family;
use tcpdoctor_testkit::{require_root, Netns};

mod common;
use common::tcpdoctor;

/// Above the pile threshold of the catalogue (5/s x 60 s = 300 on Linux).
const STORM: &str = "400";

/// `tcpdoctor -N NS --json --interval 0 EXTRA...`: (exit status, report).
fn diagnose(ns: &Netns, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["-N", ns.name(), "--json", "--interval", "0"];
    args.extend_from_slice(extra);
    let (code, out, err) = tcpdoctor(&args);
    let v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("bad JSON ({e}), exit {code}, stderr {err}:\n{out}"));
    assert_eq!(v["report"], "diagnosis");
    assert_eq!(v["scan"]["netns"], ns.name());
    (code, v)
}

fn ids(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

fn finding<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no finding {id}; got {:?}", ids(v)))
}

/// The value of an evidence metric.
fn metric<'a>(f: &'a Value, name: &str) -> &'a Value {
    f["evidence"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .map(|m| &m["value"])
        .unwrap_or_else(|| panic!("no metric {name} in {}", f["evidence"]))
}

fn first_group(f: &Value) -> &Value {
    &f["evidence"]["groups"][0]
}

/// Every remedy of a finding as text (its sentence and its commands).
fn remedy_texts(f: &Value) -> Vec<String> {
    let mut v = Vec::new();
    for r in f["remedies"].as_array().unwrap() {
        v.push(r["text"].as_str().unwrap().to_string());
        for c in r["commands"].as_array().into_iter().flatten() {
            v.push(c.as_str().unwrap().to_string());
        }
    }
    v
}

/// The folklore the facts forbid, checked on every remedy of a report: tcp_tw_recycle is never
/// a remedy (tcp-facts 3.4), tcp_fin_timeout never shortens TIME_WAIT (1.6), tcp_tw_reuse
/// never helps server-side TIME_WAIT (2.4). (`avoid` entries may and should name them.)
fn assert_no_folklore(v: &Value) {
    for f in v["findings"].as_array().unwrap() {
        let id = f["id"].as_str().unwrap();
        for t in remedy_texts(f) {
            let l = t.to_ascii_lowercase();
            assert!(
                !l.contains("tcp_tw_recycle"),
                "{id} recommends tcp_tw_recycle: {t}"
            );
            if l.contains("tcp_fin_timeout") {
                assert!(
                    !id.starts_with("time-wait"),
                    "{id} offers tcp_fin_timeout for TIME_WAIT: {t}"
                );
                assert!(
                    !(l.contains("time_wait") && (l.contains("shorten") || l.contains("reduce"))),
                    "{id} claims tcp_fin_timeout shortens TIME_WAIT: {t}"
                );
            }
            if id == "time-wait-server-side" {
                assert!(!l.contains("tcp_tw_reuse"), "{id} offers tcp_tw_reuse: {t}");
            }
        }
    }
}

#[test]
fn server_closes_first_storm_is_server_side_time_wait_on_that_port() {
    if !require_root("server_closes_first_storm_is_server_side_time_wait_on_that_port") {
        return;
    }
    let ns = Netns::new("tdd-tws").unwrap();
    let sc = ns
        .scenario(&["--listen", "1", "--tw", STORM, "--tw-side", "server"])
        .unwrap();
    assert!(sc.report().settled, "{:?}", sc.report().kernel);
    let port = sc.report().family(Family::Inet).unwrap().listeners[0];
    let (code, v) = diagnose(&ns, &[]);
    assert_eq!(v["states"]["TIME_WAIT"], 400);
    let f = finding(&v, "time-wait-server-side");
    assert_eq!(metric(f, "port"), port);
    assert_eq!(metric(f, "time_wait"), 400);
    let g = first_group(f);
    assert_eq!(g["kind"], "local-port");
    assert_eq!(g["key"], format!("local:{port}"));
    assert_eq!(g["count"], 400);
    assert!(!ids(&v).contains(&"time-wait-client-side".to_string()));
    // Info only: costs no ephemeral port; the default --fail-on warning exits 0.
    assert_eq!(f["severity"], "info");
    assert_eq!(code, 0, "{:?}", ids(&v));
    assert_no_folklore(&v);
    // The audit agrees: none of the folklore settings is recommended for this host.
    let (code, out, err) = tcpdoctor(&["-N", ns.name(), "sysctl", "--json", "--interval", "0"]);
    assert_eq!(code, 0, "{err}");
    let a: Value = serde_json::from_str(&out).unwrap();
    for s in a["settings"].as_array().unwrap() {
        let key = s["key"].as_str().unwrap();
        if [
            "net.ipv4.tcp_tw_reuse",
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_tw_recycle",
        ]
        .contains(&key)
        {
            assert_ne!(s["verdict"], "change", "{key}: {s}");
        }
    }
}

#[test]
fn client_closes_first_storm_is_client_side_time_wait_towards_the_service() {
    if !require_root("client_closes_first_storm_is_client_side_time_wait_towards_the_service") {
        return;
    }
    let ns = Netns::new("tdd-twc").unwrap();
    let sc = ns
        .scenario(&["--listen", "1", "--tw", STORM, "--tw-side", "client"])
        .unwrap();
    assert!(sc.report().settled, "{:?}", sc.report().kernel);
    let port = sc.report().family(Family::Inet).unwrap().listeners[0];
    let (_, v) = diagnose(&ns, &[]);
    let f = finding(&v, "time-wait-client-side");
    assert_eq!(metric(f, "time_wait"), 400);
    let g = first_group(f);
    assert_eq!(g["kind"], "remote-service");
    assert_eq!(g["key"], format!("127.0.0.1:{port}"));
    assert_eq!(g["count"], 400);
    assert_eq!(g["states"]["TIME_WAIT"], 400);
    assert!(!ids(&v).contains(&"time-wait-server-side".to_string()));
    // Every sample is a TIME_WAIT socket towards that service.
    for s in f["evidence"]["samples"].as_array().unwrap() {
        assert_eq!(s["state"], "TIME_WAIT");
        assert_eq!(s["remote"], format!("127.0.0.1:{port}"));
    }
    assert_no_folklore(&v);
}

#[test]
fn close_wait_pile_names_exactly_the_holding_child_and_fail_on_decides_the_exit() {
    if !require_root("close_wait_pile_names_exactly_the_holding_child_and_fail_on_decides_the_exit")
    {
        return;
    }
    let ns = Netns::new("tdd-cw").unwrap();
    let sc = ns
        .scenario(&["--listen", "1", "--close-wait-hold", "30"])
        .unwrap();
    assert!(sc.report().settled, "{:?}", sc.report().kernel);
    let hold = sc
        .report()
        .family(Family::Inet)
        .unwrap()
        .close_wait_hold
        .clone()
        .unwrap();
    assert_ne!(hold.holder_pid, sc.pid(), "the holder is a separate child");
    let (code, v) = diagnose(&ns, &[]);
    assert_eq!(v["states"]["CLOSE_WAIT"], 30);
    let f = finding(&v, "close-wait-leak");
    assert_eq!(f["severity"], "warning");
    assert_eq!(metric(f, "pid"), hold.holder_pid);
    assert_eq!(metric(f, "close_wait"), 30);
    let g = first_group(f);
    assert_eq!(g["kind"], "process");
    assert_eq!(g["key"], format!("pid:{}", hold.holder_pid));
    assert_eq!(g["count"], 30);
    // Only the holder is named: not the scenario process that keeps the FIN_WAIT2 ends.
    let leaks: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "close-wait-leak")
        .collect();
    assert_eq!(leaks.len(), 1);
    // No kernel setting fixes a CLOSE_WAIT leak: no remedy writes a sysctl.
    for t in remedy_texts(f) {
        assert!(!t.starts_with("sysctl -w"), "{t}");
    }
    assert_no_folklore(&v);

    // --fail-on: warning (default) -> 1; never -> 0; critical -> 0 (no critical finding).
    assert_eq!(code, 1);
    assert_eq!(diagnose(&ns, &["--fail-on", "never"]).0, 0);
    assert_eq!(diagnose(&ns, &["--fail-on", "critical"]).0, 0);
    assert_eq!(diagnose(&ns, &["--fail-on", "info"]).0, 1);
    // The human report names the pid too, and follows the same exit rule.
    let (code, out, _) = tcpdoctor(&["-N", ns.name(), "--interval", "0"]);
    assert_eq!(code, 1);
    assert!(out.contains(&format!("pid {}", hold.holder_pid)), "{out}");
}

#[test]
fn narrowed_port_range_exhausts_and_is_critical() {
    if !require_root("narrowed_port_range_exhausts_and_is_critical") {
        return;
    }
    let ns = Netns::new("tdd-exh").unwrap();
    // 300 ports; the two ends of different parity (tcp-facts 5.3).
    ns.sysctl("net.ipv4.ip_local_port_range", "40000 40299")
        .unwrap();
    let sc = ns.scenario(&["--connect-until-fail"]).unwrap();
    let ex = sc
        .report()
        .family(Family::Inet)
        .unwrap()
        .connect_until_fail
        .clone()
        .unwrap();
    assert!(ex.failures >= 1, "connect never failed: {ex:?}");
    assert!(ex.other_error.is_none(), "{ex:?}");
    assert_eq!(ex.client_ports.len(), ex.ok as usize);
    assert!(ex.client_ports.iter().all(|p| (40000..=40299).contains(p)));
    let (code, v) = diagnose(&ns, &[]);
    let f = finding(&v, "ephemeral-port-exhaustion");
    assert_eq!(f["severity"], "critical");
    assert_eq!(metric(f, "ports_in_use"), ex.ok);
    assert_eq!(metric(f, "usable_ports"), 300);
    assert_eq!(metric(f, "port_range"), "40000-40299");
    // 300 ports / 60 s TIME_WAIT.
    assert_eq!(metric(f, "max_new_per_s"), 5.0);
    let g = first_group(f);
    assert_eq!(g["kind"], "port-space");
    assert_eq!(g["key"], format!("127.0.0.1->127.0.0.1:{}", ex.port));
    assert_eq!(g["states"]["ESTABLISHED"], ex.ok);
    assert_eq!(
        v["findings"][0]["id"], "ephemeral-port-exhaustion",
        "worst first"
    );
    assert_eq!(code, 1);
    assert_eq!(diagnose(&ns, &["--fail-on", "critical"]).0, 1);
    assert_no_folklore(&v);
}

#[test]
fn listener_that_never_accepts_overflows_its_accept_queue() {
    if !require_root("listener_that_never_accepts_overflows_its_accept_queue") {
        return;
    }
    let ns = Netns::new("tdd-acq").unwrap();
    let sc = ns.scenario(&["--backlog-overflow", "5"]).unwrap();
    let bo = sc
        .report()
        .family(Family::Inet)
        .unwrap()
        .backlog_overflow
        .clone()
        .unwrap();
    assert_eq!(bo.backlog, 1);
    let (code, v) = diagnose(&ns, &[]);
    let f = finding(&v, "accept-queue-overflow");
    let g = first_group(f);
    assert_eq!(g["kind"], "listener");
    assert_eq!(g["key"], format!("listen:127.0.0.1:{}", bo.port));
    // backlog+1 completed connections wait in a queue whose limit is the backlog.
    assert_eq!(g["count"], bo.accept_queue);
    let s = &f["evidence"]["samples"][0];
    assert_eq!(s["state"], "LISTEN");
    assert_eq!(s["recv_q"], bo.accept_queue);
    assert_eq!(s["send_q"], 1);
    assert!(metric(f, "listen_overflows_total").as_u64().unwrap() >= 1);
    assert_eq!(code, 1);
    assert_no_folklore(&v);
}

#[test]
fn interval_gives_rates_and_two_snapshots() {
    if !require_root("interval_gives_rates_and_two_snapshots") {
        return;
    }
    let ns = Netns::new("tdd-int").unwrap();
    let sc = ns.scenario(&["--listen", "1", "--est", "3"]).unwrap();
    assert!(sc.report().settled);
    let (code, out, err) = tcpdoctor(&["-N", ns.name(), "--json", "--interval", "1s"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["snapshots"], 2);
    let r = &v["rates"];
    assert!(r.is_object(), "{v}");
    let secs = r["interval_s"].as_f64().unwrap();
    assert!((1.0..5.0).contains(&secs), "{secs}");
    // Nothing connects while the scenario only holds its sockets.
    assert_eq!(r["new_connections_per_s"], 0.0);
    assert_eq!(v["states"]["ESTABLISHED"], 6);
    // Without --interval 0 the counters are still read twice (rates), with one scan.
    let (_, out, _) = tcpdoctor(&["-N", ns.name(), "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["snapshots"], 1);
    assert!(v["rates"].is_object());
    // --interval 0: one reading, no rates.
    let (_, v) = diagnose(&ns, &[]);
    assert_eq!(v["snapshots"], 1);
    assert!(v.get("rates").is_none());
}
