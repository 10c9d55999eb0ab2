//! Kernel context that the diagnosis needs beside the sockets: sysctls, counters, sockstat.
//! Filled by the live sources (`/proc/sys`, `/proc/net/netstat`, `/proc/net/snmp`,
//! `/proc/net/sockstat`); left empty (and said so in a gap) for pasted text.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `/proc/net/sockstat` `TCP:` line (tcp-facts 11.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sockstat {
    /// TCP sockets hashed in this netns, TIME_WAIT excluded.
    pub inuse: u64,
    /// Orphaned sockets (global).
    pub orphan: u64,
    /// TIME_WAIT and FIN_WAIT2 mini-sockets of this netns.
    pub tw: u64,
    /// Allocated TCP sockets (global).
    pub alloc: u64,
    /// Pages charged to TCP (compare with `tcp_mem`).
    pub mem: u64,
}

impl Sockstat {
    /// Parses the text of `/proc/net/sockstat` (or `sockstat6`: only the `TCP:` line is read).
    pub fn parse(text: &str) -> Option<Sockstat> {
        let line = text.lines().find(|l| l.starts_with("TCP:"))?;
        let mut s = Sockstat::default();
        let mut it = line["TCP:".len()..].split_whitespace();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            let v: u64 = v.parse().ok()?;
            match k {
                "inuse" => s.inuse = v,
                "orphan" => s.orphan = v,
                "tw" => s.tw = v,
                "alloc" => s.alloc = v,
                "mem" => s.mem = v,
                _ => {}
            }
        }
        Some(s)
    }
}

/// Everything about the kernel that a diagnosis may use. All maps hold only what could be
/// read; a missing key means "not known", never zero.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KernelContext {
    /// Kernel release (`uname -r`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<String>,
    /// Sysctl values by dotted name (`net.ipv4.tcp_tw_reuse` -> `2`), whitespace-normalised.
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    /// Sysctls that were looked for and do not exist on this kernel (`net.ipv4.tcp_tw_recycle`
    /// since 4.12).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent_sysctls: Vec<String>,
    /// `/proc/net/netstat` `TcpExt:` counters by name, without the prefix (`ListenOverflows`).
    #[serde(default)]
    pub tcp_ext: BTreeMap<String, u64>,
    /// `/proc/net/snmp` `Tcp:` counters by name (`ActiveOpens`, `CurrEstab`; `MaxConn` is -1).
    #[serde(default)]
    pub tcp: BTreeMap<String, i64>,
    /// `/proc/net/sockstat` TCP line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sockstat: Option<Sockstat>,
}

impl KernelContext {
    /// A sysctl as an unsigned number (first field for multi-value sysctls).
    pub fn sysctl_u64(&self, key: &str) -> Option<u64> {
        self.sysctls
            .get(key)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// `net.ipv4.ip_local_port_range` as `(low, high)`.
    pub fn local_port_range(&self) -> Option<(u16, u16)> {
        let v = self.sysctls.get("net.ipv4.ip_local_port_range")?;
        let mut it = v.split_whitespace().map(|x| x.parse::<u16>());
        match (it.next(), it.next()) {
            (Some(Ok(a)), Some(Ok(b))) if a <= b => Some((a, b)),
            _ => None,
        }
    }

    /// `net.ipv4.ip_local_reserved_ports` as a list of inclusive ranges (`"8080,9000-9010"`).
    pub fn reserved_ports(&self) -> Vec<(u16, u16)> {
        let Some(v) = self.sysctls.get("net.ipv4.ip_local_reserved_ports") else {
            return Vec::new();
        };
        v.split(',')
            .filter_map(|part| {
                let part = part.trim();
                if part.is_empty() {
                    return None;
                }
                match part.split_once('-') {
                    Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
                    None => {
                        let p = part.parse().ok()?;
                        Some((p, p))
                    }
                }
            })
            .collect()
    }

    /// Parses the two-line-per-group format of `/proc/net/netstat` and `/proc/net/snmp`
    /// (`Prefix: names...` then `Prefix: values...`) and returns the pairs for `prefix`.
    pub fn parse_counter_table(text: &str, prefix: &str) -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        let tag = format!("{prefix}:");
        let mut lines = text.lines().filter(|l| l.starts_with(&tag));
        while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
            for (k, v) in names[tag.len()..]
                .split_whitespace()
                .zip(values[tag.len()..].split_whitespace())
            {
                if let Ok(v) = v.parse::<i64>() {
                    out.insert(k.to_string(), v);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockstat_parses_tcp_line() {
        let t =
            "sockets: used 171\nTCP: inuse 5 orphan 0 tw 12 alloc 7 mem 1\nUDP: inuse 1 mem 0\n";
        let s = Sockstat::parse(t).unwrap();
        assert_eq!((s.inuse, s.orphan, s.tw, s.alloc, s.mem), (5, 0, 12, 7, 1));
        assert_eq!(Sockstat::parse("UDP: inuse 1\n"), None);
    }

    #[test]
    fn counter_tables() {
        let t = "Tcp: RtoAlgorithm MaxConn ActiveOpens\nTcp: 1 -1 42\nUdp: InDatagrams\nUdp: 3\n";
        let m = KernelContext::parse_counter_table(t, "Tcp");
        assert_eq!(m["MaxConn"], -1);
        assert_eq!(m["ActiveOpens"], 42);
        assert!(!m.contains_key("InDatagrams"));
    }

    #[test]
    fn port_ranges() {
        let mut k = KernelContext::default();
        k.sysctls
            .insert("net.ipv4.ip_local_port_range".into(), "32768\t60999".into());
        k.sysctls.insert(
            "net.ipv4.ip_local_reserved_ports".into(),
            "8080,9000-9010".into(),
        );
        assert_eq!(k.local_port_range(), Some((32768, 60999)));
        assert_eq!(k.reserved_ports(), vec![(8080, 8080), (9000, 9010)]);
    }
}
