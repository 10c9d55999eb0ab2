//! Grouping for `tcpdoctor summary --by service|peer|process|state`, with top-N.
//!
//! [`GroupAggregator`] is a [`SocketSink`]: it sees every socket once and keeps one small entry
//! per distinct key (per state, per peer address, per process, per service port), never the
//! sockets themselves, so memory is bounded by the number of keys.
//!
//! Key rules (the `groups` field of `summary --json`):
//!
//! * `state`: the Linux state name (`TIME_WAIT`).
//! * `peer`: the remote IP address, IPv4-mapped IPv6 shown as IPv4 (`::ffff:10.0.0.1` is
//!   `10.0.0.1`). Sockets without a peer (listeners, unconnected `CLOSE` sockets: remote
//!   `0.0.0.0:*`) are counted in one bucket with key `none`, so the groups always add up to
//!   the total.
//! * `process`: the owning process, `pid:<pid>`. A socket shared by several processes (a
//!   listener inherited by forked workers) is counted once, under its lowest pid. Sockets
//!   without an owner go to one of three buckets that say why:
//!   `no-owner` (TIME_WAIT and SYN_RECV mini-sockets and orphans after close() belong to no
//!   process, tcp-facts 8.8-8.10, 9.8-9.9), `unresolved` (the socket has an owner the scan could
//!   not see: a process that exited mid-scan or one not readable without root), and
//!   `not-looked-up` (owners were not asked for, or the source cannot give them).
//! * `service`: the local listening port when this host listens on the socket's local port
//!   (direction `local`: this host is the server), otherwise the remote port (direction
//!   `remote`: this host is the client), named through [`ServiceNames`]. Keys are
//!   `local:<port>` and `remote:<port>`; sockets with neither (an unconnected socket on a port
//!   nobody listens on) go to `none`. Which ports are listened on comes from a
//!   [`ListeningPorts`] value the caller builds: from a first pass, or learnt from the same
//!   stream ([`GroupAggregator::learn_listeners`]) when listeners come first, as they do in
//!   both `/proc/net/tcp` and inet_diag dumps of one family (tcp-facts 8.1).

use crate::fxhash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use tcpdoctor_model::{
    Host, Port, Process, ServiceNames, Socket, SocketSink, StateCounts, TcpState,
};

/// What to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// Local listening port or remote well-known port.
    Service,
    /// Remote IP address.
    Peer,
    /// Owning process.
    Process,
    /// TCP state.
    State,
}

impl GroupBy {
    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Service => "service",
            GroupBy::Peer => "peer",
            GroupBy::Process => "process",
            GroupBy::State => "state",
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown `--by` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown grouping '{0}'; use one of: service, peer, process, state")]
pub struct UnknownGroupBy(pub String);

impl FromStr for GroupBy {
    type Err = UnknownGroupBy;
    fn from_str(s: &str) -> Result<GroupBy, UnknownGroupBy> {
        match s.trim().to_ascii_lowercase().as_str() {
            "service" | "services" | "port" => Ok(GroupBy::Service),
            "peer" | "peers" | "remote" => Ok(GroupBy::Peer),
            "process" | "processes" | "pid" => Ok(GroupBy::Process),
            "state" | "states" => Ok(GroupBy::State),
            _ => Err(UnknownGroupBy(s.to_string())),
        }
    }
}

/// Which side of a service group this host is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The local port is listened on here: this host is the server ("local/server").
    Local,
    /// The port is the peer's: this host is the client ("remote/client").
    Remote,
}

/// The set of local ports some socket listens on. Port-level on purpose: a TIME_WAIT or
/// CLOSE_WAIT socket on local port 3306 belongs to the 3306 service whichever address the
/// listener bound. A 65,536-bit map (8 KiB); serialises as a sorted list of ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<u16>", into = "Vec<u16>")]
pub struct ListeningPorts {
    bits: Vec<u64>,
    len: usize,
}

impl Default for ListeningPorts {
    fn default() -> ListeningPorts {
        ListeningPorts {
            bits: vec![0; 1024],
            len: 0,
        }
    }
}

impl From<Vec<u16>> for ListeningPorts {
    fn from(v: Vec<u16>) -> ListeningPorts {
        let mut l = ListeningPorts::new();
        for p in v {
            l.insert(p);
        }
        l
    }
}

impl From<ListeningPorts> for Vec<u16> {
    fn from(l: ListeningPorts) -> Vec<u16> {
        l.iter().collect()
    }
}

impl ListeningPorts {
    /// An empty set.
    pub fn new() -> ListeningPorts {
        ListeningPorts::default()
    }

    /// Builds the set from sockets (only `LISTEN` sockets count).
    pub fn from_sockets<'a>(sockets: impl IntoIterator<Item = &'a Socket>) -> ListeningPorts {
        let mut l = ListeningPorts::new();
        for s in sockets {
            l.observe(s);
        }
        l
    }

    /// Adds a port.
    #[inline]
    pub fn insert(&mut self, port: u16) {
        let (w, b) = (usize::from(port >> 6), 1u64 << (port & 63));
        if let Some(word) = self.bits.get_mut(w) {
            if *word & b == 0 {
                *word |= b;
                self.len += 1;
            }
        }
    }

    /// Adds every port of `other`.
    pub fn union(&mut self, other: &ListeningPorts) {
        let mut len = 0usize;
        for (a, b) in self.bits.iter_mut().zip(&other.bits) {
            *a |= b;
            len += a.count_ones() as usize;
        }
        self.len = len;
    }

    /// Adds the local port of `s` if it is a listener with a numeric port.
    #[inline]
    pub fn observe(&mut self, s: &Socket) {
        if s.state == TcpState::Listen {
            if let Some(p) = s.local.port() {
                if p != 0 {
                    self.insert(p);
                }
            }
        }
    }

    /// Whether something listens on `port`.
    #[inline]
    pub fn contains(&self, port: u16) -> bool {
        self.bits
            .get(usize::from(port >> 6))
            .is_some_and(|w| w & (1u64 << (port & 63)) != 0)
    }

    /// The ports, ascending.
    ///
    /// Skips empty words and walks the set bits of the others, so it costs what the ports
    /// cost, not 65,536 tests (it runs once per snapshot, and a log has thousands).
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.bits
            .iter()
            .enumerate()
            .filter(|(_, w)| **w != 0)
            .flat_map(|(i, w)| {
                let mut w = *w;
                std::iter::from_fn(move || {
                    if w == 0 {
                        return None;
                    }
                    let b = w.trailing_zeros() as u16;
                    w &= w - 1;
                    Some(((i as u16) << 6) | b)
                })
            })
    }

    /// Number of ports.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no port is listened on.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A [`SocketSink`] that only collects listening ports (a cheap first pass).
impl SocketSink for ListeningPorts {
    fn socket(&mut self, s: &Socket) {
        self.observe(s);
    }
}

/// Why a socket has no process in `--by process`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum NoOwner {
    /// TIME_WAIT / SYN_RECV / orphan: no process can own it.
    None,
    /// It has an owner we could not see.
    Unresolved,
    /// Owners were not looked up.
    NotLookedUp,
}

/// Typed key; its `Ord` is the tie-break order (ports and addresses numerically).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    State(TcpState),
    PeerIp(IpAddr),
    PeerName(Arc<str>),
    PeerNone,
    Pid(u32),
    NoOwner(NoOwner),
    Service(Direction, u16),
    ServiceName(Direction, Arc<str>),
    ServiceNone,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    states: StateCounts,
    process: Option<Arc<Process>>,
}

/// One group of sockets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Machine-readable key: `TIME_WAIT`, `10.0.0.7`, `pid:1234`, `no-owner`, `local:3306`,
    /// `remote:443`, `none`.
    pub key: String,
    /// Human label: `TIME_WAIT`, `10.0.0.7`, `mysqld (pid 1234)`, `mysql (3306)`.
    pub label: String,
    /// For service groups: which side this host is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// The port of a service group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The address of a peer group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// The process of a process group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    /// Sockets in the group.
    pub total: u64,
    /// Per-state counts (all 11 keys).
    pub states: StateCounts,
}

/// The groups cut by top-N, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Others {
    /// How many groups were cut.
    pub groups: u64,
    /// Sockets in them.
    pub total: u64,
    /// Their per-state counts.
    pub states: StateCounts,
}

/// The result of a grouping: the `groups` field of `summary --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Groups {
    /// What was grouped by.
    pub by: GroupBy,
    /// Sockets seen (the sum over `groups` and `others`).
    pub total: u64,
    /// The kept groups, by total descending, then by key (ports and addresses numerically).
    pub groups: Vec<Group>,
    /// What top-N cut.
    pub others: Others,
}

/// Streaming group-by. Feed it every socket (it is a [`SocketSink`]), then call
/// [`GroupAggregator::finish`].
#[derive(Debug, Clone)]
pub struct GroupAggregator {
    by: GroupBy,
    listening: ListeningPorts,
    learn: bool,
    owners_resolved: bool,
    services: Arc<ServiceNames>,
    entries: FxHashMap<Key, Entry>,
    total: u64,
}

impl GroupAggregator {
    /// A new aggregator.
    ///
    /// * `listening`: the local listening ports (for `service`; ignored otherwise).
    /// * `services`: port names (for labels of `service` groups).
    /// * `owners_resolved`: whether the source looked up owning processes
    ///   ([`ScanInfo::owners_resolved`](tcpdoctor_model::ScanInfo)); decides whether an
    ///   ownerless socket is "not looked up" or "not resolved".
    pub fn new(
        by: GroupBy,
        listening: ListeningPorts,
        services: Arc<ServiceNames>,
        owners_resolved: bool,
    ) -> GroupAggregator {
        GroupAggregator {
            by,
            listening,
            learn: false,
            owners_resolved,
            services,
            entries: FxHashMap::default(),
            total: 0,
        }
    }

    /// Also add the port of every `LISTEN` socket seen in the stream to the listening set
    /// before classifying it. Correct when listeners come before their connections (one
    /// `/proc/net/tcp` file, one inet_diag dump: tcp-facts 8.1); a connection seen before its
    /// listener would be filed under its remote port, so pass a complete [`ListeningPorts`]
    /// when the order is not guaranteed.
    pub fn learn_listeners(mut self, learn: bool) -> GroupAggregator {
        self.learn = learn;
        self
    }

    /// What this aggregator groups by.
    pub fn by(&self) -> GroupBy {
        self.by
    }

    /// Sockets seen so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Number of distinct keys so far (the memory bound).
    pub fn key_count(&self) -> usize {
        self.entries.len()
    }

    fn key<'a>(&self, s: &'a Socket) -> (Key, Option<&'a Arc<Process>>) {
        match self.by {
            GroupBy::State => (Key::State(s.state), None),
            GroupBy::Peer => {
                if !s.is_connected() {
                    return (Key::PeerNone, None);
                }
                match (&s.remote.host, s.remote.canonical_ip()) {
                    (_, Some(ip)) => (Key::PeerIp(ip), None),
                    (Host::Name(n), None) => (Key::PeerName(n.clone()), None),
                    (Host::Ip(_), None) => (Key::PeerNone, None),
                }
            }
            GroupBy::Process => match s.owners.iter().min_by_key(|p| p.pid) {
                Some(p) => (Key::Pid(p.pid), Some(p)),
                None => (Key::NoOwner(self.no_owner(s)), None),
            },
            GroupBy::Service => (self.service_key(s), None),
        }
    }

    fn no_owner(&self, s: &Socket) -> NoOwner {
        if !self.owners_resolved {
            return NoOwner::NotLookedUp;
        }
        if s.inode.is_some() {
            return NoOwner::Unresolved;
        }
        match s.state {
            // Mini-sockets and orphans (tcp-facts 8.8-8.10): nothing can own them.
            TcpState::TimeWait
            | TcpState::SynRecv
            | TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::LastAck
            | TcpState::Closing => NoOwner::None,
            _ => NoOwner::Unresolved,
        }
    }

    fn service_key(&self, s: &Socket) -> Key {
        match &s.local.port {
            Port::Num(p) if *p != 0 && self.listening.contains(*p) => {
                return Key::Service(Direction::Local, *p)
            }
            _ => {}
        }
        if s.state == TcpState::Listen {
            // A listener whose port is not in the set (set built without it): still local.
            return match &s.local.port {
                Port::Num(p) if *p != 0 => Key::Service(Direction::Local, *p),
                Port::Name(n) if &**n != "*" => Key::ServiceName(Direction::Local, n.clone()),
                _ => Key::ServiceNone,
            };
        }
        match &s.remote.port {
            Port::Num(p) if *p != 0 => Key::Service(Direction::Remote, *p),
            Port::Name(n) if &**n != "*" => Key::ServiceName(Direction::Remote, n.clone()),
            _ => Key::ServiceNone,
        }
    }

    /// Ends the stream: groups sorted by total descending then key, the first `top` kept
    /// (`top == 0` keeps all), the rest summed in [`Groups::others`].
    pub fn finish(self, top: usize) -> Groups {
        let mut v: Vec<(Key, Entry)> = self.entries.into_iter().collect();
        v.sort_by(|a, b| {
            b.1.states
                .total()
                .cmp(&a.1.states.total())
                .then_with(|| a.0.cmp(&b.0))
        });
        let keep = if top == 0 { v.len() } else { top.min(v.len()) };
        let mut others = Others::default();
        for (_, e) in v.iter().skip(keep) {
            others.groups += 1;
            others.total += e.states.total();
            others.states.merge(&e.states);
        }
        v.truncate(keep);
        let services = &self.services;
        let groups = v
            .into_iter()
            .map(|(k, e)| make_group(k, e, services))
            .collect();
        Groups {
            by: self.by,
            total: self.total,
            groups,
            others,
        }
    }
}

fn service_label(services: &ServiceNames, p: u16) -> String {
    match services.name(p) {
        Some(n) => format!("{n} ({p})"),
        None => p.to_string(),
    }
}

fn make_group(k: Key, e: Entry, services: &ServiceNames) -> Group {
    let mut g = Group {
        key: String::new(),
        label: String::new(),
        direction: None,
        port: None,
        ip: None,
        process: None,
        total: e.states.total(),
        states: e.states,
    };
    match k {
        Key::State(s) => {
            g.key = s.name().to_string();
            g.label = s.name().to_string();
        }
        Key::PeerIp(ip) => {
            g.key = ip.to_string();
            g.label = ip.to_string();
            g.ip = Some(ip);
        }
        Key::PeerName(n) => {
            g.key = n.to_string();
            g.label = n.to_string();
        }
        Key::PeerNone => {
            g.key = "none".into();
            g.label = "(no peer: listening or unconnected)".into();
        }
        Key::Pid(pid) => {
            g.key = format!("pid:{pid}");
            g.label = match &e.process {
                Some(p) if !p.comm.is_empty() => format!("{} (pid {pid})", p.comm),
                _ => format!("pid {pid}"),
            };
            g.process = e.process.as_deref().cloned();
        }
        Key::NoOwner(why) => {
            let (k, l) = match why {
                NoOwner::None => (
                    "no-owner",
                    "no owner (TIME_WAIT, SYN_RECV and orphaned sockets belong to no process)",
                ),
                NoOwner::Unresolved => (
                    "unresolved",
                    "owner not resolved (process exited mid-scan or not readable: run as root)",
                ),
                NoOwner::NotLookedUp => (
                    "not-looked-up",
                    "owner not looked up (the source gave no processes)",
                ),
            };
            g.key = k.into();
            g.label = l.into();
        }
        Key::Service(d, p) => {
            g.key = format!("{}:{p}", dir_word(d));
            g.label = service_label(services, p);
            g.direction = Some(d);
            g.port = Some(p);
        }
        Key::ServiceName(d, n) => {
            g.key = format!("{}:{n}", dir_word(d));
            g.label = match services.port(&n) {
                Some(p) => format!("{n} ({p})"),
                None => n.to_string(),
            };
            g.direction = Some(d);
            g.port = services.port(&n);
        }
        Key::ServiceNone => {
            g.key = "none".into();
            g.label = "(no service: unconnected socket on a port nobody listens on)".into();
        }
    }
    g
}

fn dir_word(d: Direction) -> &'static str {
    match d {
        Direction::Local => "local",
        Direction::Remote => "remote",
    }
}

impl SocketSink for GroupAggregator {
    #[inline]
    fn socket(&mut self, s: &Socket) {
        if self.learn {
            self.listening.observe(s);
        }
        self.total += 1;
        let (k, p) = self.key(s);
        let e = self.entries.entry(k).or_default();
        e.states.add(s.state);
        if e.process.is_none() {
            e.process = p.cloned();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn sock(state: TcpState, l: &str, r: &str) -> Socket {
        Socket::new(
            state,
            l.parse::<SocketAddr>().unwrap(),
            r.parse::<SocketAddr>().unwrap(),
        )
    }

    fn proc_(pid: u32, comm: &str) -> Arc<Process> {
        Arc::new(Process {
            pid,
            comm: comm.into(),
            ..Default::default()
        })
    }

    fn sample() -> Vec<Socket> {
        let mut v = vec![
            sock(TcpState::Listen, "0.0.0.0:3306", "0.0.0.0:0"),
            sock(TcpState::Listen, "[::]:22", "[::]:0"),
        ];
        for i in 0..5u16 {
            v.push(sock(
                TcpState::TimeWait,
                "10.0.0.1:3306",
                &format!("10.0.0.9:{}", 40000 + i),
            ));
        }
        for i in 0..3u16 {
            v.push(sock(
                TcpState::Established,
                "[::ffff:10.0.0.1]:3306",
                &format!("[::ffff:10.0.0.8]:{}", 41000 + i),
            ));
        }
        for i in 0..4u16 {
            let mut s = sock(
                TcpState::CloseWait,
                &format!("10.0.0.1:{}", 50000 + i),
                "10.0.0.20:443",
            );
            s.inode = Some(100 + u64::from(i));
            s.owners = vec![proc_(77, "java")];
            v.push(s);
        }
        v.push(sock(TcpState::TimeWait, "10.0.0.1:50100", "10.0.0.20:443"));
        let mut e = sock(TcpState::Established, "10.0.0.1:50200", "10.0.0.21:8080");
        e.inode = Some(9);
        v.push(e);
        v
    }

    fn run(by: GroupBy, top: usize, resolved: bool) -> Groups {
        let socks = sample();
        let l = ListeningPorts::from_sockets(&socks);
        let services = Arc::new(ServiceNames::parse(
            "mysql 3306/tcp\nhttps 443/tcp\nssh 22/tcp\n",
        ));
        let mut g = GroupAggregator::new(by, l, services, resolved);
        for s in &socks {
            g.socket(s);
        }
        g.finish(top)
    }

    fn keys(g: &Groups) -> Vec<(String, u64)> {
        g.groups.iter().map(|g| (g.key.clone(), g.total)).collect()
    }

    #[test]
    fn listening_ports_iterate_ascending_across_word_edges() {
        let mut l = ListeningPorts::new();
        let ports = [65535u16, 0, 64, 63, 1, 80, 128, 8080];
        for p in ports {
            l.insert(p);
        }
        l.insert(80);
        let mut want = ports.to_vec();
        want.sort_unstable();
        assert_eq!(l.iter().collect::<Vec<_>>(), want);
        assert_eq!(l.len(), want.len());
        assert_eq!(ListeningPorts::new().iter().count(), 0);
    }

    #[test]
    fn by_service_local_then_remote() {
        let g = run(GroupBy::Service, 0, true);
        assert_eq!(g.total, 16);
        assert_eq!(
            keys(&g),
            vec![
                ("local:3306".to_string(), 9),
                ("remote:443".to_string(), 5),
                ("local:22".to_string(), 1),
                ("remote:8080".to_string(), 1),
            ]
        );
        assert_eq!(g.groups[0].label, "mysql (3306)");
        assert_eq!(g.groups[0].direction, Some(Direction::Local));
        assert_eq!(g.groups[0].states.get(TcpState::TimeWait), 5);
        assert_eq!(g.groups[1].label, "https (443)");
        assert_eq!(g.groups[1].direction, Some(Direction::Remote));
        assert_eq!(g.groups[3].label, "8080");
    }

    #[test]
    fn by_peer_maps_v4_mapped_and_buckets_listeners() {
        let g = run(GroupBy::Peer, 0, true);
        assert_eq!(
            keys(&g),
            vec![
                ("10.0.0.9".to_string(), 5),
                ("10.0.0.20".to_string(), 5),
                ("10.0.0.8".to_string(), 3),
                ("none".to_string(), 2),
                ("10.0.0.21".to_string(), 1),
            ]
        );
    }

    #[test]
    fn by_process_says_why_no_owner() {
        let g = run(GroupBy::Process, 0, true);
        assert_eq!(
            keys(&g),
            vec![
                ("no-owner".to_string(), 6),
                ("unresolved".to_string(), 6),
                ("pid:77".to_string(), 4)
            ]
        );
        assert_eq!(g.groups[2].label, "java (pid 77)");
        assert_eq!(g.groups[2].process.as_ref().map(|p| p.pid), Some(77));
        let g = run(GroupBy::Process, 0, false);
        assert_eq!(
            keys(&g),
            vec![("not-looked-up".to_string(), 12), ("pid:77".to_string(), 4)]
        );
    }

    #[test]
    fn by_state_with_top_n() {
        let g = run(GroupBy::State, 2, false);
        assert_eq!(
            keys(&g),
            vec![("TIME_WAIT".to_string(), 6), ("ESTABLISHED".to_string(), 4)]
        );
        assert_eq!(g.others.groups, 2);
        assert_eq!(g.others.total, 6);
        assert_eq!(g.others.states.get(TcpState::CloseWait), 4);
        assert_eq!(g.others.states.get(TcpState::Listen), 2);
        let j = serde_json::to_value(&g).unwrap();
        assert_eq!(j["by"], "state");
        assert_eq!(j["groups"][0]["states"]["TIME_WAIT"], 6);
        assert_eq!(j["others"]["total"], 6);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod listening_tests {
    use super::*;

    #[test]
    fn bitmap_set_round_trips() {
        let mut l = ListeningPorts::new();
        for p in [65535, 0, 80, 80, 443, 64] {
            l.insert(p);
        }
        assert_eq!(l.len(), 5);
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![0, 64, 80, 443, 65535]);
        assert!(l.contains(65535) && l.contains(64) && !l.contains(65) && !l.contains(8080));
        let j = serde_json::to_string(&l).unwrap();
        assert_eq!(j, "[0,64,80,443,65535]");
        let back: ListeningPorts = serde_json::from_str(&j).unwrap();
        assert_eq!(back, l);
    }
}
