//! `tcpdoctor analyze` on fresh captures: an exact socket mix is built in a throwaway namespace
//! (the test kit's scenario, IPv4 and IPv6, TIME_WAIT on the client side and on the server
//! side, plus a small helper with a dual-stack IPv6 listener, a v4-mapped connection to it, a
//! connected UDP socket and unix sockets), the REAL `ss`, `netstat` and `cat /proc/net/tcp*` run
//! inside it in their common spellings, and `analyze --json` (from a file and from a pipe on
//! standard input) must count exactly the kernel's per-state numbers. What the JSON does not
//! carry (families, owners, timers) is checked on the same text through `tcpdoctor_text`, the
//! parser `analyze` uses.
//!
//! Needs root (namespaces) and `ss`, `netstat`, `python3` (scripts/test installs them); without
//! root every test says so and returns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tcpdoctor_model::{Family, Port, Socket, StateCounts, TcpState, TimerKind};
use tcpdoctor_testkit::report::ReadyReport;
use tcpdoctor_testkit::{require_root, run_with_timeout, Netns, Scenario};
use tcpdoctor_text::{parse_bytes, ParseOptions, ParseOutput};

mod common;
use common::{tcpdoctor, BIN};

/// The helper's dual-stack listener: below the ephemeral range (32768-60999), so no
/// kernel-chosen port of the scenario can take it first.
const DUAL_PORT: u16 = 28_999;

/// The helper, run inside the namespace: a dual-stack IPv6 listener (`IPV6_V6ONLY` off, which
/// newer ss prints as `*:port *:*`), one IPv4 client connected to it (the accepted end is a
/// v4-mapped IPv6 socket), a connected UDP socket (ss prints it as `udp ESTAB`) and a unix
/// listener with one connection (`u_str LISTEN` / `ESTAB`, unix `LISTENING` / `CONNECTED`):
/// rows that carry TCP state words and must never count.
const HELPER: &str = r#"
import socket, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", port))
s.listen(16)
c = socket.create_connection(("127.0.0.1", port))
a, _ = s.accept()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
u.connect(("127.0.0.1", 9))
ul = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ul.bind("\0tcpdoctor-analyze-test")
ul.listen(4)
uc = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
uc.connect("\0tcpdoctor-analyze-test")
ua, _ = ul.accept()
time.sleep(300)
"#;

/// A temporary directory removed on drop (also when a test panics).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "tcpdoctor-analyze-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn parse_json(out: &str, what: &str, text: &str) -> Value {
    serde_json::from_str(out)
        .unwrap_or_else(|e| panic!("bad JSON from {what} ({e}):\n{out}\n--- input:\n{text}"))
}

/// `tcpdoctor analyze --json FILE` and `cat FILE | tcpdoctor analyze --json -`, which must
/// agree; returns the report.
fn analyze(path: &Path, text: &str) -> Value {
    let p = path.to_str().unwrap();
    let (code, out, err) = tcpdoctor(&["analyze", "--json", p]);
    assert_eq!(code, 0, "analyze {p}: {err}\n--- input:\n{text}");
    let file = parse_json(&out, p, text);
    let mut sh = Command::new("sh");
    sh.args(["-c", &format!("cat '{p}' | '{BIN}' analyze --json -")])
        .env("NO_COLOR", "1");
    let o = run_with_timeout(&mut sh, Duration::from_secs(60)).unwrap();
    assert_eq!(o.status.code(), Some(0), "analyze - < {p}: {}", o.stderr);
    let stdin = parse_json(&o.stdout, "stdin", text);
    for k in [
        "states",
        "total",
        "format",
        "duplicates",
        "unknown_state",
        "skipped_total",
    ] {
        assert_eq!(
            file[k], stdin[k],
            "{k}: file and standard input differ for {p}"
        );
    }
    assert_eq!(stdin["inputs"][0]["name"], "-");
    assert_eq!(file["report"], "analyze");
    file
}

fn states(v: &Value) -> StateCounts {
    serde_json::from_value(v["states"].clone()).expect("states map")
}

/// The per-snapshot entries (`snapshots` is an array in the analyze report).
fn snapshots(v: &Value) -> &Vec<Value> {
    v["snapshots"]
        .as_array()
        .unwrap_or_else(|| panic!("snapshots is not an array: {}", v["snapshots"]))
}

fn only(state: TcpState, n: u64) -> StateCounts {
    let mut c = StateCounts::default();
    c.add_n(state, n);
    c
}

fn sum(a: &StateCounts, b: &StateCounts) -> StateCounts {
    let mut c = *a;
    c.merge(b);
    c
}

fn parse(text: &str) -> ParseOutput {
    parse_bytes(text.as_bytes(), &ParseOptions::default())
        .unwrap_or_else(|e| panic!("parse: {e}\n{text}"))
}

fn sockets(o: &ParseOutput) -> Vec<&Socket> {
    o.snapshots.iter().flat_map(|s| s.sockets.iter()).collect()
}

/// Per-state counts of one family, from parsed sockets.
fn family_counts(o: &ParseOutput, f: Family) -> StateCounts {
    let mut c = StateCounts::default();
    for s in sockets(o).into_iter().filter(|s| s.family == f) {
        c.add(s.state);
    }
    c
}

/// What a capture is expected to show besides the plain counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Extra {
    None,
    /// `-p`: every socket but TIME_WAIT names its process.
    Owners,
    /// `-o` / `/proc`: every TIME_WAIT socket has a TIME_WAIT timer in (0, 60 s].
    Timers,
    /// Both.
    OwnersTimers,
    /// `ss -tan state time-wait`: no State column.
    OnlyTimeWait,
    /// `ss -s`: totals only.
    Summary,
}

struct Capture {
    argv: &'static [&'static str],
    extra: Extra,
    /// Socket rows of other kinds (udp, unix, netlink) are in it.
    others: bool,
    text: String,
}

const CAPTURES: &[(&[&str], Extra, bool)] = &[
    (&["ss", "-tan"], Extra::None, false),
    (&["ss", "-tanp"], Extra::Owners, false),
    (&["ss", "-tanpo"], Extra::OwnersTimers, false),
    (&["ss", "-tane"], Extra::Timers, false),
    (&["ss", "-an"], Extra::None, true),
    (
        &["ss", "-tan", "state", "time-wait"],
        Extra::OnlyTimeWait,
        false,
    ),
    (&["ss", "-s"], Extra::Summary, false),
    (&["netstat", "-tan"], Extra::None, false),
    (&["netstat", "-tanp"], Extra::Owners, false),
    (&["netstat", "-tano"], Extra::Timers, false),
    (&["netstat", "-tae"], Extra::None, false),
    (&["netstat", "-an"], Extra::None, true),
    (
        &["cat", "/proc/net/tcp", "/proc/net/tcp6"],
        Extra::Timers,
        false,
    ),
    // Less common spellings: -i/-m extra lines, no header, names instead of numbers, -W.
    (&["ss", "-tani"], Extra::None, false),
    (&["ss", "-tanm"], Extra::None, false),
    (&["ss", "-tanH"], Extra::None, false),
    (&["ss", "-ta"], Extra::None, false),
    (&["netstat", "-ta"], Extra::None, false),
    (&["netstat", "-tanW"], Extra::None, false),
    (&["netstat", "-tanpeo"], Extra::OwnersTimers, false),
];

/// The namespace with the scenario and the helper, and the counts they must show.
struct Fixture<'ns> {
    sc: Scenario<'ns>,
    helper: u32,
    all: StateCounts,
    v4: StateCounts,
    v6: StateCounts,
}

fn build<'ns>(ns: &'ns Netns, side: &str) -> Fixture<'ns> {
    let sc = ns
        .scenario(&[
            "--family",
            "both",
            "--listen",
            "3",
            "--est",
            "5",
            "--cw",
            "2",
            "--tw",
            "4",
            "--tw-side",
            side,
        ])
        .unwrap();
    let r: &ReadyReport = sc.report();
    assert!(r.settled, "scenario did not settle: {:?}", r.kernel);
    let mut cmd = ns.command("python3");
    cmd.args(["-c", HELPER, &DUAL_PORT.to_string()]);
    let helper = ns.spawn(cmd).unwrap();
    // The helper adds LISTEN (v6, dual-stack), ESTABLISHED (v4 client) and ESTABLISHED (v6,
    // v4-mapped accepted end).
    let v4 = sum(&r.kernel.v4, &only(TcpState::Established, 1));
    let v6 = sum(
        &r.kernel.v6,
        &sum(&only(TcpState::Listen, 1), &only(TcpState::Established, 1)),
    );
    let all = sum(&v4, &v6);
    let (k, ok) = sc
        .wait_counts(Duration::from_secs(15), |k| k.v4 == v4 && k.v6 == v6)
        .unwrap();
    assert!(ok, "helper did not come up: {k:?}");
    Fixture {
        sc,
        helper,
        all,
        v4,
        v6,
    }
}

/// Runs every capture inside the namespace; the kernel counts must be the same before and
/// after (TIME_WAIT lives 60 s; the captures take a few seconds).
fn capture(ns: &Netns, fx: &Fixture<'_>) -> Vec<Capture> {
    let before = fx.sc.kernel_counts().unwrap();
    assert_eq!(before.all, fx.all);
    let caps: Vec<Capture> = CAPTURES
        .iter()
        .map(|(argv, extra, others)| Capture {
            argv,
            extra: *extra,
            others: *others,
            text: ns.exec(argv).unwrap().stdout,
        })
        .collect();
    let after = fx.sc.kernel_counts().unwrap();
    assert_eq!(after.all, fx.all, "the sockets changed during the captures");
    caps
}

fn check_owners(o: &ParseOutput, fx: &Fixture<'_>, what: &str) {
    let scen = fx.sc.pid();
    let mut by_scenario = 0u64;
    for s in sockets(o) {
        if s.state == TcpState::TimeWait {
            assert!(
                s.owners.is_empty(),
                "{what}: a TIME_WAIT socket has no owner: {s:?}"
            );
            continue;
        }
        assert_eq!(s.owners.len(), 1, "{what}: one owner per socket: {s:?}");
        let p = &s.owners[0];
        if p.pid == scen {
            by_scenario += 1;
            // ss prints the 15-character comm, netstat cuts it further.
            assert!(
                p.comm.len() >= 8 && "tcpdoctor-scenario".starts_with(&p.comm),
                "{what}: {p:?}"
            );
        } else {
            assert_eq!(
                p.pid, fx.helper,
                "{what}: owner is neither scenario nor helper"
            );
            assert!(p.comm.starts_with("python"), "{what}: {p:?}");
        }
    }
    let r = fx.sc.report();
    let scen_sockets = r.kernel.all.total() - r.kernel.all.get(TcpState::TimeWait);
    assert_eq!(
        by_scenario, scen_sockets,
        "{what}: sockets named after the scenario pid"
    );
}

fn check_timers(o: &ParseOutput, what: &str) {
    let mut n = 0;
    for s in sockets(o) {
        if s.state != TcpState::TimeWait {
            continue;
        }
        let t = s
            .timer
            .unwrap_or_else(|| panic!("{what}: TIME_WAIT without timer: {s:?}"));
        assert_eq!(t.kind, TimerKind::Timewait, "{what}: {s:?}");
        assert!(
            t.expires_ms > 0 && t.expires_ms <= 60_000,
            "{what}: TIME_WAIT lasts 60 s on Linux (tcp-facts 1.1): {s:?}"
        );
        n += 1;
    }
    assert!(n > 0, "{what}: no TIME_WAIT sockets to check");
}

/// Checks one capture, as pasted alone and with a prompt and its command line above it.
fn check_capture(dir: &Path, i: usize, c: &Capture, fx: &Fixture<'_>) {
    let what = c.argv.join(" ");
    let tw = fx.all.get(TcpState::TimeWait);
    let prompted = format!("[root@web01 ~]# {what}\n{}", c.text);
    for (variant, text) in [("bare", &c.text), ("prompted", &prompted)] {
        let what = format!("`{what}` ({variant})");
        let path = dir.join(format!("{i:02}-{variant}.txt"));
        std::fs::write(&path, text).unwrap();
        let o = parse(text);
        if c.extra == Extra::Summary {
            // `ss -s` has totals only: analyze reports them (no sockets to diagnose, states
            // zero) in snapshots[].ss_summary. TCP `estab` is the snmp CurrEstab gauge:
            // ESTABLISHED, plus CLOSE_WAIT on kernels with commit a46d0ea5c940 (tcp-facts 11.8).
            let (code, out, err) = tcpdoctor(&["analyze", "--json", path.to_str().unwrap()]);
            assert_eq!(code, 0, "{what}: {err}");
            let v: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["total"], 0, "{what}");
            assert_eq!(
                v["snapshots"][0]["ss_summary"]["timewait"], tw,
                "{what}: {out}"
            );
            assert_eq!(o.format, "ss-summary", "{what}");
            let s = o.details[0].ss_summary.as_ref().expect("ss -s summary");
            let est = fx.all.get(TcpState::Established);
            let cw = fx.all.get(TcpState::CloseWait);
            let e = s.estab.unwrap();
            assert!(e == est || e == est + cw, "{what}: estab {e}");
            assert_eq!(s.timewait, Some(tw), "{what}");
            let tcp = s.transports.iter().find(|t| t.name == "TCP").unwrap();
            // The transport table counts sockets without TIME_WAIT.
            assert_eq!(tcp.total, Some(fx.all.total() - tw), "{what}");
            assert_eq!(
                tcp.ipv4,
                Some(fx.v4.total() - fx.v4.get(TcpState::TimeWait))
            );
            assert_eq!(
                tcp.ipv6,
                Some(fx.v6.total() - fx.v6.get(TcpState::TimeWait))
            );
            continue;
        }
        let v = analyze(&path, text);
        let snaps = snapshots(&v);
        assert_eq!(snaps.len(), 1, "{what}");
        assert_eq!(v["duplicates"], 0, "{what}");
        assert_eq!(v["skipped_total"], 0, "{what}: {}", v["skipped"]);
        if variant == "prompted" {
            assert_eq!(snaps[0]["command"], c.argv.join(" "), "{what}");
        }
        let want = if c.extra == Extra::OnlyTimeWait {
            only(TcpState::TimeWait, tw)
        } else {
            fx.all
        };
        if c.extra == Extra::OnlyTimeWait && variant == "bare" {
            // No State column and no command line: the state is unknown, not guessed.
            assert_eq!(states(&v), StateCounts::default(), "{what}");
            assert_eq!(v["unknown_state"], tw, "{what}");
            assert_eq!(o.states.total(), 0);
            continue;
        }
        assert_eq!(states(&v), want, "{what}\n{text}");
        assert_eq!(v["total"], want.total(), "{what}");
        assert_eq!(v["unknown_state"], 0, "{what}");
        // The same text through the parser: the families (a dual-stack `*` listener is
        // IPv6) and what -p / -o add.
        assert_eq!(o.states, want, "{what}");
        if c.extra != Extra::OnlyTimeWait {
            assert_eq!(
                family_counts(&o, Family::Inet),
                fx.v4,
                "{what}: IPv4\n{text}"
            );
            assert_eq!(
                family_counts(&o, Family::Inet6),
                fx.v6,
                "{what}: IPv6\n{text}"
            );
        }
        let dual: Vec<&Socket> = sockets(&o)
            .into_iter()
            .filter(|s| s.state == TcpState::Listen && s.local.port == Port::Num(DUAL_PORT))
            .collect();
        if c.extra != Extra::OnlyTimeWait {
            assert_eq!(dual.len(), 1, "{what}");
            assert_eq!(dual[0].family, Family::Inet6, "{what}: {:?}", dual[0]);
        }
        if c.others {
            assert!(
                o.details[0].other_rows > 0,
                "{what}: udp/unix rows were seen"
            );
        }
        if matches!(c.extra, Extra::Owners | Extra::OwnersTimers) {
            check_owners(&o, fx, &what);
        }
        if matches!(c.extra, Extra::Timers | Extra::OwnersTimers) {
            check_timers(&o, &what);
        }
    }
}

fn fresh_captures(side: &str) {
    let ns = Netns::new("tdt-ana").unwrap();
    let fx = build(&ns, side);
    let caps = capture(&ns, &fx);
    let dir = TempDir::new(side);
    for (i, c) in caps.iter().enumerate() {
        check_capture(&dir.0, i, c, &fx);
    }
    let text = |argv: &[&str]| -> &str { &caps.iter().find(|c| c.argv == argv).unwrap().text };

    // Two captures concatenated (as pasted in a ticket): two snapshots; the top-level states
    // are the sum, each snapshot has its own.
    let two = format!(
        "$ netstat -tan\n{}$ ss -tanp\n{}",
        text(&["netstat", "-tan"]),
        text(&["ss", "-tanp"])
    );
    let p = dir.0.join("two.txt");
    std::fs::write(&p, &two).unwrap();
    let v = analyze(&p, &two);
    assert_eq!(states(&v), sum(&fx.all, &fx.all));
    assert_eq!(v["total"], 2 * fx.all.total());
    let snaps = snapshots(&v);
    assert_eq!(snaps.len(), 2);
    for (s, (cmd, fmt)) in snaps
        .iter()
        .zip([("netstat -tan", "netstat-linux"), ("ss -tanp", "ss")])
    {
        assert_eq!(s["command"], cmd);
        assert_eq!(s["format"], fmt);
        assert_eq!(states(s), fx.all, "{cmd}");
    }
    assert_eq!(v["format"], "netstat-linux+ss");
    // The same listing twice without command lines: split at the repeated header.
    let twice = format!("{0}{0}", text(&["netstat", "-tan"]));
    let p = dir.0.join("twice.txt");
    std::fs::write(&p, &twice).unwrap();
    let v = analyze(&p, &twice);
    assert_eq!(snapshots(&v).len(), 2);
    assert_eq!(states(&v), sum(&fx.all, &fx.all));
    assert_eq!(v["duplicates"], 0, "a second snapshot is not a duplicate");

    // A connected row pasted twice is one socket; a listener pasted twice is two
    // (SO_REUSEPORT listeners print identically and are real).
    for argv in [&["netstat", "-tan"][..], &["ss", "-tanp"][..]] {
        let t = text(argv);
        let est = t.lines().find(|l| l.contains("ESTAB")).unwrap().to_string();
        let lis = t
            .lines()
            .find(|l| l.contains("LISTEN"))
            .unwrap()
            .to_string();
        let dup = format!("{t}{est}\n{lis}\n");
        let p = dir.0.join("dup.txt");
        std::fs::write(&p, &dup).unwrap();
        let v = analyze(&p, &dup);
        let mut want = fx.all;
        want.add(TcpState::Listen);
        assert_eq!(states(&v), want, "{argv:?}");
        assert_eq!(v["duplicates"], 1, "{argv:?}");
        assert_eq!(snapshots(&v)[0]["duplicates"], 1);
    }
    drop(fx);
}

#[test]
fn fresh_captures_time_wait_on_the_client_side() {
    if !require_root("fresh_captures_time_wait_on_the_client_side") {
        return;
    }
    fresh_captures("client");
}

#[test]
fn fresh_captures_time_wait_on_the_server_side() {
    if !require_root("fresh_captures_time_wait_on_the_server_side") {
        return;
    }
    fresh_captures("server");
}
