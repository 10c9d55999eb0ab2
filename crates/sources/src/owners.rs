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
use std::fs;
use std::io;
use std::path::Path;
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
    pub fn scan_root(proc_root: &Path) -> io::Result<OwnerMap> {
        let mut out = OwnerMap {
            complete: true,
            ..Default::default()
        };
        // pid -> inodes it holds; details are read afterwards, once per owning process.
        let mut holders: Vec<(u32, Vec<u64>)> = Vec::new();
        let mut fd_path = proc_root.to_path_buf();
        for entry in fs::read_dir(proc_root)? {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            out.processes += 1;
            fd_path.clear();
            fd_path.push(proc_root);
            fd_path.push(&name);
            fd_path.push("fd");
            let dir = match fs::read_dir(&fd_path) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    out.denied += 1;
                    out.complete = false;
                    continue;
                }
                Err(_) => {
                    out.vanished += 1;
                    continue;
                }
            };
            let mut inodes = Vec::new();
            for fd in dir {
                let Ok(fd) = fd else { continue };
                // `socket:[12345]`; other link targets (files, pipes) are skipped.
                let Ok(target) = fs::read_link(fd.path()) else {
                    continue;
                };
                let t = target.as_os_str().as_encoded_bytes();
                if let Some(rest) = t.strip_prefix(b"socket:[") {
                    if let Some(num) = rest.strip_suffix(b"]") {
                        if let Some(ino) =
                            std::str::from_utf8(num).ok().and_then(|n| n.parse().ok())
                        {
                            inodes.push(ino);
                        }
                    }
                }
            }
            if !inodes.is_empty() {
                holders.push((pid, inodes));
            }
        }
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
}
