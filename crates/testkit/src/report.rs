//! The one-line JSON "ready" report of `tcpdoctor-scenario` (written by the binary, read by
//! [`Scenario`](crate::Scenario)).
//!
//! Shape (one line on stdout, fields in this order; `kernel` counts use the 11 Linux state names
//! as keys, zeros included, exactly like `tcpdoctor summary --json`'s `states`):
//!
//! ```json
//! {"ready":true,"pid":4242,"args":["--listen","3"],"tw_side":"client",
//!  "families":[{"family":"inet","addr":"127.0.0.1","listeners":[40001,40002,40003],
//!               "est":[{"client":51234,"server":40001}],"cw":[],"tw":[],
//!               "backlog_overflow":null,"connect_until_fail":null,"close_wait_hold":null}],
//!  "expected":{"ESTABLISHED":2,...},"kernel":{"all":{...},"v4":{...},"v6":{...}},
//!  "settled":true,"counters":{"ListenOverflows":0,...},"elapsed_ms":12}
//! ```

use crate::proc_tcp::KernelCounts;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use tcpdoctor_model::{Family, StateCounts};

/// Which end closes first when building TIME_WAIT, i.e. which end ends up in TIME_WAIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TwSide {
    /// The connecting end closes first: TIME_WAIT sits on the client's ephemeral port.
    #[default]
    Client,
    /// The accepting end closes first: TIME_WAIT sits on the listening port (tcp-facts 5.6).
    Server,
}

/// One connection as the scenario built it: the client's (ephemeral) port and the server's
/// (listening) port, both on the family's loopback address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortPair {
    /// The connecting end's local port.
    pub client: u16,
    /// The accepting end's local port (= the listener's port).
    pub server: u16,
}

/// The `--backlog-overflow` part: a listener that never accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BacklogReport {
    /// The listener's port.
    pub port: u16,
    /// The backlog passed to `listen()`.
    pub backlog: u32,
    /// Connection attempts made (non-blocking `connect()`; every socket is kept open).
    pub attempts: u32,
    /// The listener's accept-queue length as the kernel shows it (`rx_queue`, tcp-facts 8.5).
    pub accept_queue: u32,
}

/// The `--connect-until-fail` part: connect to one listener until the kernel has no port left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExhaustReport {
    /// The listener's port.
    pub port: u16,
    /// How each successful connection is held: `est` (both ends kept open) or `tw` (client
    /// closes first, so its port sits in TIME_WAIT).
    pub hold: String,
    /// Successful connects.
    pub ok: u32,
    /// `connect()` failures with `EADDRNOTAVAIL` (tcp-facts 5.4).
    pub failures: u32,
    /// The first other error that stopped the loop, if any.
    pub other_error: Option<String>,
    /// Whether the loop stopped on its count or time bound rather than on failures.
    pub bounded_out: bool,
    /// Client ports of the successful connects.
    pub client_ports: Vec<u16>,
    /// Milliseconds the loop took.
    pub elapsed_ms: u64,
}

/// The `--close-wait-hold` part: a separate child process holds the CLOSE_WAIT ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldReport {
    /// Pid of the holder process (it has accepted the connections and never closes them).
    pub holder_pid: u32,
    /// The port the holder listened on (its listener is closed once all are accepted; the
    /// CLOSE_WAIT sockets keep it as their local port).
    pub port: u16,
    /// The connections (client: FIN_WAIT2 in the scenario process; server: CLOSE_WAIT in the
    /// holder).
    pub pairs: Vec<PortPair>,
}

/// What was built on one address family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyReport {
    /// `inet` or `inet6`.
    pub family: Family,
    /// The loopback address used (`127.0.0.1` or `::1`).
    pub addr: IpAddr,
    /// Ports of the `--listen` listeners, in creation order.
    pub listeners: Vec<u16>,
    /// `--est` pairs (connections go round-robin over the listeners).
    pub est: Vec<PortPair>,
    /// `--cw` pairs (client FIN_WAIT2, server CLOSE_WAIT).
    pub cw: Vec<PortPair>,
    /// `--tw` connections; the TIME_WAIT end is given by the report's `tw_side`.
    pub tw: Vec<PortPair>,
    /// `--backlog-overflow`, when asked for.
    pub backlog_overflow: Option<BacklogReport>,
    /// `--connect-until-fail`, when asked for.
    pub connect_until_fail: Option<ExhaustReport>,
    /// `--close-wait-hold`, when asked for.
    pub close_wait_hold: Option<HoldReport>,
}

/// The ready report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyReport {
    /// Always `true`.
    pub ready: bool,
    /// The scenario's own pid (it holds every socket except the `close_wait_hold` server ends).
    pub pid: u32,
    /// The command-line arguments it was given.
    pub args: Vec<String>,
    /// Who closed first for `--tw`.
    pub tw_side: TwSide,
    /// Per family, in the order built (IPv4 first).
    pub families: Vec<FamilyReport>,
    /// The per-state counts the built mix must show when the scenario is alone in its namespace.
    pub expected: StateCounts,
    /// The kernel's own per-state counts of the whole namespace, read from `/proc/net/tcp` and
    /// `/proc/net/tcp6` (tcp-facts 8.4) after building.
    pub kernel: KernelCounts,
    /// Whether `kernel.all == expected` was seen within the settle time.
    pub settled: bool,
    /// Selected TcpExt counters of the namespace (`/proc/net/netstat`, tcp-facts 11.1) at ready
    /// time: `ListenOverflows`, `ListenDrops`, `TCPReqQFullDrop`, `TCPReqQFullDoCookies`,
    /// `TCPTimeWaitOverflow`, `TW`.
    pub counters: BTreeMap<String, u64>,
    /// Milliseconds from start to ready.
    pub elapsed_ms: u64,
}

impl ReadyReport {
    /// The report of one family, if it was built.
    pub fn family(&self, family: Family) -> Option<&FamilyReport> {
        self.families.iter().find(|f| f.family == family)
    }
}
