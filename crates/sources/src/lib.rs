//! Live sources: every TCP socket of this host (or of a named network namespace), streamed into
//! the model.
//!
//! - [`netlink`]: `SOCK_DIAG_BY_FAMILY` dumps, the default; the kernel filters states.
//! - [`procfs`]: `/proc/net/tcp` and `/proc/net/tcp6`, the fallback.
//! - [`owners`]: socket inode to owning process, from one pass over `/proc/*/fd`.
//! - [`kernel`]: sysctls, `TcpExt`/`Tcp` counters and sockstat, the context of a diagnosis.
//! - [`live`]: picks a source, applies filters and attribution, records gaps.
//! - [`sys`]: the only module with `unsafe` (netlink sockets, `setns`).
//!
//! Sources never print and never decide: what they could not see goes into
//! [`ScanInfo::gaps`](tcpdoctor_model::ScanInfo).

pub mod kernel;
pub mod live;
pub mod netlink;
pub mod owners;
pub mod procfs;
pub mod sys;
