//! Row readers for every format. Each reads one tokenised line into the parser's reusable
//! [`Socket`] and says what the line was.

use crate::endpoint::{
    parse_endpoint, parse_u16, parse_u32, parse_u64, Ep, HostPart, Resolver, Style,
};
use crate::words::{looks_like_word, proto_word, state_word, Proto, StateWord};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use tcpdoctor_model::{Endpoint, Family, Host, Port, Process, Socket, TcpState, Timer, TimerKind};

/// A tokenised line: the text and the byte spans of its whitespace-separated tokens.
pub(crate) struct Toks<'a> {
    pub(crate) line: &'a str,
    pub(crate) spans: &'a [(u32, u32)],
}

impl<'a> Toks<'a> {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&'a str> {
        let (a, b) = *self.spans.get(i)?;
        self.line.get(a as usize..b as usize)
    }
    #[inline]
    pub(crate) fn at(&self, i: usize) -> &'a str {
        self.get(i).unwrap_or("")
    }
    /// Byte offset where token `i` starts (line length when absent).
    pub(crate) fn start(&self, i: usize) -> usize {
        self.spans
            .get(i)
            .map(|s| s.0 as usize)
            .unwrap_or(self.line.len())
    }
    /// Byte offset where token `i` ends.
    pub(crate) fn end(&self, i: usize) -> usize {
        self.spans
            .get(i)
            .map(|s| s.1 as usize)
            .unwrap_or(self.line.len())
    }
}

const SPACES: u64 = 0x2020_2020_2020_2020;
const TABS: u64 = 0x0909_0909_0909_0909;
const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
fn word_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

/// Bytes of `v` that are zero, as their high bits (exact for the lowest zero byte).
#[inline(always)]
fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(LOW) & !v & HIGH
}

/// Index of the first byte at or after `i` that is not a space or tab (8 bytes at a time:
/// table columns are padded with long runs of spaces).
#[inline]
fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    let n = b.len();
    while i + 8 <= n {
        let x = word_at(b, i) ^ SPACES;
        if x == 0 {
            i += 8;
            continue;
        }
        i += (x.trailing_zeros() / 8) as usize;
        if b[i] != b'\t' {
            return i;
        }
        i += 1;
    }
    while i < n && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// Index of the first space or tab at or after `i` (or the end).
#[inline]
fn token_end(b: &[u8], mut i: usize) -> usize {
    let n = b.len();
    while i + 8 <= n {
        let w = word_at(b, i);
        let m = zero_bytes(w ^ SPACES) | zero_bytes(w ^ TABS);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && b[i] != b' ' && b[i] != b'\t' {
        i += 1;
    }
    i
}

/// Splits a line at spaces and tabs into `out` (token byte spans). At most `max` tokens are
/// kept; the rest of the line stays reachable through the last span's end.
#[inline]
pub(crate) fn tokenize(line: &str, out: &mut Vec<(u32, u32)>, max: usize) {
    out.clear();
    let b = line.as_bytes();
    let b = &b[..b.len().min(u32::MAX as usize)];
    let mut i = skip_blanks(b, 0);
    while i < b.len() && out.len() < max {
        let e = token_end(b, i);
        out.push((i as u32, e as u32));
        i = skip_blanks(b, e);
    }
}

/// A simple row read by [`fast_linux_row`]: everything a socket of such a row holds, in one
/// small record (so that a worker thread hands over a few words, not a whole `Socket`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Compact {
    pub(crate) state: TcpState,
    pub(crate) family: Family,
    pub(crate) local: (IpAddr, u16),
    pub(crate) remote: (IpAddr, u16),
    pub(crate) recv_q: u32,
    pub(crate) send_q: u32,
    /// Offset where the row's text starts (for its fingerprint).
    pub(crate) start: u32,
    /// `-o`: the timer and the retransmit count.
    pub(crate) timer: Option<Timer>,
    pub(crate) retransmits: u32,
    /// `-p`: the owner's pid and where its program name is in the line (byte offsets from
    /// the start of the line as given to [`fast_linux_row`]); the name is printable ASCII.
    pub(crate) owner: Option<(u32, u32, u32)>,
    /// An IPv6 host that fills net-tools' 23-character column and may have been cut short:
    /// where its text is (byte offsets from the start of the line, as for `owner`), for the
    /// local and the remote endpoint. The host is then kept as printed, a name
    /// (see `cut_linux`); the address in `local` / `remote` is unused.
    pub(crate) cut: [Option<(u32, u32)>; 2],
}

impl Compact {
    /// A row without extra columns; the family is IPv6 for `tcp6` rows and IPv6 addresses.
    fn new(
        state: TcpState,
        fam6: bool,
        (local, remote): ((IpAddr, u16), (IpAddr, u16)),
        (recv_q, send_q): (u32, u32),
        start: u32,
        cut: [Option<(u32, u32)>; 2],
    ) -> Compact {
        Compact {
            state,
            family: if fam6 || local.0.is_ipv6() {
                Family::Inet6
            } else {
                Family::Inet
            },
            local,
            remote,
            recv_q,
            send_q,
            start,
            timer: None,
            retransmits: 0,
            owner: None,
            cut,
        }
    }

    /// Writes the row into a socket (all other fields cleared; the owner, if any, is for the
    /// caller to add). `line` is the line as given to [`fast_linux_row`] (for cut hosts).
    #[inline]
    pub(crate) fn apply(&self, sock: &mut Socket, line: &[u8]) {
        reset(sock);
        sock.family = self.family;
        sock.state = self.state;
        let host = |ip: IpAddr, cut: Option<(u32, u32)>| match cut {
            None => Host::Ip(ip),
            Some((a, b)) => Host::Name(Arc::from(
                std::str::from_utf8(line.get(a as usize..b as usize).unwrap_or_default())
                    .unwrap_or_default(),
            )),
        };
        sock.local = Endpoint {
            host: host(self.local.0, self.cut[0]),
            port: Port::Num(self.local.1),
        };
        sock.remote = Endpoint {
            host: host(self.remote.0, self.cut[1]),
            port: Port::Num(self.remote.1),
        };
        sock.recv_q = Some(self.recv_q);
        sock.send_q = Some(self.send_q);
        sock.timer = self.timer;
        sock.retransmits = self.retransmits;
    }
}

/// The fast path for the rows that make up big Linux net-tools listings:
/// `tcp[6] <recv-q> <send-q> <local> <foreign> <STATE> [-|<pid>/<program>] [<timer> (..)]`
/// with numeric IPv4, IPv4-mapped or IPv6 endpoints (`-tan`, `-tanp`, `-tano`, `-tanpo`), read
/// in one pass without tokenising or allocating. Anything else (names, cut addresses, scope
/// ids, `-e` columns when the header has them, unusual bytes) returns `None` and goes through
/// [`inet_row`], which gives the same result for the rows taken here (a test compares both).
/// `user_inode`: the table's header has User/Inode columns (`-e`).
///
/// Rows in net-tools' own column layout are read at fixed offsets first ([`fixed_linux_row`]);
/// any other spacing goes through the scanning reader ([`scan_linux_row`]), which decides.
#[inline]
pub(crate) fn fast_linux_row(line: &[u8], user_inode: bool) -> Option<Compact> {
    match fixed_linux_row(line, user_inode) {
        Some(row) => Some(row),
        None => scan_linux_row(line, user_inode),
    }
}

/// `0` in every byte.
const ZEROS: u64 = 0x3030_3030_3030_3030;
/// Every byte but its high bit.
const LOW7: u64 = !HIGH;

/// High bit of each byte of `w` that equals the byte repeated in `pat` (exact for every byte).
#[inline(always)]
fn eq_bytes(w: u64, pat: u64) -> u64 {
    let x = w ^ pat;
    !(((x & LOW7).wrapping_add(LOW7)) | x) & HIGH
}

/// High bit of each byte of `x` (a word XOR [`ZEROS`]) that was not an ASCII digit.
#[inline(always)]
fn non_digits(x: u64) -> u64 {
    ((x & LOW7).wrapping_add(0x7676_7676_7676_7676) | x) & HIGH
}

/// The high bits of a byte mask as 8 bits (bit `i` for byte `i`).
#[inline(always)]
fn gather(m: u64) -> u32 {
    ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

/// The decimal value of 8 bytes holding digit values 0..=9, the first byte the most
/// significant (SWAR: pairs, then quads, then the whole word).
#[inline(always)]
fn swar8(v: u64) -> u32 {
    let v = (v.wrapping_mul(10).wrapping_add(v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100).wrapping_add(v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v.wrapping_mul(10_000).wrapping_add(v >> 32) & 0xFFFF_FFFF) as u32
}

/// A right-aligned number in 8 bytes: spaces, then one or more digits up to the last byte
/// (net-tools' `%6ld` queue columns with the blanks before them).
#[inline(always)]
fn right_num(w: u64) -> Option<u32> {
    let x = w ^ ZEROS;
    let dg = !non_digits(x) & HIGH;
    let sp = eq_bytes(w, SPACES);
    let run = HIGH & (dg & dg.wrapping_neg()).wrapping_neg();
    if (dg | sp) != HIGH || dg >> 63 == 0 || dg != run {
        return None;
    }
    Some(swar8(x & (dg >> 7).wrapping_mul(0xFF)))
}

/// Little-endian value of a short byte string (for the word constants below).
const fn le_word(s: &[u8]) -> u64 {
    let mut v = 0u64;
    let mut i = 0;
    while i < s.len() {
        v |= (s[i] as u64) << (8 * i);
        i += 1;
    }
    v
}

/// The state words, hashed by [`state_slot`] (a multiplier found so that the eleven words
/// take eleven different slots); the key is the word's bytes, zero-padded to 15, and its
/// length in the last byte (so that a NUL byte in the text does not read as padding).
const STATE_SLOTS: [(u128, Option<TcpState>); 16] = {
    let words: [(&[u8], TcpState); 11] = [
        (b"ESTABLISHED", TcpState::Established),
        (b"TIME_WAIT", TcpState::TimeWait),
        (b"LISTEN", TcpState::Listen),
        (b"CLOSE_WAIT", TcpState::CloseWait),
        (b"SYN_SENT", TcpState::SynSent),
        (b"SYN_RECV", TcpState::SynRecv),
        (b"FIN_WAIT1", TcpState::FinWait1),
        (b"FIN_WAIT2", TcpState::FinWait2),
        (b"LAST_ACK", TcpState::LastAck),
        (b"CLOSING", TcpState::Closing),
        (b"CLOSE", TcpState::Close),
    ];
    let mut t = [(u128::MAX, None); 16];
    let mut i = 0;
    while i < words.len() {
        let w = words[i].0;
        let mut lo = [0u8; 8];
        let mut hi = [0u8; 8];
        let mut k = 0;
        while k < w.len() {
            if k < 8 {
                lo[k] = w[k];
            } else {
                hi[k - 8] = w[k];
            }
            k += 1;
        }
        let (lo, hi) = (le_word(&lo), le_word(&hi));
        let slot = state_slot(lo, hi);
        assert!(t[slot].1.is_none(), "two state words in one slot");
        let key = (lo as u128) | ((hi as u128) << 64) | ((w.len() as u128) << 120);
        t[slot] = (key, Some(words[i].1));
        i += 1;
    }
    t
};

/// The slot of a state word in [`STATE_SLOTS`] (`lo`, `hi`: its first and next 8 bytes).
#[inline(always)]
const fn state_slot(lo: u64, hi: u64) -> usize {
    ((lo ^ (hi << 5)).wrapping_mul(0xfead_3bed_00fd_feaf) >> 60) as usize
}

/// A 24-byte column (a 23-character endpoint field and the space after it) at `s`: the
/// length of the token that starts it, if the token is followed by spaces only.
#[inline(always)]
fn field(b: &[u8], s: usize) -> Option<u32> {
    let w = [word_at(b, s), word_at(b, s + 8), word_at(b, s + 16)];
    let m = gather(eq_bytes(w[0], SPACES))
        | gather(eq_bytes(w[1], SPACES)) << 8
        | gather(eq_bytes(w[2], SPACES)) << 16;
    let len = m.trailing_zeros();
    if m == 0 || len == 0 || (m | (m - 1)) != 0x00FF_FFFF {
        return None;
    }
    Some(len)
}

/// One endpoint column of [`fixed_linux_row`] at `s`: the address and port, and for a
/// 23-character IPv6 token (possibly cut) where its host is. As [`scan_linux_row`] reads it.
#[inline(always)]
fn fixed_endpoint(
    b: &[u8],
    s: usize,
    len: u32,
    cut: &mut Option<(u32, u32)>,
) -> Option<(IpAddr, u16)> {
    let tok = &b[s..s + len as usize];
    if len == 23 {
        let (ip, port) = cut_v6_colon(tok)?;
        *cut = Some((s as u32, (s + tok.len() - port_len(port) - 1) as u32));
        return Some((ip, port));
    }
    match crate::endpoint::fast_v4_colon_ip(tok) {
        Some(x) => Some(x),
        None => crate::endpoint::fast_v6_colon_ip(tok),
    }
}

/// [`fast_linux_row`] for rows in net-tools' layout, `"%-4s  %6ld %6ld %-23s %-23s %-11s"`
/// with queues of at most six digits: the local endpoint at column 20, the remote one at 44,
/// the state at 68, each checked at its place. `None` when the row is not laid out so (the
/// scanning reader then decides); otherwise exactly what [`scan_linux_row`] returns.
#[inline]
fn fixed_linux_row(b: &[u8], user_inode: bool) -> Option<Compact> {
    if b.len() < 69 {
        return None;
    }
    let w0 = word_at(b, 0);
    let fam6 = (w0 & 0xFF_FFFF_FFFF) == le_word(b"tcp6 ");
    if !fam6 && (w0 & 0xFFFF_FFFF) != le_word(b"tcp ") {
        return None;
    }
    if b[12] != b' ' || b[19] != b' ' {
        return None;
    }
    let recv_q = right_num(word_at(b, 4))?;
    let send_q = right_num((word_at(b, 11) & !0xFF) | 0x20)?;
    let ll = field(b, 20)?;
    let rl = field(b, 44)?;
    let mut cut = [None, None];
    let local = fixed_endpoint(b, 20, ll, &mut cut[0])?;
    let remote = fixed_endpoint(b, 44, rl, &mut cut[1])?;
    if !fam6 && (cut[0].is_some() || cut[1].is_some()) {
        return None;
    }
    // The state word: up to the first blank or the end of the line.
    let avail = b.len() - 68;
    let (sa, sb) = if avail >= 16 {
        (word_at(b, 68), word_at(b, 76))
    } else {
        // The line's last 16 bytes, moved down to start at column 68 (zeros after the end).
        let n = b.len();
        let v = (u128::from(word_at(b, n - 16)) | u128::from(word_at(b, n - 8)) << 64)
            >> (8 * (16 - avail));
        (v as u64, (v >> 64) as u64)
    };
    let blank = |w: u64| gather(eq_bytes(w, SPACES) | eq_bytes(w, TABS));
    let ends = blank(sa) | blank(sb) << 8 | (!0u32).checked_shl(avail as u32).unwrap_or(0);
    let sl = ends.trailing_zeros();
    if sl > 11 {
        return None;
    }
    let key = ((sa as u128) | ((sb as u128) << 64)) & ((1u128 << (8 * sl)) - 1);
    let (k, st) = STATE_SLOTS[state_slot(key as u64, (key >> 64) as u64)];
    let state = match st {
        Some(st) if k == key | (u128::from(sl) << 120) => st,
        _ => return None,
    };
    let mut row = Compact::new(state, fam6, (local, remote), (recv_q, send_q), 0, cut);
    let j = skip_blanks(b, 68 + sl as usize);
    if j == b.len() {
        return Some(row);
    }
    nettools_extras(b, 0, j, user_inode, &mut row)?;
    Some(row)
}

/// [`fast_linux_row`] for any spacing: the row scanned token by token.
fn scan_linux_row(line: &[u8], user_inode: bool) -> Option<Compact> {
    let start = skip_blanks(line, 0);
    let b = &line[start..];
    let (fam6, mut i) = if b.starts_with(b"tcp ") || b.starts_with(b"tcp\t") {
        (false, 3)
    } else if b.starts_with(b"tcp6 ") || b.starts_with(b"tcp6\t") {
        (true, 4)
    } else {
        return None;
    };
    let num = |i: &mut usize| -> Option<u32> {
        *i = skip_blanks(b, *i);
        let e = token_end(b, *i);
        let d = &b[*i..e];
        if d.is_empty() || d.len() > 10 {
            return None;
        }
        let mut v: u64 = 0;
        for &c in d {
            let x = c.wrapping_sub(b'0');
            if x > 9 {
                return None;
            }
            v = v * 10 + u64::from(x);
        }
        *i = e;
        u32::try_from(v).ok()
    };
    let recv_q = num(&mut i)?;
    let send_q = num(&mut i)?;
    // Both address tokens first. An IPv6 token that fills the 23-character column may have
    // been cut short by net-tools, so its host is kept as printed, a name (`cut_linux`); the
    // port is never cut. (No IPv4 `a.b.c.d:port` is 23 characters long.)
    let ls = skip_blanks(b, i);
    let le = token_end(b, ls);
    let rs = skip_blanks(b, le);
    let re = token_end(b, rs);
    let ep = |tok: &[u8]| -> Option<(IpAddr, u16)> {
        match crate::endpoint::fast_v4_colon_ip(tok) {
            Some(x) => Some(x),
            None => crate::endpoint::fast_v6_colon_ip(tok),
        }
    };
    let mut cut = [None, None];
    let mut side = |k: usize, s: usize, e: usize| -> Option<(IpAddr, u16)> {
        let tok = &b[s..e];
        if tok.len() != 23 {
            return ep(tok);
        }
        let (ip, port) = cut_v6_colon(tok)?;
        let host_end = start + s + tok.len() - port_len(port) - 1;
        cut[k] = Some((
            u32::try_from(start + s).ok()?,
            u32::try_from(host_end).ok()?,
        ));
        Some((ip, port))
    };
    let local = side(0, ls, le)?;
    let remote = side(1, rs, re)?;
    if !fam6 && cut.iter().any(Option::is_some) {
        return None;
    }
    i = re;
    i = skip_blanks(b, i);
    let e = token_end(b, i);
    let state = match &b[i..e] {
        b"ESTABLISHED" => TcpState::Established,
        b"TIME_WAIT" => TcpState::TimeWait,
        b"LISTEN" => TcpState::Listen,
        b"CLOSE_WAIT" => TcpState::CloseWait,
        b"SYN_SENT" => TcpState::SynSent,
        b"SYN_RECV" => TcpState::SynRecv,
        b"FIN_WAIT1" => TcpState::FinWait1,
        b"FIN_WAIT2" => TcpState::FinWait2,
        b"LAST_ACK" => TcpState::LastAck,
        b"CLOSING" => TcpState::Closing,
        b"CLOSE" => TcpState::Close,
        _ => return None,
    };
    let at = u32::try_from(start).ok()?;
    let mut row = Compact::new(state, fam6, (local, remote), (recv_q, send_q), at, cut);
    let j = skip_blanks(b, e);
    if j == b.len() {
        return Some(row);
    }
    nettools_extras(b, start, j, user_inode, &mut row)?;
    Some(row)
}

/// The extra columns of a net-tools row from `j` (a non-blank byte) on, what `linux_extras`
/// reads: `-` or `pid/program` (-p), then a timer (-o). `start`: where `b` starts in the line.
#[inline]
fn nettools_extras(
    b: &[u8],
    start: usize,
    j: usize,
    user_inode: bool,
    row: &mut Compact,
) -> Option<()> {
    // Extra columns (what `linux_extras` reads): `-` or `pid/program` (-p), then a timer (-o).
    if user_inode {
        return None;
    }
    let mut end = b.len();
    while end > j && matches!(b[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    if b[end - 1] == b')' {
        // `word (secs/retrans/probes)`: the last two tokens.
        let ls = last_token_start(b, j, end);
        let we = blanks_back(b, j, ls);
        if we == j {
            return None;
        }
        let ws = last_token_start(b, j, we);
        let word = std::str::from_utf8(&b[ws..we]).ok()?;
        let paren = std::str::from_utf8(&b[ls..end]).ok()?;
        if !paren.starts_with('(') {
            return None;
        }
        let (timer, retr) = parse_nettools_timer(word, paren)?;
        row.timer = timer;
        row.retransmits = retr.unwrap_or(0);
        end = blanks_back(b, j, ws);
    }
    if end == j {
        return Some(());
    }
    let w_end = token_end(b, j);
    let w = &b[j..w_end.min(end)];
    if w == b"-" {
        return Some(());
    }
    let slash = memchr::memchr(b'/', w)?;
    let pid = &w[..slash];
    if pid.is_empty() || pid.len() > 10 || !pid.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let pid = pid.iter().fold(0u64, |v, c| v * 10 + u64::from(c - b'0'));
    let pid = u32::try_from(pid).ok()?;
    let mut cs = j + slash + 1;
    while cs < end && matches!(b[cs], b' ' | b'\t') {
        cs += 1;
    }
    if !b[cs..end].iter().all(|c| (0x20..0x7f).contains(c)) {
        return None;
    }
    let base = start;
    row.owner = Some((
        pid,
        u32::try_from(base + cs).ok()?,
        u32::try_from(base + end).ok()?,
    ));
    Some(())
}

/// A 23-character `host:port` token whose host is an IPv6 address as printed, valid or cut
/// short (`::ffff:172.18.199`): the unspecified address (unused: the caller keeps the host as
/// a name) and the port. The ordinary reader keeps such a host as a name too: an address that
/// parses because it may be cut (`cut_linux`), one that does not because it is no address.
/// Only hex digits, dots and at least two colons are taken here.
#[inline]
fn cut_v6_colon(tok: &[u8]) -> Option<(IpAddr, u16)> {
    let c = memchr::memrchr(b':', tok)?;
    let (h, p) = (&tok[..c], &tok[c + 1..]);
    if p.is_empty() || p.len() > 5 || !p.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let port = u16::try_from(p.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'))).ok()?;
    if p.len() != port_len(port) {
        // A leading zero: the ordinary reader decides.
        return None;
    }
    if h.iter().filter(|&&c| c == b':').count() < 2
        || !h
            .iter()
            .all(|c| c.is_ascii_hexdigit() || *c == b':' || *c == b'.')
    {
        return None;
    }
    Some((IpAddr::V6(Ipv6Addr::UNSPECIFIED), port))
}

/// Digits of a port number.
#[inline]
fn port_len(p: u16) -> usize {
    match p {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1000..=9999 => 4,
        _ => 5,
    }
}

/// Start of the last token in `b[from..end]` (`end` is just past a non-blank byte).
#[inline]
fn last_token_start(b: &[u8], from: usize, end: usize) -> usize {
    let mut k = end;
    while k > from && !matches!(b[k - 1], b' ' | b'\t') {
        k -= 1;
    }
    k
}

/// End of the text before the blanks that end at `to` (not before `from`).
#[inline]
fn blanks_back(b: &[u8], from: usize, to: usize) -> usize {
    let mut k = to;
    while k > from && matches!(b[k - 1], b' ' | b'\t') {
        k -= 1;
    }
    k
}

/// What the state of a TCP row turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RowState {
    /// A known state.
    Known(TcpState),
    /// A state word nobody knows.
    Unknown(String),
    /// No state printed (FreeBSD `-T`/`-x`, an old ss blank column, a cut-off row).
    Missing,
}

/// What a line turned out to be.
#[derive(Debug)]
pub(crate) enum Row {
    /// A TCP row; the socket is in the parser's buffer.
    Tcp(RowState),
    /// A socket row of another protocol.
    Other,
    /// Not a row of this format (another format's row, a header, prose).
    Foreign,
    /// Looks like a socket row but cannot be read.
    Bad(String),
}

/// Which proto-first family of layouts a table uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InetKind {
    /// Linux net-tools / BusyBox: `proto recvq sendq local foreign state [user inode] [pid/prog] [timer]`.
    Linux,
    /// BSD-style: `[pcb] proto recvq sendq local.port foreign.port [(state)] [extra]`.
    Bsd,
    /// Windows: `proto local foreign [state] [pid]` (+ `-b` lines below).
    Windows,
    /// Not known yet: decided per row from its shape.
    Unknown,
}

/// Whether a table has a state column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateCol {
    Present,
    Absent,
    Unknown,
}

/// The layout of a proto-first table, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InetLayout {
    pub(crate) kind: InetKind,
    pub(crate) state: StateCol,
    pub(crate) user_inode: bool,
    /// FreeBSD `-T`: the two numbers after proto are not queues.
    pub(crate) no_queues: bool,
    /// BSD: the width of the address columns (a token this long may be cut short).
    pub(crate) addr_width: Option<u16>,
}

impl InetLayout {
    pub(crate) const UNKNOWN: InetLayout = InetLayout {
        kind: InetKind::Unknown,
        state: StateCol::Unknown,
        user_inode: false,
        no_queues: false,
        addr_width: None,
    };
}

/// Extra facts a row reader learnt (for OS/format clues).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RowFacts {
    pub(crate) kind: Option<InetKind>,
    pub(crate) tcp46: bool,
    pub(crate) v4_suffix: bool,
    pub(crate) pcb_prefix_fffff: bool,
    pub(crate) pcb_prefix_f1000: bool,
    pub(crate) owners: bool,
    /// ss: what this row says a `*` host means in the listing.
    pub(crate) ss_star: Option<SsStar>,
}

pub(crate) fn is_hex_word(w: &str) -> bool {
    w.len() >= 6 && w.len() <= 18 && w.bytes().all(|c| c.is_ascii_hexdigit())
}

fn is_num(w: &str) -> bool {
    !w.is_empty() && w.len() <= 20 && w.bytes().all(|c| c.is_ascii_digit())
}

fn reset(sock: &mut Socket) {
    sock.timer = None;
    sock.retransmits = 0;
    sock.recv_q = None;
    sock.send_q = None;
    sock.uid = None;
    sock.inode = None;
    sock.cookie = None;
    if !sock.owners.is_empty() {
        sock.owners.clear();
    }
}

/// Numeric endpoints; the family is the local address's.
fn set_ips(sock: &mut Socket, local: (IpAddr, u16), remote: (IpAddr, u16)) {
    sock.family = if local.0.is_ipv4() {
        Family::Inet
    } else {
        Family::Inet6
    };
    sock.local = Endpoint {
        host: Host::Ip(local.0),
        port: Port::Num(local.1),
    };
    sock.remote = Endpoint {
        host: Host::Ip(remote.0),
        port: Port::Num(remote.1),
    };
}

fn set_endpoints(sock: &mut Socket, fam: Option<Family>, local: Ep, remote: Ep) {
    let family = fam
        .or_else(|| local.family())
        .or_else(|| remote.family())
        .unwrap_or(Family::Inet);
    sock.family = family;
    sock.local = local.into_endpoint(family);
    sock.remote = remote.into_endpoint(family);
}

/// Skips the leading non-proto columns of a proto-first row: a `>` (PowerShell
/// Select-String), one PCB/Tcpcb address, or macOS's `Socket Flowhash` pair. Returns the
/// index of the proto token, and whether a PCB column was there.
pub(crate) fn proto_index<'a>(t: &Toks<'a>) -> Option<(usize, Option<&'a str>)> {
    let t0 = t.get(0)?;
    if proto_word(t0).is_some() {
        return Some((0, None));
    }
    if t0 == ">" && t.get(1).and_then(proto_word).is_some() {
        return Some((1, None));
    }
    if is_hex_word(t0) {
        if t.get(1).and_then(proto_word).is_some() {
            return Some((1, Some(t0)));
        }
        let t1 = t.get(1)?;
        if t1.len() <= 8
            && t1.bytes().all(|c| c.is_ascii_hexdigit())
            && t.get(2).and_then(proto_word).is_some()
        {
            return Some((2, Some(t0)));
        }
    }
    None
}

/// Reads a proto-first row (Linux net-tools, BusyBox, BSD/macOS/HP-UX/AIX, Windows).
pub(crate) fn inet_row(
    t: &Toks<'_>,
    lay: &InetLayout,
    res: &Resolver<'_>,
    sock: &mut Socket,
    facts: &mut RowFacts,
) -> Row {
    let Some((pi, pcb)) = proto_index(t) else {
        return Row::Foreign;
    };
    let proto = match proto_word(t.at(pi)) {
        Some(Proto::Tcp(f)) => f,
        Some(Proto::Other) => {
            facts.kind = Some(match lay.kind {
                InetKind::Unknown => {
                    let next = t.at(pi + 1);
                    if is_num(next) {
                        if t.at(pi).ends_with('4') || t.at(pi).ends_with("46") {
                            InetKind::Bsd
                        } else {
                            InetKind::Linux
                        }
                    } else if t.at(pi).bytes().all(|c| c.is_ascii_uppercase()) {
                        InetKind::Windows
                    } else {
                        InetKind::Bsd
                    }
                }
                k => k,
            });
            return Row::Other;
        }
        None => return Row::Foreign,
    };
    facts.v4_suffix |= t.at(pi).eq_ignore_ascii_case("tcp4");
    if let Some(p) = pcb {
        facts.pcb_prefix_fffff |= p.starts_with("fffff");
        facts.pcb_prefix_f1000 |= p.starts_with("f1000");
    }
    facts.tcp46 |= t.at(pi).eq_ignore_ascii_case("tcp46");
    let mut i = pi + 1;
    // Numbers before the first address: queues (or FreeBSD -T Rexmit/OOORcv/0-win).
    let mut nums: [Option<u32>; 3] = [None; 3];
    let mut k = 0;
    while let Some(w) = t.get(i) {
        match parse_u64(w) {
            Some(v) => {
                if k < 3 {
                    nums[k] = u32::try_from(v).ok();
                }
            }
            None => break,
        }
        k += 1;
        i += 1;
    }
    let kind = match lay.kind {
        InetKind::Unknown => {
            if k == 0 {
                InetKind::Windows
            } else if proto == Some(Family::Inet) || t.at(pi).eq_ignore_ascii_case("tcp46") {
                InetKind::Bsd
            } else {
                let l = t.at(i);
                if l.starts_with("*.")
                    || l.ends_with(".*")
                    || (!l.contains(':') && l.matches('.').count() >= 4)
                {
                    InetKind::Bsd
                } else {
                    InetKind::Linux
                }
            }
        }
        k2 => k2,
    };
    facts.kind = Some(kind);
    let style = if kind == InetKind::Bsd {
        Style::Dot
    } else {
        Style::Colon
    };
    let Some(lt) = t.get(i) else {
        return Row::Bad("the row ends before the local address".into());
    };
    let Some(local) = parse_endpoint(lt, style, res) else {
        return Row::Bad(format!("'{lt}' is not a local address"));
    };
    let Some(ft) = t.get(i + 1) else {
        return Row::Bad("the row ends before the foreign address".into());
    };
    let Some(remote) = parse_endpoint(ft, style, res) else {
        return Row::Bad(format!("'{ft}' is not a foreign address"));
    };
    reset(sock);
    let (local, remote) = if kind == InetKind::Bsd {
        (
            cut_bsd(local, lt, lay.addr_width, res),
            cut_bsd(remote, ft, lay.addr_width, res),
        )
    } else if kind == InetKind::Linux {
        (cut_linux(local, lt), cut_linux(remote, ft))
    } else {
        (local, remote)
    };
    set_endpoints(sock, proto, local, remote);
    if k >= 2 && !lay.no_queues {
        sock.recv_q = nums[0];
        sock.send_q = nums[1];
    }
    let mut j = i + 2;
    // State.
    let state = if lay.state == StateCol::Absent {
        RowState::Missing
    } else if kind == InetKind::Windows {
        // Windows: state words (localised, maybe several) then an optional PID.
        let n = t.len();
        let mut last = n;
        if n > j && is_num(t.at(n - 1)) {
            if let Some(pid) = parse_u32(t.at(n - 1)) {
                if pid != 0 {
                    sock.owners.push(Arc::new(Process {
                        pid,
                        ..Process::default()
                    }));
                    facts.owners = true;
                }
            }
            last = n - 1;
        }
        if last <= j {
            RowState::Missing
        } else {
            let w = &t.line[t.start(j)..t.end(last - 1)];
            match state_word(w) {
                StateWord::Known(s) => RowState::Known(s),
                StateWord::Unknown => RowState::Unknown(w.to_string()),
            }
        }
    } else {
        match t.get(j) {
            None => RowState::Missing,
            Some(w) => match state_word(w) {
                StateWord::Known(s) => {
                    j += 1;
                    RowState::Known(s)
                }
                StateWord::Unknown => {
                    // A state of two words (Czech net-tools `POSLEDNÍ ACK`), taken only when
                    // the two together are a known state.
                    let two = t
                        .get(j + 1)
                        .map(|_| &t.line[t.start(j)..t.end(j + 1)])
                        .map(state_word);
                    if let Some(StateWord::Known(s)) = two {
                        j += 2;
                        RowState::Known(s)
                    } else if is_pid_prog(w) || is_num(w) || !looks_like_word(w) {
                        RowState::Missing
                    } else {
                        j += 1;
                        RowState::Unknown(w.to_string())
                    }
                }
            },
        }
    };
    if kind == InetKind::Linux {
        linux_extras(t, j, lay.user_inode, sock, facts);
    }
    Row::Tcp(state)
}

fn is_pid_prog(w: &str) -> bool {
    if w == "-" {
        return true;
    }
    match w.find('/') {
        Some(i) if i > 0 => w[..i].bytes().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// Linux netstat without `-W` cuts a host so that host + port fit 22 characters; an IPv6
/// host that exactly fills the column may be cut short and could parse as a different
/// address, so it is kept as printed.
fn cut_linux(ep: Ep, tok: &str) -> Ep {
    if tok.len() == 23 {
        if let HostPart::Ip(IpAddr::V6(_)) = ep.host {
            let h = tok.rsplit_once(':').map(|x| x.0).unwrap_or(tok);
            return Ep {
                host: HostPart::Name(Arc::from(h)),
                port: ep.port,
            };
        }
    }
    ep
}

/// BSD netstat prints `host.port` with the host cut to 16 characters (12 for names with
/// `-A`) and the whole cut to the column width (22, or 18 with `-A`). A token that fills the
/// column may have lost the end of its port: a numeric port shorter than 5 digits, or a
/// service name we do not know (`sunpr`), is then kept as printed with a `…` to say so. An
/// IPv6 host of 16 or more characters may be cut too and is kept as printed.
fn cut_bsd(ep: Ep, tok: &str, width: Option<u16>, res: &Resolver<'_>) -> Ep {
    let Some(w) = width else { return ep };
    if tok.len() < usize::from(w) {
        return ep;
    }
    let (h, p) = tok.rsplit_once('.').unwrap_or((tok, ""));
    let host = match ep.host {
        HostPart::Ip(IpAddr::V6(_)) if h.len() >= 16 => HostPart::Name(Arc::from(h)),
        other => other,
    };
    let numeric = !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    let maybe_cut = if p.is_empty() || p == "*" {
        false
    } else if numeric {
        p.len() < 5
    } else {
        !res.knows(p)
    };
    let port = if maybe_cut {
        Port::Name(Arc::from(format!("{p}…").as_str()))
    } else {
        ep.port
    };
    Ep { host, port }
}

/// Linux net-tools columns after the state: `[User Inode] [PID/Program name] [Timer]`.
fn linux_extras(
    t: &Toks<'_>,
    mut j: usize,
    user_inode: bool,
    sock: &mut Socket,
    facts: &mut RowFacts,
) {
    let n = t.len();
    if j >= n {
        return;
    }
    // Timer (-o), always last: `off (0.00/0/0)`, `keepalive (7184.28/0/0)`.
    let mut end = n;
    if t.line.ends_with(')') && n >= j + 2 {
        let last = t.at(n - 1);
        let word = t.at(n - 2);
        if last.starts_with('(') {
            if let Some((timer, retr)) = parse_nettools_timer(word, last) {
                sock.timer = timer;
                if let Some(r) = retr {
                    sock.retransmits = r;
                }
                end = n - 2;
            }
        }
    }
    let has_user = user_inode
        || (end >= j + 2 && is_num(t.at(j + 1)) && !is_pid_prog(t.at(j)) && !is_num(t.at(j)));
    if has_user && end >= j + 2 {
        let user = t.at(j);
        if let Some(uid) = parse_u32(user) {
            sock.uid = Some(uid);
        } else if user == "root" {
            sock.uid = Some(0);
        }
        sock.inode = parse_u64(t.at(j + 1)).filter(|v| *v != 0);
        j += 2;
    }
    if j < end {
        let w = t.at(j);
        if let Some((pid, prog)) = w.split_once('/') {
            if let Some(pid) = parse_u32(pid) {
                let comm_end = t.end(end - 1);
                let start = t.start(j) + w.find('/').unwrap_or(0) + 1;
                let comm = t.line.get(start..comm_end).unwrap_or(prog).trim();
                sock.owners.push(Arc::new(Process {
                    pid,
                    comm: comm.to_string(),
                    ..Process::default()
                }));
                facts.owners = true;
            }
        }
    }
}

/// `word (secs/retrans/probes)` → timer and retransmits. `off`/`aus` give no timer.
fn parse_nettools_timer(word: &str, paren: &str) -> Option<(Option<Timer>, Option<u32>)> {
    let inner = paren.strip_prefix('(')?.strip_suffix(')')?;
    let mut it = inner.split('/');
    let secs = it.next()?;
    let retr = it.next()?;
    let _probes = it.next()?;
    let ms = parse_secs_ms(secs)?;
    let retr = retr.parse::<u32>().ok();
    let is = |w: &str| word.eq_ignore_ascii_case(w);
    let starts = |p: &str| {
        word.len() >= p.len()
            && word.is_char_boundary(p.len())
            && word[..p.len()].eq_ignore_ascii_case(p)
    };
    let kind = if is("on") || is("ein") {
        Some(TimerKind::On)
    } else if is("keepalive") {
        Some(TimerKind::Keepalive)
    } else if is("timewait") {
        Some(TimerKind::Timewait)
    } else if is("probe") {
        Some(TimerKind::Persist)
    } else if is("off") || is("aus") || starts("unkn-") || starts("on") {
        None
    } else {
        return None;
    };
    Some((
        kind.map(|kind| Timer {
            kind,
            expires_ms: ms,
        }),
        retr,
    ))
}

/// `43.21` seconds → 43210 ms.
fn parse_secs_ms(s: &str) -> Option<u64> {
    let (a, b) = s.split_once('.').unwrap_or((s, ""));
    let whole = parse_u64(a)?;
    let mut frac_ms = 0u64;
    let mut scale = 100u64;
    for c in b.bytes().take(3) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        frac_ms += u64::from(d) * scale;
        scale /= 10;
    }
    whole.checked_mul(1000)?.checked_add(frac_ms)
}

/// ss state words (`ESTAB`, `TIME-WAIT`, `UNCONN`, ...).
pub(crate) fn ss_state(w: &str) -> Option<TcpState> {
    TcpState::parse(w)
}

/// The layout of an ss table, from its header (or guessed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SsLayout {
    /// Netid column: `Some(true)` present, `Some(false)` absent, `None` unknown.
    pub(crate) netid: Option<bool>,
    /// State column: `Some(true)` present, `Some(false)` absent (`ss state X`), `None` unknown.
    pub(crate) state: Option<bool>,
}

/// What the pasted command line (and the table so far) says about an ss table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SsContext {
    pub(crate) single_state: Option<TcpState>,
    pub(crate) only_tcp: Option<bool>,
    /// What a bare `*` host means in this listing (see [`SsStar`]); `None` until a row or
    /// the header tells.
    pub(crate) star: Option<SsStar>,
}

/// What ss means by a `*` host. iproute2 changed it (ss.c):
/// - old ss (`formatted_print`, iproute2 up to 4.11, e.g. CentOS 7): `*` is the IPv4
///   wildcard `0.0.0.0`; an IPv6 wildcard prints as `:::22` / `[::]:22`;
/// - newer ss (`inet_addr_print`, since about 4.15): the IPv4 wildcard prints as `0.0.0.0`,
///   and `*` is the IPv6 wildcard of a socket that is *not* `IPV6_V6ONLY`, i.e. a
///   dual-stack IPv6 listener (`LISTEN 0 511 *:80 *:*`); a v6-only one prints `[::]`.
///
/// A listing tells which it is by a `0.0.0.0` host or a `Process` header column (newer), or
/// by a `*` next to a concrete IPv4 address or an unbracketed IPv6 address (older). Until it
/// tells, `*:port *:*` is read the newer way (every supported distribution ships it), unless
/// the row itself says `v6only:0` (`-e`, IPv6 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SsStar {
    /// Older ss: `*` is `0.0.0.0`.
    V4Any,
    /// Newer ss: `*` is `::` on a dual-stack socket.
    DualStackV6,
}

/// Reads an ss row.
pub(crate) fn ss_row(
    t: &Toks<'_>,
    lay: &SsLayout,
    ctx: &SsContext,
    res: &Resolver<'_>,
    sock: &mut Socket,
    facts: &mut RowFacts,
) -> Row {
    let mut i = 0;
    let mut fam = None;
    let t0 = t.at(0);
    match proto_word(t0) {
        Some(Proto::Other) => return Row::Other,
        Some(Proto::Tcp(f)) => {
            fam = f;
            i = 1;
        }
        None => {
            if lay.netid == Some(true) {
                return Row::Foreign;
            }
            if ctx.only_tcp == Some(false) {
                // `ss -u`/`-x` without Netid: rows of another protocol.
                return if t.len() >= 4 && ss_shape(t, 0, lay) {
                    Row::Other
                } else {
                    Row::Foreign
                };
            }
        }
    }
    if !ss_shape(t, i, lay) {
        return if i == 1 {
            Row::Bad("a tcp row without the queue and address columns ss prints".into())
        } else {
            Row::Foreign
        };
    }
    let state = match lay.state {
        Some(false) => match ctx.single_state {
            Some(s) => RowState::Known(s),
            None => RowState::Missing,
        },
        _ => {
            let w = t.at(i);
            if is_num(w) {
                // An old ss left the State column blank (corpus ambiguity 2).
                RowState::Missing
            } else {
                i += 1;
                match state_word(w) {
                    StateWord::Known(s) => RowState::Known(s),
                    StateWord::Unknown => RowState::Unknown(w.to_string()),
                }
            }
        }
    };
    let (Some(rq), Some(sq)) = (parse_u32(t.at(i)), parse_u32(t.at(i + 1))) else {
        return Row::Bad("the Recv-Q/Send-Q columns are not numbers".into());
    };
    let lt = t.at(i + 2);
    let pt = t.at(i + 3);
    let Some(local) = parse_endpoint(lt, Style::Colon, res) else {
        return Row::Bad(format!("'{lt}' is not a local address"));
    };
    let Some(remote) = parse_endpoint(pt, Style::Colon, res) else {
        return Row::Bad(format!("'{pt}' is not a peer address"));
    };
    let tail_start = t.end(i + 3);
    let tail = t.line.get(tail_start..).unwrap_or("");
    let fam = fam.or_else(|| ss_star_family(lt, &local, pt, &remote, tail, ctx, facts));
    reset(sock);
    set_endpoints(sock, fam, local, remote);
    sock.recv_q = Some(rq);
    sock.send_q = Some(sq);
    if !tail.is_empty() {
        ss_extras(tail, sock, facts);
    }
    Row::Tcp(state)
}

/// The family of an ss row as far as `*` hosts decide it (see [`SsStar`]), and the clues
/// the row gives about what `*` means in this listing.
fn ss_star_family(
    lt: &str,
    local: &Ep,
    pt: &str,
    remote: &Ep,
    tail: &str,
    ctx: &SsContext,
    facts: &mut RowFacts,
) -> Option<Family> {
    let star = |e: &Ep| matches!(e.host, HostPart::Any);
    let v4 = |e: &Ep| matches!(e.host, HostPart::Ip(IpAddr::V4(_)));
    let v6 = |e: &Ep| matches!(e.host, HostPart::Ip(IpAddr::V6(_)));
    if lt.starts_with("0.0.0.0:") || pt.starts_with("0.0.0.0:") {
        facts.ss_star = Some(SsStar::DualStackV6);
    }
    if (star(local) && v4(remote)) || (star(remote) && v4(local)) {
        facts.ss_star = Some(SsStar::V4Any);
    }
    if (v6(local) && !lt.starts_with('[')) || (v6(remote) && !pt.starts_with('[')) {
        // Newer ss brackets every numeric IPv6 address.
        facts.ss_star = Some(SsStar::V4Any);
    }
    if !(star(local) && star(remote)) {
        return None;
    }
    if tail.split_ascii_whitespace().any(|w| w == "v6only:0") {
        return Some(Family::Inet6);
    }
    match facts.ss_star.or(ctx.star) {
        Some(SsStar::V4Any) => Some(Family::Inet),
        Some(SsStar::DualStackV6) | None => Some(Family::Inet6),
    }
}

/// Whether tokens from `i` have ss's shape: `[state] recvq sendq local peer`.
fn ss_shape(t: &Toks<'_>, i: usize, lay: &SsLayout) -> bool {
    let with_state = |i: usize| {
        is_num(t.at(i + 1)) && is_num(t.at(i + 2)) && t.get(i + 4).is_some() && !is_num(t.at(i + 3))
    };
    let without = |i: usize| {
        is_num(t.at(i)) && is_num(t.at(i + 1)) && t.get(i + 3).is_some() && !is_num(t.at(i + 2))
    };
    match lay.state {
        Some(false) => without(i),
        Some(true) => with_state(i) || without(i), // a blank state column (old ss)
        None => with_state(i) || without(i),
    }
}

/// The ss columns after the peer: `users:((...))`, `timer:(...)`, `uid:`, `ino:`, `sk:`.
fn ss_extras(tail: &str, sock: &mut Socket, facts: &mut RowFacts) {
    if let Some(p) = tail.find("users:((") {
        let body = &tail[p + 8..];
        let end = body.find("))").unwrap_or(body.len());
        for entry in body[..end].split("),(") {
            // "name",pid=123,fd=4   or   "name",123,4 (old ss)
            let entry = entry.trim_matches(|c| c == '(' || c == ')');
            let Some(q1) = entry.find('"') else { continue };
            let Some(q2) = entry[q1 + 1..].rfind('"') else {
                continue;
            };
            let name = &entry[q1 + 1..q1 + 1 + q2];
            let rest = &entry[q1 + 2 + q2..];
            let mut pid = None;
            for (n, f) in rest.split(',').filter(|f| !f.is_empty()).enumerate() {
                if let Some(v) = f.strip_prefix("pid=") {
                    pid = parse_u32(v);
                } else if n == 0 && pid.is_none() {
                    pid = parse_u32(f);
                }
            }
            if let Some(pid) = pid {
                if !sock.owners.iter().any(|o| o.pid == pid) {
                    sock.owners.push(Arc::new(Process {
                        pid,
                        comm: name.to_string(),
                        ..Process::default()
                    }));
                    facts.owners = true;
                }
            }
        }
    }
    let mut saw_ino = false;
    for w in tail.split_ascii_whitespace() {
        if let Some(v) = w.strip_prefix("timer:(") {
            let v = v.trim_end_matches(')');
            let mut it = v.split(',');
            let kind = it.next().unwrap_or("");
            let exp = it.next().unwrap_or("");
            let retr = it.next().and_then(parse_u32);
            let kind = match kind {
                "on" => Some(TimerKind::On),
                "keepalive" => Some(TimerKind::Keepalive),
                "timewait" => Some(TimerKind::Timewait),
                "persist" => Some(TimerKind::Persist),
                _ => None,
            };
            if let (Some(kind), Some(ms)) = (kind, parse_ss_ms(exp)) {
                sock.timer = Some(Timer {
                    kind,
                    expires_ms: ms,
                });
            }
            if let Some(r) = retr {
                sock.retransmits = r;
            }
        } else if let Some(v) = w.strip_prefix("uid:") {
            sock.uid = parse_u32(v);
        } else if let Some(v) = w.strip_prefix("ino:") {
            saw_ino = true;
            sock.inode = parse_u64(v).filter(|x| *x != 0);
        }
    }
    // ss -e prints `uid:` only when it is not 0 (iproute2 ss.c sock_details_print).
    if saw_ino && sock.uid.is_none() {
        sock.uid = Some(0);
    }
}

/// ss `print_ms_timer` output → milliseconds: `43sec`, `200ms`, `1.200ms` (1.2 s),
/// `9min58sec`, `120min`, `` (0).
pub(crate) fn parse_ss_ms(s: &str) -> Option<u64> {
    if s.is_empty() {
        return Some(0);
    }
    let mut ms = 0u64;
    let mut rest = s;
    if let Some(i) = rest.find("min") {
        ms += parse_u64(&rest[..i])? * 60_000;
        rest = &rest[i + 3..];
    }
    if let Some(r) = rest.strip_suffix("sec") {
        ms += parse_u64(r)? * 1000;
        return Some(ms);
    }
    if let Some(r) = rest.strip_suffix("ms") {
        match r.split_once('.') {
            Some((secs, frac)) => {
                ms += parse_u64(secs)? * 1000 + parse_u64(frac)?;
            }
            None => ms += parse_u64(r)?,
        }
        return Some(ms);
    }
    if rest.is_empty() {
        Some(ms)
    } else {
        None
    }
}

/// Options for `/proc/net/tcp` rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProcOpts {
    pub(crate) big_endian: bool,
    pub(crate) hz: u32,
}

fn hex_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

fn proc_addr(tok: &str, big_endian: bool) -> Option<(IpAddr, u16)> {
    let (a, p) = tok.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok().filter(|_| p.len() == 4)?;
    let word = |s: &str| -> Option<[u8; 4]> {
        let v = hex_u32(s)?;
        Some(if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    let ip = match a.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(a)?)),
        32 => {
            let mut b = [0u8; 16];
            for k in 0..4 {
                b[k * 4..k * 4 + 4].copy_from_slice(&word(a.get(k * 8..k * 8 + 8)?)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some((ip, port))
}

/// Whether the line has the shape of a `/proc/net/tcp` row (`N: HEX:HEX HEX:HEX ...`).
pub(crate) fn proc_shape(t: &Toks<'_>) -> bool {
    let t0 = t.at(0);
    t0.ends_with(':')
        && t0.len() >= 2
        && t0[..t0.len() - 1].bytes().all(|c| c.is_ascii_digit())
        && t.at(1).contains(':')
        && t.at(1).bytes().all(|c| c.is_ascii_hexdigit() || c == b':')
        && t.len() >= 4
}

/// Reads a `/proc/net/tcp[6]` row (tcp-facts 8.2-8.10).
pub(crate) fn proc_row(t: &Toks<'_>, o: &ProcOpts, sock: &mut Socket) -> Row {
    if !proc_shape(t) {
        return Row::Foreign;
    }
    let Some((lip, lport)) = proc_addr(t.at(1), o.big_endian) else {
        return Row::Bad(format!("'{}' is not a /proc/net/tcp address", t.at(1)));
    };
    let Some((rip, rport)) = proc_addr(t.at(2), o.big_endian) else {
        return Row::Bad(format!("'{}' is not a /proc/net/tcp address", t.at(2)));
    };
    let st = t.at(3);
    reset(sock);
    set_ips(sock, (lip, lport), (rip, rport));
    if let Some((tx, rx)) = t.at(4).split_once(':') {
        sock.send_q = hex_u32(tx);
        sock.recv_q = hex_u32(rx);
    }
    if let Some((tr, when)) = t.at(5).split_once(':') {
        let kind = u8::from_str_radix(tr, 16)
            .ok()
            .and_then(TimerKind::from_kernel);
        if let (Some(kind), Some(ticks)) = (kind, hex_u32(when)) {
            let hz = u64::from(o.hz.max(1));
            sock.timer = Some(Timer {
                kind,
                expires_ms: u64::from(ticks) * 1000 / hz,
            });
        }
    }
    sock.retransmits = hex_u32(t.at(6)).unwrap_or(0);
    sock.uid = parse_u32(t.at(7));
    sock.inode = parse_u64(t.at(9)).filter(|v| *v != 0);
    let state = match u8::from_str_radix(st, 16)
        .ok()
        .and_then(TcpState::from_kernel)
    {
        Some(s) if st.len() == 2 => RowState::Known(s),
        _ => RowState::Unknown(st.to_string()),
    };
    Row::Tcp(state)
}

/// Reads a Solaris TCP-section row: `local remote swind send-q rwind recv-q state [if]`.
pub(crate) fn solaris_row(t: &Toks<'_>, tcp: bool, res: &Resolver<'_>, sock: &mut Socket) -> Row {
    let (l, r) = (t.at(0), t.at(1));
    let Some(local) = parse_endpoint(l, Style::Dot, res) else {
        return Row::Foreign;
    };
    if !tcp {
        return Row::Other;
    }
    let Some(remote) = parse_endpoint(r, Style::Dot, res) else {
        return Row::Bad(format!("'{r}' is not a remote address"));
    };
    let nums_ok = (2..6).all(|k| is_num(t.at(k)));
    if !nums_ok {
        return Row::Bad("the Swind/Send-Q/Rwind/Recv-Q columns are not numbers".into());
    }
    reset(sock);
    set_endpoints(sock, None, local, remote);
    sock.send_q = parse_u32(t.at(3));
    sock.recv_q = parse_u32(t.at(5));
    let state = match t.get(6) {
        None => RowState::Missing,
        Some(w) => match state_word(w) {
            StateWord::Known(s) => RowState::Known(s),
            StateWord::Unknown => RowState::Unknown(w.to_string()),
        },
    };
    Row::Tcp(state)
}

/// Whether the line has the shape of a Solaris TCP row.
pub(crate) fn solaris_shape(t: &Toks<'_>) -> bool {
    t.len() >= 7
        && (2..6).all(|k| is_num(t.at(k)))
        && !t.at(0).contains(':')
        && t.at(0).contains('.')
        && t.at(1).contains('.')
        && looks_like_word(t.at(6))
}

/// A PowerShell table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PsCol {
    LocalAddress,
    LocalPort,
    RemoteAddress,
    RemotePort,
    State,
    OwningProcess,
    Other,
}

/// A PowerShell `Get-NetTCPConnection` table layout: columns and where they start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PsLayout {
    pub(crate) cols: Vec<(PsCol, usize)>,
}

impl PsLayout {
    pub(crate) fn from_header(t: &Toks<'_>) -> Option<PsLayout> {
        let mut cols = Vec::new();
        for k in 0..t.len().min(32) {
            let c = match t.at(k) {
                "LocalAddress" => PsCol::LocalAddress,
                "LocalPort" => PsCol::LocalPort,
                "RemoteAddress" => PsCol::RemoteAddress,
                "RemotePort" => PsCol::RemotePort,
                "State" => PsCol::State,
                "OwningProcess" => PsCol::OwningProcess,
                _ => PsCol::Other,
            };
            cols.push((c, t.start(k)));
        }
        let has = |c: PsCol| cols.iter().any(|x| x.0 == c);
        if has(PsCol::LocalAddress) && (has(PsCol::LocalPort) || has(PsCol::RemoteAddress)) {
            Some(PsLayout { cols })
        } else {
            None
        }
    }

    /// Moves column starts to the dash runs of the `---- ----` line under the header.
    pub(crate) fn refine(&mut self, dashes: &Toks<'_>) {
        if dashes.len() == self.cols.len() {
            for (k, c) in self.cols.iter_mut().enumerate() {
                c.1 = dashes.start(k);
            }
        }
    }

    fn col_of(&self, pos: usize, end: usize) -> Option<PsCol> {
        let mut found = None;
        for (k, (c, s)) in self.cols.iter().enumerate() {
            let next = self.cols.get(k + 1).map(|x| x.1).unwrap_or(usize::MAX);
            if pos >= *s && pos < next {
                return Some(*c);
            }
            // A right-aligned value that starts left of its column still ends inside it.
            if end > *s && end <= next && found.is_none() {
                found = Some(*c);
            }
        }
        found
    }
}

/// Reads a `Get-NetTCPConnection` table row.
pub(crate) fn ps_row(t: &Toks<'_>, lay: &PsLayout, sock: &mut Socket, facts: &mut RowFacts) -> Row {
    let mut la = None;
    let mut lp = None;
    let mut ra = None;
    let mut rp = None;
    let mut st = None;
    let mut pid = None;
    for k in 0..t.len() {
        match lay.col_of(t.start(k), t.end(k)) {
            Some(PsCol::LocalAddress) => la = t.get(k),
            Some(PsCol::LocalPort) => lp = t.get(k),
            Some(PsCol::RemoteAddress) => ra = t.get(k),
            Some(PsCol::RemotePort) => rp = t.get(k),
            Some(PsCol::State) => st = t.get(k),
            Some(PsCol::OwningProcess) => pid = t.get(k),
            _ => {}
        }
    }
    let ip = |s: Option<&str>| -> Option<IpAddr> {
        let s = s?;
        let core = s.split('%').next().unwrap_or(s);
        core.parse::<IpAddr>().ok()
    };
    let Some(lip) = ip(la) else {
        return if la.is_some() && t.len() >= 3 {
            Row::Bad(format!("'{}' is not a local address", la.unwrap_or("")))
        } else {
            Row::Foreign
        };
    };
    let Some(lport) = lp.and_then(parse_u16) else {
        return Row::Bad("the LocalPort column is not a port number".into());
    };
    reset(sock);
    let rip = ip(ra).unwrap_or(if lip.is_ipv4() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    });
    set_ips(
        sock,
        (lip, lport),
        (rip, rp.and_then(parse_u16).unwrap_or(0)),
    );
    if let Some(p) = pid.and_then(parse_u32) {
        if p != 0 {
            sock.owners.push(Arc::new(Process {
                pid: p,
                ..Process::default()
            }));
            facts.owners = true;
        }
    }
    let state = match st {
        None => RowState::Missing,
        Some(w) => match state_word(w) {
            StateWord::Known(s) => RowState::Known(s),
            StateWord::Unknown => RowState::Unknown(w.to_string()),
        },
    };
    Row::Tcp(state)
}

/// Reads a bare pasted row: `local foreign state [...]` or `recvq sendq local foreign state`.
/// Without a protocol column a row counts as TCP only through a TCP state word.
pub(crate) fn pasted_row(t: &Toks<'_>, res: &Resolver<'_>, sock: &mut Socket) -> Row {
    let mut i = 0;
    if is_num(t.at(0)) && is_num(t.at(1)) && t.len() >= 5 {
        i = 2;
    }
    let (l, f) = (t.at(i), t.at(i + 1));
    if !crate::endpoint::looks_like_endpoint(l) || !crate::endpoint::looks_like_endpoint(f) {
        return Row::Foreign;
    }
    let style = if l.starts_with("*.") || (!l.contains(':') && l.matches('.').count() >= 4) {
        Style::Dot
    } else {
        Style::Colon
    };
    let (Some(local), Some(remote)) =
        (parse_endpoint(l, style, res), parse_endpoint(f, style, res))
    else {
        return Row::Foreign;
    };
    let Some(w) = t.get(i + 2) else {
        return Row::Bad("two addresses without protocol or state: cannot tell it is TCP".into());
    };
    let state = match state_word(w) {
        StateWord::Known(s) => s,
        StateWord::Unknown => {
            return Row::Bad(format!(
                "no protocol column and '{w}' is not a TCP state: cannot tell it is TCP"
            ))
        }
    };
    reset(sock);
    set_endpoints(sock, None, local, remote);
    if i == 2 {
        sock.recv_q = parse_u32(t.at(0));
        sock.send_q = parse_u32(t.at(1));
    }
    Row::Tcp(RowState::Known(state))
}

/// `line` without its trailing blanks (space, tab, CR, LF, VT, FF; ASCII only, so the cut
/// stays on a char boundary).
pub(crate) fn trim_blanks_end(line: &str) -> &str {
    line.trim_end_matches([' ', '\t', '\r', '\n', '\x0b', '\x0c'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_matches_split_whitespace() {
        let mut v = Vec::new();
        for line in [
            "",
            " ",
            "a",
            "tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED",
            "\t cubic wscale:7,7 rto:204\t\tx  ",
            "aaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbb\tc",
            "        \t        \t z",
            "ümlaut  ABHÖREN\u{FFFD}  x",
        ] {
            tokenize(line, &mut v, 96);
            let got: Vec<&str> = v
                .iter()
                .map(|(a, b)| &line[*a as usize..*b as usize])
                .collect();
            let want: Vec<&str> = line.split([' ', '\t']).filter(|s| !s.is_empty()).collect();
            assert_eq!(got, want, "{line:?}");
        }
        tokenize("a b c d", &mut v, 2);
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn fast_path_matches_the_general_reader() {
        let mut taken = 0;
        let lines = [
            "tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED",
            "tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN     ",
            "tcp6       0      0 ::ffff:10.0.0.5:80      ::ffff:10.0.0.8:40000   SYN_RECV",
            "tcp6       0      0 ::ffff:1.2.3.4:5678     ::ffff:10.0.0.8:40000   FIN_WAIT1",
            "tcp6       3    400 ::ffff:10.1.2.3:80      ::ffff:10.0.0.8:40000   CLOSING",
            "  tcp\t1\t2\t10.0.0.5:1\t10.0.0.6:2\tCLOSE",
            // -p, -o, -po (net-tools columns), IPv6.
            "tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED 1/x",
            "tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED 6492/sshd: kbrazil  ",
            "tcp        0      0 10.0.0.5:22             10.0.0.9:51234          TIME_WAIT   -                   ",
            "tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED keepalive (7184.28/0/0)",
            "tcp        0      0 10.0.0.5:22             10.0.0.9:51234          TIME_WAIT   timewait (56.89/0/0)",
            "tcp        0      1 10.0.0.5:22             10.0.0.9:51234          SYN_SENT    OFF (0.00/3/0)",
            "tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED 812/nginx: worker    on (0.20/2/0)",
            "tcp        0      0 10.0.0.5:22             10.0.0.9:51234          TIME_WAIT   -                    timewait (3.10/0/0)",
            "tcp6       0      0 :::443                  :::*                    LISTEN     ",
            "tcp6       0      0 ::1:45627               ::1:50274               ESTABLISHED 23664/tcpdoctor-sce ",
            "tcp6       0      0 2001:db8::a93:36278     2001:db8:7f69::931:443  ESTABLISHED",
            // Not taken: names, cut addresses, scope ids, tcp4, bad numbers, odd extras.
            "tcp6       0      0 2001:db8::57f:5432      2001:db8:df98::fc:44852 ESTABLISHED",
            "tcp6       0      0 ::ffff:172.29.191:44852 ::ffff:10.0.0.8:40000   ESTABLISHED",
            "tcp6       0      0 fe80::1%eth0:22         :::*                    LISTEN",
            // 23-character IPv6 tokens (possibly cut): valid, cut mid-IPv4, cut to a dot.
            "tcp6       0      0 2001:db8::6a8:80        2001:db8:b1ac::c9:59399 TIME_WAIT  ",
            "tcp6       0      0 ::ffff:10.0.2.32:33467  ::ffff:172.19.234.43:80 ESTABLISHED",
            "tcp6       0      0 ::ffff:10.0.0.74:6379   ::ffff:172.18.199:54827 ESTABLISHED",
            "tcp6       0      0 ::ffff:10.0.0.205:443   ::ffff:172.21.15.:55067 TIME_WAIT  ",
            "tcp6       0      0 2001:db8:b1ac::c9:59399 2001:db8::6a8:80        SYN_SENT 4242/curl",
            "tcp6       0      0 2001:db8:b1ac:1:2:3:443 2001:db8::6a8:80        ESTABLISHED",
            "tcp6       0      0 ::ffff:10.0.0.1:80      1:2:3:4:5:6:7:8:9:10:80 ESTABLISHED",
            "tcp6       0      0 ::ffff:10.0.0.1:80      ::ffff:172.18.1.2.3:123 ESTABLISHED",
            "tcp6       0      0 ::ffff:10.0.0.1:80      ::ffff:172.18.199:65536 ESTABLISHED",
            "tcp        0      0 2001:db8::6a8:80        2001:db8:b1ac::c9:59399 TIME_WAIT",
            "tcp6       0      0 2001:db8::6a8:80        2001:db8:b1ac::c9:05939 TIME_WAIT",
            "tcp        0      0 10.0.0.5:22             10.0.0.9:51234",
            "tcp4       0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED",
            "tcp        0      0 256.0.0.5:22            10.0.0.9:51234          ESTABLISHED",
            "tcp        0      0 10.0.0.5:65536          10.0.0.9:51234          ESTABLISHED",
            "tcp        x      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED",
            "tcp        0      0 10.0.0.5:ssh            10.0.0.9:51234          ESTABLISHED",
            "tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED root 12345",
            "tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED bogus (1/2/3)",
            "tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED (0.00/0/0)",
            "tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED 12/\u{e9}t\u{e9}",
        ];
        for user_inode in [false, true] {
            for line in lines {
                taken += u32::from(same_as_reader(line, user_inode));
            }
        }
        // 17 rows without the User/Inode header, the 8 without extras with it.
        // Plus the rows with 23-character IPv6 tokens: 10 rows without extras (with and
        // without the User/Inode header), one with `pid/program` (without it only).
        assert_eq!(taken, 17 + 8 + 2 * 9 + 1);
    }

    /// xorshift64: a small deterministic generator for the random rows below.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
            v[self.below(v.len() as u64) as usize]
        }
    }

    fn rand_port(r: &mut Rng) -> String {
        match r.below(20) {
            0 => "*".into(),
            1 => "65536".into(),
            2 => "99999".into(),
            3 => format!("0{}", r.below(9999)),
            4 => "ssh".into(),
            5..=9 => r.below(1024).to_string(),
            _ => r.below(65536).to_string(),
        }
    }

    fn rand_v4(r: &mut Rng) -> String {
        let o = |r: &mut Rng| match r.below(40) {
            0 => "256".to_string(),
            1 => "010".to_string(),
            2 => "1000".to_string(),
            3 => String::new(),
            4..=12 => r.below(10).to_string(),
            13..=22 => r.below(100).to_string(),
            _ => r.below(256).to_string(),
        };
        let mut s = format!("{}.{}.{}.{}", o(r), o(r), o(r), o(r));
        if r.below(50) == 0 {
            s.push_str(".7");
        }
        s
    }

    fn rand_v6(r: &mut Rng) -> String {
        let n = 1 + r.below(8) as usize;
        let mut g: Vec<String> = (0..n)
            .map(|_| match r.below(10) {
                0 => "0".into(),
                1 => format!("{:X}", r.below(0x10000)),
                2 => format!("{:05x}", r.below(0x10000)),
                _ => format!("{:x}", r.below(0x10000)),
            })
            .collect();
        match r.below(6) {
            0 if n < 8 => {
                let k = r.below(n as u64 + 1) as usize;
                g.insert(k, String::new());
                let s = g.join(":");
                if k == 0 || k == n {
                    // `::` at an end needs the second colon.
                    if k == 0 {
                        format!(":{s}")
                    } else {
                        format!("{s}:")
                    }
                } else {
                    s
                }
            }
            1 => format!("{}::{}", g[0], rand_v4(r)),
            2 => format!("2001:db8::{}", g[0]),
            3 => "::1".into(),
            4 => "::".into(),
            _ if n == 8 => g.join(":"),
            _ => format!("2001:db8:{}::{}", g[0], g[n - 1]),
        }
    }

    fn rand_endpoint(r: &mut Rng) -> String {
        let ep = match r.below(10) {
            0..=3 => format!("{}:{}", rand_v4(r), rand_port(r)),
            4..=5 => format!("::ffff:{}:{}", rand_v4(r), rand_port(r)),
            6..=8 => format!("{}:{}", rand_v6(r), rand_port(r)),
            _ => r
                .pick(&[
                    "fe80::1%eth0:22",
                    "web01:443",
                    "[::1]:22",
                    "0.0.0.0:*",
                    ":::*",
                ])
                .to_string(),
        };
        if ep.len() > 23 && r.below(2) == 0 {
            // net-tools cuts the host so that `host:port` fits the 23-character column.
            let (h, p) = ep.rsplit_once(':').unwrap();
            let keep = 23usize.saturating_sub(p.len() + 1).min(h.len());
            return format!("{}:{p}", &h[..keep]);
        }
        ep
    }

    fn rand_row(r: &mut Rng) -> String {
        let proto = match r.below(30) {
            0 => "tcp4",
            1 => "udp",
            2..=15 => "tcp",
            _ => "tcp6",
        };
        let q = |r: &mut Rng| match r.below(30) {
            0 => "4294967296".to_string(),
            1 => "12345678901".to_string(),
            2 => "1234567".to_string(),
            3 => r.below(u64::from(u32::MAX) + 1).to_string(),
            4..=8 => r.below(1000).to_string(),
            9 => "-1".to_string(),
            _ => "0".to_string(),
        };
        let (rq, sq) = (q(r), q(r));
        let (l, f) = (rand_endpoint(r), rand_endpoint(r));
        let state = r.pick(&[
            "ESTABLISHED",
            "ESTABLISHED",
            "TIME_WAIT",
            "TIME_WAIT",
            "LISTEN",
            "CLOSE_WAIT",
            "SYN_SENT",
            "SYN_RECV",
            "FIN_WAIT1",
            "FIN_WAIT2",
            "LAST_ACK",
            "CLOSING",
            "CLOSE",
            "",
            "established",
            "UNKNOWN",
            "ESTABLISHED1",
        ]);
        let extra = match r.below(12) {
            0 => " -                   ".to_string(),
            1 => format!(" {}/prog", r.below(100_000)),
            2 => " 812/nginx: worker    on (0.20/2/0)".to_string(),
            3 => " off (0.00/0/0)".to_string(),
            4 => " keepalive (7184.28/0/0)".to_string(),
            5 => " -                    timewait (3.10/0/0)".to_string(),
            6 => " root 12345".to_string(),
            _ => String::new(),
        };
        let mut s = if r.below(5) == 0 {
            // Odd spacing: blanks of any length and kind between the columns.
            let b = |r: &mut Rng| r.pick(&[" ", "\t", "  ", " \t ", "        "]).to_string();
            format!(
                "{}{proto}{}{rq}{}{sq}{}{l}{}{f}{}{state}",
                if r.below(3) == 0 { b(r) } else { String::new() },
                b(r),
                b(r),
                b(r),
                b(r),
                b(r)
            )
        } else {
            format!("{proto:<4}  {rq:>6} {sq:>6} {l:<23} {f:<23} {state:<11}")
        };
        if !extra.is_empty() {
            s = s.trim_end().to_string();
            s.push_str(&extra);
        } else if r.below(3) == 0 {
            s = s.trim_end().to_string();
        }
        s
    }

    /// Reads `line` with the fast path and with [`inet_row`]: when the fast path takes the
    /// row, both must give the very same socket. Returns whether the fast path took it.
    fn same_as_reader(line: &str, user_inode: bool) -> bool {
        let res = Resolver { services: None };
        let blank = || {
            Socket::new(
                TcpState::Close,
                "0.0.0.0:0".parse().unwrap(),
                "0.0.0.0:0".parse().unwrap(),
            )
        };
        let lay = InetLayout {
            kind: InetKind::Linux,
            state: StateCol::Present,
            user_inode,
            ..InetLayout::UNKNOWN
        };
        let Some(c) = fast_linux_row(line.as_bytes(), user_inode) else {
            return false;
        };
        let mut fast = blank();
        let mut owners = crate::parser::OwnerCache::default();
        crate::parser::build_compact(&c, line.as_bytes(), &mut fast, &mut owners);
        let mut spans = Vec::new();
        tokenize(line.trim_end(), &mut spans, 96);
        let t = Toks {
            line: line.trim_end(),
            spans: &spans,
        };
        let mut slow = blank();
        let mut facts = RowFacts::default();
        match inet_row(&t, &lay, &res, &mut slow, &mut facts) {
            Row::Tcp(RowState::Known(s2)) => {
                slow.state = s2;
                assert_eq!(c.state, s2, "{line:?}");
                assert_eq!(c.start as usize, t.start(0), "{line:?}");
                assert_eq!(fast, slow, "{line:?}");
            }
            other => panic!("{line:?}: fast path read a row the reader calls {other:?}"),
        }
        true
    }

    #[test]
    fn fast_path_on_random_rows() {
        let mut r = Rng(0x9E37_79B9_7F4A_7C15);
        let noise: &[u8] = b" \t:.0123456789afAF*/()-x\xc3\x00\r";
        // [plain rows, mutated rows] taken by the new reader; rows where old and new differ.
        let mut taken = [0u32; 2];
        let mut fixed = 0u32;
        for n in 0..220_000u32 {
            let row = rand_row(&mut r);
            let mut bytes = row.clone().into_bytes();
            let mutated = n % 3 == 2;
            if mutated {
                let i = r.below(bytes.len() as u64) as usize;
                bytes[i] = if r.below(4) == 0 {
                    r.next() as u8
                } else {
                    noise[r.below(noise.len() as u64) as usize]
                };
            }
            for user_inode in [false, true] {
                // The fixed-column reader must agree with the scanning one, which reads any
                // spacing token by token, on every row it takes.
                let new = fast_linux_row(&bytes, user_inode);
                if let Some(fixed) = fixed_linux_row(&bytes, user_inode) {
                    assert_eq!(
                        Some(fixed),
                        scan_linux_row(&bytes, user_inode),
                        "{:?} {user_inode}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
                if new.is_some() {
                    taken[usize::from(mutated)] += 1;
                    fixed += u32::from(fixed_linux_row(&bytes, user_inode).is_some());
                }
                // (A row that is no UTF-8 is compared old against new only: both take one
                // whose bytes after a `-` are not UTF-8, they look at the `-` only.)
                if let Ok(line) = std::str::from_utf8(&bytes) {
                    assert_eq!(same_as_reader(line, user_inode), new.is_some(), "{line:?}");
                }
            }
        }
        assert_eq!(taken, [39778, 3690]);
        assert_eq!(fixed, 25252);
    }

    #[test]
    fn ss_timer_formats() {
        assert_eq!(parse_ss_ms("43sec"), Some(43_000));
        assert_eq!(parse_ss_ms("200ms"), Some(200));
        assert_eq!(parse_ss_ms("1.200ms"), Some(1_200));
        assert_eq!(parse_ss_ms("9min58sec"), Some(598_000));
        assert_eq!(parse_ss_ms("120min"), Some(7_200_000));
        assert_eq!(parse_ss_ms(""), Some(0));
        assert_eq!(parse_ss_ms("abc"), None);
        assert_eq!(parse_secs_ms("43.21"), Some(43_210));
        assert_eq!(parse_secs_ms("0.00"), Some(0));
        assert_eq!(parse_secs_ms("7184.28"), Some(7_184_280));
    }

    #[test]
    fn proc_addresses() {
        assert_eq!(
            proc_addr("0100007F:0CEA", false),
            Some((IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 3306))
        );
        assert_eq!(
            proc_addr("7F000001:0016", true),
            Some((IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 22))
        );
        assert_eq!(
            proc_addr("00000000000000000000000001000000:0016", false),
            Some((IpAddr::V6(Ipv6Addr::LOCALHOST), 22))
        );
        assert_eq!(
            proc_addr("0000000000000000FFFF00000100007F:0050", false),
            Some(("::ffff:127.0.0.1".parse().unwrap(), 80))
        );
        assert_eq!(proc_addr("0100007F:CEA", false), None);
        assert_eq!(proc_addr("0100007:0CEA", false), None);
    }
}
