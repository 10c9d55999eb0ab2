//! One TCP socket: endpoints, state, timer, queues and owners.

use crate::TcpState;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4 (`AF_INET`)
    Inet,
    /// IPv6 (`AF_INET6`), including IPv4-mapped addresses
    Inet6,
}

/// The kind of the timer the kernel runs on a socket (`idiag_timer`, `/proc/net/tcp` `tr`;
/// tcp-facts 8.6 and 9.6). Names as `ss -o` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimerKind {
    /// 1: retransmit timer (also RACK reorder and tail loss probe); ss `on`
    On,
    /// 2: `sk_timer`: keepalive, or the FIN_WAIT2 timer of an orphan
    Keepalive,
    /// 3: TIME_WAIT (and FIN_WAIT2 mini-socket) timer
    Timewait,
    /// 4: zero-window probe; ss `persist`
    Persist,
}

impl TimerKind {
    /// The kind for a kernel timer number; 0 (no timer) and unknown numbers give `None`.
    pub fn from_kernel(n: u8) -> Option<TimerKind> {
        match n {
            1 => Some(TimerKind::On),
            2 => Some(TimerKind::Keepalive),
            3 => Some(TimerKind::Timewait),
            4 => Some(TimerKind::Persist),
            _ => None,
        }
    }

    /// The name `ss -o` prints.
    pub fn name(self) -> &'static str {
        match self {
            TimerKind::On => "on",
            TimerKind::Keepalive => "keepalive",
            TimerKind::Timewait => "timewait",
            TimerKind::Persist => "persist",
        }
    }
}

/// A running timer and the time left on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timer {
    /// What the timer is for.
    pub kind: TimerKind,
    /// Milliseconds until it fires (`idiag_expires`; `/proc` clock ticks converted).
    pub expires_ms: u64,
}

/// A process that holds a socket open (found through `/proc/<pid>/fd`, or given in pasted text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Process {
    /// Process id.
    pub pid: u32,
    /// Short command name (`/proc/<pid>/comm`).
    pub comm: String,
    /// Command line, arguments joined by spaces; empty when not known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cmdline: String,
    /// The process's cgroup path (v2 unified line of `/proc/<pid>/cgroup`) when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// A container id recognised in the cgroup path (docker, containerd, podman, kubepods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// The host part of an endpoint. Live sources always give [`Host::Ip`]; pasted text may carry a
/// wildcard (`*`) or a host name (`web01`, or one cut short by netstat's column width).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Host {
    /// A numeric address (`0.0.0.0` and `::` are the kernel's wildcards).
    Ip(IpAddr),
    /// A name, as printed.
    Name(Arc<str>),
}

/// The port part of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Port {
    /// A port number (0 is the kernel's "any").
    Num(u16),
    /// A service name that could not be turned into a number (or `*`).
    Name(Arc<str>),
}

/// One end of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    /// The host.
    pub host: Host,
    /// The port.
    pub port: Port,
}

impl Endpoint {
    /// An endpoint from a socket address.
    pub fn from_addr(a: SocketAddr) -> Endpoint {
        Endpoint {
            host: Host::Ip(a.ip()),
            port: Port::Num(a.port()),
        }
    }

    /// The unspecified IPv4 endpoint `0.0.0.0:0`.
    pub fn unspecified() -> Endpoint {
        Endpoint {
            host: Host::Ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            port: Port::Num(0),
        }
    }

    /// The numeric address, when known.
    pub fn ip(&self) -> Option<IpAddr> {
        match &self.host {
            Host::Ip(ip) => Some(*ip),
            Host::Name(_) => None,
        }
    }

    /// The numeric address with IPv4-mapped IPv6 addresses turned into IPv4.
    pub fn canonical_ip(&self) -> Option<IpAddr> {
        self.ip().map(|ip| match ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        })
    }

    /// The port number, when known.
    pub fn port(&self) -> Option<u16> {
        match self.port {
            Port::Num(p) => Some(p),
            Port::Name(_) => None,
        }
    }

    /// Whether this is a wildcard (unspecified address and port 0, or `*:*`).
    pub fn is_wildcard(&self) -> bool {
        let host_any = match &self.host {
            Host::Ip(ip) => ip.is_unspecified(),
            Host::Name(n) => &**n == "*",
        };
        let port_any = match &self.port {
            Port::Num(p) => *p == 0,
            Port::Name(n) => &**n == "*",
        };
        host_any && port_any
    }
}

impl fmt::Display for Endpoint {
    /// `ss -n` style: `127.0.0.1:3306`, `[::1]:22`, `*:*` for the wildcard of a listener's peer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V4(ip)) if ip.is_unspecified() => f.write_str("0.0.0.0")?,
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            Host::Ip(IpAddr::V6(ip)) if *ip == Ipv6Addr::UNSPECIFIED => f.write_str("[::]")?,
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
            Host::Name(n) => f.write_str(n)?,
        }
        match &self.port {
            Port::Num(0) => f.write_str(":*"),
            Port::Num(p) => write!(f, ":{p}"),
            Port::Name(n) => write!(f, ":{n}"),
        }
    }
}

/// One TCP socket as a source saw it.
///
/// Fields a source cannot know are `None` (pasted text has no timers, `/proc` has no cookie);
/// the [`ScanInfo`](crate::ScanInfo) gaps say why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Socket {
    /// Address family.
    pub family: Family,
    /// State.
    pub state: TcpState,
    /// Local endpoint.
    pub local: Endpoint,
    /// Remote endpoint (`0.0.0.0:0` / `*:*` for listeners).
    pub remote: Endpoint,
    /// The running timer, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<Timer>,
    /// Retransmits (`idiag_retrans`: retransmit count, keepalive probes, or SYN-ACK retries).
    #[serde(default)]
    pub retransmits: u32,
    /// Receive queue: unread bytes; for LISTEN, the current accept-queue length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recv_q: Option<u32>,
    /// Send queue: unacknowledged bytes; for LISTEN, the accept-queue limit (backlog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_q: Option<u32>,
    /// Owner uid (0 for TIME_WAIT and request sockets, which have no owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Socket inode; `None` when 0 (orphans, TIME_WAIT, SYN_RECV: tcp-facts 8.10) or unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inode: Option<u64>,
    /// The kernel's socket cookie (netlink only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<u64>,
    /// Processes holding the socket, when attribution was asked for and possible.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<Arc<Process>>,
}

impl Socket {
    /// A socket with the given state and endpoints and nothing else known.
    pub fn new(state: TcpState, local: SocketAddr, remote: SocketAddr) -> Socket {
        Socket {
            family: if local.is_ipv4() {
                Family::Inet
            } else {
                Family::Inet6
            },
            state,
            local: Endpoint::from_addr(local),
            remote: Endpoint::from_addr(remote),
            timer: None,
            retransmits: 0,
            recv_q: None,
            send_q: None,
            uid: None,
            inode: None,
            cookie: None,
            owners: Vec::new(),
        }
    }

    /// Whether the remote end is concrete (not a listener's or unbound socket's wildcard).
    pub fn is_connected(&self) -> bool {
        !self.remote.is_wildcard()
    }
}
