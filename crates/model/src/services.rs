//! Port numbers to service names (`/etc/services` format), for naming groups.

use std::collections::HashMap;

/// TCP service names by port, parsed from text in `/etc/services` format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceNames {
    by_port: HashMap<u16, String>,
    by_name: HashMap<String, u16>,
}

impl ServiceNames {
    /// Parses `/etc/services` text; only `tcp` entries are kept, the first name per port wins,
    /// aliases resolve to their port.
    pub fn parse(text: &str) -> ServiceNames {
        let mut s = ServiceNames::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut it = line.split_whitespace();
            let (Some(name), Some(pp)) = (it.next(), it.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            if proto != "tcp" {
                continue;
            }
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            s.by_port.entry(port).or_insert_with(|| name.to_string());
            s.by_name.entry(name.to_string()).or_insert(port);
            for alias in it {
                s.by_name.entry(alias.to_string()).or_insert(port);
            }
        }
        s
    }

    /// The name of a TCP port.
    pub fn name(&self, port: u16) -> Option<&str> {
        self.by_port.get(&port).map(String::as_str)
    }

    /// The port of a TCP service name.
    pub fn port(&self, name: &str) -> Option<u16> {
        self.by_name.get(name).copied()
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.by_port.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_entries_only() {
        let s = ServiceNames::parse(
            "# comment\nssh 22/tcp\nmysql\t3306/tcp  # MySQL\ndomain 53/udp\nhttp 80/tcp www\n",
        );
        assert_eq!(s.name(22), Some("ssh"));
        assert_eq!(s.name(3306), Some("mysql"));
        assert_eq!(s.name(53), None);
        assert_eq!(s.port("www"), Some(80));
    }
}
