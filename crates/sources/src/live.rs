//! One live scan: pick a source, let the kernel filter what it can, attribute owners when asked,
//! apply the remaining filters, stream every socket to the consumer, and record the gaps.

use crate::netlink::{self, DumpOptions};
use crate::owners::OwnerMap;
use crate::{kernel, procfs, sys};
use std::fs::File;
use std::io;
use std::time::{SystemTime, UNIX_EPOCH};
use tcpdoctor_model::{Gap, GapKind, ScanInfo, Socket, SocketFilter, SocketSink, SourceKind};

/// Which source to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceChoice {
    /// netlink, falling back to `/proc` (with a gap) when netlink is not available.
    #[default]
    Auto,
    /// netlink sock_diag only.
    Netlink,
    /// `/proc/net/tcp{,6}` only.
    Proc,
}

/// What to scan and how.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    /// Source choice.
    pub source: SourceChoice,
    /// Filters; states go to the kernel.
    pub filter: SocketFilter,
    /// Look up owning processes (one pass over `/proc/*/fd`).
    pub owners: bool,
    /// The named namespace the caller has entered, for the record.
    pub netns: Option<String>,
}

/// A scan that could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// netlink failed (and no fallback applied).
    #[error("netlink sock_diag: {0}")]
    Netlink(#[from] netlink::NetlinkError),
    /// A `/proc` table could not be read.
    #[error("{path}: {source}")]
    Proc {
        /// The file.
        path: String,
        /// The error.
        source: io::Error,
    },
    /// The `/proc` process scan failed.
    #[error("scanning /proc for socket owners: {0}")]
    Owners(io::Error),
}

/// Wraps the consumer: attaches owners and applies the filters the kernel did not.
struct Stage<'a> {
    owners: Option<&'a OwnerMap>,
    filter: &'a SocketFilter,
    check: bool,
    sink: &'a mut dyn SocketSink,
    delivered: u64,
    /// Sockets with an inode that no scanned process holds.
    unowned: u64,
    scratch: Option<Socket>,
}

impl SocketSink for Stage<'_> {
    fn stopped(&self) -> bool {
        self.sink.stopped()
    }

    #[inline]
    fn socket(&mut self, s: &Socket) {
        match self.owners {
            None => {
                if !self.check || self.filter.matches(s) {
                    self.delivered += 1;
                    self.sink.socket(s);
                }
            }
            Some(map) => {
                let scratch = self.scratch.get_or_insert_with(|| s.clone());
                scratch.clone_from(s);
                match s.inode.map(|i| map.get(i)) {
                    Some(Some(owners)) => scratch.owners.extend(owners.iter().cloned()),
                    Some(None) => self.unowned += 1,
                    None => {}
                }
                if !self.check || self.filter.matches(scratch) {
                    self.delivered += 1;
                    self.sink.socket(scratch);
                }
            }
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Scans the sockets of the calling thread's network namespace into `sink`.
pub fn scan(opts: &LiveOptions, sink: &mut dyn SocketSink) -> Result<ScanInfo, SourceError> {
    let mut info = ScanInfo::new(SourceKind::Netlink);
    info.taken_at_ms = now_ms();
    info.host = kernel::hostname();
    info.kernel = kernel::kernel_release();
    info.netns = opts.netns.clone();

    let owners = if opts.owners || opts.filter.needs_owners() {
        let m = OwnerMap::scan().map_err(SourceError::Owners)?;
        info.gaps.extend(m.gaps());
        info.owners_resolved = true;
        Some(m)
    } else {
        None
    };
    let mut stage = Stage {
        owners: owners.as_ref(),
        filter: &opts.filter,
        check: !opts.filter.is_state_only(),
        sink,
        delivered: 0,
        unowned: 0,
        scratch: None,
    };
    let result = run_source(opts, &mut info, &mut stage);
    if stage.unowned > 0 && result.is_ok() {
        let denied = owners.as_ref().is_some_and(|m| m.denied > 0);
        info.gap(Gap::new(
            GapKind::Vanished,
            format!(
                "sockets whose owner no process in /proc holds{}: {}",
                if denied {
                    " (processes that could not be read, or in another PID namespace)"
                } else {
                    " (a process in another PID namespace, or one that closed it during the scan)"
                },
                stage.unowned
            ),
        ));
    }
    result.map(|()| info)
}

fn run_source(
    opts: &LiveOptions,
    info: &mut ScanInfo,
    stage: &mut Stage<'_>,
) -> Result<(), SourceError> {
    let use_proc = match opts.source {
        SourceChoice::Proc => true,
        SourceChoice::Netlink => false,
        SourceChoice::Auto => false,
    };
    if !use_proc {
        let dopts = DumpOptions {
            states: opts.filter.states,
            sport: opts.filter.sport.clone(),
            dport: opts.filter.dport.clone(),
            ..DumpOptions::default()
        };
        match netlink::dump(&dopts, stage) {
            Ok(stats) => {
                if stats.interrupted {
                    info.gap(Gap::new(
                        GapKind::Truncated,
                        "the kernel's socket tables changed during the dump (NLM_F_DUMP_INTR): \
                         a few sockets may be missing or counted twice",
                    ));
                }
                if stats.skipped_unknown_state > 0 {
                    info.gap(Gap::new(
                        GapKind::Unreadable,
                        format!(
                            "{} sockets in a state this tool does not know were skipped",
                            stats.skipped_unknown_state
                        ),
                    ));
                }
                return Ok(());
            }
            Err(e)
                if opts.source == SourceChoice::Auto && stage.delivered == 0 && unavailable(&e) =>
            {
                info.gap(
                    Gap::new(
                        GapKind::Unavailable,
                        format!(
                            "netlink sock_diag is not available ({e}); read /proc/net/tcp instead"
                        ),
                    )
                    .with_hint(
                        "load the inet_diag and tcp_diag modules for timers, backlogs and speed",
                    ),
                );
            }
            Err(e) => return Err(e.into()),
        }
    }

    info.source = SourceKind::Proc;
    let ticks = sys::clock_ticks_per_second();
    for (name, family_missing_ok) in [("tcp", false), ("tcp6", true)] {
        if stage.stopped() {
            break;
        }
        let path = format!("/proc/thread-self/net/{name}");
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if family_missing_ok && e.kind() == io::ErrorKind::NotFound => {
                info.gap(Gap::new(
                    GapKind::Unavailable,
                    "/proc/net/tcp6 does not exist (IPv6 disabled?): no IPv6 sockets listed",
                ));
                continue;
            }
            Err(source) => return Err(SourceError::Proc { path, source }),
        };
        let st = procfs::read_table(file, opts.filter.states, ticks, stage).map_err(|source| {
            SourceError::Proc {
                path: path.clone(),
                source,
            }
        })?;
        if st.bad_lines > 0 {
            let first = st
                .errors
                .first()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default();
            info.gap(Gap::new(
                GapKind::Unreadable,
                format!(
                    "{} lines of /proc/net/{name} could not be read{first}",
                    st.bad_lines
                ),
            ));
        }
    }
    info.gap(Gap::new(
        GapKind::NotProvided,
        "/proc/net/tcp shows no listen backlog and no socket cookie",
    ));
    Ok(())
}

/// Whether a netlink failure means "this source cannot be used here" (then `/proc` is tried).
fn unavailable(e: &netlink::NetlinkError) -> bool {
    matches!(
        e,
        netlink::NetlinkError::NotAvailable { .. }
            | netlink::NetlinkError::PermissionDenied { .. }
            | netlink::NetlinkError::Socket { .. }
    )
}
