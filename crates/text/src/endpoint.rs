//! Endpoint tokens in every printed form: `10.0.0.1:22`, `[::1]:22`, `:::22`,
//! `fe80::1%eth0:546`, `[fe80::1]%eth0:546` (ss), `127.0.0.1.22`, `*.22`, `*.*`, `::1.6012`
//! (BSD/Solaris), host and service names (`web01:53045`, `10.0.0.5:mysql`, `localhost.smtp`),
//! and names cut short by a column width.

use crate::words::builtin_service;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use tcpdoctor_model::{Endpoint, Family, Host, Port, ServiceNames};

/// Which separator a format puts between host and port, tried first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// `host:port` (Linux, Windows, ss).
    Colon,
    /// `host.port` (BSD, macOS, Solaris, HP-UX, AIX).
    Dot,
}

/// A parsed endpoint before the family is settled.
#[derive(Debug, Clone)]
pub(crate) struct Ep {
    pub(crate) host: HostPart,
    pub(crate) port: Port,
}

/// The host part of a parsed endpoint.
#[derive(Debug, Clone)]
pub(crate) enum HostPart {
    /// `*`: the wildcard of the row's family.
    Any,
    /// A numeric address.
    Ip(IpAddr),
    /// A host name (or an address cut short), as printed.
    Name(Arc<str>),
}

impl Ep {
    /// The family the address itself shows, if any.
    pub(crate) fn family(&self) -> Option<Family> {
        match self.host {
            HostPart::Ip(IpAddr::V4(_)) => Some(Family::Inet),
            HostPart::Ip(IpAddr::V6(_)) => Some(Family::Inet6),
            HostPart::Name(ref n) if n.contains(':') => Some(Family::Inet6),
            _ => None,
        }
    }

    /// Turns into a model endpoint; `*` becomes the unspecified address of `family`.
    pub(crate) fn into_endpoint(self, family: Family) -> Endpoint {
        let host = match self.host {
            HostPart::Any => Host::Ip(match family {
                Family::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                Family::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            }),
            HostPart::Ip(ip) => Host::Ip(ip),
            HostPart::Name(n) => Host::Name(n),
        };
        Endpoint {
            host,
            port: self.port,
        }
    }
}

/// Context for resolving names.
pub(crate) struct Resolver<'a> {
    pub(crate) services: Option<&'a ServiceNames>,
}

impl Resolver<'_> {
    /// Whether a service name is known (caller's table or the built-in one).
    pub(crate) fn knows(&self, name: &str) -> bool {
        self.services.is_some_and(|s| s.port(name).is_some()) || builtin_service(name).is_some()
    }

    fn port(&self, p: &str) -> Port {
        if p == "*" {
            return Port::Num(0);
        }
        if let Some(n) = parse_u16(p) {
            return Port::Num(n);
        }
        if let Some(s) = self.services {
            if let Some(n) = s.port(p) {
                return Port::Num(n);
            }
        }
        if let Some(n) = builtin_service(p) {
            return Port::Num(n);
        }
        Port::Name(Arc::from(p))
    }
}

/// Parses a decimal `u16` quickly.
#[inline]
pub(crate) fn parse_u16(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 5 {
        return None;
    }
    let mut v: u32 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u32::from(d);
    }
    u16::try_from(v).ok()
}

/// Parses a decimal `u32` (queues, pids, inodes up to 2^32).
#[inline]
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    parse_u64(s).and_then(|v| u32::try_from(v).ok())
}

/// Parses a decimal `u64`.
#[inline]
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// Fast dotted-quad IPv4 parser (the common case in big files).
#[inline]
fn parse_v4(s: &str) -> Option<Ipv4Addr> {
    let b = s.as_bytes();
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    let mut out = [0u8; 4];
    let mut idx = 0;
    let mut cur: u32 = 0;
    let mut digits = 0;
    for &c in b {
        if c == b'.' {
            if digits == 0 || idx == 3 {
                return None;
            }
            out[idx] = u8::try_from(cur).ok()?;
            idx += 1;
            cur = 0;
            digits = 0;
        } else {
            let d = c.wrapping_sub(b'0');
            if d > 9 || digits == 3 {
                return None;
            }
            cur = cur * 10 + u32::from(d);
            digits += 1;
        }
    }
    if idx != 3 || digits == 0 {
        return None;
    }
    out[3] = u8::try_from(cur).ok()?;
    Some(Ipv4Addr::from(out))
}

/// `a.b.c.d:port` / `a.b.c.d:*` / `::ffff:a.b.c.d:port` as an address and port, with no
/// allocation and few branches (the hot path of big listings).
#[inline]
pub(crate) fn fast_v4_colon_ip(b: &[u8]) -> Option<(IpAddr, u16)> {
    #[inline(always)]
    fn digit(b: &[u8], i: usize) -> Option<u32> {
        match b.get(i) {
            Some(c) if c.is_ascii_digit() => Some(u32::from(c - b'0')),
            _ => None,
        }
    }
    #[inline(always)]
    fn octet(b: &[u8], i: &mut usize) -> Option<u8> {
        let mut v = digit(b, *i)?;
        *i += 1;
        if let Some(d) = digit(b, *i) {
            v = v * 10 + d;
            *i += 1;
            if let Some(d) = digit(b, *i) {
                v = v * 10 + d;
                *i += 1;
            }
        }
        u8::try_from(v).ok()
    }
    let (mapped, b) = match b.strip_prefix(b"::ffff:") {
        Some(rest) => (true, rest),
        None => (false, b),
    };
    let mut i = 0;
    let o0 = octet(b, &mut i)?;
    if b.get(i) != Some(&b'.') {
        return None;
    }
    i += 1;
    let o1 = octet(b, &mut i)?;
    if b.get(i) != Some(&b'.') {
        return None;
    }
    i += 1;
    let o2 = octet(b, &mut i)?;
    if b.get(i) != Some(&b'.') {
        return None;
    }
    i += 1;
    let o3 = octet(b, &mut i)?;
    if b.get(i) != Some(&b':') {
        return None;
    }
    let p = &b[i + 1..];
    let port = if p == b"*" {
        0
    } else {
        if p.is_empty() || p.len() > 5 {
            return None;
        }
        let mut v: u32 = 0;
        for &c in p {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + u32::from(d);
        }
        u16::try_from(v).ok()?
    };
    let v4 = Ipv4Addr::new(o0, o1, o2, o3);
    Some((
        if mapped {
            IpAddr::V6(v4.to_ipv6_mapped())
        } else {
            IpAddr::V4(v4)
        },
        port,
    ))
}

/// `2001:db8::1:443`, `:::22`, `::1:*` (net-tools' unbracketed IPv6) as an address and port,
/// without allocating: exactly what [`parse_endpoint`] makes of such a token (the host must
/// be a plain IPv6 literal: no brackets, no `%scope`, no name).
#[inline]
pub(crate) fn fast_v6_colon_ip(b: &[u8]) -> Option<(IpAddr, u16)> {
    if b.len() < 4 || b.len() > 50 {
        return None;
    }
    let c = memchr::memrchr(b':', b)?;
    let (h, p) = (&b[..c], &b[c + 1..]);
    if !h.contains(&b':')
        || !h
            .iter()
            .all(|x| x.is_ascii_hexdigit() || *x == b':' || *x == b'.')
    {
        return None;
    }
    let port = if p == b"*" {
        0
    } else {
        if p.is_empty() || p.len() > 5 {
            return None;
        }
        let mut v: u32 = 0;
        for &x in p {
            let d = x.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + u32::from(d);
        }
        u16::try_from(v).ok()?
    };
    let h = std::str::from_utf8(h).ok()?;
    if h.starts_with("::ffff:") && parse_v4(&h[7..]).is_some() {
        // The mapped form (also what `fast_v4_colon_ip` reads).
        return None;
    }
    let ip = parse_v6(h.as_bytes())?;
    Some((IpAddr::V6(ip), port))
}

/// An IPv6 address as `str::parse::<Ipv6Addr>` reads it (the same grammar, rule for rule:
/// groups of up to 4 hex digits, one `::`, a dotted IPv4 tail in the last 32 bits), without
/// its general parser's overhead. A test compares both on many random strings.
#[inline]
fn parse_v6(s: &[u8]) -> Option<Ipv6Addr> {
    let mut p = 0;
    let mut head = [0u16; 8];
    let (hn, head_v4) = v6_groups(s, &mut p, &mut head);
    if hn == 8 {
        return (p == s.len()).then(|| Ipv6Addr::from(head));
    }
    if head_v4 || s.get(p..p + 2) != Some(b"::") {
        return None;
    }
    p += 2;
    let mut tail = [0u16; 7];
    let (tn, _) = v6_groups(s, &mut p, &mut tail[..7 - hn]);
    if p != s.len() {
        return None;
    }
    head[8 - tn..].copy_from_slice(&tail[..tn]);
    Some(Ipv6Addr::from(head))
}

/// Colon-separated groups from `*p` into `groups` (as many as fit), the last two possibly a
/// dotted IPv4 address: how many were read and whether the IPv4 form ended them.
#[inline]
fn v6_groups(s: &[u8], p: &mut usize, groups: &mut [u16]) -> (usize, bool) {
    let limit = groups.len();
    for i in 0..limit {
        let at = if i == 0 {
            *p
        } else if s.get(*p) == Some(&b':') {
            *p + 1
        } else {
            return (i, false);
        };
        if i + 1 < limit {
            if let Some((v4, e)) = v4_at(s, at) {
                groups[i] = u16::from_be_bytes([v4[0], v4[1]]);
                groups[i + 1] = u16::from_be_bytes([v4[2], v4[3]]);
                *p = e;
                return (i + 2, true);
            }
        }
        // Up to four hex digits (a fifth fails the group).
        let mut v = 0u32;
        let mut k = at;
        while let Some(d) = s.get(k).and_then(|c| char::from(*c).to_digit(16)) {
            if k - at == 4 {
                return (i, false);
            }
            v = v * 16 + d;
            k += 1;
        }
        if k == at {
            return (i, false);
        }
        groups[i] = v as u16;
        *p = k;
    }
    (limit, false)
}

/// A dotted IPv4 address at `at` as the IPv6 parser reads its tail: four decimal octets of
/// 1 to 3 digits, no leading zero, at most 255. The octets and where the address ends.
#[inline]
fn v4_at(s: &[u8], at: usize) -> Option<([u8; 4], usize)> {
    let mut o = [0u8; 4];
    let mut k = at;
    for (i, slot) in o.iter_mut().enumerate() {
        if i > 0 {
            if s.get(k) != Some(&b'.') {
                return None;
            }
            k += 1;
        }
        let st = k;
        let mut v = 0u32;
        while let Some(c) = s.get(k).filter(|c| c.is_ascii_digit()) {
            if k - st == 3 {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
            k += 1;
        }
        if k == st || (s[st] == b'0' && k - st > 1) {
            return None;
        }
        *slot = u8::try_from(v).ok()?;
    }
    Some((o, k))
}

/// [`fast_v4_colon_ip`] as an endpoint.
#[inline]
fn fast_v4_colon(b: &[u8]) -> Option<Ep> {
    let (ip, port) = fast_v4_colon_ip(b)?;
    Some(Ep {
        host: HostPart::Ip(ip),
        port: Port::Num(port),
    })
}

/// An IP literal, IPv6 possibly with a `%scope` suffix.
fn parse_ip(s: &str) -> Option<IpAddr> {
    if let Some(v4) = parse_v4(s) {
        return Some(IpAddr::V4(v4));
    }
    let core = match s.find('%') {
        Some(i) => &s[..i],
        None => s,
    };
    if !core.contains(':') {
        return parse_v4(core).map(IpAddr::V4);
    }
    // IPv4-mapped addresses are common in big listings: skip the general IPv6 parser.
    if let Some(v4) = core.strip_prefix("::ffff:").and_then(parse_v4) {
        return Some(IpAddr::V6(v4.to_ipv6_mapped()));
    }
    core.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_')
}

/// Whether `p` can be a port as printed: digits, `*`, or a service name.
fn port_ok(p: &str) -> bool {
    if p.is_empty() || p.len() > 32 {
        return false;
    }
    if p == "*" {
        return true;
    }
    let b = p.as_bytes();
    if b.iter().all(u8::is_ascii_digit) {
        return parse_u16(p).is_some();
    }
    b.iter().any(u8::is_ascii_alphabetic)
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'+' | b'/'))
}

/// Reads a host part: `*`, an IP literal, a name, or a cut-short IPv6 (hex and colons).
fn host_part(h: &str) -> Option<HostPart> {
    if h == "*" {
        return Some(HostPart::Any);
    }
    if h.is_empty() || h.len() > 255 {
        return None;
    }
    if let Some(ip) = parse_ip(h) {
        return Some(HostPart::Ip(ip));
    }
    // `*%ens33` (ss, a wildcard bound to an interface)
    if let Some(rest) = h.strip_prefix("*%") {
        if !rest.is_empty() && rest.bytes().all(is_name_byte) {
            return Some(HostPart::Any);
        }
    }
    let core = match h.find('%') {
        Some(i) if i > 0 => &h[..i],
        _ => h,
    };
    let b = core.as_bytes();
    if b.contains(&b':') {
        // An IPv6 address cut by a column width (`2600:1700:bab0:d`, `fe80::aede:48ff:`).
        if b.iter()
            .all(|c| c.is_ascii_hexdigit() || *c == b':' || *c == b'.')
        {
            return Some(HostPart::Name(Arc::from(h)));
        }
        return None;
    }
    if b.iter().all(|&c| is_name_byte(c)) && b.iter().any(u8::is_ascii_alphanumeric) {
        return Some(HostPart::Name(Arc::from(h)));
    }
    None
}

/// Parses one endpoint token. `None` when it is not an endpoint in any known form.
pub(crate) fn parse_endpoint(tok: &str, style: Style, r: &Resolver<'_>) -> Option<Ep> {
    if tok.is_empty() || tok.len() > 300 {
        return None;
    }
    let b = tok.as_bytes();
    // Fast path: `a.b.c.d:port`, `a.b.c.d:*`, `::ffff:a.b.c.d:port` in one pass.
    if style == Style::Colon {
        if let Some(ep) = fast_v4_colon(b) {
            return Some(ep);
        }
    }
    if b[0] == b'[' {
        let close = tok.find(']')?;
        let inner = &tok[1..close];
        let mut rest = &tok[close + 1..];
        if let Some(r2) = rest.strip_prefix('%') {
            // ss: `[fe80::1]%eth0:546`
            let c = r2.rfind(':')?;
            rest = &r2[c..];
        }
        let p = rest.strip_prefix(':').or_else(|| rest.strip_prefix('.'))?;
        if !port_ok(p) {
            return None;
        }
        let host = if inner == "*" || inner.is_empty() {
            HostPart::Any
        } else {
            match parse_ip(inner) {
                Some(ip) => HostPart::Ip(ip),
                None => host_part(inner)?,
            }
        };
        return Some(Ep {
            host,
            port: r.port(p),
        });
    }
    let try_sep = |sep: u8| -> Option<Ep> {
        let i = memchr::memrchr(sep, b)?;
        let (h, p) = (&tok[..i], &tok[i + 1..]);
        if !port_ok(p) {
            return None;
        }
        let host = host_part(h)?;
        Some(Ep {
            host,
            port: r.port(p),
        })
    };
    match style {
        Style::Colon => try_sep(b':').or_else(|| try_sep(b'.')),
        Style::Dot => try_sep(b'.').or_else(|| try_sep(b':')),
    }
}

/// Whether a token looks like an endpoint at all (for "this looked like a row" decisions).
pub(crate) fn looks_like_endpoint(tok: &str) -> bool {
    let b = tok.as_bytes();
    b.len() >= 3
        && (b.contains(&b':') || b.iter().filter(|c| **c == b'.').count() >= 1)
        && b.iter().any(|c| c.is_ascii_digit() || *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(t: &str, s: Style) -> Option<(String, String)> {
        let r = Resolver { services: None };
        let e = parse_endpoint(t, s, &r)?;
        let h = match e.host {
            HostPart::Any => "*".to_string(),
            HostPart::Ip(ip) => ip.to_string(),
            HostPart::Name(n) => format!("name:{n}"),
        };
        let p = match e.port {
            Port::Num(n) => n.to_string(),
            Port::Name(n) => format!("name:{n}"),
        };
        Some((h, p))
    }

    fn both(t: &str, s: Style) -> (String, String) {
        ep(t, s).unwrap_or_else(|| panic!("{t}"))
    }

    #[test]
    fn colon_forms() {
        let c = Style::Colon;
        assert_eq!(both("10.0.0.1:22", c), ("10.0.0.1".into(), "22".into()));
        assert_eq!(both("0.0.0.0:*", c), ("0.0.0.0".into(), "0".into()));
        assert_eq!(both(":::22", c), ("::".into(), "22".into()));
        assert_eq!(both(":::*", c), ("::".into(), "0".into()));
        assert_eq!(both("[::]:ssh", c), ("::".into(), "22".into()));
        assert_eq!(both("[::1]:38134", c), ("::1".into(), "38134".into()));
        assert_eq!(
            both("::ffff:10.0.2.15:9200", c),
            ("::ffff:10.0.2.15".into(), "9200".into())
        );
        assert_eq!(both("fe80::a00:27ff:fe32:ed09%enp0s3:9200", c).1, "9200");
        assert_eq!(
            both("[fe80::1]%eth0:546", c),
            ("fe80::1".into(), "546".into())
        );
        assert_eq!(
            both("127.0.0.53%lo:53", c),
            ("127.0.0.53".into(), "53".into())
        );
        assert_eq!(both("*:22", c), ("*".into(), "22".into()));
        assert_eq!(both("*:*", c), ("*".into(), "0".into()));
        assert_eq!(
            both("*%ens33:ipv6-icmp", c),
            ("*".into(), "name:ipv6-icmp".into())
        );
        assert_eq!(
            both("web01:53045", c),
            ("name:web01".into(), "53045".into())
        );
        assert_eq!(
            both("10.0.0.5:mysql", c),
            ("10.0.0.5".into(), "3306".into())
        );
        assert_eq!(
            both("localhost.localdo:35450", c),
            ("name:localhost.localdo".into(), "35450".into())
        );
        assert_eq!(
            both("lb-192-30-255-112:https", c),
            ("name:lb-192-30-255-112".into(), "443".into())
        );
        assert_eq!(
            both("2601:1:ad80:1445::54776", c),
            ("name:2601:1:ad80:1445:".into(), "54776".into())
        );
        assert_eq!(both("[::]:0", c), ("::".into(), "0".into()));
        assert_eq!(
            both("[fe80::1%12]:5353", c),
            ("fe80::1".into(), "5353".into())
        );
        assert!(ep("rtnl:kernel", c).is_some()); // a name; the nl netid says it is not TCP
        assert!(ep("hello", c).is_none());
        assert!(ep("10.0.0.1", c).is_some()); // 10.0.0 + port 1: only format context can tell
        assert!(ep("99999", c).is_none());
    }

    #[test]
    fn dot_forms() {
        let d = Style::Dot;
        assert_eq!(both("127.0.0.1.25", d), ("127.0.0.1".into(), "25".into()));
        assert_eq!(both("*.22", d), ("*".into(), "22".into()));
        assert_eq!(both("*.*", d), ("*".into(), "0".into()));
        assert_eq!(both("::1.6012", d), ("::1".into(), "6012".into()));
        assert_eq!(both("fe80::1%lo0.123", d), ("fe80::1".into(), "123".into()));
        assert_eq!(
            both("localhost.smtp", d),
            ("name:localhost".into(), "25".into())
        );
        assert_eq!(
            both("kbrazil-mac.attl.62979", d),
            ("name:kbrazil-mac.attl".into(), "62979".into())
        );
        assert_eq!(
            both("2620:1ec:42::132.https", d),
            ("2620:1ec:42::132".into(), "443".into())
        );
        assert_eq!(
            both("93.87.236.35.bc..sunpr", d),
            ("name:93.87.236.35.bc.".into(), "name:sunpr".into())
        );
        assert_eq!(
            both("2600:1700:bab0:d.5", d),
            ("name:2600:1700:bab0:d".into(), "5".into())
        );
        assert_eq!(
            both("fe80::aede:48ff:.61677", d),
            ("name:fe80::aede:48ff:".into(), "61677".into())
        );
        // Colon-style tokens still read under the dot preference.
        assert_eq!(both("10.0.0.1:22", d), ("10.0.0.1".into(), "22".into()));
    }

    #[test]
    fn v6_parser_reads_what_std_reads() {
        // xorshift64 over the bytes an unbracketed net-tools host may hold.
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"0123456789abcdefABCDEF:::::....";
        let pieces: [&str; 12] = [
            "::",
            ":",
            "ffff",
            "0",
            "1.2.3.4",
            "255.255.255.255",
            "256",
            "01",
            "db8",
            "2001",
            "::ffff:",
            "12345",
        ];
        let (mut some, mut total) = (0u32, 0u32);
        for _ in 0..300_000 {
            let mut s = String::new();
            let n = 1 + next() % 12;
            for _ in 0..n {
                if next() % 2 == 0 {
                    s.push(char::from(
                        alphabet[(next() % alphabet.len() as u64) as usize],
                    ));
                } else {
                    s.push_str(pieces[(next() % pieces.len() as u64) as usize]);
                }
            }
            let want = s.parse::<Ipv6Addr>().ok();
            assert_eq!(parse_v6(s.as_bytes()), want, "{s:?}");
            some += u32::from(want.is_some());
            total += 1;
        }
        for s in [
            "::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:1.2.3.4",
            "::ffff:1.2.3.4",
            "::1.2.3.4",
            "1::1.2.3.4",
            "1.2.3.4::",
            "1:2:3:4:5:6:7:1.2.3.4",
            "1:2:3:4:5:6:7:8:9",
            ":::",
            "1:::2",
            "::01.2.3.4",
            "::1.2.3.04",
            "12345::",
            "fffff::",
            "::ffff:256.1.1.1",
            "2001:db8::e3e",
        ] {
            assert_eq!(parse_v6(s.as_bytes()), s.parse::<Ipv6Addr>().ok(), "{s:?}");
        }
        assert_eq!(total, 300_000);
        assert_eq!(some, 9286);
    }
}
