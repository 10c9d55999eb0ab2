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
//! * [`sysctl`]: the kernel-settings audit, the `/etc/sysctl.d/` generator and the write check.

pub mod catalogue;
pub mod check;
mod engine;
pub mod finding;
pub mod fxhash;
pub mod group;
pub mod observe;
pub mod os;
pub mod rates;
mod rules;
pub mod sysctl;

pub use check::{check, CheckConfig, CheckConfigError, CheckResult, PerfDatum, Status};
pub use engine::{diagnose, kernel_version, DiagnoseInput, PortRange, PortSpaceUse, Report};
pub use finding::{
    Avoid, Evidence, EvidenceGroup, Finding, GroupKind, Metric, Remedy, RemedyLevel, SampleSocket,
    Severity, Value,
};
pub use group::{
    Direction, Group, GroupAggregator, GroupBy, Groups, ListeningPorts, Others, UnknownGroupBy,
};
pub use observe::{Observation, ObserveConfig};
pub use os::{SourceOs, TimeWaitLen, UnknownOs};
pub use rates::{rates, Rates};
pub use sysctl::{audit, emit_sysctl_d, validate_write, Refusal, SysctlAudit, Verdict};
