//! [`Observation`]: the bounded aggregates the diagnosis rules need, built from one pass over
//! the sockets of one scan (it is a [`SocketSink`]).
//!
//! Memory is bounded by the number of distinct keys, never by the number of sockets:
//! per local port (at most 65,536), per listener, per process, per peer address, per
//! (local IP, remote IP, remote port) port space, plus at most [`ObserveConfig::samples`]
//! sample sockets per group. The maps keyed by addresses are capped at
//! [`ObserveConfig::max_keys`]; sockets beyond the cap are still counted in the totals and in
//! [`Observation::dropped_keys`], which the report turns into a note. Peers given as host
//! names (pasted `netstat` without `-n`) are not addresses and stay out of the address maps.

use crate::finding::SampleSocket;
use crate::fxhash::{FxHashMap, FxHashSet};
use crate::group::ListeningPorts;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use tcpdoctor_model::{
    Process, ScanInfo, Snapshot, Socket, SocketSink, SourceKind, StateCounts, TcpState, TimerKind,
};

/// How an [`Observation`] is built.
#[derive(Debug, Clone)]
pub struct ObserveConfig {
    /// Ports known to be listened on before the pass (from a LISTEN-only first dump or a
    /// previous scan). Listeners met in the stream are added as they come.
    pub listening: ListeningPorts,
    /// The ephemeral range to count port use against (`ip_local_port_range`); `None` counts
    /// every client-side local port.
    pub port_range: Option<(u16, u16)>,
    /// Cap on distinct keys of each address-keyed map (default 200,000).
    pub max_keys: usize,
    /// Sample sockets kept per group (default 3).
    pub samples: usize,
}

impl Default for ObserveConfig {
    fn default() -> ObserveConfig {
        ObserveConfig {
            listening: ListeningPorts::new(),
            port_range: None,
            max_keys: 200_000,
            samples: 3,
        }
    }
}

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInfo {
    /// Local endpoint (`0.0.0.0:80`).
    pub local: String,
    /// Port.
    pub port: u16,
    /// Current accept-queue length (recv_q of a listener, tcp-facts 8.5, 9.7).
    pub accept_queue: Option<u32>,
    /// Accept-queue limit, the effective backlog (send_q of a listener, tcp-facts 9.7).
    pub backlog: Option<u32>,
    /// Owner, when known.
    pub process: Option<Arc<Process>>,
}

/// Client-side use of one ephemeral-port space: the sockets from one local IP to one remote
/// IP and port (tcp-facts 5.3).
#[derive(Debug, Clone, Default)]
pub struct PortSpace {
    /// Sockets per state.
    pub states: StateCounts,
    /// Sockets whose local port lies inside the configured ephemeral range.
    pub in_range: u64,
    /// Samples (taken once the space holds 32 sockets, so only busy spaces keep any).
    pub samples: Vec<SampleSocket>,
}

/// Key of a [`PortSpace`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSpaceKey {
    /// Local address.
    pub local_ip: IpAddr,
    /// Remote address.
    pub remote_ip: IpAddr,
    /// Remote port.
    pub remote_port: u16,
}

/// Per-process aggregates.
#[derive(Debug, Clone)]
pub struct ProcessStats {
    /// The process.
    pub process: Arc<Process>,
    /// Its sockets per state.
    pub states: StateCounts,
    /// CLOSE_WAIT sockets with unread data (recv_q > 0): the application did not even read
    /// what the peer sent before its FIN.
    pub close_wait_unread: u64,
    /// CLOSE_WAIT sockets by timer: none, retransmit, keepalive, persist.
    pub close_wait_timers: [u64; 4],
    /// Highest keepalive probe count seen on a CLOSE_WAIT socket.
    pub close_wait_max_probes: u32,
    /// CLOSE_WAIT sockets per remote service (address, port), at most 16 kept; port 0 stands
    /// for the clients from that address when the socket is on a listened port.
    pub close_wait_remotes: HashMap<(IpAddr, u16), u64>,
    /// Sample CLOSE_WAIT sockets.
    pub samples: Vec<SampleSocket>,
}

/// Per-peer-address aggregates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// ESTABLISHED sockets.
    pub established: u64,
    /// CLOSE_WAIT sockets.
    pub close_wait: u64,
    /// SYN_RECV requests.
    pub syn_recv: u64,
    /// TIME_WAIT sockets.
    pub time_wait: u64,
    /// FIN_WAIT2 sockets.
    pub fin_wait2: u64,
}

/// The aggregates of one scan. Build with [`Observation::new`] and feed every socket, or use
/// [`Observation::from_snapshot`].
#[derive(Debug, Clone)]
pub struct Observation {
    /// Which source produced the scan.
    pub source: SourceKind,
    /// Wall-clock time of the scan in ms since the epoch (0 when unknown).
    pub taken_at_ms: u64,
    /// Whether owners were looked up.
    pub owners_resolved: bool,
    /// Sockets seen.
    pub total: u64,
    /// Per-state counts.
    pub states: StateCounts,
    /// Listening ports (given plus learnt).
    pub listening: ListeningPorts,
    /// Listening sockets.
    pub listeners: Vec<ListenerInfo>,
    /// Sockets per listened local port, by state (a port counts from the first socket seen
    /// after it is known to be listened on: listeners come first in a kernel dump and in
    /// Linux listings, and are given up front otherwise). Client-side ports are not kept
    /// here: tens of thousands of them would make every socket a cache miss, and no rule asks.
    pub by_local_port: FxHashMap<u16, StateCounts>,
    /// TIME_WAIT on listened ports, per (port, peer).
    pub server_tw_peers: FxHashMap<(u16, IpAddr), u64>,
    /// Sample TIME_WAIT sockets per listened port.
    pub server_tw_samples: FxHashMap<u16, Vec<SampleSocket>>,
    /// Sample SYN_RECV sockets per listened port.
    pub syn_recv_samples: FxHashMap<u16, Vec<SampleSocket>>,
    /// Client-side port spaces.
    pub port_spaces: FxHashMap<PortSpaceKey, PortSpace>,
    /// Client-side sockets (local port not listened on) in the ephemeral range, any state.
    pub client_in_range: u64,
    /// Distinct client-side local ports in use (a bitmap of 65,536 bits).
    client_ports: Vec<u64>,
    /// Per process.
    pub processes: FxHashMap<u32, ProcessStats>,
    /// Per peer address.
    pub peers: FxHashMap<IpAddr, PeerStats>,
    /// CLOSE_WAIT sockets per service key (`local:<port>` / `remote:<port>`), for sources
    /// without owners.
    pub close_wait_by_service: FxHashMap<(bool, u16), u64>,
    /// Identities (cookie, else inode) of CLOSE_WAIT sockets, to see which persist across
    /// scans; capped at `max_keys`.
    pub close_wait_ids: FxHashSet<u64>,
    /// Sockets with no inode by state (live sources: orphans and mini-sockets, tcp-facts 8.10).
    pub no_inode: StateCounts,
    /// FIN_WAIT2 sockets still held by an application (inode known: shutdown(SHUT_WR)).
    pub fin_wait2_held: u64,
    /// Sample FIN_WAIT2 sockets.
    pub fin_wait2_samples: Vec<SampleSocket>,
    /// Sockets that carried a timer (0 means the source gives none).
    pub with_timer: u64,
    /// Keys not recorded because a map hit `max_keys`.
    pub dropped_keys: u64,
    cfg: ObserveConfig,
}

impl Observation {
    /// An empty observation of the scan described by `info`.
    pub fn new(info: &ScanInfo, cfg: ObserveConfig) -> Observation {
        Observation {
            source: info.source,
            taken_at_ms: info.taken_at_ms,
            owners_resolved: info.owners_resolved,
            total: 0,
            states: StateCounts::default(),
            listening: cfg.listening.clone(),
            listeners: Vec::new(),
            by_local_port: FxHashMap::default(),
            server_tw_peers: FxHashMap::default(),
            server_tw_samples: FxHashMap::default(),
            syn_recv_samples: FxHashMap::default(),
            port_spaces: FxHashMap::default(),
            client_in_range: 0,
            client_ports: vec![0; 1024],
            processes: FxHashMap::default(),
            peers: FxHashMap::default(),
            close_wait_by_service: FxHashMap::default(),
            close_wait_ids: FxHashSet::default(),
            no_inode: StateCounts::default(),
            fin_wait2_held: 0,
            fin_wait2_samples: Vec::new(),
            with_timer: 0,
            dropped_keys: 0,
            cfg,
        }
    }

    /// An observation of a collected snapshot; its listeners are found first, so the order of
    /// the sockets does not matter.
    pub fn from_snapshot(snap: &Snapshot, mut cfg: ObserveConfig) -> Observation {
        for s in &snap.sockets {
            cfg.listening.observe(s);
        }
        let mut o = Observation::new(&snap.info, cfg);
        for s in &snap.sockets {
            o.socket(s);
        }
        o
    }

    /// An empty observation of the same scan, with the same settings and the listening ports
    /// known so far, to observe one of `of` shares of its sockets (on another thread) and
    /// [`merge`](Observation::merge) back: the shares together hold no more keys than this
    /// one may.
    pub fn part(&self, of: usize) -> Observation {
        let mut cfg = self.cfg.clone();
        cfg.listening = self.listening.clone();
        cfg.max_keys = (cfg.max_keys / of.max(1)).max(1);
        let mut o = Observation::new(&ScanInfo::new(self.source), cfg);
        o.taken_at_ms = self.taken_at_ms;
        o.owners_resolved = self.owners_resolved;
        o
    }

    /// The ephemeral range the port-space counts were taken against, if one was configured.
    pub fn port_range(&self) -> Option<(u16, u16)> {
        self.cfg.port_range
    }

    /// Distinct client-side local ports in use.
    pub fn client_ports_in_use(&self) -> u64 {
        self.client_ports
            .iter()
            .map(|w| u64::from(w.count_ones()))
            .sum()
    }

    /// Whether the source reports inodes (live sources), so that "no inode" means "orphan or
    /// mini-socket" rather than "unknown".
    pub fn has_inodes(&self) -> bool {
        matches!(self.source, SourceKind::Netlink | SourceKind::Proc)
    }

    fn in_range(&self, p: u16) -> bool {
        match self.cfg.port_range {
            Some((lo, hi)) => p >= lo && p <= hi,
            None => true,
        }
    }

    fn push_sample(v: &mut Vec<SampleSocket>, n: usize, s: &Socket) {
        if v.len() < n {
            v.push(SampleSocket::of(s));
        }
    }
}

impl Observation {
    /// Adds what `other` saw, an observation of other sockets of the same scan (a part built
    /// on another thread). Counts add up exactly; sample lists take `other`'s samples after
    /// this one's, up to the configured number; the address-keyed maps stay within
    /// `max_keys`, and the sockets of keys that do not fit are counted in `dropped_keys`, as
    /// when one observation meets them.
    pub fn merge(&mut self, mut other: Observation) {
        if other.total > self.total {
            // Move the fewer keys: the bigger observation takes this one's in, with this
            // one's settings.
            std::mem::swap(&mut self.cfg, &mut other.cfg);
            std::mem::swap(self, &mut other);
        }
        let cap = self.cfg.max_keys;
        let nsamp = self.cfg.samples;
        self.owners_resolved |= other.owners_resolved;
        self.total += other.total;
        self.states.merge(&other.states);
        self.listening.union(&other.listening);
        self.dropped_keys += other.dropped_keys;
        for l in other.listeners {
            if self.listeners.len() < cap {
                self.listeners.push(l);
            } else {
                self.dropped_keys += 1;
            }
        }
        for (p, c) in other.by_local_port {
            self.by_local_port.entry(p).or_default().merge(&c);
        }
        self.dropped_keys += merge_capped(
            &mut self.server_tw_peers,
            other.server_tw_peers,
            cap,
            |a, b| *a += b,
            |c| *c,
        );
        merge_samples(&mut self.server_tw_samples, other.server_tw_samples, nsamp);
        merge_samples(&mut self.syn_recv_samples, other.syn_recv_samples, nsamp);
        self.dropped_keys += merge_capped(
            &mut self.port_spaces,
            other.port_spaces,
            cap,
            |e, v| {
                e.states.merge(&v.states);
                e.in_range += v.in_range;
                extend_samples(&mut e.samples, v.samples, nsamp);
            },
            |v| v.states.total(),
        );
        self.client_in_range += other.client_in_range;
        for (a, b) in self.client_ports.iter_mut().zip(&other.client_ports) {
            *a |= b;
        }
        self.dropped_keys += merge_capped(
            &mut self.processes,
            other.processes,
            cap,
            |e, v| {
                e.states.merge(&v.states);
                e.close_wait_unread += v.close_wait_unread;
                for (a, b) in e.close_wait_timers.iter_mut().zip(v.close_wait_timers) {
                    *a += b;
                }
                e.close_wait_max_probes = e.close_wait_max_probes.max(v.close_wait_max_probes);
                // At most 16 remotes per process, as when observed (not counted as dropped).
                merge_capped(
                    &mut e.close_wait_remotes,
                    v.close_wait_remotes,
                    16,
                    |a, b| *a += b,
                    |_| 0,
                );
                extend_samples(&mut e.samples, v.samples, nsamp);
            },
            |v| v.states.total(),
        );
        // A peer key stands for one socket per counted state (the other states are not kept
        // per peer).
        self.dropped_keys += merge_capped(
            &mut self.peers,
            other.peers,
            cap,
            |e, v| {
                e.established += v.established;
                e.close_wait += v.close_wait;
                e.syn_recv += v.syn_recv;
                e.time_wait += v.time_wait;
                e.fin_wait2 += v.fin_wait2;
            },
            |v| v.established + v.close_wait + v.syn_recv + v.time_wait + v.fin_wait2,
        );
        for (k, c) in other.close_wait_by_service {
            *self.close_wait_by_service.entry(k).or_insert(0) += c;
        }
        for id in other.close_wait_ids {
            if self.close_wait_ids.len() >= cap {
                break;
            }
            self.close_wait_ids.insert(id);
        }
        self.no_inode.merge(&other.no_inode);
        self.fin_wait2_held += other.fin_wait2_held;
        extend_samples(&mut self.fin_wait2_samples, other.fin_wait2_samples, nsamp);
        self.with_timer += other.with_timer;
    }
}

/// Merges `from` into `to` key by key: `add` for a key `to` has, a new key only while `to`
/// holds fewer than `cap`; returns the `weight` (sockets) of the entries that did not fit.
fn merge_capped<K: std::hash::Hash + Eq, V, S: std::hash::BuildHasher>(
    to: &mut HashMap<K, V, S>,
    from: HashMap<K, V, S>,
    cap: usize,
    mut add: impl FnMut(&mut V, V),
    weight: impl Fn(&V) -> u64,
) -> u64 {
    let mut dropped = 0;
    for (k, v) in from {
        let n = to.len();
        match to.get_mut(&k) {
            Some(e) => add(e, v),
            None if n < cap => {
                to.insert(k, v);
            }
            None => dropped += weight(&v),
        }
    }
    dropped
}

fn extend_samples(to: &mut Vec<SampleSocket>, from: Vec<SampleSocket>, n: usize) {
    let room = n.saturating_sub(to.len());
    to.extend(from.into_iter().take(room));
}

fn merge_samples(
    to: &mut FxHashMap<u16, Vec<SampleSocket>>,
    from: FxHashMap<u16, Vec<SampleSocket>>,
    n: usize,
) {
    for (k, v) in from {
        extend_samples(to.entry(k).or_default(), v, n);
    }
}

fn peer_ip(s: &Socket) -> Option<IpAddr> {
    if !s.is_connected() {
        return None;
    }
    s.remote.canonical_ip()
}

impl SocketSink for Observation {
    fn socket(&mut self, s: &Socket) {
        self.listening.observe(s);
        self.total += 1;
        self.states.add(s.state);
        if s.timer.is_some() {
            self.with_timer += 1;
        }
        if s.inode.is_none() {
            self.no_inode.add(s.state);
        }
        let nsamp = self.cfg.samples;
        let cap = self.cfg.max_keys;
        let lport = s.local.port();
        let rport = s.remote.port();
        let rip = peer_ip(s);
        let listened = lport.is_some_and(|p| p != 0 && self.listening.contains(p));

        if listened {
            if let Some(p) = lport {
                self.by_local_port.entry(p).or_default().add(s.state);
            }
        }

        if s.state == TcpState::Listen {
            if self.listeners.len() < cap {
                self.listeners.push(ListenerInfo {
                    local: s.local.to_string(),
                    port: lport.unwrap_or(0),
                    accept_queue: s.recv_q,
                    backlog: s.send_q,
                    process: s.owners.iter().min_by_key(|p| p.pid).cloned(),
                });
            } else {
                self.dropped_keys += 1;
            }
            return;
        }

        // Per peer.
        if let Some(ip) = rip {
            let n = self.peers.len();
            match self.peers.get_mut(&ip) {
                Some(e) => bump_peer(e, s.state),
                None if n < cap => bump_peer(self.peers.entry(ip).or_default(), s.state),
                None => self.dropped_keys += 1,
            }
        }

        // Server side (local port listened on) or client side.
        if listened {
            let p = lport.unwrap_or(0);
            match s.state {
                TcpState::TimeWait => {
                    if let Some(ip) = rip {
                        let n = self.server_tw_peers.len();
                        match self.server_tw_peers.get_mut(&(p, ip)) {
                            Some(c) => *c += 1,
                            None if n < cap => {
                                self.server_tw_peers.insert((p, ip), 1);
                            }
                            None => self.dropped_keys += 1,
                        }
                    }
                    Self::push_sample(self.server_tw_samples.entry(p).or_default(), nsamp, s);
                }
                TcpState::SynRecv => {
                    Self::push_sample(self.syn_recv_samples.entry(p).or_default(), nsamp, s);
                }
                _ => {}
            }
        } else if let (Some(lp), Some(lip), Some(ip), Some(rp)) =
            (lport, s.local.canonical_ip(), rip, rport)
        {
            let in_range = self.in_range(lp);
            if in_range {
                self.client_in_range += 1;
                self.client_ports[usize::from(lp >> 6)] |= 1u64 << (lp & 63);
            }
            let key = PortSpaceKey {
                local_ip: lip,
                remote_ip: ip,
                remote_port: rp,
            };
            let n = self.port_spaces.len();
            let e = match self.port_spaces.get_mut(&key) {
                Some(e) => Some(e),
                None if n < cap => Some(self.port_spaces.entry(key).or_default()),
                None => None,
            };
            match e {
                Some(e) => {
                    e.states.add(s.state);
                    if in_range {
                        e.in_range += 1;
                    }
                    if e.states.total() >= 32 {
                        Self::push_sample(&mut e.samples, nsamp, s);
                    }
                }
                None => self.dropped_keys += 1,
            }
        }

        if s.state == TcpState::CloseWait {
            let key = if listened {
                (true, lport.unwrap_or(0))
            } else {
                (false, rport.unwrap_or(0))
            };
            *self.close_wait_by_service.entry(key).or_insert(0) += 1;
            if let Some(id) = s.cookie.or(s.inode) {
                if self.close_wait_ids.len() < cap {
                    self.close_wait_ids.insert(id);
                }
            }
        }
        if s.state == TcpState::FinWait2 {
            if s.inode.is_some() {
                self.fin_wait2_held += 1;
            }
            Self::push_sample(&mut self.fin_wait2_samples, nsamp, s);
        }

        // Per process.
        if let Some(p) = s.owners.iter().min_by_key(|p| p.pid) {
            let n = self.processes.len();
            let e = match self.processes.get_mut(&p.pid) {
                Some(e) => e,
                None if n < cap => self.processes.entry(p.pid).or_insert_with(|| ProcessStats {
                    process: p.clone(),
                    states: StateCounts::default(),
                    close_wait_unread: 0,
                    close_wait_timers: [0; 4],
                    close_wait_max_probes: 0,
                    close_wait_remotes: HashMap::new(),
                    samples: Vec::new(),
                }),
                None => {
                    self.dropped_keys += 1;
                    return;
                }
            };
            e.states.add(s.state);
            if s.state == TcpState::CloseWait {
                if s.recv_q.is_some_and(|q| q > 0) {
                    e.close_wait_unread += 1;
                }
                let t = match s.timer.map(|t| t.kind) {
                    None | Some(TimerKind::Timewait) => 0,
                    Some(TimerKind::On) => 1,
                    Some(TimerKind::Keepalive) => 2,
                    Some(TimerKind::Persist) => 3,
                };
                e.close_wait_timers[t] += 1;
                if t == 2 {
                    e.close_wait_max_probes = e.close_wait_max_probes.max(s.retransmits);
                }
                if let (Some(ip), Some(rp)) = (rip, rport) {
                    // A client of a listened port: its port is ephemeral, one per connection,
                    // so only its address says anything.
                    let rp = if listened { 0 } else { rp };
                    let n = e.close_wait_remotes.len();
                    match e.close_wait_remotes.get_mut(&(ip, rp)) {
                        Some(c) => *c += 1,
                        None if n < 16 => {
                            e.close_wait_remotes.insert((ip, rp), 1);
                        }
                        None => {}
                    }
                }
                Self::push_sample(&mut e.samples, nsamp, s);
            }
        }
    }
}

fn bump_peer(e: &mut PeerStats, st: TcpState) {
    match st {
        TcpState::Established => e.established += 1,
        TcpState::CloseWait => e.close_wait += 1,
        TcpState::SynRecv => e.syn_recv += 1,
        TcpState::TimeWait => e.time_wait += 1,
        TcpState::FinWait2 => e.fin_wait2 += 1,
        _ => {}
    }
}
