//! Socket inode -> owning processes, from one pass over `/proc/<pid>/fd` (tcp-facts 8.10).
//!
//! Built only when asked for (`-p`, `--by process`, `--pid`, `--process`). Processes that exit
//! during the scan and directories that cannot be read (other users' processes when not root)
//! are counted and reported as gaps, never fatal. Process details (comm, cmdline, cgroup) are
//! read only for processes that hold at least one socket.
//!
//! Socket inodes are global, so the map built on the host also attributes sockets of a named
//! network namespace (as `ss -N NAME -p` does).

use std::collections::HashMap;
use std::ffi::CStr;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tcpdoctor_model::{Gap, GapKind, Process};

/// The inode -> processes map and what could not be read while building it.
#[derive(Debug, Default)]
pub struct OwnerMap {
    map: HashMap<u64, Vec<Arc<Process>>>,
    /// Processes scanned.
    pub processes: u64,
    /// Processes whose fd directory could not be read for lack of permission.
    pub denied: u64,
    /// Processes that exited while being read.
    pub vanished: u64,
    /// Whether the scanning user is root-equivalent for this purpose (no denials).
    pub complete: bool,
}

impl OwnerMap {
    /// The processes that hold the socket with this inode.
    pub fn get(&self, inode: u64) -> Option<&[Arc<Process>]> {
        self.map.get(&inode).map(Vec::as_slice)
    }

    /// Number of socket inodes with a known owner.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no owner was found.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The gaps of this scan, as sentences a user can act on.
    pub fn gaps(&self) -> Vec<Gap> {
        let mut g = Vec::new();
        if self.denied > 0 {
            g.push(
                Gap::new(
                    GapKind::Permission,
                    format!(
                        "the open files of {} of {} processes could not be read, so their sockets \
                         show no owner",
                        self.denied, self.processes
                    ),
                )
                .with_hint("run as root, or with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH"),
            );
        }
        if self.vanished > 0 {
            g.push(Gap::new(
                GapKind::Vanished,
                format!(
                    "{} processes exited while their open files were being read; sockets they held \
                     may show no owner",
                    self.vanished
                ),
            ));
        }
        g
    }

    /// Scans `/proc`.
    pub fn scan() -> io::Result<OwnerMap> {
        Self::scan_root(Path::new("/proc"))
    }

    /// Scans a `/proc`-like tree (tests point this at a fixture directory).
    ///
    /// Each `/proc/<pid>/fd` directory is opened once. Its descriptors are then `stat`ed
    /// relative to it (`fstatat` follows the link to the socket, whose inode number is the one
    /// sock_diag reports), so the kernel neither walks `/proc/<pid>/fd/<n>` from the root nor
    /// formats `socket:[n]` for every descriptor. A process with many descriptors is not listed
    /// (a listing makes the kernel look up every descriptor once more): `stat` of its fd
    /// directory gives the number open, N (procfs, Linux 6.2+), and the numbers below
    /// N + N/8 + 64 are probed, since the kernel hands out the lowest free number and busy
    /// tables are dense. The descriptors above that range (holes below, or descriptors opened
    /// meanwhile) are then listed from there on: the listing starts at the directory offset of
    /// the first number not probed, so the kernel walks only those. The `stat` calls, nearly
    /// all of the cost, are spread over the available cores in chunks, so one process holding
    /// most of the sockets is shared out too.
    pub fn scan_root(proc_root: &Path) -> io::Result<OwnerMap> {
        use rustix::fs::{fstat, fstatfs, openat, Dir, Mode, OFlags, CWD};
        let mut out = OwnerMap {
            complete: true,
            ..Default::default()
        };
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let root = openat(CWD, proc_root, dir_flags, Mode::empty())?;
        // On procfs (Linux 6.2 and later) `stat` of `/proc/<pid>/fd` reports the number of
        // open descriptors as its size; a fixture tree or an older kernel reports 0 or a block
        // size, so the count is trusted only on procfs.
        let on_procfs = fstatfs(&root).is_ok_and(|s| is_procfs(&s));
        let mut pids = Dir::read_from(&root)?;
        // Phase 1: for each process, either its descriptor count (probed by number below) or,
        // for small or unknown counts, the listed names.
        let mut procs: Vec<Proc> = Vec::new();
        let mut path = String::with_capacity(16);
        while let Some(entry) = pids.read() {
            let Ok(entry) = entry else { continue };
            let Some(pid) = std::str::from_utf8(entry.file_name().to_bytes())
                .ok()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            out.processes += 1;
            path.clear();
            path.push_str(&pid.to_string());
            path.push_str("/fd");
            let fd_dir = match openat(&root, path.as_str(), dir_flags, Mode::empty()) {
                Ok(d) => d,
                Err(e) if e == rustix::io::Errno::ACCESS || e == rustix::io::Errno::PERM => {
                    out.denied += 1;
                    out.complete = false;
                    continue;
                }
                Err(_) => {
                    out.vanished += 1;
                    continue;
                }
            };
            let count = if on_procfs {
                fstat(&fd_dir).map_or(0, |s| u64::try_from(s.st_size).unwrap_or(0))
            } else {
                0
            };
            if count >= PROBE_MIN {
                // Descriptors are allocated lowest-first, so a busy table is dense: probing
                // numbers 0, 1, 2... finds them without the directory listing, which would
                // make the kernel look up every descriptor a second time.
                let count = usize::try_from(count).unwrap_or(usize::MAX);
                procs.push(Proc {
                    pid,
                    dir: fd_dir,
                    fds: Fds::Probed {
                        below: count.saturating_add(count / 8).saturating_add(64),
                    },
                });
                continue;
            }
            let Some(names) = list_fds(&fd_dir, None) else {
                out.vanished += 1;
                continue;
            };
            if !names.is_empty() {
                procs.push(Proc {
                    pid,
                    dir: fd_dir,
                    fds: Fds::Listed(names),
                });
            }
        }
        // Phase 2: stat them in parallel chunks.
        const CHUNK: usize = 2048;
        // Chunks interleaved across processes, so two threads rarely work on the same task
        // at once (its fd table and task lock are shared by every lookup in it).
        let mut chunks: Vec<(usize, usize, usize)> = Vec::new();
        let mut lo = 0;
        loop {
            let before = chunks.len();
            for (i, p) in procs.iter().enumerate() {
                let len = p.len();
                if lo < len {
                    chunks.push((i, lo, (lo + CHUNK).min(len)));
                }
            }
            if chunks.len() == before {
                break;
            }
            lo += CHUNK;
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let next = AtomicUsize::new(0);
        let work = || {
            let mut found: Vec<(usize, u64)> = Vec::new();
            let mut buf = [0u8; 24];
            loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(i, lo, hi)) = chunks.get(c) else {
                    break;
                };
                let p = &procs[i];
                match &p.fds {
                    Fds::Probed { .. } => {
                        for n in lo..hi {
                            if let Some(ino) = stat_number(&p.dir, n, &mut buf) {
                                found.push((i, ino));
                            }
                        }
                    }
                    Fds::Listed(names) => {
                        for name in &names[lo..hi] {
                            if let Some(ino) = socket_inode_at(&p.dir, name) {
                                found.push((i, ino));
                            }
                        }
                    }
                }
            }
            found
        };
        let mut found: Vec<(usize, u64)> = if threads == 1 || chunks.len() == 1 {
            work()
        } else {
            std::thread::scope(|sc| {
                let handles: Vec<_> = (0..threads).map(|_| sc.spawn(work)).collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect()
            })
        };
        // Phase 3: descriptors above the probed range (a table with holes, or descriptors
        // opened meanwhile), listed from there on: the directory offset of descriptor `n` is
        // `n + 2`, so the kernel walks only the open descriptors above the range.
        for (i, p) in procs.iter().enumerate() {
            let Fds::Probed { below } = p.fds else {
                continue;
            };
            let Some(rest) = list_fds(&p.dir, Some(below)) else {
                // The process exited while being probed.
                out.vanished += 1;
                continue;
            };
            for name in rest {
                if let Some(ino) = socket_inode_at(&p.dir, &name) {
                    found.push((i, ino));
                }
            }
        }
        let mut holders: Vec<(u32, Vec<u64>)> = procs.iter().map(|p| (p.pid, Vec::new())).collect();
        for (i, ino) in found {
            holders[i].1.push(ino);
        }
        holders.retain(|(_, v)| !v.is_empty());
        drop(procs);
        for (pid, inodes) in holders {
            let base = proc_root.join(pid.to_string());
            let Ok(comm) = fs::read_to_string(base.join("comm")) else {
                out.vanished += 1;
                continue;
            };
            let cmdline = fs::read(base.join("cmdline"))
                .map(|b| {
                    let b = b.strip_suffix(b"\0").unwrap_or(&b);
                    String::from_utf8_lossy(b).replace('\0', " ")
                })
                .unwrap_or_default();
            let cgroup = fs::read_to_string(base.join("cgroup"))
                .ok()
                .and_then(|c| unified_cgroup(&c));
            let container = cgroup.as_deref().and_then(container_id);
            let p = Arc::new(Process {
                pid,
                comm: comm.trim_end_matches('\n').to_string(),
                cmdline,
                cgroup,
                container,
            });
            for ino in inodes {
                let v = out.map.entry(ino).or_default();
                if !v.iter().any(|q| q.pid == pid) {
                    v.push(Arc::clone(&p));
                }
            }
        }
        for v in out.map.values_mut() {
            v.sort_by_key(|p| p.pid);
        }
        Ok(out)
    }
}

/// Processes with at least this many open descriptors are probed by number, not listed.
const PROBE_MIN: u64 = 256;

/// `PROC_SUPER_MAGIC` from `<linux/magic.h>`.
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Whether `statfs` describes procfs.
// `f_type` is `i64` on x86_64 but `u32` or `i32` elsewhere, so the cast is not idle everywhere.
#[allow(clippy::unnecessary_cast)]
fn is_procfs(s: &rustix::fs::StatFs) -> bool {
    s.f_type as i64 == PROC_SUPER_MAGIC
}

/// One process's fd directory in the scan.
struct Proc {
    pid: u32,
    dir: rustix::fd::OwnedFd,
    fds: Fds,
}

/// Which descriptors of a process are `stat`ed.
enum Fds {
    /// The names a listing gave.
    Listed(Vec<Box<CStr>>),
    /// Every number below `below`; the descriptors above it are listed afterwards.
    Probed { below: usize },
}

impl Proc {
    /// Number of work items: names to stat, or numbers to probe.
    fn len(&self) -> usize {
        match &self.fds {
            Fds::Listed(names) => names.len(),
            Fds::Probed { below } => *below,
        }
    }
}

/// The descriptor names in `dir` (skipping `.` and `..`), only those numbered `>= above` when
/// given (the listing then starts there); `None` when the directory can no longer be read (the
/// process exited).
fn list_fds(dir: &rustix::fd::OwnedFd, above: Option<usize>) -> Option<Vec<Box<CStr>>> {
    let mut fds = rustix::fs::Dir::read_from(dir).ok()?;
    if let Some(min) = above {
        // procfs puts descriptor `n` at offset `n + 2`; where seeking fails, the whole
        // directory is read and filtered below.
        let _ = fds.seek(i64::try_from(min).unwrap_or(i64::MAX).saturating_add(2));
    }
    let mut names = Vec::new();
    while let Some(fd) = fds.read() {
        let Ok(fd) = fd else { break };
        let name = fd.file_name();
        if name.to_bytes().first() == Some(&b'.') {
            continue;
        }
        if let Some(min) = above {
            let n = std::str::from_utf8(name.to_bytes())
                .ok()
                .and_then(|n| n.parse::<usize>().ok());
            if n.is_some_and(|n| n < min) {
                continue;
            }
        }
        names.push(Box::from(name));
    }
    Some(names)
}

/// The socket inode behind descriptor number `n` of the fd directory `dir`, if it is open and
/// a socket.
fn stat_number(dir: &rustix::fd::OwnedFd, n: usize, buf: &mut [u8; 24]) -> Option<u64> {
    use std::io::Write;
    let mut cur = io::Cursor::new(&mut buf[..]);
    write!(cur, "{n}\0").ok()?;
    let end = usize::try_from(cur.position()).ok()?;
    let name = CStr::from_bytes_with_nul(buf.get(..end)?).ok()?;
    socket_inode_at(dir, name)
}

/// The socket inode behind descriptor `name` of the fd directory `dir`, if it is a socket.
fn socket_inode_at(dir: &rustix::fd::OwnedFd, name: &CStr) -> Option<u64> {
    use rustix::fs::{statat, AtFlags, FileType};
    let st = statat(dir, name, AtFlags::empty()).ok()?;
    (FileType::from_raw_mode(st.st_mode) == FileType::Socket).then_some(st.st_ino)
}

/// The cgroup v2 path (`0::/path`), or the first v1 hierarchy path when there is no v2 line.
fn unified_cgroup(text: &str) -> Option<String> {
    let mut first = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(_ctrl), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if id == "0" {
            return Some(path.to_string());
        }
        first.get_or_insert_with(|| path.to_string());
    }
    first.filter(|p| p != "/")
}

/// A container id in a cgroup path: `docker-<id>.scope`, `/docker/<id>`, `cri-containerd-<id>`,
/// `crio-<id>`, `libpod-<id>` (podman), kubepods `.../<id>`. Returned shortened to 12 characters
/// like `docker ps`.
pub fn container_id(cgroup: &str) -> Option<String> {
    for seg in cgroup.rsplit('/') {
        let seg = seg.strip_suffix(".scope").unwrap_or(seg);
        let id = [
            "docker-",
            "cri-containerd-",
            "crio-",
            "libpod-",
            "containerd-",
        ]
        .iter()
        .find_map(|p| seg.strip_prefix(p))
        .unwrap_or(seg);
        if id.len() >= 32 && id.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Some(id[..12].to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids() {
        let d = "0::/system.slice/docker-4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2.scope";
        assert_eq!(
            unified_cgroup(d)
                .as_deref()
                .and_then(container_id)
                .as_deref(),
            Some("4f1c2d3e4f5a")
        );
        let k = "0::/kubepods/burstable/pod1234/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            container_id(&unified_cgroup(k).unwrap()).as_deref(),
            Some("0123456789ab")
        );
        assert_eq!(
            container_id("/user.slice/user-1000.slice/session-2.scope"),
            None
        );
        assert_eq!(
            unified_cgroup("12:pids:/\n0::/init.scope\n").as_deref(),
            Some("/init.scope")
        );
    }

    #[test]
    fn finds_own_socket() {
        // This process's own listening socket must be attributed to this pid.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ino = {
            use std::os::unix::fs::MetadataExt;
            let fd = std::os::fd::AsRawFd::as_raw_fd(&l);
            fs::metadata(format!("/proc/self/fd/{fd}")).unwrap().ino()
        };
        let m = OwnerMap::scan().unwrap();
        let owners = m.get(ino).expect("own socket attributed");
        assert!(owners.iter().any(|p| p.pid == std::process::id()));
        assert!(!owners[0].comm.is_empty());
        assert!(m.processes > 0);
    }

    #[test]
    fn probes_busy_tables_and_finds_high_descriptors() {
        // Over PROBE_MIN descriptors: this process is scanned by probing numbers, and a
        // descriptor far above the probed range must still be found (the listing fallback).
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let pairs: Vec<_> = (0..200)
            .map(|_| std::os::unix::net::UnixStream::pair().unwrap())
            .collect();
        let ino = |fd: i32| fs::metadata(format!("/proc/self/fd/{fd}")).unwrap().ino();
        let first = ino(pairs[0].0.as_raw_fd());
        let last = ino(pairs[199].1.as_raw_fd());
        // The fd table is dense here, so the probed range ends near count + count / 8 + 64;
        // 900 is far above it and below the usual soft limit of 1024.
        // A socket held only there: its low descriptor is closed after the copy.
        let lone = std::os::unix::net::UnixStream::pair().unwrap().0;
        let high = rustix::io::fcntl_dupfd_cloexec(&lone, 900).ok();
        drop(lone);
        let m = OwnerMap::scan().unwrap();
        let me = std::process::id();
        for i in [first, last] {
            assert!(m.get(i).unwrap().iter().any(|p| p.pid == me), "inode {i}");
        }
        if let Some(h) = high {
            assert!(h.as_raw_fd() >= 900);
            let owners = m.get(ino(h.as_raw_fd())).unwrap();
            assert!(owners.iter().any(|p| p.pid == me));
        }
    }
}
