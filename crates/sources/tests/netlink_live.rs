//! The netlink source against the real kernel, in throwaway network namespaces.
//!
//! Each test creates `tcpd-nl-<pid>-<n>` with `ip netns add`, brings `lo` up, moves its own
//! thread into it with [`enter_netns`], builds an exact set of sockets with `std::net` on
//! loopback, dumps, and checks exact numbers. The namespace is deleted by a drop guard even when
//! the test fails. Needs root; without it every test is skipped with a message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tcpdoctor_model::{
    CountingSink, Family, PortMatch, Socket, SocketFilter, StateCounts, StateSet, TcpState,
    TimerKind, VecSink,
};
use tcpdoctor_sources::netlink::{dump, DumpOptions, DumpStats, Families, RequestMode};
use tcpdoctor_sources::sys::{enter_netns, NetnsError, NetnsGuard};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2)) // effective uid
        .is_some_and(|uid| uid == "0")
}

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("skipped: needs root (creates network namespaces with `ip netns add`)");
            return;
        }
    };
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A named network namespace, deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn create() -> Netns {
        let name = format!(
            "tcpd-nl-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        assert!(ip(&["netns", "add", &name]), "ip netns add {name} failed");
        let ns = Netns { name };
        assert!(
            ip(&["-n", &ns.name, "link", "set", "lo", "up"]),
            "lo up failed"
        );
        // A small somaxconn makes the listen backlog exact whatever std asks for.
        assert!(Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.name,
                "sysctl",
                "-qw",
                "net.core.somaxconn=100"
            ])
            .status()
            .unwrap()
            .success());
        ns
    }

    fn enter(&self) -> NetnsGuard {
        enter_netns(&self.name).expect("enter netns")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn counts(opts: &DumpOptions) -> (StateCounts, DumpStats) {
    let mut sink = CountingSink::default();
    let stats = dump(opts, &mut sink).expect("dump");
    (sink.0, stats)
}

fn all(opts: &DumpOptions) -> (Vec<Socket>, DumpStats) {
    let mut sink = VecSink::default();
    let stats = dump(opts, &mut sink).expect("dump");
    (sink.0, stats)
}

fn expect_counts(pairs: &[(TcpState, u64)]) -> StateCounts {
    let mut c = StateCounts::default();
    for (s, n) in pairs {
        c.add_n(*s, *n);
    }
    c
}

/// Polls until the kernel shows `want` (bounded: 5 s), then returns the last counts.
fn wait_for(want: &StateCounts) -> StateCounts {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (c, _) = counts(&DumpOptions::default());
        if c == *want || Instant::now() > deadline {
            return c;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// Client closes first, then the server: the client's end goes to TIME_WAIT.
fn time_wait(l: &TcpListener) {
    let (c, mut s) = pair(l);
    drop(c);
    let mut b = [0u8; 1];
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(s.read(&mut b).unwrap(), 0, "server sees the client's FIN");
    drop(s);
}

/// Socket inodes of this process's fds (`socket:[N]`).
fn own_socket_inodes() -> HashSet<u64> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|p| {
            let s = p.to_string_lossy().into_owned();
            s.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

fn addr(s: &Socket) -> (SocketAddr, SocketAddr) {
    (
        SocketAddr::new(s.local.ip().unwrap(), s.local.port().unwrap()),
        SocketAddr::new(s.remote.ip().unwrap(), s.remote.port().unwrap()),
    )
}

#[test]
fn exact_states_details_and_both_request_kinds() {
    require_root!();
    let ns = Netns::create();
    let _in = ns.enter();

    let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let l6 = TcpListener::bind("[::1]:0").unwrap();
    let lq = TcpListener::bind("127.0.0.1:0").unwrap(); // keeps 2 connections un-accepted
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(pair(&l4));
    }
    for _ in 0..2 {
        held.push(pair(&l6));
    }
    let mut half = Vec::new();
    for _ in 0..2 {
        let (c, s) = pair(&l4);
        c.shutdown(Shutdown::Write).unwrap(); // client FIN_WAIT2, server CLOSE_WAIT
        half.push((c, s));
    }
    let queued: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(lq.local_addr().unwrap()).unwrap())
        .collect();
    for _ in 0..4 {
        time_wait(&l4);
    }
    time_wait(&l6);

    let want = expect_counts(&[
        (TcpState::Listen, 3),
        (TcpState::Established, 2 * 3 + 2 * 2 + 2 * 2),
        (TcpState::CloseWait, 2),
        (TcpState::FinWait2, 2),
        (TcpState::TimeWait, 5),
    ]);
    assert_eq!(wait_for(&want), want);

    // One walk (legacy request) and per-family dumps agree exactly.
    let (c1, s1) = counts(&DumpOptions::default());
    assert!(s1.one_walk, "{s1:?}");
    assert_eq!((s1.walks, s1.legacy_refused), (1, None));
    let (c2, s2) = counts(&DumpOptions {
        mode: RequestMode::PerFamily,
        ..Default::default()
    });
    assert!(!s2.one_walk);
    assert_eq!(s2.walks, 2);
    assert_eq!(c1, want);
    assert_eq!(c2, want);
    assert_eq!(s1.sockets, 26);
    assert!(!s1.interrupted && !s2.interrupted);
    assert_eq!(
        s1.skipped_unknown_state + s1.skipped_unknown_family + s1.unknown_timer,
        0
    );

    // Families: IPv6 = its listener, 2 pairs, 1 TIME_WAIT.
    let (c6, _) = counts(&DumpOptions {
        families: Families::V6,
        ..Default::default()
    });
    assert_eq!(
        c6,
        expect_counts(&[
            (TcpState::Listen, 1),
            (TcpState::Established, 4),
            (TcpState::TimeWait, 1)
        ])
    );
    let (c4, _) = counts(&DumpOptions {
        families: Families::V4,
        ..Default::default()
    });
    assert_eq!(c4.total() + c6.total(), want.total());

    // Details.
    let (socks, _) = all(&DumpOptions::default());
    let mine = own_socket_inodes();
    let held_addrs: HashSet<(SocketAddr, SocketAddr)> = held
        .iter()
        .chain(half.iter())
        .flat_map(|(c, s)| {
            [
                (c.local_addr().unwrap(), c.peer_addr().unwrap()),
                (s.local_addr().unwrap(), s.peer_addr().unwrap()),
            ]
        })
        .chain(
            queued
                .iter()
                .map(|c| (c.local_addr().unwrap(), c.peer_addr().unwrap())),
        )
        .collect();
    let mut by_state: BTreeMap<TcpState, Vec<&Socket>> = BTreeMap::new();
    for s in &socks {
        by_state.entry(s.state).or_default().push(s);
        assert_eq!(s.uid, Some(0), "{s:?}");
        assert!(s.cookie.is_some_and(|c| c != 0), "{s:?}");
        if held_addrs.contains(&addr(s)) {
            let ino = s.inode.expect("held socket has an inode");
            assert!(mine.contains(&ino), "inode {ino} is not one of our fds");
        }
    }
    let tw = &by_state[&TcpState::TimeWait];
    assert_eq!(tw.len(), 5);
    for s in tw {
        let t = s.timer.expect("TIME_WAIT timer");
        assert_eq!(t.kind, TimerKind::Timewait);
        assert!(t.expires_ms > 0 && t.expires_ms <= 60_000, "{t:?}");
        assert_eq!(s.inode, None);
        assert_eq!((s.recv_q, s.send_q), (Some(0), Some(0)));
    }
    assert_eq!(tw.iter().filter(|s| s.family == Family::Inet6).count(), 1);
    let lst = &by_state[&TcpState::Listen];
    for l in [&l4, &l6, &lq] {
        let a = l.local_addr().unwrap();
        let s = lst
            .iter()
            .find(|s| s.local.port() == Some(a.port()))
            .expect("listener dumped");
        assert_eq!(s.local.ip(), Some(a.ip()));
        assert!(s.remote.is_wildcard());
        assert_eq!(s.send_q, Some(100), "backlog = min(requested, somaxconn)");
        let waiting = if std::ptr::eq(l, &lq) { 2 } else { 0 };
        assert_eq!(s.recv_q, Some(waiting), "accept queue of {a}");
        assert!(mine.contains(&s.inode.unwrap()));
    }
    // The 2 un-accepted server ends exist but belong to no process yet.
    let lq_port = lq.local_addr().unwrap().port();
    let unaccepted: Vec<_> = by_state[&TcpState::Established]
        .iter()
        .filter(|s| s.local.port() == Some(lq_port))
        .collect();
    assert_eq!(unaccepted.len(), 2);
    // CLOSE_WAIT / FIN_WAIT2 are the ends of the half-closed pairs.
    for (c, s) in &half {
        let fw = socks
            .iter()
            .find(|x| addr(x) == (c.local_addr().unwrap(), c.peer_addr().unwrap()));
        assert_eq!(fw.unwrap().state, TcpState::FinWait2);
        let cw = socks
            .iter()
            .find(|x| addr(x) == (s.local_addr().unwrap(), s.peer_addr().unwrap()));
        assert_eq!(cw.unwrap().state, TcpState::CloseWait);
    }
    drop((held, half, queued));
}

#[test]
fn kernel_filters_states() {
    require_root!();
    let ns = Netns::create();
    let _in = ns.enter();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let l6 = TcpListener::bind("[::1]:0").unwrap();
    let held: Vec<_> = (0..4).map(|_| pair(&l)).collect();
    let (c, s) = pair(&l);
    c.shutdown(Shutdown::Write).unwrap();
    for _ in 0..6 {
        time_wait(&l);
    }
    for _ in 0..2 {
        time_wait(&l6);
    }
    let want = expect_counts(&[
        (TcpState::Listen, 2),
        (TcpState::Established, 8),
        (TcpState::CloseWait, 1),
        (TcpState::FinWait2, 1),
        (TcpState::TimeWait, 8),
    ]);
    assert_eq!(wait_for(&want), want);

    for mode in [RequestMode::Auto, RequestMode::PerFamily] {
        let tw = DumpOptions {
            states: StateSet::one(TcpState::TimeWait),
            mode,
            ..Default::default()
        };
        let (socks, stats) = all(&tw);
        assert_eq!(socks.len(), 8, "{mode:?}");
        assert_eq!(stats.sockets, 8);
        assert!(socks.iter().all(|s| s.state == TcpState::TimeWait));

        let some = DumpOptions {
            states: StateSet::parse_list("listen,close-wait,fin-wait-2").unwrap(),
            mode,
            ..Default::default()
        };
        let (c, _) = counts(&some);
        assert_eq!(
            c,
            expect_counts(&[
                (TcpState::Listen, 2),
                (TcpState::CloseWait, 1),
                (TcpState::FinWait2, 1)
            ]),
            "{mode:?}"
        );
        let none = DumpOptions {
            states: StateSet::one(TcpState::SynSent),
            mode,
            ..Default::default()
        };
        assert_eq!(counts(&none).0.total(), 0);
    }
    drop((held, c, s));
}

#[test]
fn kernel_filters_ports_like_userspace() {
    require_root!();
    let ns = Netns::create();
    let _in = ns.enter();
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    let v6 = TcpListener::bind("[::1]:0").unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(pair(&a));
    }
    for _ in 0..2 {
        held.push(pair(&b));
        held.push(pair(&v6));
    }
    for _ in 0..3 {
        time_wait(&a);
        time_wait(&v6);
    }
    let want = expect_counts(&[
        (TcpState::Listen, 3),
        (TcpState::Established, 14),
        (TcpState::TimeWait, 6),
    ]);
    assert_eq!(wait_for(&want), want);

    let pa = a.local_addr().unwrap().port();
    let pb = b.local_addr().unwrap().port();
    let p6 = v6.local_addr().unwrap().port();
    let pm = |lo, hi| PortMatch { lo, hi };
    let (everything, _) = all(&DumpOptions::default());
    let cases: Vec<(Vec<PortMatch>, Vec<PortMatch>)> = vec![
        (vec![pm(pa, pa)], vec![]),
        (vec![], vec![pm(pa, pa)]),
        (vec![pm(pa, pa), pm(p6, p6)], vec![]),
        (vec![], vec![pm(pb, pb), pm(p6, p6)]),
        (vec![pm(1, 30000)], vec![pm(30001, 65535)]),
        (vec![pm(pa.min(pb), pa.max(pb))], vec![]),
        (vec![pm(0, 0)], vec![]),
        (vec![pm(0, 65535)], vec![pm(pa, pa)]),
    ];
    let key = |s: &Socket| (s.state, addr(s));
    for (sport, dport) in cases {
        let f = SocketFilter {
            sport: sport.clone(),
            dport: dport.clone(),
            ..Default::default()
        };
        let mut expected: Vec<_> = everything
            .iter()
            .filter(|s| f.matches(s))
            .map(key)
            .collect();
        expected.sort();
        for mode in [RequestMode::Auto, RequestMode::PerFamily] {
            let o = DumpOptions {
                sport: sport.clone(),
                dport: dport.clone(),
                mode,
                ..Default::default()
            };
            let (got, stats) = all(&o);
            let mut got: Vec<_> = got.iter().map(key).collect();
            got.sort();
            assert_eq!(got, expected, "sport {sport:?} dport {dport:?} {mode:?}");
            assert_eq!(stats.one_walk, mode == RequestMode::Auto);
        }
    }
    // The cases themselves, in exact numbers: TIME_WAIT are the client ends (ephemeral local
    // port, remote port = the listener's), the server ends are gone.
    let o = DumpOptions {
        sport: vec![pm(pa, pa)],
        ..Default::default()
    };
    assert_eq!(
        counts(&o).0,
        expect_counts(&[(TcpState::Listen, 1), (TcpState::Established, 3)])
    );
    let o = DumpOptions {
        dport: vec![pm(pa, pa)],
        ..Default::default()
    };
    assert_eq!(
        counts(&o).0,
        expect_counts(&[(TcpState::Established, 3), (TcpState::TimeWait, 3)])
    );
    drop(held);
}

#[test]
fn many_sockets_over_many_datagrams() {
    require_root!();
    let ns = Netns::create();
    let _in = ns.enter();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let l6 = TcpListener::bind("[::1]:0").unwrap();
    let mut held = Vec::new();
    for i in 0..600 {
        held.push(pair(if i % 3 == 0 { &l6 } else { &l }));
    }
    for _ in 0..400 {
        time_wait(&l);
    }
    let want = expect_counts(&[
        (TcpState::Listen, 2),
        (TcpState::Established, 1200),
        (TcpState::TimeWait, 400),
    ]);
    assert_eq!(wait_for(&want), want);
    let (c1, s1) = counts(&DumpOptions::default());
    let (c2, s2) = counts(&DumpOptions {
        mode: RequestMode::PerFamily,
        ..Default::default()
    });
    assert_eq!(c1, want);
    assert_eq!(c2, want);
    assert!(s1.datagrams >= 3, "{s1:?}");
    assert_eq!(s1.sockets, 1602);
    assert_eq!(s2.sockets, 1602);
    // A tiny receive buffer still works (the dump is paced by recv, nothing is lost).
    let (c3, _) = counts(&DumpOptions {
        rcvbuf: 4096,
        bufsize: 8192,
        ..Default::default()
    });
    assert_eq!(c3, want);
    drop(held);
}

#[test]
fn netns_guard_returns_and_errors_are_clear() {
    require_root!();
    let before = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let ns = Netns::create();
    {
        let g = ns.enter();
        assert_eq!(g.name(), ns.name);
        let inside = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        assert_ne!(inside, before);
        // Nothing but what we create here: an empty namespace dumps nothing.
        assert_eq!(counts(&DumpOptions::default()).0.total(), 0);
        g.leave().unwrap();
        assert_eq!(
            std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
            before
        );
    }
    {
        let _g = ns.enter();
    }
    assert_eq!(
        std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
        before
    );

    let missing = format!("{}-missing", ns.name);
    match enter_netns(&missing) {
        Err(NetnsError::NotFound { name, available }) => {
            assert_eq!(name, missing);
            assert!(available.contains(&ns.name), "{available:?}");
        }
        other => panic!("{other:?}"),
    }
    let msg = enter_netns(&missing).unwrap_err().to_string();
    assert!(msg.contains(&ns.name), "{msg}");
    assert_eq!(
        std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
        before
    );

    let name = ns.name.clone();
    drop(ns);
    assert!(!std::path::Path::new("/run/netns").join(&name).exists());
}
