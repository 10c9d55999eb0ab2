//! The system-call boundary: the only module of tcpdoctor that contains `unsafe`.
//!
//! Everything here is a thin, documented wrapper around one libc call, with every `unsafe` block
//! carrying a `// SAFETY:` comment. The rest of the crate uses these safe functions:
//!
//! - [`NetlinkSocket`]: an owned `AF_NETLINK`/`NETLINK_SOCK_DIAG` socket (closed on drop), its
//!   receive buffer size ([`NetlinkSocket::set_rcvbuf`]: `SO_RCVBUFFORCE`, falling back to
//!   `SO_RCVBUF`), a receive timeout, [`NetlinkSocket::send`] and [`NetlinkSocket::recv`]
//!   (retrying `EINTR`, reporting truncated datagrams).
//! - [`enter_netns`]: move the calling thread into a named network namespace (`/run/netns/NAME`
//!   as `ip netns add` creates it); the returned [`NetnsGuard`] moves it back on drop.
//! - [`clock_ticks_per_second`] (`sysconf(_SC_CLK_TCK)`, the unit of `/proc/net/tcp` timers,
//!   tcp-facts 8.7) and [`kernel_release`] (`uname -r`).
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `NETLINK_SOCK_DIAG` (`include/uapi/linux/netlink.h`), the netlink family of `ss` and of
/// tcpdoctor (tcp-facts 9.1).
const NETLINK_SOCK_DIAG: libc::c_int = 4;

/// The receive buffer size requested by default: 32 MiB, as the reference dump
/// (`shared/bench/diag.h`) does, so that a dump never stalls on a full socket queue.
pub const DEFAULT_RCVBUF: usize = 32 << 20;

/// An owned netlink socket of the `NETLINK_SOCK_DIAG` family. Closed when dropped.
#[derive(Debug)]
pub struct NetlinkSocket {
    fd: OwnedFd,
}

/// What one [`NetlinkSocket::recv`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes written into the caller's buffer.
    pub len: usize,
    /// The datagram's real length; larger than `len` when it did not fit (the rest is lost).
    pub datagram_len: usize,
}

impl Received {
    /// Whether the datagram was larger than the buffer (and so was cut).
    pub fn truncated(&self) -> bool {
        self.datagram_len > self.len
    }
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

fn setsockopt_int(fd: BorrowedFd<'_>, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `fd` is a valid open descriptor (borrowed for the call); the option value points to
    // a live `c_int` and the length passed is exactly its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(last_error())
    } else {
        Ok(())
    }
}

fn getsockopt_int(fd: BorrowedFd<'_>, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `fd` is valid for the call; `value` and `len` are live locals and `len` holds the
    // size of `value`, so the kernel writes at most that many bytes.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        Err(last_error())
    } else {
        Ok(value)
    }
}

impl NetlinkSocket {
    /// Opens `socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)`.
    ///
    /// The socket belongs to the network namespace of the calling thread at this moment and
    /// keeps seeing that namespace even if the thread moves later.
    pub fn open_sock_diag() -> io::Result<NetlinkSocket> {
        // SAFETY: plain system call with constant arguments; it returns a new descriptor or -1.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(last_error());
        }
        // SAFETY: `fd` was just returned by socket(2), is open and owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(NetlinkSocket { fd })
    }

    /// Asks for a receive buffer of `bytes`: `SO_RCVBUFFORCE` first (root / `CAP_NET_ADMIN`,
    /// ignores `net.core.rmem_max`), then `SO_RCVBUF` (capped by `rmem_max`). Returns the size
    /// the kernel reports afterwards (it doubles the request for bookkeeping overhead).
    /// Values above `i32::MAX` are clamped.
    pub fn set_rcvbuf(&self, bytes: usize) -> io::Result<usize> {
        let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        if setsockopt_int(self.fd.as_fd(), libc::SO_RCVBUFFORCE, v).is_err() {
            setsockopt_int(self.fd.as_fd(), libc::SO_RCVBUF, v)?;
        }
        let got = getsockopt_int(self.fd.as_fd(), libc::SO_RCVBUF)?;
        Ok(usize::try_from(got).unwrap_or(0))
    }

    /// Sets `SO_RCVTIMEO`: a [`recv`](Self::recv) waiting longer fails with
    /// [`io::ErrorKind::WouldBlock`] (`EAGAIN`). `None` waits forever.
    pub fn set_recv_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        let t = timeout.unwrap_or(Duration::ZERO);
        let tv = libc::timeval {
            tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_usec: libc::suseconds_t::from(t.subsec_micros() as i32),
        };
        // SAFETY: the fd is valid; the option value points to a live `timeval` and the length is
        // its exact size.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            Err(last_error())
        } else {
            Ok(())
        }
    }

    /// Sends one datagram (one or more netlink messages) to the kernel (port id 0).
    /// Retries `EINTR`; a short send is reported as an error.
    pub fn send(&self, msg: &[u8]) -> io::Result<()> {
        // SAFETY: `sockaddr_nl` is plain old data for which all-zero bytes are a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        loop {
            // SAFETY: the fd is valid; `msg` is a live slice and its exact length is passed; the
            // address points to a live `sockaddr_nl` with its exact size.
            let n = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    msg.as_ptr().cast(),
                    msg.len(),
                    0,
                    (&addr as *const libc::sockaddr_nl).cast(),
                    size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if n < 0 {
                let e = last_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n as usize != msg.len() {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("netlink send wrote {n} of {} bytes", msg.len()),
                ));
            }
            return Ok(());
        }
    }

    /// Receives one datagram into `buf`, retrying `EINTR`. Uses `MSG_TRUNC` so that a datagram
    /// larger than `buf` is reported ([`Received::truncated`]) rather than silently cut.
    /// Errors are the socket's (`ENOBUFS` when the receive queue overflowed, `EAGAIN` after the
    /// receive timeout).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        loop {
            // SAFETY: the fd is valid; `buf` is a live, exclusively borrowed slice and its exact
            // length is passed, so the kernel writes at most `buf.len()` bytes into it.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                let e = last_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let datagram_len = n as usize;
            return Ok(Received {
                len: datagram_len.min(buf.len()),
                datagram_len,
            });
        }
    }
}

impl AsFd for NetlinkSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for NetlinkSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The number of clock ticks per second (`sysconf(_SC_CLK_TCK)`, `USER_HZ`): the unit of the
/// `tm->when` column of `/proc/net/tcp` (tcp-facts 8.7). Falls back to 100, the `USER_HZ` of
/// every mainstream Linux architecture, in the (not expected) case that `sysconf` fails.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf takes a constant name and has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(n).ok().filter(|n| *n > 0).unwrap_or(100)
}

/// The running kernel's release string (`uname -r`, e.g. `6.8.0-45-generic`).
pub fn kernel_release() -> io::Result<String> {
    // SAFETY: `utsname` is plain old data (arrays of c_char) for which zero bytes are valid.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a live, exclusively borrowed `utsname` that uname(2) fills.
    let rc = unsafe { libc::uname(&mut u) };
    if rc < 0 {
        return Err(last_error());
    }
    let bytes: Vec<u8> = u
        .release
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Where `ip netns add NAME` puts the namespace handle (a bind mount of an nsfs file).
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// Why [`enter_netns`] failed.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// The name is empty or is not a plain file name (contains `/`, or is `.`/`..`).
    #[error("invalid network namespace name '{0}': use a name as `ip netns list` shows it")]
    InvalidName(String),
    /// `/run/netns/NAME` does not exist.
    #[error("network namespace '{name}' not found in /run/netns; {}", list_names(.available))]
    NotFound {
        /// The name asked for.
        name: String,
        /// The named namespaces that exist (sorted; empty when there are none).
        available: Vec<String>,
    },
    /// Opening the handle or `setns` was refused.
    #[error(
        "not allowed to enter network namespace '{name}': this needs root (CAP_SYS_ADMIN) \
         ({source})"
    )]
    Permission {
        /// The name asked for.
        name: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// Any other failure (the step is named).
    #[error("cannot {action} for network namespace '{name}': {source}")]
    Other {
        /// The name asked for.
        name: String,
        /// What failed, e.g. "open /run/netns/NAME".
        action: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
}

fn list_names(names: &[String]) -> String {
    if names.is_empty() {
        "there are no named network namespaces (`ip netns add NAME` creates one)".to_string()
    } else {
        format!("existing: {}", names.join(", "))
    }
}

/// The names in `/run/netns` (sorted). Missing directory = none.
pub fn list_netns() -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(NETNS_RUN_DIR) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

fn is_permission(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
}

fn setns_net(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: `fd` is a valid descriptor borrowed for the call; setns(2) only changes the
    // calling thread's network namespace and touches no memory of ours.
    let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc < 0 {
        Err(last_error())
    } else {
        Ok(())
    }
}

/// Keeps the calling thread inside a network namespace entered with [`enter_netns`]; dropping
/// it (or calling [`NetnsGuard::leave`]) moves the thread back to the namespace it came from.
///
/// Network namespaces are per thread, so the guard is neither `Send` nor `Sync`: it must be
/// dropped on the thread that created it. Sockets opened while inside stay in that namespace.
#[derive(Debug)]
pub struct NetnsGuard {
    original: Option<File>,
    name: String,
    _not_send: PhantomData<*const ()>,
}

impl NetnsGuard {
    /// The name of the namespace entered.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Moves the thread back to its original namespace, reporting failure (drop does the same
    /// but cannot report it).
    pub fn leave(mut self) -> Result<(), NetnsError> {
        self.restore()
    }

    fn restore(&mut self) -> Result<(), NetnsError> {
        match self.original.take() {
            None => Ok(()),
            Some(f) => setns_net(f.as_fd()).map_err(|source| NetnsError::Other {
                name: self.name.clone(),
                action: "return to the original network namespace".to_string(),
                source,
            }),
        }
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        // Best effort: a failure cannot be reported from drop; `leave` reports it.
        let _ = self.restore();
    }
}

/// Moves the calling thread into the named network namespace `/run/netns/NAME` (as created by
/// `ip netns add NAME`) with `setns(CLONE_NEWNET)`. Needs `CAP_SYS_ADMIN`.
///
/// Keeps a handle of the thread's current namespace (`/proc/thread-self/ns/net`) in the returned
/// guard, which moves the thread back when dropped.
pub fn enter_netns(name: &str) -> Result<NetnsGuard, NetnsError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." || name.contains('\0') {
        return Err(NetnsError::InvalidName(name.to_string()));
    }
    let path: PathBuf = Path::new(NETNS_RUN_DIR).join(name);
    let target = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(NetnsError::NotFound {
                name: name.to_string(),
                available: list_netns(),
            })
        }
        Err(e) if is_permission(&e) => {
            return Err(NetnsError::Permission {
                name: name.to_string(),
                source: e,
            })
        }
        Err(source) => {
            return Err(NetnsError::Other {
                name: name.to_string(),
                action: format!("open {}", path.display()),
                source,
            })
        }
    };
    let original = File::open("/proc/thread-self/ns/net").map_err(|source| NetnsError::Other {
        name: name.to_string(),
        action: "open /proc/thread-self/ns/net (is /proc mounted?)".to_string(),
        source,
    })?;
    if let Err(e) = setns_net(target.as_fd()) {
        return Err(if is_permission(&e) {
            NetnsError::Permission {
                name: name.to_string(),
                source: e,
            }
        } else if e.raw_os_error() == Some(libc::EINVAL) {
            NetnsError::Other {
                name: name.to_string(),
                action: format!(
                    "setns: {} is not a network namespace handle",
                    path.display()
                ),
                source: e,
            }
        } else {
            NetnsError::Other {
                name: name.to_string(),
                action: "setns".to_string(),
                source: e,
            }
        });
    }
    Ok(NetnsGuard {
        original: Some(original),
        name: name.to_string(),
        _not_send: PhantomData,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_ticks_is_sane() {
        let t = clock_ticks_per_second();
        assert!((1..=10_000).contains(&t), "{t}");
    }

    #[test]
    fn kernel_release_looks_like_a_version() {
        let r = kernel_release().unwrap();
        assert!(r.chars().next().unwrap().is_ascii_digit(), "{r}");
        assert!(r.contains('.'), "{r}");
    }

    #[test]
    fn netns_invalid_and_missing_names() {
        assert!(matches!(enter_netns(""), Err(NetnsError::InvalidName(_))));
        assert!(matches!(
            enter_netns("../x"),
            Err(NetnsError::InvalidName(_))
        ));
        let e = enter_netns("tcpdoctor-surely-missing-ns").unwrap_err();
        match &e {
            NetnsError::NotFound { name, available } => {
                assert_eq!(name, "tcpdoctor-surely-missing-ns");
                assert!(!available.contains(name));
            }
            other => panic!("unexpected {other:?}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains("existing: ") || msg.contains("there are no named network namespaces"),
            "{msg}"
        );
    }

    #[test]
    fn not_found_message_lists_names() {
        let e = NetnsError::NotFound {
            name: "x".into(),
            available: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            e.to_string(),
            "network namespace 'x' not found in /run/netns; existing: a, b"
        );
        let e = NetnsError::NotFound {
            name: "x".into(),
            available: vec![],
        };
        assert_eq!(
            e.to_string(),
            "network namespace 'x' not found in /run/netns; there are no named network \
             namespaces (`ip netns add NAME` creates one)"
        );
    }

    #[test]
    fn netlink_socket_opens_and_takes_rcvbuf() {
        let s = NetlinkSocket::open_sock_diag().unwrap();
        let got = s.set_rcvbuf(1 << 20).unwrap();
        assert!(got >= 1 << 16, "{got}");
        s.set_recv_timeout(Some(Duration::from_secs(5))).unwrap();
    }
}
