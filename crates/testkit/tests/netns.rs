//! The namespace guard: unique names, commands and sysctls inside, veth pairs, and nothing left
//! behind after drop, after a panic, or after a crashed run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tcpdoctor_testkit::{require_root, KitError, Netns};

fn alive(pid: u32) -> bool {
    tcpdoctor_testkit::is_running(pid)
}

#[test]
fn names_are_unique_across_parallel_threads() {
    if !require_root("names_are_unique_across_parallel_threads") {
        return;
    }
    let handles: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| Netns::new("tk-par").unwrap()))
        .collect();
    let nss: Vec<Netns> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut names: Vec<String> = nss.iter().map(|n| n.name().to_string()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 4);
    let prefix = format!("tk-par-{}-", std::process::id());
    assert!(names
        .iter()
        .all(|n| n.starts_with(&prefix) && Netns::exists(n)));
    drop(nss);
    assert!(names.iter().all(|n| !Netns::exists(n)));
}

#[test]
fn a_bad_prefix_is_refused() {
    let err = Netns::new("no spaces/or slashes").unwrap_err();
    assert!(matches!(err, KitError::Invalid(_)), "{err}");
}

#[test]
fn drop_kills_children_and_deletes_the_namespace() {
    if !require_root("drop_kills_children_and_deletes_the_namespace") {
        return;
    }
    let ns = Netns::new("tk-drop").unwrap();
    let name = ns.name().to_string();
    // lo is up, and nothing else is there.
    let links = ns.exec(&["ip", "-o", "link"]).unwrap().stdout;
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo:") && links.contains("UP"), "{links}");
    let mut c = ns.command("sleep");
    c.arg("300");
    let pid = ns.spawn(c).unwrap();
    let sc = ns
        .scenario(&["--close-wait-hold", "1", "--listen", "1"])
        .unwrap();
    let (scen, holder) = (
        sc.pid(),
        sc.report().families[0]
            .close_wait_hold
            .as_ref()
            .unwrap()
            .holder_pid,
    );
    std::mem::forget(sc); // as if the test lost the guard: the namespace must still clean up
    assert!(alive(pid) && alive(scen) && alive(holder));
    let t0 = Instant::now();
    drop(ns);
    assert!(!Netns::exists(&name));
    for p in [pid, scen, holder] {
        assert!(!alive(p), "pid {p} left behind");
    }
    assert!(t0.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_panicking_test_leaves_nothing_behind() {
    if !require_root("a_panicking_test_leaves_nothing_behind") {
        return;
    }
    let seen: Arc<Mutex<Option<(String, u32, u32)>>> = Arc::default();
    let s2 = Arc::clone(&seen);
    let r = std::panic::catch_unwind(move || {
        let ns = Netns::new("tk-panic").unwrap();
        let sc = ns
            .scenario(&["--listen", "2", "--est", "3", "--close-wait-hold", "2"])
            .unwrap();
        let holder = sc.report().families[0]
            .close_wait_hold
            .as_ref()
            .unwrap()
            .holder_pid;
        *s2.lock().unwrap() = Some((ns.name().to_string(), sc.pid(), holder));
        assert_eq!(
            sc.report().kernel.all.total(),
            999,
            "this assertion fails on purpose"
        );
    });
    assert!(r.is_err());
    let (name, pid, holder) = seen.lock().unwrap().clone().unwrap();
    assert!(!Netns::exists(&name), "{name} left behind");
    assert!(!alive(pid) && !alive(holder));
}

#[test]
fn kill_stops_one_child() {
    if !require_root("kill_stops_one_child") {
        return;
    }
    let ns = Netns::new("tk-kill").unwrap();
    let mut c = ns.command("sleep");
    c.arg("300");
    let pid = ns.spawn(c).unwrap();
    // `ip netns exec` enters the namespace and execs `sleep` under the same pid, shortly.
    let t0 = Instant::now();
    while ns.pids().unwrap() != vec![pid] && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(ns.pids().unwrap(), vec![pid]);
    let st = ns.kill(pid).unwrap();
    assert!(!st.success());
    assert!(!alive(pid));
    assert!(ns.kill(pid).is_none());
    assert!(ns.pids().unwrap().is_empty());
}

#[test]
fn sysctls_and_commands_stay_inside() {
    if !require_root("sysctls_and_commands_stay_inside") {
        return;
    }
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_fin_timeout").unwrap();
    let ns = Netns::new("tk-sysctl").unwrap();
    ns.sysctl("net.ipv4.tcp_fin_timeout", "17").unwrap();
    assert_eq!(ns.sysctl_get("net.ipv4.tcp_fin_timeout").unwrap(), "17");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/tcp_fin_timeout").unwrap(),
        host
    );
    let err = ns
        .sysctl("net.ipv4.no_such_key", "1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no_such_key"), "{err}");
    let err = ns
        .exec(&["sh", "-c", "echo oops >&2; exit 3"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("oops") && err.contains("exit status: 3"),
        "{err}"
    );
    let t0 = Instant::now();
    let err = ns
        .exec_timeout(&["sleep", "10"], Duration::from_millis(200))
        .unwrap_err();
    assert!(matches!(err, KitError::Timeout { .. }), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(ns.pids().unwrap().is_empty());
}

#[test]
fn veth_pair_joins_two_namespaces() {
    if !require_root("veth_pair_joins_two_namespaces") {
        return;
    }
    let client = Netns::new("tk-cli").unwrap();
    let server = Netns::new("tk-srv").unwrap();
    let v = Netns::veth_pair(&client, &server, "198.18.0.1/30", "198.18.0.2/30").unwrap();
    assert_eq!((v.a_ip(), v.b_ip()), ("198.18.0.1", "198.18.0.2"));
    // Not in the caller's namespace.
    let host_links = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&host_links.stdout).contains(&v.a_if));
    // A real TCP exchange across the pair: a one-shot server in `server`, bash's /dev/tcp in
    // `client`.
    let mut srv = server.command("python3");
    srv.args([
        "-c",
        "import socket;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);\
         s.bind(('198.18.0.2',7000));s.listen();c,a=s.accept();c.sendall(a[0].encode());c.close()",
    ]);
    server.spawn(srv).unwrap();
    let mut got = String::new();
    for _ in 0..50 {
        let out = client
            .exec_timeout(
                &["bash", "-c", "exec 3<>/dev/tcp/198.18.0.2/7000 && cat <&3"],
                Duration::from_secs(5),
            )
            .unwrap();
        if out.status.success() {
            got = out.stdout;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        got, "198.18.0.1",
        "the server saw the client's veth address"
    );
    let name = client.name().to_string();
    drop(client);
    assert!(!Netns::exists(&name));
    // The peer goes with it (the kernel tears a namespace down asynchronously).
    let t0 = Instant::now();
    let mut links = String::new();
    while t0.elapsed() < Duration::from_secs(10) {
        links = server.exec(&["ip", "-o", "link"]).unwrap().stdout;
        if !links.contains(&v.b_if) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!links.contains(&v.b_if), "{links}");
}

#[test]
fn clean_stale_removes_namespaces_of_dead_runs_only() {
    if !require_root("clean_stale_removes_namespaces_of_dead_runs_only") {
        return;
    }
    // pid_max is at most 4194304, so this pid can never be alive.
    let stale = "tk-stale-4999999-0";
    let live = Netns::new("tk-stale").unwrap();
    let st = std::process::Command::new("ip")
        .args(["netns", "add", stale])
        .status()
        .unwrap();
    assert!(st.success());
    let removed = Netns::clean_stale("tk-stale").unwrap();
    assert_eq!(removed, vec![stale.to_string()]);
    assert!(!Netns::exists(stale));
    assert!(Netns::exists(live.name()));
}
