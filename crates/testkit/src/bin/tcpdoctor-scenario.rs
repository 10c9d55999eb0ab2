//! `tcpdoctor-scenario`: builds an exact mix of TCP sockets on loopback inside the current
//! network namespace, prints one JSON "ready" line (what it built and the kernel's own per-state
//! count), and holds everything until SIGTERM/SIGINT (or `--max-hold` seconds). See `--help`.

use socket2::{Domain, Protocol, Socket, Type};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tcpdoctor_model::{Family, StateCounts, TcpState};
use tcpdoctor_testkit::proc_tcp::{counts_of_self, read_net_dir, read_tcpext, KernelCounts};
use tcpdoctor_testkit::report::{
    BacklogReport, ExhaustReport, FamilyReport, HoldReport, PortPair, ReadyReport, TwSide,
};

const HELP: &str = "\
tcpdoctor-scenario: build an exact TCP socket mix on loopback in the CURRENT network namespace,
print one JSON line when ready, hold every socket until SIGTERM/SIGINT, then exit 0.
Run it only inside a throwaway namespace (ip netns exec NAME tcpdoctor-scenario ...).

Counts (each built once per family; default 0):
  --listen N            N listeners (backlog 4096), ports from --port-base (or kernel-chosen)
  --est N               N ESTABLISHED pairs (2N sockets), round-robin over the listeners
  --cw N                N pairs: client shutdown(SHUT_WR) and keeps its fd (FIN_WAIT2, never
                        times out), server never closes (CLOSE_WAIT)
  --tw N                N TIME_WAIT sockets, on the side given by --tw-side
  --tw-side client|server
                        who closes first (default client: TIME_WAIT on the client's ephemeral
                        port; server: TIME_WAIT on the listening port)
  --backlog-overflow N  one extra listener with backlog --backlog (default 1) that never accepts,
                        plus N non-blocking connects: backlog+1 complete into its accept queue,
                        the rest stay SYN_SENT while ListenOverflows/ListenDrops rise
  --backlog B           backlog for --backlog-overflow (default 1)
  --connect-until-fail  one extra listener (port --exhaust-port, default kernel-chosen); connect
                        to it until connect() fails with EADDRNOTAVAIL --fail-after times
                        (default 3), at most --max-connects (default 70000) tries and
                        --max-secs (default 30) seconds. Narrow the namespace's
                        net.ipv4.ip_local_port_range first. On loopback set
                        net.ipv4.tcp_tw_reuse=0 too when using --exhaust-hold tw.
  --exhaust-hold est|tw how each success holds its port: est = both ends kept open (default),
                        tw = client closes first (TIME_WAIT)
  --close-wait-hold N   N CLOSE_WAIT sockets held by a separate child process (its pid is in the
                        report); this process keeps the N FIN_WAIT2 client ends
Where:
  --family 4|6|both     127.0.0.1, ::1 (IPV6_V6ONLY sockets), or both (default 4)
  --v6                  same as --family 6
  --port-base P         listeners on P, P+1, ... (default: kernel-chosen ports)
Behaviour:
  --settle-ms MS        wait up to MS for the kernel count to equal the expected (default 5000)
  --max-hold SECS       exit 3 after SECS even without a signal (default 600)
  --die-with-parent     ask the kernel for SIGTERM when the parent dies (PR_SET_PDEATHSIG)
  -h, --help            this text

Ready line (stdout, one line): {\"ready\":true,\"pid\":..,\"args\":[..],\"tw_side\":..,
  \"families\":[{\"family\":\"inet\",\"addr\":..,\"listeners\":[ports],\"est\":[{client,server}],
  \"cw\":[..],\"tw\":[..],\"backlog_overflow\":{..}|null,\"connect_until_fail\":{..}|null,
  \"close_wait_hold\":{..}|null}],\"expected\":{11 states},\"kernel\":{\"all\":..,\"v4\":..,\"v6\":..},
  \"settled\":bool,\"counters\":{TcpExt},\"elapsed_ms\":..}
`expected` assumes the scenario is alone in its namespace; `kernel` is read from
/proc/net/tcp and /proc/net/tcp6. Errors: one line on stderr, exit 2.
";

/// Upper bound for every count (keeps every loop bounded and fd use sane).
const MAX_COUNT: u32 = 100_000;
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Default, Clone)]
struct Opts {
    listen: u32,
    est: u32,
    cw: u32,
    tw: u32,
    tw_side: TwSide,
    backlog_overflow: Option<u32>,
    backlog: u32,
    connect_until_fail: bool,
    exhaust_port: u16,
    exhaust_hold_tw: bool,
    fail_after: u32,
    max_connects: u32,
    max_secs: u64,
    close_wait_hold: u32,
    v4: bool,
    v6: bool,
    port_base: Option<u16>,
    settle_ms: u64,
    max_hold: u64,
    die_with_parent: bool,
    /// Hidden: `--role cw-holder N`: the holder child of `--close-wait-hold`.
    holder: Option<u32>,
}

type Res<T> = Result<T, String>;

fn num<T: std::str::FromStr>(flag: &str, v: Option<&String>) -> Res<T> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse()
        .map_err(|_| format!("{flag}: '{v}' is not a valid number"))
}

fn count(flag: &str, v: Option<&String>) -> Res<u32> {
    let n: u32 = num(flag, v)?;
    if n > MAX_COUNT {
        return Err(format!("{flag}: {n} is over the limit of {MAX_COUNT}"));
    }
    Ok(n)
}

fn parse_args(args: &[String]) -> Res<Option<Opts>> {
    let mut o = Opts {
        backlog: 1,
        fail_after: 3,
        max_connects: 70_000,
        max_secs: 30,
        v4: true,
        settle_ms: 5000,
        max_hold: 600,
        ..Opts::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => o.listen = count(a, it.next())?,
            "--est" => o.est = count(a, it.next())?,
            "--cw" => o.cw = count(a, it.next())?,
            "--tw" => o.tw = count(a, it.next())?,
            "--tw-side" => {
                o.tw_side = match it.next().map(String::as_str) {
                    Some("client") => TwSide::Client,
                    Some("server") => TwSide::Server,
                    other => return Err(format!("--tw-side: {other:?}: use client or server")),
                }
            }
            "--backlog-overflow" => o.backlog_overflow = Some(count(a, it.next())?),
            "--backlog" => o.backlog = count(a, it.next())?,
            "--connect-until-fail" => o.connect_until_fail = true,
            "--exhaust-port" => o.exhaust_port = num(a, it.next())?,
            "--exhaust-hold" => {
                o.exhaust_hold_tw = match it.next().map(String::as_str) {
                    Some("est") => false,
                    Some("tw") => true,
                    other => return Err(format!("--exhaust-hold: {other:?}: use est or tw")),
                }
            }
            "--fail-after" => o.fail_after = count(a, it.next())?.max(1),
            "--max-connects" => o.max_connects = count(a, it.next())?,
            "--max-secs" => o.max_secs = num::<u64>(a, it.next())?.min(3600),
            "--close-wait-hold" => o.close_wait_hold = count(a, it.next())?,
            "--family" => {
                (o.v4, o.v6) = match it.next().map(String::as_str) {
                    Some("4") => (true, false),
                    Some("6") => (false, true),
                    Some("both") => (true, true),
                    other => return Err(format!("--family: {other:?}: use 4, 6 or both")),
                }
            }
            "--v6" => (o.v4, o.v6) = (false, true),
            "--port-base" => o.port_base = Some(num(a, it.next())?),
            "--settle-ms" => o.settle_ms = num::<u64>(a, it.next())?.min(600_000),
            "--max-hold" => o.max_hold = num::<u64>(a, it.next())?.min(86_400),
            "--die-with-parent" => o.die_with_parent = true,
            "--role" => match it.next().map(String::as_str) {
                Some("cw-holder") => o.holder = Some(count("--role cw-holder", it.next())?),
                other => return Err(format!("--role: {other:?}: unknown role")),
            },
            other => return Err(format!("unknown option '{other}' (see --help)")),
        }
    }
    Ok(Some(o))
}

fn io_err(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> String {
    move |e| format!("{what}: {e}")
}

fn domain(addr: IpAddr) -> Domain {
    if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    }
}

fn listener(addr: IpAddr, port: u16, backlog: u32) -> Res<TcpListener> {
    let s =
        Socket::new(domain(addr), Type::STREAM, Some(Protocol::TCP)).map_err(io_err("socket"))?;
    s.set_reuse_address(true).map_err(io_err("SO_REUSEADDR"))?;
    if addr.is_ipv6() {
        s.set_only_v6(true).map_err(io_err("IPV6_V6ONLY"))?;
    }
    let sa = SocketAddr::new(addr, port);
    s.bind(&sa.into()).map_err(io_err(format!("bind {sa}")))?;
    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
    s.listen(backlog).map_err(io_err(format!("listen {sa}")))?;
    let l: TcpListener = s.into();
    l.set_nonblocking(true).map_err(io_err("O_NONBLOCK"))?;
    Ok(l)
}

fn local_port(l: &TcpListener) -> Res<u16> {
    Ok(l.local_addr().map_err(io_err("getsockname"))?.port())
}

/// accept() on a non-blocking listener, bounded in time.
fn accept_within(l: &TcpListener, limit: Duration) -> Res<TcpStream> {
    let start = Instant::now();
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)
                    .map_err(io_err("accepted socket blocking"))?;
                return Ok(s);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                if start.elapsed() > limit {
                    return Err(format!("accept: nothing to accept after {limit:?}"));
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    }
}

/// One connected pair: (client, server).
fn pair(l: &TcpListener, to: SocketAddr) -> Res<(TcpStream, TcpStream)> {
    let c =
        TcpStream::connect_timeout(&to, STEP_TIMEOUT).map_err(io_err(format!("connect {to}")))?;
    let s = accept_within(l, STEP_TIMEOUT)?;
    Ok((c, s))
}

fn ports(c: &TcpStream, server_port: u16) -> Res<PortPair> {
    Ok(PortPair {
        client: c.local_addr().map_err(io_err("getsockname"))?.port(),
        server: server_port,
    })
}

/// Waits for end-of-file on `s` (the peer's FIN has arrived), bounded in time.
fn wait_eof(s: &mut TcpStream) -> Res<()> {
    s.set_read_timeout(Some(STEP_TIMEOUT))
        .map_err(io_err("SO_RCVTIMEO"))?;
    let mut buf = [0u8; 64];
    for _ in 0..1000 {
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("waiting for the peer's FIN: {e}")),
        }
    }
    Err("waiting for the peer's FIN: too much data".into())
}

/// A TIME_WAIT on the given side: that side closes first, waits for the other's FIN.
fn time_wait(l: &TcpListener, to: SocketAddr, side: TwSide) -> Res<PortPair> {
    let (c, s) = pair(l, to)?;
    let pp = ports(&c, to.port())?;
    let (first, mut second) = match side {
        TwSide::Client => (c, s),
        TwSide::Server => (s, c),
    };
    drop(first); // FIN from the side that will hold TIME_WAIT
    wait_eof(&mut second)?; // the other side is in CLOSE_WAIT now
    drop(second); // its FIN: LAST_ACK, then the first side enters TIME_WAIT
    Ok(pp)
}

struct Held {
    listeners: Vec<TcpListener>,
    streams: Vec<TcpStream>,
    sockets: Vec<Socket>,
    children: Vec<Child>,
}

fn build_family(
    o: &Opts,
    addr: IpAddr,
    held: &mut Held,
    expected: &mut StateCounts,
) -> Res<FamilyReport> {
    let family = if addr.is_ipv4() {
        Family::Inet
    } else {
        Family::Inet6
    };
    let mut rep = FamilyReport {
        family,
        addr,
        listeners: Vec::new(),
        est: Vec::new(),
        cw: Vec::new(),
        tw: Vec::new(),
        backlog_overflow: None,
        connect_until_fail: None,
        close_wait_hold: None,
    };
    let mut ls = Vec::new();
    for i in 0..o.listen {
        let port = match o.port_base {
            Some(b) => u16::try_from(u32::from(b) + i)
                .map_err(|_| "--port-base + --listen exceeds 65535")?,
            None => 0,
        };
        let l = listener(addr, port, 4096)?;
        rep.listeners.push(local_port(&l)?);
        ls.push(l);
    }
    expected.add_n(TcpState::Listen, u64::from(o.listen));
    // Connections need a listener; without --listen a temporary one is used and closed before
    // ready (accepted sockets outlive their listener), so LISTEN stays exactly --listen.
    let temp;
    let targets: Vec<(&TcpListener, SocketAddr)> = if ls.is_empty() {
        temp = listener(addr, 0, 4096)?;
        vec![(&temp, SocketAddr::new(addr, local_port(&temp)?))]
    } else {
        ls.iter()
            .zip(&rep.listeners)
            .map(|(l, p)| (l, SocketAddr::new(addr, *p)))
            .collect()
    };
    let target = |i: u32| targets[i as usize % targets.len()];
    for i in 0..o.est {
        let (l, to) = target(i);
        let (c, s) = pair(l, to)?;
        rep.est.push(ports(&c, to.port())?);
        held.streams.extend([c, s]);
    }
    expected.add_n(TcpState::Established, 2 * u64::from(o.est));
    for i in 0..o.cw {
        let (l, to) = target(i);
        let (c, s) = pair(l, to)?;
        c.shutdown(Shutdown::Write)
            .map_err(io_err("shutdown(SHUT_WR)"))?;
        rep.cw.push(ports(&c, to.port())?);
        held.streams.extend([c, s]);
    }
    expected.add_n(TcpState::CloseWait, u64::from(o.cw));
    expected.add_n(TcpState::FinWait2, u64::from(o.cw));
    for i in 0..o.tw {
        let (l, to) = target(i);
        rep.tw.push(time_wait(l, to, o.tw_side)?);
    }
    expected.add_n(TcpState::TimeWait, u64::from(o.tw));
    drop(targets);
    held.listeners.extend(ls);

    if let Some(n) = o.backlog_overflow {
        let l = listener(addr, 0, o.backlog)?;
        let port = local_port(&l)?;
        let to: socket2::SockAddr = SocketAddr::new(addr, port).into();
        for _ in 0..n {
            let s = Socket::new(domain(addr), Type::STREAM, Some(Protocol::TCP))
                .map_err(io_err("socket"))?;
            s.set_nonblocking(true).map_err(io_err("O_NONBLOCK"))?;
            match s.connect(&to) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(115) || e.kind() == ErrorKind::WouldBlock => {} // EINPROGRESS
                Err(e) => return Err(format!("backlog-overflow connect: {e}")),
            }
            held.sockets.push(s);
            // Let the handshake finish before the next SYN: keeps the split exact.
            std::thread::sleep(Duration::from_millis(2));
        }
        // Linux accepts backlog+1 connections into the queue (sk_acceptq_is_full is `>`);
        // later SYNs are dropped (ListenOverflows, tcp-facts 7.5) and the clients stay SYN_SENT.
        let queued = n.min(o.backlog + 1);
        expected.add(TcpState::Listen);
        expected.add_n(TcpState::Established, 2 * u64::from(queued));
        expected.add_n(TcpState::SynSent, u64::from(n - queued));
        held.listeners.push(l);
        rep.backlog_overflow = Some(BacklogReport {
            port,
            backlog: o.backlog,
            attempts: n,
            accept_queue: 0,
        });
    }

    if o.close_wait_hold > 0 {
        rep.close_wait_hold = Some(close_wait_hold(o, addr, held)?);
        expected.add_n(TcpState::CloseWait, u64::from(o.close_wait_hold));
        expected.add_n(TcpState::FinWait2, u64::from(o.close_wait_hold));
    }

    if o.connect_until_fail {
        let r = connect_until_fail(o, addr, held)?;
        expected.add(TcpState::Listen);
        if o.exhaust_hold_tw {
            expected.add_n(TcpState::TimeWait, u64::from(r.ok));
        } else {
            expected.add_n(TcpState::Established, 2 * u64::from(r.ok));
        }
        rep.connect_until_fail = Some(r);
    }
    Ok(rep)
}

fn connect_until_fail(o: &Opts, addr: IpAddr, held: &mut Held) -> Res<ExhaustReport> {
    let l = listener(addr, o.exhaust_port, 4096)?;
    let port = local_port(&l)?;
    let to = SocketAddr::new(addr, port);
    let start = Instant::now();
    let mut r = ExhaustReport {
        port,
        hold: if o.exhaust_hold_tw { "tw" } else { "est" }.to_string(),
        ok: 0,
        failures: 0,
        other_error: None,
        bounded_out: false,
        client_ports: Vec::new(),
        elapsed_ms: 0,
    };
    let mut tries = 0u32;
    while r.failures < o.fail_after {
        if tries >= o.max_connects || start.elapsed() > Duration::from_secs(o.max_secs) {
            r.bounded_out = true;
            break;
        }
        tries += 1;
        match TcpStream::connect_timeout(&to, STEP_TIMEOUT) {
            Ok(c) => {
                let mut s = accept_within(&l, STEP_TIMEOUT)?;
                r.client_ports.push(ports(&c, port)?.client);
                r.ok += 1;
                if o.exhaust_hold_tw {
                    drop(c);
                    wait_eof(&mut s)?;
                    drop(s);
                } else {
                    held.streams.extend([c, s]);
                }
            }
            Err(e) if e.kind() == ErrorKind::AddrNotAvailable => r.failures += 1,
            Err(e) => {
                r.other_error = Some(e.to_string());
                break;
            }
        }
    }
    r.elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    held.listeners.push(l);
    Ok(r)
}

/// Reads one line from a child's stdout within `limit` (a helper thread does the read).
fn line_within(
    r: std::process::ChildStdout,
    limit: Duration,
) -> Res<(String, std::process::ChildStdout)> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut br = BufReader::new(r);
        let mut line = String::new();
        let res = br.read_line(&mut line).map(|_| line);
        let _ = tx.send((res, br.into_inner()));
    });
    match rx.recv_timeout(limit) {
        Ok((Ok(line), r)) if !line.is_empty() => Ok((line, r)),
        Ok((Ok(_), _)) => Err("holder child closed its stdout".into()),
        Ok((Err(e), _)) => Err(format!("reading the holder child: {e}")),
        Err(_) => Err(format!("holder child said nothing within {limit:?}")),
    }
}

fn close_wait_hold(o: &Opts, addr: IpAddr, held: &mut Held) -> Res<HoldReport> {
    let exe = std::env::current_exe().map_err(io_err("current_exe"))?;
    let fam = if addr.is_ipv4() { "4" } else { "6" };
    let n = o.close_wait_hold.to_string();
    let mut child = Command::new(exe)
        .args([
            "--role",
            "cw-holder",
            &n,
            "--family",
            fam,
            "--die-with-parent",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(io_err("spawning the close-wait holder"))?;
    let holder_pid = child.id();
    let out = child.stdout.take().ok_or("holder child has no stdout")?;
    held.children.push(child);
    let (line, out) = line_within(out, STEP_TIMEOUT)?;
    let port: u16 = line
        .trim()
        .strip_prefix("port ")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("holder child said '{}', expected 'port N'", line.trim()))?;
    let to = SocketAddr::new(addr, port);
    let mut pairs = Vec::new();
    for _ in 0..o.close_wait_hold {
        let c = TcpStream::connect_timeout(&to, STEP_TIMEOUT)
            .map_err(io_err(format!("connect {to}")))?;
        c.shutdown(Shutdown::Write)
            .map_err(io_err("shutdown(SHUT_WR)"))?;
        pairs.push(ports(&c, port)?);
        held.streams.push(c);
    }
    let timeout = STEP_TIMEOUT + Duration::from_millis(10 * u64::from(o.close_wait_hold));
    let (line, _) = line_within(out, timeout)?;
    if line.trim() != "held" {
        return Err(format!(
            "holder child said '{}', expected 'held'",
            line.trim()
        ));
    }
    Ok(HoldReport {
        holder_pid,
        port,
        pairs,
    })
}

/// The `--role cw-holder N` child: listen, print `port P`, accept N, close the listener, print
/// `held`, hold until signalled.
fn run_holder(o: &Opts, n: u32, stop: &AtomicBool) -> Res<i32> {
    let addr = if o.v4 {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    };
    let l = listener(addr, 0, 4096)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "port {}", local_port(&l)?).map_err(io_err("stdout"))?;
    out.flush().map_err(io_err("stdout"))?;
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(accept_within(&l, STEP_TIMEOUT)?);
    }
    drop(l);
    writeln!(out, "held").map_err(io_err("stdout"))?;
    out.flush().map_err(io_err("stdout"))?;
    Ok(hold(stop, o.max_hold))
}

/// Waits for SIGTERM/SIGINT (exit 0) or `max_hold` seconds (exit 3).
fn hold(stop: &AtomicBool, max_hold: u64) -> i32 {
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if start.elapsed() > Duration::from_secs(max_hold) {
            let _ = writeln!(
                std::io::stderr(),
                "tcpdoctor-scenario: --max-hold {max_hold} s reached, exiting"
            );
            return 3;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    0
}

fn raise_nofile() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut r = getrlimit(Resource::Nofile);
    if r.current != r.maximum {
        r.current = r.maximum;
        let _ = setrlimit(Resource::Nofile, r);
    }
}

fn settle(expected: &StateCounts, settle_ms: u64) -> Res<(KernelCounts, bool)> {
    let start = Instant::now();
    loop {
        let k = counts_of_self().map_err(|e| e.to_string())?;
        if k.all == *expected {
            return Ok((k, true));
        }
        if start.elapsed() >= Duration::from_millis(settle_ms) {
            return Ok((k, false));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn run(args: Vec<String>, stop: &AtomicBool) -> Res<i32> {
    let start = Instant::now();
    let Some(o) = parse_args(&args)? else {
        let _ = std::io::stdout().write_all(HELP.as_bytes());
        return Ok(0);
    };
    if o.die_with_parent {
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
            .map_err(|e| format!("PR_SET_PDEATHSIG: {e}"))?;
    }
    raise_nofile();
    if let Some(n) = o.holder {
        return run_holder(&o, n, stop);
    }
    let mut held = Held {
        listeners: Vec::new(),
        streams: Vec::new(),
        sockets: Vec::new(),
        children: Vec::new(),
    };
    let result = build_all(&o, &args, &mut held, start);
    let code = match result {
        Ok(line) => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}").map_err(io_err("stdout"))?;
            out.flush().map_err(io_err("stdout"))?;
            drop(out);
            hold(stop, o.max_hold)
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "tcpdoctor-scenario: {e}");
            2
        }
    };
    stop_children(&mut held.children);
    Ok(code)
}

fn build_all(o: &Opts, args: &[String], held: &mut Held, start: Instant) -> Res<String> {
    let mut expected = StateCounts::default();
    let mut families = Vec::new();
    if o.v4 {
        families.push(build_family(
            o,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            held,
            &mut expected,
        )?);
    }
    if o.v6 {
        families.push(build_family(
            o,
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            held,
            &mut expected,
        )?);
    }
    let (kernel, settled) = settle(&expected, o.settle_ms)?;
    // Accept-queue lengths of the never-accepting listeners, as the kernel shows them.
    let rows = read_net_dir(Path::new("/proc/self/net")).map_err(|e| e.to_string())?;
    for f in &mut families {
        if let Some(b) = &mut f.backlog_overflow {
            b.accept_queue = rows
                .iter()
                .find(|r| {
                    r.state == TcpState::Listen && r.family == f.family && r.local.port() == b.port
                })
                .map_or(0, |r| r.rx_queue);
        }
    }
    let wanted = [
        "ListenOverflows",
        "ListenDrops",
        "TCPReqQFullDrop",
        "TCPReqQFullDoCookies",
        "TCPTimeWaitOverflow",
        "TW",
    ];
    let counters: BTreeMap<String, u64> = read_tcpext(Path::new("/proc/self/net"))
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|(k, _)| wanted.contains(&k.as_str()))
        .collect();
    let report = ReadyReport {
        ready: true,
        pid: std::process::id(),
        args: args.to_vec(),
        tw_side: o.tw_side,
        families,
        expected,
        kernel,
        settled,
        counters,
        elapsed_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    serde_json::to_string(&report).map_err(|e| format!("JSON: {e}"))
}

fn stop_children(children: &mut Vec<Child>) {
    for c in children.iter_mut() {
        if let Some(pid) = rustix::process::Pid::from_raw(c.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
    }
    for c in children.iter_mut() {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Ok(None) = c.try_wait() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    children.clear();
}

fn main() {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            let _ = writeln!(std::io::stderr(), "tcpdoctor-scenario: signal handler: {e}");
            std::process::exit(2);
        }
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match run(args, &stop) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "tcpdoctor-scenario: {e}");
            2
        }
    };
    std::process::exit(code);
}
