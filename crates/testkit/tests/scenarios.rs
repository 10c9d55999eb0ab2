//! The kit on the real kernel: every scenario in a fresh namespace gives exactly the per-state
//! counts it promises, as the kernel itself reports them (`/proc/net/tcp{,6}`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;
use tcpdoctor_model::{Family, StateCounts, TcpState};
use tcpdoctor_testkit::{bins, require_root, Netns, Scenario, TwSide};

fn counts(pairs: &[(TcpState, u64)]) -> StateCounts {
    let mut c = StateCounts::default();
    for (s, n) in pairs {
        c.add_n(*s, *n);
    }
    c
}

fn mix() -> StateCounts {
    use TcpState::*;
    counts(&[
        (Listen, 3),
        (Established, 10),
        (CloseWait, 2),
        (FinWait2, 2),
        (TimeWait, 4),
    ])
}

const MIX: &[&str] = &["--listen", "3", "--est", "5", "--cw", "2", "--tw", "4"];

#[test]
fn scenario_bin_is_the_one_cargo_built() {
    let found = bins::scenario_bin().unwrap();
    assert_eq!(found, Path::new(env!("CARGO_BIN_EXE_tcpdoctor-scenario")));
}

#[test]
fn ipv4_mix_has_exact_counts() {
    if !require_root("ipv4_mix_has_exact_counts") {
        return;
    }
    let ns = Netns::new("tk-mix4").unwrap();
    let sc = ns.scenario(MIX).unwrap();
    let r = sc.report();
    assert!(r.settled, "{r:?}");
    assert_eq!(r.expected, mix());
    assert_eq!(r.kernel.all, mix());
    assert_eq!(r.kernel.v4, mix());
    assert_eq!(r.kernel.v6.total(), 0);
    assert_eq!(r.pid, sc.pid());
    assert_eq!(r.tw_side, TwSide::Client);
    let f = r.family(Family::Inet).unwrap();
    assert_eq!(
        (f.listeners.len(), f.est.len(), f.cw.len(), f.tw.len()),
        (3, 5, 2, 4)
    );
    // Round-robin over the listeners.
    assert_eq!(f.est[3].server, f.listeners[0]);
    // Client-side TIME_WAIT: on the clients' ephemeral ports, towards the listeners.
    let rows = sc.kernel_rows().unwrap();
    let tw: Vec<_> = rows
        .iter()
        .filter(|r| r.state == TcpState::TimeWait)
        .collect();
    let got: BTreeSet<u16> = tw.iter().map(|r| r.local.port()).collect();
    let want: BTreeSet<u16> = f.tw.iter().map(|p| p.client).collect();
    assert_eq!(got, want);
    assert!(tw
        .iter()
        .all(|r| f.listeners.contains(&r.remote.port()) && r.timer == 3 && r.inode == 0));
    // The kernel's count now is the one in the report (nothing moved while holding).
    assert_eq!(sc.kernel_counts().unwrap().all, mix());
    assert!(sc.stop().unwrap().success());
}

#[test]
fn ipv6_mix_has_exact_counts() {
    if !require_root("ipv6_mix_has_exact_counts") {
        return;
    }
    let ns = Netns::new("tk-mix6").unwrap();
    let mut args = MIX.to_vec();
    args.push("--v6");
    let sc = ns.scenario(&args).unwrap();
    let r = sc.report();
    assert_eq!(r.kernel.v6, mix(), "{r:?}");
    assert_eq!(r.kernel.v4.total(), 0);
    let f = r.family(Family::Inet6).unwrap();
    assert_eq!(f.addr, "::1".parse::<std::net::IpAddr>().unwrap());
    assert!(r.family(Family::Inet).is_none());
    let rows = sc.kernel_rows().unwrap();
    assert!(rows
        .iter()
        .all(|r| r.family == Family::Inet6 && r.local.ip().is_loopback()));
}

#[test]
fn both_families_in_one_run() {
    if !require_root("both_families_in_one_run") {
        return;
    }
    let ns = Netns::new("tk-mix46").unwrap();
    let mut args = MIX.to_vec();
    args.extend(["--family", "both", "--port-base", "7000"]);
    let sc = ns.scenario(&args).unwrap();
    let r = sc.report();
    let mut both = mix();
    both.merge(&mix());
    assert_eq!(r.kernel.all, both, "{r:?}");
    assert_eq!(r.kernel.v4, mix());
    assert_eq!(r.kernel.v6, mix());
    // The same listening ports on both families (IPV6_V6ONLY).
    assert_eq!(r.families[0].listeners, vec![7000, 7001, 7002]);
    assert_eq!(r.families[1].listeners, vec![7000, 7001, 7002]);
}

#[test]
fn server_side_time_wait_sits_on_the_listening_port() {
    if !require_root("server_side_time_wait_sits_on_the_listening_port") {
        return;
    }
    let ns = Netns::new("tk-twsrv").unwrap();
    let sc = ns
        .scenario(&[
            "--listen",
            "1",
            "--tw",
            "4",
            "--tw-side",
            "server",
            "--port-base",
            "8080",
        ])
        .unwrap();
    let r = sc.report();
    assert_eq!(r.tw_side, TwSide::Server);
    assert_eq!(
        r.kernel.all,
        counts(&[(TcpState::Listen, 1), (TcpState::TimeWait, 4)]),
        "{r:?}"
    );
    let rows = sc.kernel_rows().unwrap();
    let tw: Vec<_> = rows
        .iter()
        .filter(|r| r.state == TcpState::TimeWait)
        .collect();
    assert_eq!(tw.len(), 4);
    assert!(tw.iter().all(|r| r.local.port() == 8080), "{tw:?}");
    let peers: BTreeSet<u16> = tw.iter().map(|r| r.remote.port()).collect();
    let clients: BTreeSet<u16> = r.families[0].tw.iter().map(|p| p.client).collect();
    assert_eq!(peers, clients);
}

#[test]
fn without_listeners_connections_still_build_and_listen_stays_zero() {
    if !require_root("without_listeners_connections_still_build_and_listen_stays_zero") {
        return;
    }
    let ns = Netns::new("tk-nolisten").unwrap();
    let sc = ns.scenario(&["--est", "2", "--tw", "1"]).unwrap();
    let want = counts(&[(TcpState::Established, 4), (TcpState::TimeWait, 1)]);
    assert_eq!(sc.report().kernel.all, want, "{:?}", sc.report());
}

#[test]
fn backlog_overflow_fills_the_accept_queue() {
    if !require_root("backlog_overflow_fills_the_accept_queue") {
        return;
    }
    let ns = Netns::new("tk-backlog").unwrap();
    let sc = ns
        .scenario(&["--backlog-overflow", "6", "--backlog", "2"])
        .unwrap();
    let r = sc.report();
    // backlog+1 = 3 handshakes complete into the queue (both ends ESTABLISHED); the other 3
    // SYNs are dropped and their clients stay in SYN_SENT.
    use TcpState::*;
    assert_eq!(
        r.kernel.all,
        counts(&[(Listen, 1), (Established, 6), (SynSent, 3)]),
        "{r:?}"
    );
    let b = r.families[0].backlog_overflow.as_ref().unwrap();
    assert_eq!((b.backlog, b.attempts, b.accept_queue), (2, 6, 3));
    assert!(r.counters["ListenOverflows"] >= 3, "{:?}", r.counters);
    assert!(r.counters["ListenDrops"] >= r.counters["ListenOverflows"]);
}

fn socket_inodes_of(pid: u32) -> BTreeSet<u64> {
    let mut set = BTreeSet::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        if let Ok(t) = std::fs::read_link(e.path()) {
            let t = t.to_string_lossy().into_owned();
            if let Some(n) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                set.insert(n.parse().unwrap());
            }
        }
    }
    set
}

#[test]
fn close_wait_held_by_a_separate_process() {
    if !require_root("close_wait_held_by_a_separate_process") {
        return;
    }
    let ns = Netns::new("tk-cwhold").unwrap();
    let sc = ns.scenario(&["--close-wait-hold", "3"]).unwrap();
    let r = sc.report();
    use TcpState::*;
    assert_eq!(
        r.kernel.all,
        counts(&[(CloseWait, 3), (FinWait2, 3)]),
        "{r:?}"
    );
    let h = r.families[0].close_wait_hold.as_ref().unwrap();
    assert_ne!(h.holder_pid, sc.pid());
    assert_eq!(h.pairs.len(), 3);
    let holder = socket_inodes_of(h.holder_pid);
    let me = socket_inodes_of(sc.pid());
    let rows = sc.kernel_rows().unwrap();
    for row in &rows {
        match row.state {
            CloseWait => assert!(holder.contains(&row.inode) && row.local.port() == h.port),
            FinWait2 => assert!(me.contains(&row.inode) && row.remote.port() == h.port),
            s => panic!("unexpected {s}"),
        }
    }
    let holder_pid = h.holder_pid;
    drop(sc);
    assert!(
        !tcpdoctor_testkit::is_running(holder_pid),
        "holder left behind"
    );
}

#[test]
fn connect_until_fail_exhausts_a_narrowed_port_range() {
    if !require_root("connect_until_fail_exhausts_a_narrowed_port_range") {
        return;
    }
    let ns = Netns::new("tk-exhaust").unwrap();
    ns.sysctl("net.ipv4.ip_local_port_range", "40000 40099")
        .unwrap();
    assert_eq!(
        ns.sysctl_get("net.ipv4.ip_local_port_range").unwrap(),
        "40000\t40099"
    );
    let sc = ns
        .scenario(&["--connect-until-fail", "--exhaust-port", "5000"])
        .unwrap();
    let r = sc.report();
    let x = r.families[0].connect_until_fail.as_ref().unwrap();
    assert_eq!(x.failures, 3, "{x:?}");
    assert!(!x.bounded_out && x.other_error.is_none());
    // 100 ports; this kernel's connect() may leave one of them unused.
    assert!((98..=100).contains(&x.ok), "{x:?}");
    assert!(x.client_ports.iter().all(|p| (40000..=40099).contains(p)));
    assert_eq!(
        x.client_ports.iter().collect::<BTreeSet<_>>().len(),
        x.ok as usize
    );
    let want = counts(&[
        (TcpState::Listen, 1),
        (TcpState::Established, 2 * u64::from(x.ok)),
    ]);
    assert_eq!(r.kernel.all, want);
    // The host's range is untouched.
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    assert_ne!(
        host.split_whitespace().collect::<Vec<_>>(),
        ["40000", "40099"]
    );
}

#[test]
fn connect_until_fail_through_time_wait() {
    if !require_root("connect_until_fail_through_time_wait") {
        return;
    }
    let ns = Netns::new("tk-exhausttw").unwrap();
    ns.sysctl("net.ipv4.ip_local_port_range", "40000 40049")
        .unwrap();
    // tcp_tw_reuse=2 (the default) reuses loopback TIME_WAIT ports after 1 s (tcp-facts 2).
    ns.sysctl("net.ipv4.tcp_tw_reuse", "0").unwrap();
    let sc = ns
        .scenario(&[
            "--connect-until-fail",
            "--exhaust-port",
            "5000",
            "--exhaust-hold",
            "tw",
        ])
        .unwrap();
    let r = sc.report();
    let x = r.families[0].connect_until_fail.as_ref().unwrap();
    assert_eq!(x.failures, 3, "{x:?}");
    assert!((48..=50).contains(&x.ok), "{x:?}");
    let want = counts(&[(TcpState::Listen, 1), (TcpState::TimeWait, u64::from(x.ok))]);
    assert_eq!(r.kernel.all, want);
}

#[test]
fn a_bad_option_fails_with_the_childs_stderr() {
    if !require_root("a_bad_option_fails_with_the_childs_stderr") {
        return;
    }
    let ns = Netns::new("tk-bad").unwrap();
    let err = ns.scenario(&["--listen", "two"]).unwrap_err().to_string();
    assert!(err.contains("'two' is not a valid number"), "{err}");
    assert!(err.contains("exited before its ready line"), "{err}");
    let err = ns.scenario(&["--bogus"]).unwrap_err().to_string();
    assert!(err.contains("unknown option '--bogus'"), "{err}");
}

#[test]
fn a_silent_child_times_out_with_a_clear_error() {
    if !require_root("a_silent_child_times_out_with_a_clear_error") {
        return;
    }
    let ns = Netns::new("tk-silent").unwrap();
    // A "scenario" that ignores its arguments and never says anything.
    let script = std::env::temp_dir().join(format!("tk-silent-{}.sh", std::process::id()));
    std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let t0 = std::time::Instant::now();
    let err = Scenario::start_with(&ns, &script, &[], Duration::from_millis(300)).unwrap_err();
    std::fs::remove_file(&script).unwrap();
    let err = err.to_string();
    assert!(err.contains("not ready within 300ms"), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(ns.pids().unwrap().is_empty(), "child left running");
}

#[test]
fn help_documents_every_option() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tcpdoctor-scenario"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for opt in [
        "--listen",
        "--est",
        "--cw",
        "--tw ",
        "--tw-side",
        "--backlog-overflow",
        "--backlog ",
        "--connect-until-fail",
        "--exhaust-port",
        "--exhaust-hold",
        "--fail-after",
        "--max-connects",
        "--max-secs",
        "--close-wait-hold",
        "--family",
        "--v6",
        "--port-base",
        "--settle-ms",
        "--max-hold",
        "--die-with-parent",
    ] {
        assert!(help.contains(opt), "--help lacks {opt}");
    }
}
