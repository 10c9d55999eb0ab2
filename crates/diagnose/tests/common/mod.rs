//! Scenario files: sockets + kernel context in, expected findings out.
//!
//! A scenario is a JSON object:
//!
//! ```json
//! {
//!   "description": "what it shows",
//!   "os": "linux",                       // linux | windows | macos | freebsd | ...
//!   "services": "mysql 3306/tcp\n",      // /etc/services text for labels (optional)
//!   "interval_ms": 10000,                // between kernel_before and kernel, and scans
//!   "kernel_before": { KernelContext },  // optional, enables rates
//!   "kernel": { KernelContext },         // optional (empty for pasted text)
//!   "scans": [ { "source": "netlink", "owners_resolved": true, "taken_at_ms": 0,
//!                "sockets": [ "<socket line>", ... ] } ],
//!   "mysql_before": { MysqlStatus },     // optional: MySQL's view at the first scan
//!   "mysql": { MysqlStatus },            // optional: MySQL's view at the last scan (--mysql)
//!   "expect": [ { "id": "...", "severity": "warning",
//!                 "metrics": { "time_wait": 1200 }, "summary_contains": "..." } ],
//!   "exact": true                        // default: the finding ids must be exactly these
//! }
//! ```
//!
//! A socket line is `COUNT STATE LOCAL REMOTE [key=value ...]`:
//! * `LOCAL`/`REMOTE` are `ip:port` (`[v6]:port`); a `+` after the ip or the port increments
//!   it for each of the COUNT sockets (`10.0.0.9:40000+` = ports 40000, 40001, ...).
//! * keys: `pid`, `comm`, `cmdline` (underscores become spaces), `inode` (a number or `auto`:
//!   unique), `cookie=auto`, `recvq`, `sendq`, `timer=kind:ms` (on, keepalive, timewait,
//!   persist), `retrans`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use tcpdoctor_diagnose::{
    diagnose, DiagnoseInput, ListeningPorts, Observation, ObserveConfig, Report, SourceOs, Trend,
};
use tcpdoctor_model::{
    KernelContext, Process, ScanInfo, ServiceNames, Snapshot, Socket, SocketSink, SourceKind,
    TcpState, Timer, TimerKind,
};

#[derive(Deserialize)]
pub struct Scan {
    #[serde(default = "netlink")]
    pub source: SourceKind,
    #[serde(default)]
    pub owners_resolved: bool,
    #[serde(default)]
    pub taken_at_ms: u64,
    pub sockets: Vec<String>,
}

fn netlink() -> SourceKind {
    SourceKind::Netlink
}

#[derive(Deserialize, Debug)]
pub struct Expect {
    pub id: String,
    pub severity: String,
    #[serde(default)]
    pub metrics: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub summary_contains: Option<String>,
}

#[derive(Deserialize)]
pub struct Scenario {
    #[serde(default)]
    pub description: String,
    #[serde(default = "linux")]
    pub os: String,
    #[serde(default)]
    pub services: String,
    #[serde(default)]
    pub interval_ms: Option<u64>,
    #[serde(default)]
    pub kernel_before: Option<KernelContext>,
    #[serde(default)]
    pub kernel: KernelContext,
    pub scans: Vec<Scan>,
    #[serde(default)]
    pub mysql_before: Option<tcpdoctor_model::MysqlStatus>,
    #[serde(default)]
    pub mysql: Option<tcpdoctor_model::MysqlStatus>,
    pub expect: Vec<Expect>,
    #[serde(default = "yes")]
    pub exact: bool,
}

fn linux() -> String {
    "linux".into()
}
fn yes() -> bool {
    true
}

struct Counter {
    inode: u64,
}

fn bump_ip(ip: IpAddr, i: u64) -> IpAddr {
    match ip {
        IpAddr::V4(v) => IpAddr::V4((u32::from(v).wrapping_add(i as u32)).into()),
        IpAddr::V6(v) => IpAddr::V6((u128::from(v).wrapping_add(u128::from(i))).into()),
    }
}

fn endpoint(s: &str, i: u64) -> SocketAddr {
    let (host, port) = s
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("bad endpoint {s}"));
    let (port, pinc) = port
        .strip_suffix('+')
        .map(|p| (p, true))
        .unwrap_or((port, false));
    let (host, hinc) = host
        .strip_suffix('+')
        .map(|h| (h, true))
        .unwrap_or((host, false));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = host.parse().unwrap_or_else(|_| panic!("bad ip {host}"));
    let port: u16 = port.parse().unwrap_or_else(|_| panic!("bad port {port}"));
    let ip = if hinc { bump_ip(ip, i) } else { ip };
    let port = if pinc {
        port + u16::try_from(i).unwrap()
    } else {
        port
    };
    SocketAddr::new(ip, port)
}

pub fn sockets(lines: &[String]) -> Vec<Socket> {
    let mut out = Vec::new();
    let mut c = Counter { inode: 1000 };
    for line in lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut it = line.split_whitespace();
        let count: u64 = it
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("bad count in {line}"));
        let state =
            TcpState::parse(it.next().unwrap()).unwrap_or_else(|| panic!("bad state in {line}"));
        let local = it.next().unwrap().to_string();
        let remote = it.next().unwrap().to_string();
        let kv: Vec<(String, String)> = it
            .map(|w| {
                let (k, v) = w
                    .split_once('=')
                    .unwrap_or_else(|| panic!("bad option {w} in {line}"));
                (k.to_string(), v.to_string())
            })
            .collect();
        let get = |k: &str| kv.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
        let owner = get("pid").map(|pid| {
            Arc::new(Process {
                pid: pid.parse().unwrap(),
                comm: get("comm").unwrap_or_default(),
                cmdline: get("cmdline").unwrap_or_default().replace('_', " "),
                cgroup: None,
                container: None,
            })
        });
        for i in 0..count {
            let mut s = Socket::new(state, endpoint(&local, i), endpoint(&remote, i));
            if let Some(p) = &owner {
                s.owners.push(p.clone());
            }
            match get("inode").as_deref() {
                Some("auto") => {
                    c.inode += 1;
                    s.inode = Some(c.inode);
                }
                Some(n) => s.inode = Some(n.parse().unwrap()),
                None => {}
            }
            if get("cookie").as_deref() == Some("auto") {
                s.cookie = s.inode.map(|i| i + 1_000_000);
            }
            s.recv_q = get("recvq").map(|v| v.parse().unwrap());
            s.send_q = get("sendq").map(|v| v.parse().unwrap());
            s.retransmits = get("retrans").map(|v| v.parse().unwrap()).unwrap_or(0);
            if let Some(t) = get("timer") {
                let (k, ms) = t.split_once(':').unwrap();
                let kind = match k {
                    "on" => TimerKind::On,
                    "keepalive" => TimerKind::Keepalive,
                    "timewait" => TimerKind::Timewait,
                    "persist" => TimerKind::Persist,
                    _ => panic!("bad timer {k}"),
                };
                s.timer = Some(Timer {
                    kind,
                    expires_ms: ms.parse().unwrap(),
                });
            }
            out.push(s);
        }
    }
    out
}

pub fn load(path: &Path) -> Scenario {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub struct Ran {
    pub report: Report,
}

/// Builds the observations exactly as the CLI should: port range from the kernel context,
/// listeners found first (a collected snapshot).
pub fn run(sc: &Scenario) -> Report {
    let os: SourceOs = sc.os.parse().unwrap();
    diagnose_scenario(sc, os, &observations(sc), None)
}

/// As [`run`], but as `analyze` does with a long run of snapshots: the trend is fed every
/// observation as it comes, and only the first and the last are kept.
pub fn run_streamed(sc: &Scenario) -> Report {
    let os: SourceOs = sc.os.parse().unwrap();
    let mut trend = Trend::new();
    let mut kept: Vec<Observation> = Vec::new();
    for o in observations(sc) {
        trend.observe(&o);
        if kept.len() == 2 {
            kept.pop();
        }
        kept.push(o);
    }
    diagnose_scenario(sc, os, &kept, Some(&trend))
}

/// One observation per scan of a scenario.
pub fn observations(sc: &Scenario) -> Vec<Observation> {
    let mut obs = Vec::new();
    for scan in &sc.scans {
        let mut info = ScanInfo::new(scan.source);
        info.owners_resolved = scan.owners_resolved;
        info.taken_at_ms = scan.taken_at_ms;
        let mut snap = Snapshot::new(info);
        snap.sockets = sockets(&scan.sockets);
        let cfg = ObserveConfig {
            port_range: sc.kernel.local_port_range(),
            ..Default::default()
        };
        obs.push(Observation::from_snapshot(&snap, cfg));
    }
    obs
}

/// The diagnosis of a scenario's observations with its kernel, services and MySQL views.
fn diagnose_scenario(
    sc: &Scenario,
    os: SourceOs,
    obs: &[Observation],
    trend: Option<&Trend>,
) -> Report {
    let services = ServiceNames::parse(&sc.services);
    let mut input = DiagnoseInput::new(obs, &sc.kernel, os);
    input.kernel_before = sc.kernel_before.as_ref();
    input.interval_ms = sc.interval_ms;
    input.services = Some(&services);
    input.mysql = sc.mysql.as_ref();
    input.mysql_before = sc.mysql_before.as_ref();
    input.trend = trend;
    diagnose(&input)
}

pub fn scenario_files() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}

/// A plain-text rendering of a report for snapshots and reading.
pub fn text(r: &Report) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "total {}  os {:?}  kernel_context {}\n",
        r.total, r.os, r.kernel_context
    ));
    for n in &r.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    for f in &r.findings {
        s.push_str(&format!("\n[{}] {}: {}\n", f.severity, f.id, f.summary));
        for m in &f.evidence.metrics {
            s.push_str(&format!(
                "  {} = {}{}  ({})\n",
                m.name,
                m.value,
                m.unit.as_deref().unwrap_or(""),
                m.label
            ));
        }
        for g in &f.evidence.groups {
            s.push_str(&format!(
                "  group {:?} {} '{}' count {}\n",
                g.kind, g.key, g.label, g.count
            ));
        }
        for x in &f.evidence.samples {
            s.push_str(&format!(
                "  sample {} {} -> {}{}\n",
                x.state,
                x.local,
                x.remote,
                x.process
                    .as_ref()
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default()
            ));
        }
        s.push_str(&format!("  why: {}\n", f.explanation));
        for r in &f.remedies {
            s.push_str(&format!("  do ({:?}): {}\n", r.level, r.text));
            for c in &r.commands {
                s.push_str(&format!("      $ {c}\n"));
            }
        }
        for a in &f.avoid {
            s.push_str(&format!("  avoid: {} -- {}\n", a.advice, a.why));
        }
        s.push_str(&format!("  facts: {}\n", f.facts.join(", ")));
    }
    s
}

/// Each scan observed in `parts` observations that get the sockets in turns of `turn` (as
/// the text pipeline's worker parts do), then merged into the first; `parts == 1` is one
/// observation of the whole scan.
pub fn observe_split(sc: &Scenario, parts: usize, turn: usize) -> Vec<Observation> {
    let mut obs = Vec::new();
    for scan in &sc.scans {
        let mut info = ScanInfo::new(scan.source);
        info.owners_resolved = scan.owners_resolved;
        info.taken_at_ms = scan.taken_at_ms;
        let socks = sockets(&scan.sockets);
        let cfg = ObserveConfig {
            port_range: sc.kernel.local_port_range(),
            listening: ListeningPorts::from_sockets(&socks),
            ..Default::default()
        };
        let mut split: Vec<Observation> = (0..parts)
            .map(|_| Observation::new(&info, cfg.clone()))
            .collect();
        for (i, chunk) in socks.chunks(turn).enumerate() {
            for s in chunk {
                split[i % parts].socket(s);
            }
        }
        let mut it = split.into_iter();
        let mut o = it.next().unwrap();
        for p in it {
            o.merge(p);
        }
        obs.push(o);
    }
    obs
}

/// Like [`run`], on the observations of [`observe_split`].
pub fn run_split(sc: &Scenario, parts: usize, turn: usize) -> Report {
    let os: SourceOs = sc.os.parse().unwrap();
    diagnose_scenario(sc, os, &observe_split(sc, parts, turn), None)
}

/// Every count an observation holds, in a stable order (samples and listener order aside).
pub fn counts(o: &Observation) -> String {
    fn sorted<T: std::fmt::Debug>(v: impl IntoIterator<Item = T>) -> Vec<String> {
        let mut v: Vec<String> = v.into_iter().map(|x| format!("{x:?}")).collect();
        v.sort();
        v
    }
    let mut out = String::new();
    out += &format!(
        "total {} states {:?} listening {:?} listeners {} client_in_range {} client_ports {} \
         no_inode {:?} fin_wait2_held {} with_timer {} dropped {}\n",
        o.total,
        o.states,
        o.listening.iter().collect::<Vec<_>>(),
        o.listeners.len(),
        o.client_in_range,
        o.client_ports_in_use(),
        o.no_inode,
        o.fin_wait2_held,
        o.with_timer,
        o.dropped_keys
    );
    out += &format!("by_local_port {:?}\n", sorted(&o.by_local_port));
    out += &format!("server_tw_peers {:?}\n", sorted(&o.server_tw_peers));
    out += &format!(
        "port_spaces {:?}\n",
        sorted(o.port_spaces.iter().map(|(k, v)| (k, v.states, v.in_range)))
    );
    out += &format!(
        "processes {:?}\n",
        sorted(o.processes.iter().map(|(k, v)| {
            (
                k,
                v.states,
                v.close_wait_unread,
                v.close_wait_timers,
                v.close_wait_max_probes,
                sorted(&v.close_wait_remotes),
            )
        }))
    );
    out += &format!("peers {:?}\n", sorted(&o.peers));
    out += &format!(
        "close_wait_by_service {:?}\n",
        sorted(&o.close_wait_by_service)
    );
    out += &format!("close_wait_ids {:?}\n", sorted(&o.close_wait_ids));
    out
}
