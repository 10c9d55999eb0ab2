//! The kernel's own view of a namespace: rows of `/proc/net/tcp` and `/proc/net/tcp6`.
//!
//! `/proc/<pid>/net/tcp` shows the network namespace of `<pid>`, so a test can read the view of
//! any namespace it created from outside, through the pid of a process inside it (the scenario
//! child), with no `ip netns exec`. The format is tcp-facts 8.2-8.4: the `st` column is the state
//! in hex (01 ESTABLISHED .. 0B CLOSING), addresses are the raw 32-bit words printed as host
//! integers, ports are 4 hex digits in host order.

use crate::KitError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use tcpdoctor_model::{Family, StateCounts, TcpState};

/// One row of `/proc/net/tcp{,6}` (only the columns the kit needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcTcpRow {
    /// `Inet` for `/proc/net/tcp`, `Inet6` for `/proc/net/tcp6`.
    pub family: Family,
    /// The `st` column (tcp-facts 8.4).
    pub state: TcpState,
    /// `local_address`.
    pub local: SocketAddr,
    /// `rem_address`.
    pub remote: SocketAddr,
    /// `tx_queue` (for LISTEN: 0).
    pub tx_queue: u32,
    /// `rx_queue` (for LISTEN: the current accept-queue length, tcp-facts 8.5).
    pub rx_queue: u32,
    /// `tr`: timer kind number (tcp-facts 8.6).
    pub timer: u8,
    /// `inode` (0 for TIME_WAIT, SYN_RECV and orphans, tcp-facts 8.10).
    pub inode: u64,
}

/// Per-state counts of one namespace, split by family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct KernelCounts {
    /// Both families together.
    pub all: StateCounts,
    /// `/proc/net/tcp` only.
    pub v4: StateCounts,
    /// `/proc/net/tcp6` only.
    pub v6: StateCounts,
}

impl KernelCounts {
    /// Counts rows.
    pub fn from_rows(rows: &[ProcTcpRow]) -> KernelCounts {
        let mut c = KernelCounts::default();
        for r in rows {
            c.all.add(r.state);
            match r.family {
                Family::Inet => c.v4.add(r.state),
                Family::Inet6 => c.v6.add(r.state),
            }
        }
        c
    }
}

fn bad(path: &Path, line: usize, what: &str) -> KitError {
    KitError::ProcFormat {
        path: path.display().to_string(),
        line,
        what: what.to_string(),
    }
}

fn parse_addr(s: &str, family: Family) -> Option<SocketAddr> {
    let (ip_hex, port_hex) = s.split_once(':')?;
    let port = u16::from_str_radix(port_hex, 16).ok()?;
    let ip = match family {
        Family::Inet => {
            if ip_hex.len() != 8 {
                return None;
            }
            let word = u32::from_str_radix(ip_hex, 16).ok()?;
            IpAddr::V4(Ipv4Addr::from(word.to_ne_bytes()))
        }
        Family::Inet6 => {
            if ip_hex.len() != 32 {
                return None;
            }
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                let word = u32::from_str_radix(ip_hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
    };
    Some(SocketAddr::new(ip, port))
}

/// Parses the text of one `/proc/net/tcp` or `/proc/net/tcp6` file. `path` only names the
/// source in errors.
pub fn parse_proc_tcp(
    text: &str,
    family: Family,
    path: &Path,
) -> Result<Vec<ProcTcpRow>, KitError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 || line.trim().is_empty() {
            continue; // header
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            return Err(bad(path, i + 1, "fewer than 10 columns"));
        }
        let local = parse_addr(f[1], family).ok_or_else(|| bad(path, i + 1, "local_address"))?;
        let remote = parse_addr(f[2], family).ok_or_else(|| bad(path, i + 1, "rem_address"))?;
        let st = u8::from_str_radix(f[3], 16).map_err(|_| bad(path, i + 1, "st"))?;
        let state = TcpState::from_kernel(st).ok_or_else(|| bad(path, i + 1, "unknown st"))?;
        let (tx, rx) = f[4]
            .split_once(':')
            .ok_or_else(|| bad(path, i + 1, "tx:rx"))?;
        let tx_queue = u32::from_str_radix(tx, 16).map_err(|_| bad(path, i + 1, "tx_queue"))?;
        let rx_queue = u32::from_str_radix(rx, 16).map_err(|_| bad(path, i + 1, "rx_queue"))?;
        let (tr, _) = f[5]
            .split_once(':')
            .ok_or_else(|| bad(path, i + 1, "tr:when"))?;
        let timer = u8::from_str_radix(tr, 16).map_err(|_| bad(path, i + 1, "tr"))?;
        let inode = f[9].parse().map_err(|_| bad(path, i + 1, "inode"))?;
        rows.push(ProcTcpRow {
            family,
            state,
            local,
            remote,
            tx_queue,
            rx_queue,
            timer,
            inode,
        });
    }
    Ok(rows)
}

/// Reads `<net_dir>/tcp` and `<net_dir>/tcp6` (a missing `tcp6`, i.e. IPv6 disabled, gives no
/// rows for it). `net_dir` is `/proc/self/net` or `/proc/<pid>/net`.
pub fn read_net_dir(net_dir: &Path) -> Result<Vec<ProcTcpRow>, KitError> {
    let mut rows = Vec::new();
    for (file, family) in [("tcp", Family::Inet), ("tcp6", Family::Inet6)] {
        let path = net_dir.join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => rows.extend(parse_proc_tcp(&text, family, &path)?),
            Err(e) if family == Family::Inet6 && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(KitError::Io {
                    what: format!("reading {}", path.display()),
                    source: e,
                })
            }
        }
    }
    Ok(rows)
}

/// The rows of the namespace that process `pid` lives in (`/proc/<pid>/net/tcp{,6}`).
pub fn rows_of_pid(pid: u32) -> Result<Vec<ProcTcpRow>, KitError> {
    read_net_dir(&Path::new("/proc").join(pid.to_string()).join("net"))
}

/// Per-state counts of the namespace that process `pid` lives in.
pub fn counts_of_pid(pid: u32) -> Result<KernelCounts, KitError> {
    Ok(KernelCounts::from_rows(&rows_of_pid(pid)?))
}

/// Per-state counts of the caller's own namespace (`/proc/self/net`).
pub fn counts_of_self() -> Result<KernelCounts, KitError> {
    Ok(KernelCounts::from_rows(&read_net_dir(Path::new(
        "/proc/self/net",
    ))?))
}

/// The `TcpExt` counters of `<net_dir>/netstat` (tcp-facts 11.1), all of them, by name without
/// the prefix (`ListenOverflows`).
pub fn read_tcpext(net_dir: &Path) -> Result<std::collections::BTreeMap<String, u64>, KitError> {
    let path = net_dir.join("netstat");
    let text = std::fs::read_to_string(&path).map_err(|e| KitError::Io {
        what: format!("reading {}", path.display()),
        source: e,
    })?;
    let mut out = std::collections::BTreeMap::new();
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let (Some(("TcpExt", names)), Some(("TcpExt", values))) =
            (names.split_once(':'), values.split_once(':'))
        else {
            continue;
        };
        for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
            let v = v.parse().map_err(|_| bad(&path, 0, "TcpExt value"))?;
            out.insert(n.to_string(), v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v4_and_v6_rows() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:A1B2 0100007F:0CEA 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000\n";
        let rows = parse_proc_tcp(v4, Family::Inet, Path::new("tcp")).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].state, TcpState::Listen);
        assert_eq!(rows[0].local, "127.0.0.1:3306".parse().unwrap());
        assert_eq!(rows[0].rx_queue, 2);
        assert_eq!(rows[0].inode, 12345);
        assert_eq!(rows[1].state, TcpState::TimeWait);
        assert_eq!(rows[1].timer, 3);
        assert_eq!(rows[1].remote.port(), 3306);
        let v6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0\n";
        let rows = parse_proc_tcp(v6, Family::Inet6, Path::new("tcp6")).unwrap();
        assert_eq!(rows[0].local, "[::1]:8080".parse().unwrap());
        let c = KernelCounts::from_rows(&rows);
        assert_eq!(c.v6.get(TcpState::Listen), 1);
        assert_eq!(c.v4.total(), 0);
    }

    #[test]
    fn bad_rows_are_errors_not_panics() {
        let t = "header\n 0: zz:0CEA 00000000:0000 0A 0:0 00:0 0 0 0 1\n";
        assert!(parse_proc_tcp(t, Family::Inet, Path::new("tcp")).is_err());
        let t = "header\n 0: 0100007F:0CEA 00000000:0000 0E 00000000:00000000 00:0 0 0 0 1\n";
        assert!(parse_proc_tcp(t, Family::Inet, Path::new("tcp")).is_err());
        let t = "header\n short line\n";
        assert!(parse_proc_tcp(t, Family::Inet, Path::new("tcp")).is_err());
    }
}
