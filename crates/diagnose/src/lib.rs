//! Pure diagnosis: sockets and kernel context in, grouped counts and findings out.
//!
//! Nothing here does I/O (no files, no clock, no environment): callers feed sockets through
//! [`SocketSink`](tcpdoctor_model::SocketSink)s and pass kernel context as values, so every
//! rule is tested with data files.
//!
//! * [`group`]: `summary --by service|peer|process|state` with top-N.
//! * [`observe`]: the per-scan aggregates the rules need ([`Observation`], a sink).
//! * [`diagnose()`]: observations + kernel context -> [`Report`] of [`Finding`]s;
//!   the ids and thresholds are listed in [`catalogue`].
//! * [`rates`](mod@rates): counter deltas over an interval.
//! * [`check`](mod@check): monitoring-plugin status, status line and perfdata.
//! * [`mysql`](mod@mysql): MySQL's own view joined with the TCP view (`--mysql`).
//! * [`sysctl`]: the kernel-settings audit, the `/etc/sysctl.d/` generator and the write check.
//!
//! # Wiring (what the CLI does)
//!
//! ```
//! use tcpdoctor_diagnose::*;
//! use tcpdoctor_model::{KernelContext, ScanInfo, Socket, SocketSink, SourceKind, TcpState};
//!
//! // 1. Kernel context from the live source (empty for pasted text).
//! let kernel = KernelContext::default();
//! // 2. One Observation per scan. Give it the listening ports when the stream's order is not
//! //    "listeners first" (e.g. from a cheap LISTEN-only dump), and the ephemeral range.
//! let info = ScanInfo::new(SourceKind::Netlink);
//! let cfg = ObserveConfig {
//!     listening: ListeningPorts::new(),
//!     port_range: kernel.local_port_range(),
//!     ..Default::default()
//! };
//! let mut obs = Observation::new(&info, cfg);
//! // source.dump(&mut obs)?  -- it is a SocketSink:
//! obs.socket(&Socket::new(TcpState::Listen, "0.0.0.0:80".parse().unwrap(), "0.0.0.0:0".parse().unwrap()));
//! // 3. Diagnose (two observations + kernel_before + interval_ms give rates and growth).
//! let observations = [obs];
//! let mut input = DiagnoseInput::new(&observations, &kernel, SourceOs::Linux);
//! input.interval_ms = None;
//! let report = diagnose(&input);
//! assert_eq!(report.total, 1);
//! assert!(report.findings.is_empty());
//! // 4. `tcpdoctor sysctl`: audit, --emit, and the check before any write.
//! let rows = audit(&kernel, Some(&report));
//! let _file = emit_sysctl_d(&rows, "host web01, kernel 6.8");
//! assert!(validate_write(&kernel, "net.ipv4.tcp_max_tw_buckets", "262144").is_ok());
//! // 5. `tcpdoctor check`.
//! let mut cfg = CheckConfig::default();
//! cfg.add_warn("time_wait=20000").unwrap();
//! cfg.add_crit("time_wait=50000").unwrap();
//! let res = check(&report, &cfg);
//! assert_eq!(res.exit_code(), 0);
//! assert!(res.output().starts_with("TCP OK - 1 sockets"));
//! ```

pub mod catalogue;
pub mod check;
mod engine;
pub mod finding;
pub mod fxhash;
pub mod group;
pub mod mysql;
pub mod observe;
pub mod os;
pub mod rates;
mod rules;
pub mod sysctl;
pub mod trend;

pub use check::{check, CheckConfig, CheckConfigError, CheckResult, PerfDatum, Status};
pub use engine::{diagnose, kernel_version, DiagnoseInput, PortRange, PortSpaceUse, Report};
pub use finding::{
    Avoid, Evidence, EvidenceGroup, Finding, GroupKind, Metric, Remedy, RemedyLevel, SampleSocket,
    Severity, Value,
};
pub use group::{
    Direction, Group, GroupAggregator, GroupBy, Groups, ListeningPorts, Others, UnknownGroupBy,
};
pub use mysql::{MysqlHostRow, MysqlSection};
pub use observe::{Observation, ObserveConfig};
pub use os::{SourceOs, TimeWaitLen, UnknownOs};
pub use rates::{rates, Rates};
pub use sysctl::{audit, emit_sysctl_d, validate_write, Refusal, SysctlAudit, Verdict};
pub use trend::Trend;
