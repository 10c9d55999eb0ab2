//! MySQL's (or MariaDB's) own view of its connections, read from the server itself
//! (`tcpdoctor --mysql URL`, crate `tcpdoctor-mysql`) so that the pure diagnosis can join it
//! with the TCP view (tcp-facts 14.3-14.8).
//!
//! The reader fills it; the diagnosis only reads it. Nothing here does I/O.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One reading of a MySQL/MariaDB server's connection figures.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MysqlStatus {
    /// The server as `host:port` (never a user or password).
    pub server: String,
    /// `SELECT VERSION()` (e.g. `10.11.6-MariaDB-0+deb12u1`), when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Wall-clock time of the reading in ms since the Unix epoch (0 when unknown).
    #[serde(default)]
    pub taken_at_ms: u64,
    /// Status `Threads_connected`: connections open now, this reading's own included
    /// (tcp-facts 14.5).
    pub threads_connected: u64,
    /// Status `Max_used_connections`: the peak since the server started (tcp-facts 14.5).
    pub max_used_connections: u64,
    /// Variable `max_connections` (the server admits one more for an admin, tcp-facts 14.4).
    pub max_connections: u64,
    /// Status `Aborted_clients` since start: clients that went away without closing, idle
    /// connections closed at `wait_timeout` included (tcp-facts 14.6).
    pub aborted_clients: u64,
    /// `@@GLOBAL.wait_timeout`, seconds: what new non-interactive connections get
    /// (tcp-facts 14.3).
    pub wait_timeout: u64,
    /// `@@SESSION.wait_timeout` of the reading's own connection, seconds, when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout_session: Option<u64>,
    /// Whether the account may see every thread (`PROCESS` privilege); without it the
    /// processlist shows only the account's own threads and `sleep_by_host` is partial.
    pub processlist_complete: bool,
    /// Sleep threads of `information_schema.PROCESSLIST` per client host (host without the
    /// port), most threads first. The reading's own thread is left out.
    #[serde(default)]
    pub sleep_by_host: Vec<MysqlHostSleep>,
}

/// The Sleep threads of one client host (tcp-facts 14.7: the thread waits for the client's
/// next statement; `Time` is how long it has been idle).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MysqlHostSleep {
    /// Client host as the server prints it, without the port (`10.0.0.2`, `app01`,
    /// `localhost` for unix-socket clients).
    pub host: String,
    /// Sleep threads.
    pub count: u64,
    /// Longest idle time, seconds.
    pub max_time_s: u64,
    /// Mean idle time, seconds.
    pub avg_time_s: f64,
}

impl MysqlStatus {
    /// Sleep threads over all client hosts.
    pub fn sleep_total(&self) -> u64 {
        self.sleep_by_host.iter().map(|h| h.count).sum()
    }

    /// The Sleep threads of one host, if listed.
    pub fn host(&self, host: &str) -> Option<&MysqlHostSleep> {
        self.sleep_by_host.iter().find(|h| h.host == host)
    }

    /// The server's port (after the last `:` of [`MysqlStatus::server`]), when there is one.
    pub fn port(&self) -> Option<u16> {
        self.server
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
    }
}

/// The host part of a processlist `HOST` value: `10.0.0.2:51234` -> `10.0.0.2`,
/// `[fd00::2]:51234` and `fd00::2:51234` -> `fd00::2`, `::ffff:10.0.0.2:5` -> `10.0.0.2`,
/// `app01:51234` -> `app01`, `localhost` -> `localhost`.
pub fn processlist_host(raw: &str) -> String {
    let raw = raw.trim();
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6))
            .to_string(),
        v4 => v4.to_string(),
    };
    if let Some(rest) = raw.strip_prefix('[') {
        if let Some((inside, _)) = rest.split_once(']') {
            return inside
                .parse()
                .map(canon)
                .unwrap_or_else(|_| inside.to_string());
        }
    }
    // The server appends `:port` to every TCP client's address (IPv6 without brackets), so a
    // numeric suffix whose remainder is an address (or a name) is the port.
    if let Some((h, p)) = raw.rsplit_once(':') {
        if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(ip) = h.parse::<IpAddr>() {
                return canon(ip);
            }
            if !h.contains(':') && !h.is_empty() {
                return h.to_string();
            }
        }
    }
    match raw.parse::<IpAddr>() {
        Ok(ip) => canon(ip),
        Err(_) => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_their_port() {
        assert_eq!(processlist_host("10.0.0.2:51234"), "10.0.0.2");
        assert_eq!(processlist_host("[fd00::2]:51234"), "fd00::2");
        assert_eq!(processlist_host("fd00::2:51234"), "fd00::2");
        assert_eq!(processlist_host("::ffff:10.0.0.2:40000"), "10.0.0.2");
        assert_eq!(processlist_host("app01:51234"), "app01");
        assert_eq!(processlist_host("localhost"), "localhost");
        assert_eq!(processlist_host("10.0.0.2"), "10.0.0.2");
        assert_eq!(processlist_host("fd00::2"), "fd00::2");
        assert_eq!(processlist_host(""), "");
    }

    #[test]
    fn totals_and_port() {
        let s = MysqlStatus {
            server: "10.0.0.1:3306".into(),
            sleep_by_host: vec![
                MysqlHostSleep {
                    host: "a".into(),
                    count: 3,
                    ..Default::default()
                },
                MysqlHostSleep {
                    host: "b".into(),
                    count: 4,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(s.sleep_total(), 7);
        assert_eq!(s.port(), Some(3306));
        assert_eq!(s.host("b").map(|h| h.count), Some(4));
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<MysqlStatus>(&j).unwrap(), s);
    }
}
