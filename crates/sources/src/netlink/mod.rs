//! The netlink sock_diag source: a streaming dump of the kernel's TCP sockets (tcp-facts 9).
//!
//! [`dump`] sends one inet_diag dump request, reads the replies into one reused buffer and hands
//! every socket to a [`SocketSink`] as soon as its message is decoded; nothing is collected.
//!
//! Which request: when both families are wanted, the legacy `TCPDIAG_GETSOCK` request, which the
//! kernel answers for IPv4 and IPv6 in a single walk of its hash tables (see [`wire`]); it
//! carries the port-filter bytecode exactly like the newer request. If the kernel refuses it
//! (`EOPNOTSUPP`, `EINVAL`, `ENOENT`) before any socket arrived, one `SOCK_DIAG_BY_FAMILY` dump
//! per family is done instead. For one family, one `SOCK_DIAG_BY_FAMILY` dump.
//!
//! The kernel filters states (`idiag_states`, tcp-facts 9.4) and, when ports are given, ports
//! (`INET_DIAG_REQ_BYTECODE`, tcp-facts 9.10).

pub mod wire;

use crate::sys::{NetlinkSocket, Received, DEFAULT_RCVBUF};
use std::io;
use std::time::Duration;
use tcpdoctor_model::{Family, PortMatch, Socket, SocketFilter, SocketSink, StateSet, TcpState};
use wire::{Decoded, Request, WireError};

/// Which address families to dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Families {
    /// IPv4 only.
    V4,
    /// IPv6 only (includes IPv4-mapped connections of IPv6 sockets).
    V6,
    /// Both (the default).
    #[default]
    Both,
}

/// How to ask the kernel when both families are wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RequestMode {
    /// One walk with the legacy request, falling back to per-family dumps if refused.
    #[default]
    Auto,
    /// Only the legacy one-walk request (no fallback).
    OneWalk,
    /// One `SOCK_DIAG_BY_FAMILY` dump per family.
    PerFamily,
}

/// What to dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpOptions {
    /// States the kernel should return.
    pub states: StateSet,
    /// Address families.
    pub families: Families,
    /// Local port ranges (any may match; empty = any), filtered by the kernel.
    pub sport: Vec<PortMatch>,
    /// Remote port ranges (any may match; empty = any), filtered by the kernel.
    pub dport: Vec<PortMatch>,
    /// Socket receive buffer to request (`SO_RCVBUFFORCE`, else `SO_RCVBUF`). Default 32 MiB.
    pub rcvbuf: usize,
    /// Size of the one user-space receive buffer. Default 64 KiB; the kernel fills at most
    /// about 32 KiB per datagram of a dump.
    pub bufsize: usize,
    /// Longest wait for one datagram before giving up. Default 10 s.
    pub timeout: Duration,
    /// Request selection for both families.
    pub mode: RequestMode,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions {
            states: StateSet::ALL,
            families: Families::Both,
            sport: Vec::new(),
            dport: Vec::new(),
            rcvbuf: DEFAULT_RCVBUF,
            bufsize: 64 << 10,
            timeout: Duration::from_secs(10),
            mode: RequestMode::Auto,
        }
    }
}

impl DumpOptions {
    /// The kernel-side part of a filter: states and port ranges. The rest of the filter
    /// (addresses, processes) must still be checked per socket.
    pub fn from_filter(f: &SocketFilter) -> DumpOptions {
        DumpOptions {
            states: f.states,
            sport: f.sport.clone(),
            dport: f.dport.clone(),
            ..DumpOptions::default()
        }
    }
}

/// What a dump saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DumpStats {
    /// Sockets handed to the sink.
    pub sockets: u64,
    /// Netlink messages read (diag messages, `NLMSG_DONE`, ...).
    pub messages: u64,
    /// Datagrams received.
    pub datagrams: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Kernel dumps completed (1 for the one-walk request, 1 per family otherwise).
    pub walks: u32,
    /// Whether the one-walk legacy request was used (and answered).
    pub one_walk: bool,
    /// The errno with which the kernel refused the legacy request, when it fell back to
    /// per-family dumps.
    pub legacy_refused: Option<i32>,
    /// Messages skipped because their state number is unknown (0, 13 `BOUND_INACTIVE`, newer).
    pub skipped_unknown_state: u64,
    /// Messages skipped because their address family is neither IPv4 nor IPv6.
    pub skipped_unknown_family: u64,
    /// Sockets delivered without their timer because its number is unknown.
    pub unknown_timer: u64,
    /// Messages of unexpected types that were ignored.
    pub skipped_other: u64,
    /// `NLM_F_DUMP_INTR` was seen: the kernel says the dump may be inconsistent (the tables
    /// changed during it); sockets may be missing or duplicated.
    pub interrupted: bool,
    /// Dumps restarted after the receive queue overflowed before any socket was delivered.
    pub restarts: u32,
    /// The socket receive buffer the kernel granted (bytes, as `SO_RCVBUF` reports it).
    pub rcvbuf: usize,
    /// The sink asked to stop ([`SocketSink::stopped`]) and the dump was abandoned early.
    pub stopped: bool,
}

/// Why a dump failed. Every message says what happened and what to try.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The sock_diag netlink family or the TCP diag module is missing.
    #[error(
        "inet_diag is not available ({request}: {}): the kernel lacks CONFIG_INET_DIAG / \
         CONFIG_INET_TCP_DIAG or the tcp_diag module is not loaded (try `modprobe tcp_diag`); \
         the /proc/net/tcp source still works",
        errno_text(*.errno)
    )]
    NotAvailable {
        /// The request or call refused.
        request: &'static str,
        /// The errno.
        errno: i32,
    },
    /// The kernel (or a security policy) refused the request.
    #[error(
        "the kernel refused the {request} socket dump ({}): a security policy (seccomp, LSM, \
         container runtime) blocks NETLINK_SOCK_DIAG; run as root on the host, or use the \
         /proc/net/tcp source",
        errno_text(*.errno)
    )]
    PermissionDenied {
        /// The request or call refused.
        request: &'static str,
        /// The errno (EPERM or EACCES).
        errno: i32,
    },
    /// Any other error the kernel answered with.
    #[error("the kernel answered the {request} socket dump with an error: {}", errno_text(*.errno))]
    Kernel {
        /// The request.
        request: &'static str,
        /// The errno.
        errno: i32,
    },
    /// Opening or configuring the netlink socket failed.
    #[error("cannot {action} the NETLINK_SOCK_DIAG socket: {source}")]
    Socket {
        /// What failed.
        action: &'static str,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// Sending the request failed.
    #[error("cannot send the {request} dump request: {source}")]
    Send {
        /// The request.
        request: &'static str,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// Receiving failed.
    #[error("cannot receive the {request} dump: {source}")]
    Recv {
        /// The request.
        request: &'static str,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// The socket receive queue overflowed (`ENOBUFS` / `NLMSG_OVERRUN`) after sockets were
    /// already delivered: the rest of the dump is lost.
    #[error(
        "the netlink receive buffer overflowed during the {request} dump after {delivered} \
         sockets were delivered; the remaining sockets were lost (the host has more sockets than \
         the {rcvbuf}-byte receive buffer absorbed: retry, or run as root so that SO_RCVBUFFORCE \
         can raise it)"
    )]
    Overflow {
        /// The request.
        request: &'static str,
        /// Sockets delivered before the loss.
        delivered: u64,
        /// The receive buffer granted.
        rcvbuf: usize,
    },
    /// No datagram arrived in time.
    #[error(
        "no reply to the {request} dump for {secs} s after {delivered} sockets; the dump was \
         abandoned (the kernel may be overloaded: retry)"
    )]
    Timeout {
        /// The request.
        request: &'static str,
        /// The timeout.
        secs: u64,
        /// Sockets delivered before.
        delivered: u64,
    },
    /// The socket was closed before `NLMSG_DONE`.
    #[error("the {request} dump ended without NLMSG_DONE after {delivered} sockets; the result is incomplete")]
    UnexpectedEnd {
        /// The request.
        request: &'static str,
        /// Sockets delivered before.
        delivered: u64,
    },
    /// A datagram larger than the receive buffer.
    #[error(
        "a {size}-byte netlink datagram did not fit the {bufsize}-byte receive buffer; use a \
         larger buffer"
    )]
    DatagramTooLarge {
        /// The datagram's size.
        size: usize,
        /// The buffer's size.
        bufsize: usize,
    },
    /// A reply with another request's sequence number.
    #[error("netlink reply with sequence number {got} while waiting for {expected}")]
    Sequence {
        /// The sequence number of the request.
        expected: u32,
        /// The one received.
        got: u32,
    },
    /// Malformed bytes from the kernel, or an unencodable filter.
    #[error(transparent)]
    Wire(#[from] WireError),
}

fn errno_text(errno: i32) -> String {
    io::Error::from_raw_os_error(errno).to_string()
}

fn kernel_error(request: &'static str, errno: i32) -> NetlinkError {
    match errno {
        libc::EPERM | libc::EACCES => NetlinkError::PermissionDenied { request, errno },
        libc::EPROTONOSUPPORT | libc::ENOENT | libc::EOPNOTSUPP => {
            NetlinkError::NotAvailable { request, errno }
        }
        _ => NetlinkError::Kernel { request, errno },
    }
}

/// Legacy-request refusals that mean "use the per-family request instead".
fn legacy_refusal(e: &NetlinkError) -> Option<i32> {
    match e {
        NetlinkError::NotAvailable { errno, .. } | NetlinkError::Kernel { errno, .. }
            if matches!(*errno, libc::EOPNOTSUPP | libc::EINVAL | libc::ENOENT) =>
        {
            Some(*errno)
        }
        _ => None,
    }
}

/// How many times a dump is restarted after an overflow that lost nothing yet.
const MAX_RESTARTS: u32 = 2;

/// Dumps the TCP sockets of the calling thread's network namespace that match `opts` into
/// `sink`, streaming: each socket is handed over as soon as its message is decoded, from one
/// reused [`Socket`] (sinks that keep sockets clone them).
///
/// On error, sockets already handed to the sink stay delivered; the error says how many.
pub fn dump(opts: &DumpOptions, sink: &mut dyn SocketSink) -> Result<DumpStats, NetlinkError> {
    dump_with(opts, sink, &mut |opts, stats| {
        open(opts, stats).map(|s| Box::new(s) as Box<dyn Transport>)
    })
}

/// The two calls a dump makes on its netlink socket: the kernel's socket in [`dump`], a
/// scripted one in tests (so that the paths the kernel takes rarely, such as a receive-queue
/// overflow, are tested too).
trait Transport {
    fn send(&self, msg: &[u8]) -> io::Result<()>;
    fn recv(&self, buf: &mut [u8]) -> io::Result<Received>;
}

impl Transport for NetlinkSocket {
    fn send(&self, msg: &[u8]) -> io::Result<()> {
        NetlinkSocket::send(self, msg)
    }
    fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        NetlinkSocket::recv(self, buf)
    }
}

/// A socket for one dump attempt.
type Opener<'a> =
    dyn FnMut(&DumpOptions, &mut DumpStats) -> Result<Box<dyn Transport>, NetlinkError> + 'a;

/// [`dump`] over the sockets `open` gives, one per attempt.
fn dump_with(
    opts: &DumpOptions,
    sink: &mut dyn SocketSink,
    open: &mut Opener<'_>,
) -> Result<DumpStats, NetlinkError> {
    let bytecode = wire::compile_port_filter(&opts.sport, &opts.dport)?;
    let mut stats = DumpStats::default();
    let mut buf = vec![0u8; opts.bufsize.max(8192)];
    let mut scratch = scratch_socket();
    loop {
        let r = dump_once(
            opts,
            bytecode.as_deref(),
            sink,
            &mut stats,
            &mut buf,
            &mut scratch,
            open,
        );
        match r {
            Err(NetlinkError::Overflow { .. })
                if stats.sockets == 0 && stats.restarts < MAX_RESTARTS =>
            {
                stats.restarts += 1;
                stats.walks = 0;
                stats.one_walk = false;
            }
            other => return other.map(|()| stats),
        }
    }
}

fn open(opts: &DumpOptions, stats: &mut DumpStats) -> Result<NetlinkSocket, NetlinkError> {
    let sock = NetlinkSocket::open_sock_diag().map_err(|source| match source.raw_os_error() {
        Some(libc::EPROTONOSUPPORT) | Some(libc::EAFNOSUPPORT) => NetlinkError::NotAvailable {
            request: "socket(AF_NETLINK, NETLINK_SOCK_DIAG)",
            errno: source.raw_os_error().unwrap_or(0),
        },
        Some(libc::EPERM) | Some(libc::EACCES) => NetlinkError::PermissionDenied {
            request: "socket(AF_NETLINK, NETLINK_SOCK_DIAG)",
            errno: source.raw_os_error().unwrap_or(0),
        },
        _ => NetlinkError::Socket {
            action: "open",
            source,
        },
    })?;
    stats.rcvbuf = sock
        .set_rcvbuf(opts.rcvbuf)
        .map_err(|source| NetlinkError::Socket {
            action: "set the receive buffer of",
            source,
        })?;
    sock.set_recv_timeout(Some(opts.timeout))
        .map_err(|source| NetlinkError::Socket {
            action: "set the receive timeout of",
            source,
        })?;
    Ok(sock)
}

fn dump_once(
    opts: &DumpOptions,
    bytecode: Option<&[u8]>,
    sink: &mut dyn SocketSink,
    stats: &mut DumpStats,
    buf: &mut [u8],
    scratch: &mut Socket,
    open: &mut Opener<'_>,
) -> Result<(), NetlinkError> {
    let sock = open(opts, stats)?;
    let mut w = Walker {
        sock: &*sock,
        opts,
        sink,
        stats,
        buf,
        scratch,
        seq: 0,
    };
    match opts.families {
        Families::V4 => w.walk(Request::ByFamily(Family::Inet), bytecode),
        Families::V6 => w.walk(Request::ByFamily(Family::Inet6), bytecode),
        Families::Both => {
            if opts.mode != RequestMode::PerFamily {
                let before = w.stats.sockets;
                match w.walk(Request::Legacy, bytecode) {
                    Ok(()) => {
                        w.stats.one_walk = true;
                        return Ok(());
                    }
                    Err(e) => match legacy_refusal(&e) {
                        Some(errno)
                            if opts.mode == RequestMode::Auto && w.stats.sockets == before =>
                        {
                            w.stats.legacy_refused = Some(errno);
                        }
                        _ => return Err(e),
                    },
                }
            }
            w.walk(Request::ByFamily(Family::Inet), bytecode)?;
            if w.stats.stopped {
                return Ok(());
            }
            w.walk(Request::ByFamily(Family::Inet6), bytecode)
        }
    }
}

struct Walker<'a> {
    sock: &'a dyn Transport,
    opts: &'a DumpOptions,
    sink: &'a mut dyn SocketSink,
    stats: &'a mut DumpStats,
    buf: &'a mut [u8],
    scratch: &'a mut Socket,
    seq: u32,
}

impl Walker<'_> {
    /// One kernel dump: send, then receive until `NLMSG_DONE`.
    fn walk(&mut self, req: Request, bytecode: Option<&[u8]>) -> Result<(), NetlinkError> {
        let name = req.name();
        self.seq += 1;
        let seq = self.seq;
        let mut msg = Vec::with_capacity(128);
        wire::encode_request(req, self.opts.states, seq, bytecode, &mut msg)?;
        self.sock.send(&msg).map_err(|source| NetlinkError::Send {
            request: name,
            source,
        })?;
        let mut dec = ReplyDecoder::new(req, seq);
        loop {
            let r = match self.sock.recv(self.buf) {
                Ok(r) => r,
                Err(e) => {
                    return Err(match e.raw_os_error() {
                        Some(libc::ENOBUFS) => NetlinkError::Overflow {
                            request: name,
                            delivered: self.stats.sockets,
                            rcvbuf: self.stats.rcvbuf,
                        },
                        Some(libc::EAGAIN) => NetlinkError::Timeout {
                            request: name,
                            secs: self.opts.timeout.as_secs(),
                            delivered: self.stats.sockets,
                        },
                        _ => NetlinkError::Recv {
                            request: name,
                            source: e,
                        },
                    })
                }
            };
            if r.datagram_len == 0 {
                return Err(NetlinkError::UnexpectedEnd {
                    request: name,
                    delivered: self.stats.sockets,
                });
            }
            if r.truncated() {
                return Err(NetlinkError::DatagramTooLarge {
                    size: r.datagram_len,
                    bufsize: self.buf.len(),
                });
            }
            self.stats.datagrams += 1;
            self.stats.bytes += r.len as u64;
            let data = &self.buf[..r.len];
            if dec.feed(data, self.scratch, &mut *self.sink, self.stats)? == Progress::Done {
                self.stats.walks += 1;
                return Ok(());
            }
            if self.sink.stopped() {
                // Closing the socket abandons the rest of the dump.
                self.stats.stopped = true;
                return Ok(());
            }
        }
    }
}

/// Whether a dump has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More datagrams follow.
    More,
    /// `NLMSG_DONE` was seen.
    Done,
}

/// Decodes the reply datagrams of one dump request, without any I/O: the part of [`dump`] that
/// turns bytes into sockets, usable on captured or hand-built buffers.
#[derive(Debug, Clone)]
pub struct ReplyDecoder {
    request: Request,
    seq: u32,
}

impl ReplyDecoder {
    /// A decoder for the replies to `request` sent with sequence number `seq`.
    pub fn new(request: Request, seq: u32) -> ReplyDecoder {
        ReplyDecoder { request, seq }
    }

    /// Decodes one datagram: every diag message is decoded into `scratch` and handed to `sink`
    /// at once; `stats` counts messages and sockets (not datagrams or bytes). Stops at
    /// `NLMSG_DONE` (anything after it in the datagram is ignored). Errors: kernel errors
    /// (`NLMSG_ERROR`, a negative `NLMSG_DONE` status), `NLMSG_OVERRUN`, a wrong sequence number,
    /// malformed bytes. Sockets decoded before an error stay delivered.
    pub fn feed(
        &mut self,
        datagram: &[u8],
        scratch: &mut Socket,
        sink: &mut dyn SocketSink,
        stats: &mut DumpStats,
    ) -> Result<Progress, NetlinkError> {
        let name = self.request.name();
        let want_ty = self.request.message_type();
        for m in wire::messages(datagram) {
            let m = m?;
            stats.messages += 1;
            if m.seq != self.seq {
                return Err(NetlinkError::Sequence {
                    expected: self.seq,
                    got: m.seq,
                });
            }
            if m.flags & wire::NLM_F_DUMP_INTR != 0 {
                stats.interrupted = true;
            }
            if m.ty == want_ty {
                match wire::decode_diag_msg(m.payload, scratch)? {
                    Decoded::Socket => {
                        stats.sockets += 1;
                        sink.socket(scratch);
                    }
                    Decoded::SocketUnknownTimer(_) => {
                        stats.sockets += 1;
                        stats.unknown_timer += 1;
                        sink.socket(scratch);
                    }
                    Decoded::UnknownState(_) => stats.skipped_unknown_state += 1,
                    Decoded::UnknownFamily(_) => stats.skipped_unknown_family += 1,
                }
                continue;
            }
            match m.ty {
                wire::NLMSG_DONE => {
                    let status = wire::decode_done(m.payload);
                    if status < 0 {
                        return Err(kernel_error(name, status.saturating_neg()));
                    }
                    return Ok(Progress::Done);
                }
                wire::NLMSG_ERROR => {
                    let e = wire::decode_error(m.payload)?;
                    if e != 0 {
                        return Err(kernel_error(name, e.saturating_neg()));
                    }
                    // 0 is an acknowledgement; nothing to do.
                }
                wire::NLMSG_NOOP => {}
                wire::NLMSG_OVERRUN => {
                    return Err(NetlinkError::Overflow {
                        request: name,
                        delivered: stats.sockets,
                        rcvbuf: stats.rcvbuf,
                    })
                }
                _ => stats.skipped_other += 1,
            }
        }
        Ok(Progress::More)
    }
}

/// A fresh scratch socket for [`ReplyDecoder::feed`].
pub fn scratch_socket() -> Socket {
    Socket::new(
        TcpState::Close,
        std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;
    use wire::build::{self, DiagMsg};

    /// A netlink socket that answers every `recv` from a script: a datagram, or an errno.
    struct Scripted {
        replies: RefCell<VecDeque<Result<Vec<u8>, i32>>>,
        sent: Rc<RefCell<Vec<Vec<u8>>>>,
    }

    impl Transport for Scripted {
        fn send(&self, msg: &[u8]) -> io::Result<()> {
            self.sent.borrow_mut().push(msg.to_vec());
            Ok(())
        }
        fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
            match self.replies.borrow_mut().pop_front() {
                Some(Ok(d)) => {
                    let len = d.len().min(buf.len());
                    buf[..len].copy_from_slice(&d[..len]);
                    Ok(Received {
                        len,
                        datagram_len: d.len(),
                    })
                }
                Some(Err(errno)) => Err(io::Error::from_raw_os_error(errno)),
                None => Err(io::Error::from_raw_os_error(libc::EAGAIN)),
            }
        }
    }

    /// A reply datagram to the first (one-walk) request of an attempt: `n` sockets, then the
    /// end of the dump when `done`.
    fn reply(n: u16, done: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            let m = DiagMsg {
                family: libc::AF_INET as u8,
                state: 6, // TIME_WAIT
                sport: 40_000 + i,
                dport: 443,
                src: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                dst: [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                ..DiagMsg::default()
            };
            build::message(
                &mut out,
                Request::Legacy.message_type(),
                wire::NLM_F_MULTI,
                1,
                &m.bytes(),
            );
        }
        if done {
            build::done(&mut out, 1, 0);
        }
        out
    }

    /// Runs a dump over scripted attempts; returns its result, the ports delivered and the
    /// number of sockets opened.
    fn scripted(
        attempts: Vec<Vec<Result<Vec<u8>, i32>>>,
    ) -> (Result<DumpStats, NetlinkError>, Vec<u16>, usize) {
        let mut attempts: VecDeque<_> = attempts.into();
        let mut opened = 0;
        let sent = Rc::new(RefCell::new(Vec::new()));
        let mut ports = Vec::new();
        let mut sink = tcpdoctor_model::FnSink(|s: &Socket| {
            ports.push(s.local.port().unwrap_or(0));
        });
        let r = dump_with(&DumpOptions::default(), &mut sink, &mut |_, _| {
            opened += 1;
            let replies = attempts.pop_front().unwrap_or_default();
            Ok(Box::new(Scripted {
                replies: RefCell::new(replies.into()),
                sent: Rc::clone(&sent),
            }) as Box<dyn Transport>)
        });
        (r, ports, opened)
    }

    #[test]
    fn an_overflow_before_any_socket_restarts_the_dump() {
        // ENOBUFS on the first datagram: nothing was delivered, so the dump starts again on a
        // new socket and then completes.
        let (r, ports, opened) = scripted(vec![
            vec![Err(libc::ENOBUFS)],
            vec![Ok(reply(2, false)), Ok(reply(1, true))],
        ]);
        let stats = r.unwrap();
        assert_eq!(opened, 2);
        assert_eq!(stats.restarts, 1);
        assert_eq!(stats.sockets, 3);
        assert!(stats.one_walk);
        assert_eq!(ports, vec![40_000, 40_001, 40_000]);
    }

    #[test]
    fn an_overflow_after_sockets_were_delivered_is_an_error_that_says_so() {
        // Restarting would deliver those sockets twice: the error reports them instead.
        let (r, ports, opened) = scripted(vec![
            vec![Ok(reply(2, false)), Err(libc::ENOBUFS)],
            vec![Ok(reply(1, true))],
        ]);
        assert_eq!(opened, 1);
        assert_eq!(ports.len(), 2);
        match r {
            Err(e @ NetlinkError::Overflow { delivered: 2, .. }) => {
                assert!(e.to_string().contains('2'), "{e}");
            }
            other => panic!("want an overflow after 2 sockets, got {other:?}"),
        }
    }

    #[test]
    fn overflows_restart_at_most_twice() {
        let (r, ports, opened) = scripted(vec![
            vec![Err(libc::ENOBUFS)],
            vec![Err(libc::ENOBUFS)],
            vec![Err(libc::ENOBUFS)],
            vec![Ok(reply(1, true))],
        ]);
        assert_eq!(opened, 1 + MAX_RESTARTS as usize);
        assert!(ports.is_empty());
        assert!(
            matches!(r, Err(NetlinkError::Overflow { delivered: 0, .. })),
            "{r:?}"
        );
    }

    #[test]
    fn error_messages_are_actionable() {
        let e = kernel_error("TCPDIAG_GETSOCK", libc::EOPNOTSUPP);
        assert!(e
            .to_string()
            .starts_with("inet_diag is not available (TCPDIAG_GETSOCK: "));
        assert!(e.to_string().contains("modprobe tcp_diag"));
        let e = kernel_error("SOCK_DIAG_BY_FAMILY AF_INET", libc::EPERM);
        assert!(matches!(e, NetlinkError::PermissionDenied { errno: 1, .. }));
        assert!(e.to_string().contains("Operation not permitted"), "{e}");
        let e = kernel_error("x", libc::EBUSY);
        assert!(matches!(
            e,
            NetlinkError::Kernel {
                errno: libc::EBUSY,
                ..
            }
        ));
        assert_eq!(
            legacy_refusal(&kernel_error("x", libc::EINVAL)),
            Some(libc::EINVAL)
        );
        assert_eq!(legacy_refusal(&kernel_error("x", libc::EPERM)), None);
    }

    #[test]
    fn options_from_filter() {
        let f = SocketFilter {
            states: StateSet::one(TcpState::TimeWait),
            dport: vec![PortMatch { lo: 3306, hi: 3306 }],
            ..Default::default()
        };
        let o = DumpOptions::from_filter(&f);
        assert_eq!(o.states, f.states);
        assert_eq!(o.dport, f.dport);
        assert!(o.sport.is_empty());
        assert_eq!(o.families, Families::Both);
    }
}
