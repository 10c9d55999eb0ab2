//! MySQL's own view joined with the TCP view: the report's `mysql` section and the thresholds
//! of `mysql-connection-leak` (tcp-facts 14.3-14.8, 16.8).
//!
//! The caller reads the server (crate `tcpdoctor-mysql`) once, or twice with `--interval`, and
//! passes the [`MysqlStatus`] readings in [`DiagnoseInput`](crate::DiagnoseInput); the
//! section per client host puts the Sleep threads next to the sockets the TCP view sees from
//! that host (when tcpdoctor runs on the database host).

use serde::{Deserialize, Serialize};
use tcpdoctor_model::MysqlStatus;

/// Sleep threads of one client host must grow by at least this many between the first and
/// the last reading (and by [`MYSQL_GROWTH_FRAC`] of the first count) for
/// `mysql-connection-leak` to call it a leak in the making.
pub const MYSQL_GROWTH_MIN: u64 = 10;
/// Growth of a host's Sleep threads, as a fraction of its first count, that counts as growth
/// (20%).
pub const MYSQL_GROWTH_FRAC: f64 = 0.20;
/// Sleep threads (all hosts) per `max_connections` from which `mysql-connection-leak` is a
/// warning (80%).
pub const MYSQL_NEAR_MAX: f64 = 0.80;
/// Sleep threads per `max_connections` from which `mysql-connection-leak` is critical (95%).
pub const MYSQL_NEAR_MAX_CRIT: f64 = 0.95;
/// Client hosts kept in [`MysqlSection::hosts`].
pub const MYSQL_HOSTS_SHOWN: usize = 20;

/// The report's `mysql` section: the last reading, the change since the first, and the
/// Sleep threads per client host joined with the TCP view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MysqlSection {
    /// The last reading, as read.
    pub status: MysqlStatus,
    /// Seconds between the first and the last reading, when there were two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_s: Option<f64>,
    /// `Threads_connected / max_connections` in percent (0 when `max_connections` is 0).
    pub connections_used_pct: f64,
    /// Sleep threads of all client hosts.
    pub sleep_threads: u64,
    /// `Aborted_clients` now minus at the first reading (tcp-facts 14.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted_clients_delta: Option<i64>,
    /// `Threads_connected` now minus at the first reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads_connected_delta: Option<i64>,
    /// ESTABLISHED sockets on the server's port in the TCP view (when it is the database
    /// host's view and the port is known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_established_on_port: Option<u64>,
    /// Client hosts, most Sleep threads first (at most [`MYSQL_HOSTS_SHOWN`]).
    #[serde(default)]
    pub hosts: Vec<MysqlHostRow>,
}

/// One client host of the section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MysqlHostRow {
    /// Client host without the port.
    pub host: String,
    /// Sleep threads now.
    pub sleep: u64,
    /// Sleep threads at the first reading (0 when the host was not listed), when there were
    /// two readings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep_before: Option<u64>,
    /// `sleep - sleep_before`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth: Option<i64>,
    /// Longest idle time, seconds.
    pub max_time_s: u64,
    /// Mean idle time, seconds.
    pub avg_time_s: f64,
    /// Whether this host's growth counts as a leak in the making (see [`MYSQL_GROWTH_MIN`]).
    pub growing: bool,
    /// ESTABLISHED sockets from this address in the TCP view, when it saw any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_established: Option<u64>,
    /// CLOSE_WAIT sockets towards this address in the TCP view, when it saw any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_close_wait: Option<u64>,
}

/// Whether a host's Sleep threads grew enough, from `before` (> 0: present at the first
/// reading) to `now`, to count as growth.
pub fn is_growth(before: u64, now: u64) -> bool {
    before > 0
        && now > before
        && now - before >= MYSQL_GROWTH_MIN
        && (now - before) as f64 >= MYSQL_GROWTH_FRAC * before as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_needs_presence_ten_and_a_fifth() {
        assert!(
            !is_growth(0, 50),
            "a new host (pool warming up) is not growth"
        );
        assert!(is_growth(10, 20));
        assert!(!is_growth(10, 19));
        assert!(!is_growth(100, 115), "15 more on 100 is under 20%");
        assert!(is_growth(100, 120));
        assert!(!is_growth(30, 20));
    }
}
