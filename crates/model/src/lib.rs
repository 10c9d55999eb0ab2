//! The one data model of tcpdoctor.
//!
//! Data flows one way: *sources* (netlink sock_diag, `/proc/net/tcp`, pasted text) produce
//! [`Socket`]s and a [`ScanInfo`] (provenance and the [`Gap`]s they could not fill); *consumers*
//! (counters, group-by aggregators, the diagnosis engine, printers) receive the sockets one at a
//! time through a [`SocketSink`] so that nothing has to hold a million sockets in memory just to
//! count them. A [`Snapshot`] is the collected form (all sockets in a `Vec`) for the cases that
//! need it: tests, pasted text, small hosts.
//!
//! This crate is pure: no I/O, no `unsafe`, no Linux-only dependency.

mod filter;
mod kernel;
mod mysql;
mod number;
mod services;
mod sink;
mod snapshot;
mod socket;
mod state;

pub use filter::{Cidr, FilterError, PortMatch, SocketFilter};
pub use kernel::{KernelContext, Sockstat};
pub use mysql::{processlist_host, MysqlHostSleep, MysqlStatus};
pub use number::thousands;
pub use services::ServiceNames;
pub use sink::{CountingSink, FnSink, SocketSink, VecSink};
pub use snapshot::{Gap, GapKind, ScanInfo, Snapshot, SourceKind, UnknownRow};
pub use socket::{Endpoint, Family, Host, Port, Process, Socket, Timer, TimerKind};
pub use state::{StateCounts, StateSet, TcpState, UnknownStateError};

/// Version of the machine-readable contracts (JSON reports, metric names). Bumped on any
/// incompatible change; additions of new fields do not bump it. See `docs/json.md`.
pub const SCHEMA_VERSION: u32 = 1;
