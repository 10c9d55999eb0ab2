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

/// Sockets held back while the owner scan runs: at most this many (about 150 bytes each); past
/// it the dump waits for the scan, so memory stays bounded whatever the socket count.
const OWNER_BUFFER: usize = 1 << 18;

/// Where owner attribution stands.
enum Owners<'s> {
    /// Not asked for.
    No,
    /// `/proc` is being scanned on another thread; sockets wait in `buf` meanwhile, so the
    /// dump and the scan overlap.
    Pending {
        handle: Option<std::thread::ScopedJoinHandle<'s, io::Result<OwnerMap>>>,
        buf: Vec<Socket>,
    },
    /// The scan is done.
    Ready(OwnerMap),
    /// The scan failed (the error is in `Stage::error`).
    Failed,
}

/// Wraps the consumer: attaches owners and applies the filters the kernel did not.
struct Stage<'a, 's> {
    owners: Owners<'s>,
    out: Out<'a>,
    /// Sockets received from the source (delivered or buffered).
    seen: u64,
    error: Option<io::Error>,
}

/// The delivering half of a [`Stage`].
struct Out<'a> {
    filter: &'a SocketFilter,
    check: bool,
    sink: &'a mut dyn SocketSink,
    /// Sockets with an inode that no scanned process holds.
    unowned: u64,
    scratch: Option<Socket>,
}

impl Out<'_> {
    #[inline]
    fn plain(&mut self, s: &Socket) {
        if !self.check || self.filter.matches(s) {
            self.sink.socket(s);
        }
    }

    fn owned(&mut self, map: &OwnerMap, s: &Socket) {
        let scratch = self.scratch.get_or_insert_with(|| s.clone());
        scratch.clone_from(s);
        match s.inode.map(|i| map.get(i)) {
            Some(Some(owners)) => scratch.owners.extend(owners.iter().cloned()),
            Some(None) => self.unowned += 1,
            None => {}
        }
        if !self.check || self.filter.matches(scratch) {
            self.sink.socket(scratch);
        }
    }
}

impl Stage<'_, '_> {
    /// Waits for the owner scan (if it runs) and delivers what was held back.
    fn resolve(&mut self) {
        let Owners::Pending { handle, buf } = &mut self.owners else {
            return;
        };
        let joined = handle.take().map(|h| h.join());
        let buf = std::mem::take(buf);
        match joined {
            Some(Ok(Ok(map))) => {
                for s in &buf {
                    self.out.owned(&map, s);
                }
                self.owners = Owners::Ready(map);
            }
            Some(Ok(Err(e))) => {
                self.error = Some(e);
                self.owners = Owners::Failed;
            }
            Some(Err(_)) | None => {
                self.error = Some(io::Error::other("the /proc scan thread panicked"));
                self.owners = Owners::Failed;
            }
        }
    }
}

impl SocketSink for Stage<'_, '_> {
    fn stopped(&self) -> bool {
        self.out.sink.stopped() || matches!(self.owners, Owners::Failed)
    }

    #[inline]
    fn socket(&mut self, s: &Socket) {
        self.seen += 1;
        match &mut self.owners {
            Owners::No => self.out.plain(s),
            Owners::Ready(map) => self.out.owned(map, s),
            Owners::Pending { buf, .. } if buf.len() < OWNER_BUFFER => buf.push(s.clone()),
            Owners::Pending { .. } => {
                self.resolve();
                if let Owners::Ready(map) = &self.owners {
                    self.out.owned(map, s);
                }
            }
            Owners::Failed => {}
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

    let want_owners = opts.owners || opts.filter.needs_owners();
    info.owners_resolved = want_owners;
    std::thread::scope(|sc| {
        // The owner scan (one pass over /proc/*/fd) runs beside the dump; sockets wait for it
        // in a bounded buffer.
        let owners = if want_owners {
            Owners::Pending {
                handle: Some(sc.spawn(OwnerMap::scan)),
                buf: Vec::new(),
            }
        } else {
            Owners::No
        };
        let mut stage = Stage {
            owners,
            out: Out {
                filter: &opts.filter,
                check: !opts.filter.is_state_only(),
                sink,
                unowned: 0,
                scratch: None,
            },
            seen: 0,
            error: None,
        };
        let result = run_source(opts, &mut info, &mut stage);
        stage.resolve();
        if let Some(e) = stage.error.take() {
            return Err(SourceError::Owners(e));
        }
        if let Owners::Ready(m) = &stage.owners {
            info.gaps.extend(m.gaps());
            if stage.out.unowned > 0 && result.is_ok() {
                info.gap(Gap::new(
                    GapKind::Vanished,
                    format!(
                        "sockets whose owner no process in /proc holds{}: {}",
                        if m.denied > 0 {
                            " (processes that could not be read, or in another PID namespace)"
                        } else {
                            " (a process in another PID namespace, or one that closed it during \
                             the scan)"
                        },
                        stage.out.unowned
                    ),
                ));
            }
        }
        result.map(|()| info)
    })
}

fn run_source(
    opts: &LiveOptions,
    info: &mut ScanInfo,
    stage: &mut Stage<'_, '_>,
) -> Result<(), SourceError> {
    if opts.source != SourceChoice::Proc {
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
            Err(e) if opts.source == SourceChoice::Auto && stage.seen == 0 && unavailable(&e) => {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tcpdoctor_model::{TcpState, VecSink};

    /// Past the buffer cap the stage waits for the owner scan and then streams: every socket
    /// is delivered exactly once and in order, with its owners attached.
    #[test]
    fn buffer_cap_waits_for_the_scan_and_keeps_order() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ino = {
            use std::os::unix::fs::MetadataExt;
            let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
            std::fs::metadata(format!("/proc/self/fd/{fd}"))
                .unwrap()
                .ino()
        };
        let filter = SocketFilter::default();
        let mut out = VecSink::default();
        let n = OWNER_BUFFER + 7;
        let (seen, unowned) = std::thread::scope(|sc| {
            let mut stage = Stage {
                owners: Owners::Pending {
                    handle: Some(sc.spawn(OwnerMap::scan)),
                    buf: Vec::new(),
                },
                out: Out {
                    filter: &filter,
                    check: false,
                    sink: &mut out,
                    unowned: 0,
                    scratch: None,
                },
                seen: 0,
                error: None,
            };
            let mut s = Socket::new(
                TcpState::Established,
                "127.0.0.1:1".parse().unwrap(),
                "127.0.0.1:2".parse().unwrap(),
            );
            for i in 0..n {
                s.retransmits = u32::try_from(i).unwrap();
                s.inode = Some(if i % 2 == 0 { ino } else { u64::MAX });
                stage.socket(&s);
            }
            stage.resolve();
            assert!(stage.error.is_none());
            (stage.seen, stage.out.unowned)
        });
        assert_eq!(seen, n as u64);
        assert_eq!(out.0.len(), n);
        assert!(out
            .0
            .iter()
            .enumerate()
            .all(|(i, s)| s.retransmits as usize == i));
        assert!(out.0[0].owners.iter().any(|p| p.pid == std::process::id()));
        assert!(out.0[1].owners.is_empty());
        assert_eq!(unowned, (n / 2) as u64);
    }
}
