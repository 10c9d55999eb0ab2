//! Socket filters (`--state`, `--sport`, `--dport`, `--src`, `--dst`, `--pid`, `--process`).
//! The state part is handed to the kernel (`idiag_states`); the rest is checked per socket.

use crate::{Socket, StateSet, UnknownStateError};
use std::net::IpAddr;
use std::str::FromStr;

/// A filter argument that could not be read, with what would work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Unknown state name.
    #[error(transparent)]
    State(#[from] UnknownStateError),
    /// Unreadable port or port range.
    #[error("invalid port '{0}': use a number 0-65535, a range like 8000-8100, or a service name from /etc/services")]
    Port(String),
    /// Unreadable address or CIDR.
    #[error("invalid address or CIDR '{0}': use an address (10.0.0.5, ::1) or a prefix (10.0.0.0/8, fd00::/64)")]
    Cidr(String),
}

/// An inclusive port range (`80` is `80-80`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortMatch {
    /// Lowest port.
    pub lo: u16,
    /// Highest port.
    pub hi: u16,
}

impl PortMatch {
    /// Whether `p` is in the range.
    pub fn contains(self, p: u16) -> bool {
        self.lo <= p && p <= self.hi
    }
}

impl FromStr for PortMatch {
    type Err = FilterError;
    /// `80`, `:80`, `8000-8100`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().trim_start_matches(':');
        let err = || FilterError::Port(s.to_string());
        let (lo, hi) = match t.split_once('-') {
            Some((a, b)) => (
                a.trim().parse().map_err(|_| err())?,
                b.trim().parse().map_err(|_| err())?,
            ),
            None => {
                let p = t.parse().map_err(|_| err())?;
                (p, p)
            }
        };
        if lo > hi {
            return Err(err());
        }
        Ok(PortMatch { lo, hi })
    }
}

/// An address prefix. IPv4 prefixes also match IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length.
    pub len: u8,
}

impl Cidr {
    /// Whether `ip` is inside the prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = FilterError;
    /// `10.0.0.0/8`, `10.0.0.5`, `fd00::/64`, `[::1]`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || FilterError::Cidr(s.to_string());
        let t = s.trim();
        let (a, len) = match t.split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u8>().map_err(|_| err())?)),
            None => (t, None),
        };
        let a = a.trim_start_matches('[').trim_end_matches(']');
        let addr: IpAddr = a.parse().map_err(|_| err())?;
        let addr = match addr {
            IpAddr::V6(v6) if len.is_none() || len >= Some(96) => match v6.to_ipv4_mapped() {
                Some(v4) => {
                    let l = len.map(|l| l - 96).unwrap_or(32);
                    return Ok(Cidr {
                        addr: IpAddr::V4(v4),
                        len: l,
                    });
                }
                None => IpAddr::V6(v6),
            },
            other => other,
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = len.unwrap_or(max);
        if len > max {
            return Err(err());
        }
        Ok(Cidr { addr, len })
    }
}

/// A conjunction of conditions; empty lists mean "any". Within one list, any entry may match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketFilter {
    /// States to keep (given to the kernel).
    pub states: StateSet,
    /// Local port ranges.
    pub sport: Vec<PortMatch>,
    /// Remote port ranges.
    pub dport: Vec<PortMatch>,
    /// Local address prefixes.
    pub src: Vec<Cidr>,
    /// Remote address prefixes.
    pub dst: Vec<Cidr>,
    /// Owning process ids.
    pub pids: Vec<u32>,
    /// Owning process names (exact `comm`, or a substring of the command line).
    pub process: Vec<String>,
}

impl Default for SocketFilter {
    fn default() -> Self {
        SocketFilter {
            states: StateSet::ALL,
            sport: Vec::new(),
            dport: Vec::new(),
            src: Vec::new(),
            dst: Vec::new(),
            pids: Vec::new(),
            process: Vec::new(),
        }
    }
}

impl SocketFilter {
    /// Whether the filter needs owning processes (so attribution must run).
    pub fn needs_owners(&self) -> bool {
        !self.pids.is_empty() || !self.process.is_empty()
    }

    /// Whether the filter has conditions beyond states (which the kernel already applied).
    pub fn is_state_only(&self) -> bool {
        self.sport.is_empty()
            && self.dport.is_empty()
            && self.src.is_empty()
            && self.dst.is_empty()
            && !self.needs_owners()
    }

    /// Whether a socket passes every condition (states included).
    pub fn matches(&self, s: &Socket) -> bool {
        if !self.states.contains(s.state) {
            return false;
        }
        let port_ok = |list: &[PortMatch], p: Option<u16>| {
            list.is_empty() || p.is_some_and(|p| list.iter().any(|m| m.contains(p)))
        };
        let ip_ok = |list: &[Cidr], ip: Option<IpAddr>| {
            list.is_empty() || ip.is_some_and(|ip| list.iter().any(|c| c.contains(ip)))
        };
        if !port_ok(&self.sport, s.local.port()) || !port_ok(&self.dport, s.remote.port()) {
            return false;
        }
        if !ip_ok(&self.src, s.local.ip()) || !ip_ok(&self.dst, s.remote.ip()) {
            return false;
        }
        if !self.pids.is_empty() && !s.owners.iter().any(|p| self.pids.contains(&p.pid)) {
            return false;
        }
        if !self.process.is_empty()
            && !s.owners.iter().any(|p| {
                self.process.iter().any(|n| {
                    p.comm == *n || (!p.cmdline.is_empty() && p.cmdline.contains(n.as_str()))
                })
            })
        {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Process, TcpState};
    use std::sync::Arc;

    #[test]
    fn cidr_parsing_and_matching() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        let h: Cidr = "127.0.0.1".parse().unwrap();
        assert_eq!(h.len, 32);
        let v6: Cidr = "fd00::/64".parse().unwrap();
        assert!(v6.contains("fd00::1".parse().unwrap()));
        assert!(!v6.contains("fd01::1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("bogus".parse::<Cidr>().is_err());
        let m: Cidr = "::ffff:10.0.0.0/104".parse().unwrap();
        assert_eq!(m, "10.0.0.0/8".parse().unwrap());
    }

    #[test]
    fn ports() {
        assert_eq!(
            "80".parse::<PortMatch>().unwrap(),
            PortMatch { lo: 80, hi: 80 }
        );
        assert_eq!(
            ":80".parse::<PortMatch>().unwrap(),
            PortMatch { lo: 80, hi: 80 }
        );
        assert!("8000-8100".parse::<PortMatch>().unwrap().contains(8050));
        assert!("9-1".parse::<PortMatch>().is_err());
        assert!("70000".parse::<PortMatch>().is_err());
    }

    #[test]
    fn filter_matches() {
        let mut s = Socket::new(
            TcpState::Established,
            "10.0.0.1:40000".parse().unwrap(),
            "10.0.0.2:3306".parse().unwrap(),
        );
        s.owners.push(Arc::new(Process {
            pid: 7,
            comm: "app".into(),
            ..Default::default()
        }));
        let mut f = SocketFilter {
            dport: vec!["3306".parse().unwrap()],
            ..Default::default()
        };
        assert!(f.matches(&s));
        f.pids = vec![8];
        assert!(!f.matches(&s));
        f.pids = vec![7];
        f.process = vec!["app".into()];
        assert!(f.matches(&s));
        f.states = StateSet::one(TcpState::TimeWait);
        assert!(!f.matches(&s));
    }
}
