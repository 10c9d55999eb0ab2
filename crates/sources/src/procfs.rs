//! The `/proc/net/tcp` and `/proc/net/tcp6` source (tcp-facts section 8).
//!
//! Used with `--source proc`, and automatically (with a gap saying so) when netlink sock_diag is
//! not available. The kernel cannot filter here, so every line is read and the state filter is
//! applied in user space. Differences from netlink, recorded as gaps by [`crate::live`]: no
//! listen backlog (`send_q` is `None` for LISTEN), no socket cookie, timers in clock ticks.
//!
//! Lines are parsed from bytes as they are read, with one reused buffer: nothing is collected.

use std::io::{self, BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tcpdoctor_model::{
    Endpoint, Family, Host, Port, Socket, SocketSink, StateSet, TcpState, Timer, TimerKind,
};

/// Why a line of `/proc/net/tcp` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub reason: &'static str,
}

/// What one file produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProcStats {
    /// Sockets handed to the sink (after the state filter).
    pub sockets: u64,
    /// Sockets read, before the state filter.
    pub seen: u64,
    /// Lines that could not be read (first few kept in `errors`).
    pub bad_lines: u64,
    /// The first few unreadable lines.
    pub errors: Vec<LineError>,
}

fn hex(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

fn dec(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// `0100007F:0CEA` or 32 hex digits `:port`. Each 32-bit word is printed as the host-order
/// integer of its raw bytes (tcp-facts 8.3), so its native-endian bytes are the address bytes.
fn endpoint(field: &[u8]) -> Option<(Family, Endpoint)> {
    let colon = field.iter().position(|&c| c == b':')?;
    let (a, p) = (&field[..colon], &field[colon + 1..]);
    let port = u16::try_from(hex(p)?).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::try_from(hex(a.get(i * 8..i * 8 + 8)?)?).ok()?;
        Some(w.to_ne_bytes())
    };
    let (family, ip) = match a.len() {
        8 => (Family::Inet, IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            (Family::Inet6, IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => return None,
    };
    Some((
        family,
        Endpoint {
            host: Host::Ip(ip),
            port: Port::Num(port),
        },
    ))
}

/// Parses one data line of `/proc/net/tcp{,6}` into `s` (reused). `ticks_per_sec` is the
/// USER_HZ clock (`getconf CLK_TCK`) that `tm->when` is counted in (tcp-facts 8.7).
pub fn parse_line(line: &[u8], ticks_per_sec: u64, s: &mut Socket) -> Result<(), &'static str> {
    let mut f = line
        .split(|&c| c == b' ' || c == b'\t')
        .filter(|x| !x.is_empty());
    let sl = f.next().ok_or("empty line")?;
    if sl.last() != Some(&b':') {
        return Err("no slot number");
    }
    let (family, local) =
        endpoint(f.next().ok_or("no local address")?).ok_or("bad local address")?;
    let (_, remote) = endpoint(f.next().ok_or("no remote address")?).ok_or("bad remote address")?;
    let st = hex(f.next().ok_or("no state")?).ok_or("bad state")?;
    let state = u8::try_from(st)
        .ok()
        .and_then(TcpState::from_kernel)
        .ok_or("unknown state number")?;
    let queues = f.next().ok_or("no queues")?;
    let qc = queues.iter().position(|&c| c == b':').ok_or("bad queues")?;
    let tx =
        u32::try_from(hex(&queues[..qc]).ok_or("bad tx_queue")?).map_err(|_| "bad tx_queue")?;
    let rx =
        u32::try_from(hex(&queues[qc + 1..]).ok_or("bad rx_queue")?).map_err(|_| "bad rx_queue")?;
    let timer = f.next().ok_or("no timer")?;
    let tc = timer.iter().position(|&c| c == b':').ok_or("bad timer")?;
    let tr = hex(&timer[..tc]).ok_or("bad timer kind")?;
    let when = hex(&timer[tc + 1..]).ok_or("bad timer value")?;
    let retr = hex(f.next().ok_or("no retransmits")?).ok_or("bad retransmits")?;
    let uid = dec(f.next().ok_or("no uid")?).ok_or("bad uid")?;
    let _timeout = f.next().ok_or("no timeout")?;
    let inode = dec(f.next().ok_or("no inode")?).ok_or("bad inode")?;

    s.family = family;
    s.state = state;
    s.local = local;
    s.remote = remote;
    s.timer = u8::try_from(tr)
        .ok()
        .and_then(TimerKind::from_kernel)
        .map(|kind| Timer {
            kind,
            expires_ms: when.saturating_mul(1000) / ticks_per_sec.max(1),
        });
    s.retransmits = u32::try_from(retr).unwrap_or(u32::MAX);
    // For LISTEN, rx_queue is the accept-queue length; the backlog is not printed (8.5).
    s.recv_q = Some(rx);
    s.send_q = if state == TcpState::Listen {
        None
    } else {
        Some(tx)
    };
    s.uid = u32::try_from(uid).ok();
    s.inode = if inode == 0 { None } else { Some(inode) };
    s.cookie = None;
    s.owners.clear();
    Ok(())
}

/// Streams one `/proc/net/tcp`-format file into `sink`, keeping sockets whose state is in
/// `states`. Unreadable lines are counted and the first few kept, never fatal.
pub fn read_table<R: Read>(
    reader: R,
    states: StateSet,
    ticks_per_sec: u64,
    sink: &mut dyn SocketSink,
) -> io::Result<ProcStats> {
    let mut r = BufReader::with_capacity(256 * 1024, reader);
    let mut buf = Vec::with_capacity(256);
    let mut stats = ProcStats::default();
    let mut s = Socket::new(
        TcpState::Close,
        (Ipv4Addr::UNSPECIFIED, 0).into(),
        (Ipv4Addr::UNSPECIFIED, 0).into(),
    );
    let mut lineno = 0usize;
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        lineno += 1;
        if lineno == 1 {
            if !buf.windows(2).any(|w| w == b"sl") {
                stats.bad_lines += 1;
                stats.errors.push(LineError {
                    line: 1,
                    reason: "no header line",
                });
            }
            continue;
        }
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if line.iter().all(|c| c.is_ascii_whitespace()) {
            continue;
        }
        match parse_line(line, ticks_per_sec, &mut s) {
            Ok(()) => {
                stats.seen += 1;
                if states.contains(s.state) {
                    stats.sockets += 1;
                    sink.socket(&s);
                    if sink.stopped() {
                        break;
                    }
                }
            }
            Err(reason) => {
                stats.bad_lines += 1;
                if stats.errors.len() < 5 {
                    stats.errors.push(LineError {
                        line: lineno,
                        reason,
                    });
                }
            }
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcpdoctor_model::VecSink;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000002 00:00000000 00000000   106        0 24801 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0CEA 0100007F:9C40 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   2: 0100007F:9C42 0100007F:0CEA 01 0000001A:00000000 01:00000014 00000002  1000        0 31337 1 0000000000000000 20 4 30 10 -1
   3: garbage line
";

    #[test]
    fn parses_proc_net_tcp() {
        let mut sink = VecSink::default();
        let st = read_table(TCP.as_bytes(), StateSet::ALL, 100, &mut sink).unwrap();
        assert_eq!(st.seen, 3);
        assert_eq!(st.bad_lines, 1);
        assert_eq!(st.errors[0].line, 5);
        let v = &sink.0;
        assert_eq!(v[0].state, TcpState::Listen);
        assert_eq!(v[0].local.to_string(), "127.0.0.1:3306");
        assert_eq!(v[0].remote.to_string(), "0.0.0.0:*");
        assert_eq!(v[0].recv_q, Some(2));
        assert_eq!(v[0].send_q, None);
        assert_eq!(v[0].uid, Some(106));
        assert_eq!(v[0].inode, Some(24801));
        // TIME_WAIT: timer 3, 0x1770 = 6000 ticks = 60 s at USER_HZ 100 (tcp-facts 8.7, 8.8).
        assert_eq!(v[1].state, TcpState::TimeWait);
        assert_eq!(
            v[1].timer,
            Some(Timer {
                kind: TimerKind::Timewait,
                expires_ms: 60_000
            })
        );
        assert_eq!(v[1].inode, None);
        assert_eq!(v[2].remote.port(), Some(3306));
        assert_eq!(v[2].send_q, Some(0x1a));
        assert_eq!(v[2].retransmits, 2);
        assert_eq!(
            v[2].timer,
            Some(Timer {
                kind: TimerKind::On,
                expires_ms: 200
            })
        );
    }

    #[test]
    fn parses_tcp6_words() {
        // ::1 port 22 and ::ffff:127.0.0.1 as the kernel prints them on little-endian.
        let t = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:0016 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
";
        if cfg!(target_endian = "big") {
            return;
        }
        let mut sink = VecSink::default();
        read_table(t.as_bytes(), StateSet::ALL, 100, &mut sink).unwrap();
        assert_eq!(sink.0[0].local.to_string(), "[::1]:22");
        assert_eq!(sink.0[0].family, Family::Inet6);
        assert_eq!(sink.0[1].local.to_string(), "[::ffff:127.0.0.1]:22");
        assert_eq!(
            sink.0[1].local.canonical_ip(),
            Some("127.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn state_filter_and_garbage_never_panics() {
        let mut sink = VecSink::default();
        let st = read_table(
            TCP.as_bytes(),
            StateSet::one(TcpState::TimeWait),
            100,
            &mut sink,
        )
        .unwrap();
        assert_eq!((st.seen, st.sockets), (3, 1));
        let mut junk: Vec<u8> = TCP.as_bytes().to_vec();
        for i in 0..junk.len() {
            let mut j = junk.clone();
            j.truncate(i);
            let _ = read_table(j.as_slice(), StateSet::ALL, 100, &mut VecSink::default());
            junk[i] ^= 0x5a;
            let _ = read_table(junk.as_slice(), StateSet::ALL, 0, &mut VecSink::default());
        }
    }
}
