//! Byte-level encoding of inet_diag requests and decoding of their replies.
//!
//! Pure and safe: no libc structures, no transmutes; every field is read at its documented
//! offset with an explicit byte order. Netlink headers and the `u32` fields of the diag structures
//! are in the host's byte order; ports and addresses are in network order (tcp-facts 9.3).
//!
//! Layouts (from `include/uapi/linux/netlink.h` and `include/uapi/linux/inet_diag.h`):
//!
//! ```text
//! nlmsghdr (16)         : u32 len | u16 type | u16 flags | u32 seq | u32 pid
//! inet_diag_sockid (48) : be16 sport | be16 dport | be32 src[4] | be32 dst[4] | u32 if | u32 cookie[2]
//! inet_diag_req_v2 (56) : u8 family | u8 protocol | u8 ext | u8 pad | u32 states | sockid
//! inet_diag_req (60)    : u8 family | u8 src_len | u8 dst_len | u8 ext | sockid | u32 states | u32 dbs
//! inet_diag_msg (72)    : u8 family | u8 state | u8 timer | u8 retrans | sockid
//!                         | u32 expires | u32 rqueue | u32 wqueue | u32 uid | u32 inode
//! nlattr (4)            : u16 len | u16 type, payload padded to 4
//! inet_diag_bc_op (4)   : u8 code | u8 yes | u16 no
//! ```
//!
//! Requests: `SOCK_DIAG_BY_FAMILY` (20) with `inet_diag_req_v2` dumps one address family; the
//! legacy `TCPDIAG_GETSOCK` (18) with `inet_diag_req` (tcp-facts 9.1) is answered by the kernel's
//! `inet_diag_dump_compat()`, which sets the family to `AF_UNSPEC` and so returns the sockets of
//! *both* families in one walk of the hash tables (`inet_diag_dump_icsk()` skips the family check
//! for `AF_UNSPEC`). The legacy dump reads an `INET_DIAG_REQ_BYTECODE` attribute after the
//! request exactly as the v2 dump does. Its replies carry the request's message type (18) and the
//! same `inet_diag_msg`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tcpdoctor_model::{
    Family, Host, Port, PortMatch, Socket, StateSet, TcpState, Timer, TimerKind,
};

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// `NLMSG_NOOP`: nothing, skip.
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_ERROR`: `struct nlmsgerr` (negative errno, or 0 for an acknowledgement).
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: end of a multipart dump; payload is the dump's final status (`int`).
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_OVERRUN`: data lost.
pub const NLMSG_OVERRUN: u16 = 4;
/// `NLM_F_REQUEST`
pub const NLM_F_REQUEST: u16 = 0x1;
/// `NLM_F_MULTI`: part of a multipart reply.
pub const NLM_F_MULTI: u16 = 0x2;
/// `NLM_F_DUMP_INTR`: the dump was inconsistent (the table changed under it).
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// `NLM_F_DUMP` = `NLM_F_ROOT | NLM_F_MATCH`.
pub const NLM_F_DUMP: u16 = 0x300;
/// Legacy inet_diag request type (tcp-facts 9.1).
pub const TCPDIAG_GETSOCK: u16 = 18;
/// `SOCK_DIAG_BY_FAMILY` (tcp-facts 9.1).
pub const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `AF_INET`
pub const AF_INET: u8 = 2;
/// `AF_INET6`
pub const AF_INET6: u8 = 10;
/// `IPPROTO_TCP`
pub const IPPROTO_TCP: u8 = 6;
/// Request attribute carrying filter bytecode (tcp-facts 9.10).
pub const INET_DIAG_REQ_BYTECODE: u16 = 1;
/// Bytecode: unconditional jump (always takes the `no` offset).
pub const INET_DIAG_BC_JMP: u8 = 1;
/// Bytecode: local port >= value.
pub const INET_DIAG_BC_S_GE: u8 = 2;
/// Bytecode: local port <= value.
pub const INET_DIAG_BC_S_LE: u8 = 3;
/// Bytecode: remote port >= value.
pub const INET_DIAG_BC_D_GE: u8 = 4;
/// Bytecode: remote port <= value.
pub const INET_DIAG_BC_D_LE: u8 = 5;
/// Size of `struct inet_diag_req_v2`.
pub const INET_DIAG_REQ_V2_LEN: usize = 56;
/// Size of the legacy `struct inet_diag_req`.
pub const INET_DIAG_REQ_LEN: usize = 60;
/// Size of `struct inet_diag_msg`.
pub const INET_DIAG_MSG_LEN: usize = 72;
/// Size of `struct inet_diag_sockid`.
const SOCKID_LEN: usize = 48;

/// Rounds up to the netlink alignment (4).
#[inline]
pub const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Malformed input to the encoder or from the kernel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes left than a netlink header.
    #[error(
        "malformed netlink reply: {remaining} stray bytes at offset {offset}, too few for a \
         16-byte message header"
    )]
    TruncatedHeader {
        /// Offset in the datagram.
        offset: usize,
        /// Bytes left.
        remaining: usize,
    },
    /// A header whose length is below the header size or beyond the datagram.
    #[error(
        "malformed netlink reply: message at offset {offset} claims {len} bytes but {remaining} \
         are left (and at least 16 are needed)"
    )]
    BadLength {
        /// Offset in the datagram.
        offset: usize,
        /// `nlmsg_len`.
        len: u32,
        /// Bytes left from `offset`.
        remaining: usize,
    },
    /// A payload too short for the structure its type promises.
    #[error("malformed netlink reply: {what} payload is {got} bytes, needs at least {need}")]
    ShortPayload {
        /// The structure.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        got: usize,
    },
    /// The port filter does not fit the 16-bit offsets of inet_diag bytecode.
    #[error(
        "port filter too long for the kernel ({bytes} bytes of bytecode, at most 65531): use \
         fewer or wider port ranges"
    )]
    FilterTooLong {
        /// Bytecode size that was needed.
        bytes: usize,
    },
}

/// Which dump request to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Request {
    /// `SOCK_DIAG_BY_FAMILY` + `inet_diag_req_v2`: one family, one walk.
    ByFamily(Family),
    /// Legacy `TCPDIAG_GETSOCK` + `inet_diag_req`: both families in one walk.
    Legacy,
}

impl Request {
    /// The netlink message type of the request, which is also the type of its replies.
    pub fn message_type(self) -> u16 {
        match self {
            Request::ByFamily(_) => SOCK_DIAG_BY_FAMILY,
            Request::Legacy => TCPDIAG_GETSOCK,
        }
    }

    /// A short name for error messages.
    pub fn name(self) -> &'static str {
        match self {
            Request::ByFamily(Family::Inet) => "SOCK_DIAG_BY_FAMILY AF_INET",
            Request::ByFamily(Family::Inet6) => "SOCK_DIAG_BY_FAMILY AF_INET6",
            Request::Legacy => "TCPDIAG_GETSOCK",
        }
    }
}

/// The `AF_*` number of a family.
pub fn family_number(f: Family) -> u8 {
    match f {
        Family::Inet => AF_INET,
        Family::Inet6 => AF_INET6,
    }
}

/// Appends one complete dump request (header, request structure, optional bytecode attribute)
/// to `out`: flags `NLM_F_REQUEST | NLM_F_DUMP`, pid 0, protocol TCP, no extensions
/// (`idiag_ext = 0`: the smallest replies), socket id all zero (no exact-match filter),
/// `idiag_states = states.bits()` (tcp-facts 9.4).
///
/// The legacy request's `idiag_family` is set to `AF_INET`; the kernel ignores it for dumps.
pub fn encode_request(
    req: Request,
    states: StateSet,
    seq: u32,
    bytecode: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let body = match req {
        Request::ByFamily(_) => INET_DIAG_REQ_V2_LEN,
        Request::Legacy => INET_DIAG_REQ_LEN,
    };
    let attr = match bytecode {
        Some(bc) => {
            if bc.len() + 4 > usize::from(u16::MAX) {
                return Err(WireError::FilterTooLong { bytes: bc.len() });
            }
            4 + bc.len()
        }
        None => 0,
    };
    let total = NLMSG_HDRLEN + body + align4(attr);
    let start = out.len();
    out.reserve(total);
    out.extend_from_slice(&(total as u32).to_ne_bytes());
    out.extend_from_slice(&req.message_type().to_ne_bytes());
    out.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    match req {
        Request::ByFamily(f) => {
            out.extend_from_slice(&[family_number(f), IPPROTO_TCP, 0, 0]);
            out.extend_from_slice(&states.bits().to_ne_bytes());
            out.extend_from_slice(&[0u8; SOCKID_LEN]);
        }
        Request::Legacy => {
            out.extend_from_slice(&[AF_INET, 0, 0, 0]);
            out.extend_from_slice(&[0u8; SOCKID_LEN]);
            out.extend_from_slice(&states.bits().to_ne_bytes());
            out.extend_from_slice(&0u32.to_ne_bytes()); // idiag_dbs, unused
        }
    }
    if let Some(bc) = bytecode {
        out.extend_from_slice(&(attr as u16).to_ne_bytes());
        out.extend_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
        out.extend_from_slice(bc);
        out.resize(start + total, 0);
    }
    debug_assert_eq!(out.len(), start + total);
    Ok(())
}

/// One compare op of the port program before its jump targets are known.
struct PortOp {
    code: u8,
    port: u16,
    /// Absolute offset where a failed comparison continues.
    no: usize,
}

enum Op {
    Cmp(PortOp),
    /// Unconditional jump to an absolute offset.
    Jmp(usize),
}

/// Compiles `(sport in any of sport) AND (dport in any of dport)` into inet_diag bytecode
/// (tcp-facts 9.10), or `None` when neither list restricts anything (empty lists, or a list
/// holding `0-65535`).
///
/// Each range is `GE lo` then `LE hi` (an end at 0 or 65535 needs no op). Ranges of one list are
/// alternatives: a failed comparison continues at the next range, success of a range jumps past
/// the rest of its list (a `JMP` op), and failure of the last range jumps to "end + 4", which the
/// kernel treats as "reject". Every op's `yes` is the next op, so every jump target lies on the
/// `yes` chain, which the kernel's `inet_diag_bc_audit()` requires. The kernel compares the local
/// port as `inet_num` and the remote port in host order (`inet_diag_bc_sk()`).
pub fn compile_port_filter(
    sport: &[PortMatch],
    dport: &[PortMatch],
) -> Result<Option<Vec<u8>>, WireError> {
    let clauses: Vec<(u8, u8, &[PortMatch])> = [
        (INET_DIAG_BC_S_GE, INET_DIAG_BC_S_LE, sport),
        (INET_DIAG_BC_D_GE, INET_DIAG_BC_D_LE, dport),
    ]
    .into_iter()
    .filter(|(_, _, list)| !list.is_empty() && !list.iter().any(|m| m.lo == 0 && m.hi == u16::MAX))
    .collect();
    if clauses.is_empty() {
        return Ok(None);
    }
    // Layout pass: ops with absolute offsets; failure targets of each range patched once the
    // next range's start (or the end) is known.
    const REJECT: usize = usize::MAX;
    let mut ops: Vec<(usize, Op)> = Vec::new();
    let mut off = 0usize;
    for (ge, le, list) in clauses {
        let mut pending_fail: Vec<usize> = Vec::new(); // op indices failing to the next range
        let mut pending_jmp: Vec<usize> = Vec::new(); // JMP indices to the end of this list
        for (i, m) in list.iter().enumerate() {
            let range_start = off;
            for idx in pending_fail.drain(..) {
                if let (_, Op::Cmp(c)) = &mut ops[idx] {
                    c.no = range_start;
                }
            }
            let (lo, hi) = (m.lo.min(m.hi), m.hi.max(m.lo));
            if lo > 0 {
                pending_fail.push(ops.len());
                ops.push((
                    off,
                    Op::Cmp(PortOp {
                        code: ge,
                        port: lo,
                        no: REJECT,
                    }),
                ));
                off += 8;
            }
            if hi < u16::MAX {
                pending_fail.push(ops.len());
                ops.push((
                    off,
                    Op::Cmp(PortOp {
                        code: le,
                        port: hi,
                        no: REJECT,
                    }),
                ));
                off += 8;
            }
            if i + 1 < list.len() {
                pending_jmp.push(ops.len());
                ops.push((off, Op::Jmp(0)));
                off += 4;
            }
        }
        // Failures of the last range stay REJECT.
        for idx in pending_jmp {
            if let (_, Op::Jmp(t)) = &mut ops[idx] {
                *t = off;
            }
        }
    }
    let total = off;
    if total + 4 > usize::from(u16::MAX) {
        return Err(WireError::FilterTooLong { bytes: total });
    }
    let mut bc = Vec::with_capacity(total);
    for (at, op) in ops {
        match op {
            Op::Cmp(c) => {
                let target = if c.no == REJECT { total + 4 } else { c.no };
                bc.extend_from_slice(&[c.code, 8]);
                bc.extend_from_slice(&((target - at) as u16).to_ne_bytes());
                bc.extend_from_slice(&[0, 0]);
                bc.extend_from_slice(&c.port.to_ne_bytes());
            }
            Op::Jmp(target) => {
                bc.extend_from_slice(&[INET_DIAG_BC_JMP, 4]);
                bc.extend_from_slice(&((target - at) as u16).to_ne_bytes());
            }
        }
    }
    Ok(Some(bc))
}

/// One netlink message inside a received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsg<'a> {
    /// `nlmsg_type`
    pub ty: u16,
    /// `nlmsg_flags`
    pub flags: u16,
    /// `nlmsg_seq`
    pub seq: u32,
    /// `nlmsg_pid`
    pub pid: u32,
    /// The bytes after the header, up to `nlmsg_len` (padding excluded).
    pub payload: &'a [u8],
}

/// Iterator over the messages of one datagram; yields an error (once, then stops) on a
/// truncated or inconsistent header.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    buf: &'a [u8],
    off: usize,
}

/// The messages of one received datagram.
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { buf, off: 0 }
}

#[inline]
fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

#[inline]
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<NlMsg<'a>, WireError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.off..)?;
        if rest.is_empty() {
            return None;
        }
        let offset = self.off;
        if rest.len() < NLMSG_HDRLEN {
            self.off = self.buf.len();
            return Some(Err(WireError::TruncatedHeader {
                offset,
                remaining: rest.len(),
            }));
        }
        let len = u32_at(rest, 0);
        let ulen = len as usize;
        if ulen < NLMSG_HDRLEN || ulen > rest.len() {
            self.off = self.buf.len();
            return Some(Err(WireError::BadLength {
                offset,
                len,
                remaining: rest.len(),
            }));
        }
        self.off = offset.saturating_add(align4(ulen)).min(self.buf.len());
        Some(Ok(NlMsg {
            ty: u16_at(rest, 4),
            flags: u16_at(rest, 6),
            seq: u32_at(rest, 8),
            pid: u32_at(rest, 12),
            payload: &rest[NLMSG_HDRLEN..ulen],
        }))
    }
}

/// The status in an `NLMSG_ERROR` payload: a negative errno, or 0 for an acknowledgement.
pub fn decode_error(payload: &[u8]) -> Result<i32, WireError> {
    if payload.len() < 4 {
        return Err(WireError::ShortPayload {
            what: "NLMSG_ERROR",
            need: 4,
            got: payload.len(),
        });
    }
    Ok(u32_at(payload, 0) as i32)
}

/// The final status in an `NLMSG_DONE` payload (0, or a negative errno when the dump failed
/// part-way). An empty payload (very old kernels) reads as 0.
pub fn decode_done(payload: &[u8]) -> i32 {
    if payload.len() < 4 {
        0
    } else {
        u32_at(payload, 0) as i32
    }
}

/// What [`decode_diag_msg`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// The socket was written to the output.
    Socket,
    /// The socket was written to the output, but its timer number is unknown (the timer is
    /// left `None`).
    SocketUnknownTimer(u8),
    /// A state number no model state maps to (0, 13 `BOUND_INACTIVE`, newer ones); the output
    /// is left unchanged.
    UnknownState(u8),
    /// An address family other than `AF_INET`/`AF_INET6`; the output is left unchanged.
    UnknownFamily(u8),
}

/// Decodes a `struct inet_diag_msg` (tcp-facts 9.5-9.9) into `out`, overwriting every field the
/// message carries and clearing `owners`. Attributes after the structure are ignored.
///
/// - state: `TcpState::from_kernel` (`NEW_SYN_RECV` 12 is `SYN_RECV`); TIME_WAIT entries report
///   their substate (TIME_WAIT or FIN_WAIT2), tcp-facts 9.8.
/// - endpoints: ports and addresses in network order; an IPv6 socket talking IPv4 keeps its
///   IPv4-mapped address (`::ffff:a.b.c.d`), as the kernel reports it.
/// - timer: `TimerKind::from_kernel(idiag_timer)` with `idiag_expires` in ms; timer 0 is `None`.
/// - `recv_q`/`send_q`: `idiag_rqueue`/`idiag_wqueue` (for LISTEN: accept queue / backlog,
///   tcp-facts 9.7); `uid` always present; `inode` `None` when 0; `cookie` from `idiag_cookie`.
#[inline]
pub fn decode_diag_msg(payload: &[u8], out: &mut Socket) -> Result<Decoded, WireError> {
    let Some(m) = payload.get(..INET_DIAG_MSG_LEN) else {
        return Err(WireError::ShortPayload {
            what: "inet_diag_msg",
            need: INET_DIAG_MSG_LEN,
            got: payload.len(),
        });
    };
    let family = match m[0] {
        AF_INET => Family::Inet,
        AF_INET6 => Family::Inet6,
        f => return Ok(Decoded::UnknownFamily(f)),
    };
    let Some(state) = TcpState::from_kernel(m[1]) else {
        return Ok(Decoded::UnknownState(m[1]));
    };
    let sport = u16::from_be_bytes([m[4], m[5]]);
    let dport = u16::from_be_bytes([m[6], m[7]]);
    let (src, dst) = match family {
        Family::Inet => (
            IpAddr::V4(Ipv4Addr::new(m[8], m[9], m[10], m[11])),
            IpAddr::V4(Ipv4Addr::new(m[24], m[25], m[26], m[27])),
        ),
        Family::Inet6 => {
            let mut a = [0u8; 16];
            let mut b = [0u8; 16];
            a.copy_from_slice(&m[8..24]);
            b.copy_from_slice(&m[24..40]);
            (IpAddr::V6(Ipv6Addr::from(a)), IpAddr::V6(Ipv6Addr::from(b)))
        }
    };
    let cookie = u64::from(u32_at(m, 44)) | (u64::from(u32_at(m, 48)) << 32);
    let expires = u32_at(m, 52);
    let timer_n = m[2];
    let timer = TimerKind::from_kernel(timer_n).map(|kind| Timer {
        kind,
        expires_ms: u64::from(expires),
    });
    let inode = u32_at(m, 68);

    out.family = family;
    out.state = state;
    out.local.host = Host::Ip(src);
    out.local.port = Port::Num(sport);
    out.remote.host = Host::Ip(dst);
    out.remote.port = Port::Num(dport);
    out.timer = timer;
    out.retransmits = u32::from(m[3]);
    out.recv_q = Some(u32_at(m, 56));
    out.send_q = Some(u32_at(m, 60));
    out.uid = Some(u32_at(m, 64));
    out.inode = if inode == 0 {
        None
    } else {
        Some(u64::from(inode))
    };
    out.cookie = Some(cookie);
    out.owners.clear();
    if timer_n > 4 {
        Ok(Decoded::SocketUnknownTimer(timer_n))
    } else {
        Ok(Decoded::Socket)
    }
}

/// Builders of reply bytes, for tests here and in other crates (golden buffers, fuzzing).
pub mod build {
    use super::*;

    /// The fields of one `inet_diag_msg`, in kernel terms.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct DiagMsg {
        /// `idiag_family` (2 or 10)
        pub family: u8,
        /// `idiag_state`
        pub state: u8,
        /// `idiag_timer`
        pub timer: u8,
        /// `idiag_retrans`
        pub retrans: u8,
        /// Local port (host order; encoded big-endian).
        pub sport: u16,
        /// Remote port (host order; encoded big-endian).
        pub dport: u16,
        /// Local address, network order (IPv4 uses the first 4 bytes).
        pub src: [u8; 16],
        /// Remote address, network order.
        pub dst: [u8; 16],
        /// `idiag_if`
        pub ifindex: u32,
        /// Socket cookie.
        pub cookie: u64,
        /// `idiag_expires` (ms)
        pub expires: u32,
        /// `idiag_rqueue`
        pub rqueue: u32,
        /// `idiag_wqueue`
        pub wqueue: u32,
        /// `idiag_uid`
        pub uid: u32,
        /// `idiag_inode`
        pub inode: u32,
    }

    impl DiagMsg {
        /// The 72 bytes of the structure.
        pub fn bytes(&self) -> Vec<u8> {
            let mut v = Vec::with_capacity(INET_DIAG_MSG_LEN);
            v.extend_from_slice(&[self.family, self.state, self.timer, self.retrans]);
            v.extend_from_slice(&self.sport.to_be_bytes());
            v.extend_from_slice(&self.dport.to_be_bytes());
            v.extend_from_slice(&self.src);
            v.extend_from_slice(&self.dst);
            v.extend_from_slice(&self.ifindex.to_ne_bytes());
            v.extend_from_slice(&(self.cookie as u32).to_ne_bytes());
            v.extend_from_slice(&((self.cookie >> 32) as u32).to_ne_bytes());
            for x in [self.expires, self.rqueue, self.wqueue, self.uid, self.inode] {
                v.extend_from_slice(&x.to_ne_bytes());
            }
            v
        }
    }

    /// Appends one netlink message (header + payload + padding) to `out`.
    pub fn message(out: &mut Vec<u8>, ty: u16, flags: u16, seq: u32, payload: &[u8]) {
        let len = NLMSG_HDRLEN + payload.len();
        out.extend_from_slice(&(len as u32).to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(payload);
        out.resize(out.len() + (align4(len) - len), 0);
    }

    /// Appends an `NLMSG_DONE` with status `status`.
    pub fn done(out: &mut Vec<u8>, seq: u32, status: i32) {
        message(out, NLMSG_DONE, NLM_F_MULTI, seq, &status.to_ne_bytes());
    }

    /// Appends an `NLMSG_ERROR` with `error` (negative errno) and a copy of a request header.
    pub fn error(out: &mut Vec<u8>, seq: u32, error: i32) {
        let mut p = error.to_ne_bytes().to_vec();
        let mut hdr = Vec::new();
        message(
            &mut hdr,
            SOCK_DIAG_BY_FAMILY,
            NLM_F_REQUEST | NLM_F_DUMP,
            seq,
            &[],
        );
        p.extend_from_slice(&hdr);
        message(out, NLMSG_ERROR, 0, seq, &p);
    }
}

#[cfg(test)]
mod tests {
    use super::build::DiagMsg;
    use super::*;

    #[test]
    fn align() {
        assert_eq!(align4(0), 0);
        assert_eq!(align4(1), 4);
        assert_eq!(align4(72), 72);
        assert_eq!(align4(75), 76);
    }

    #[test]
    fn unknown_timer_is_reported() {
        let m = DiagMsg {
            family: AF_INET,
            state: 1,
            timer: 9,
            ..Default::default()
        }
        .bytes();
        let mut s = Socket::new(
            TcpState::Listen,
            "0.0.0.0:0".parse().unwrap(),
            "0.0.0.0:0".parse().unwrap(),
        );
        assert_eq!(
            decode_diag_msg(&m, &mut s),
            Ok(Decoded::SocketUnknownTimer(9))
        );
        assert_eq!(s.timer, None);
        assert_eq!(s.state, TcpState::Established);
    }
}
