//! The finding catalogue: ids (a contract), what fires them, and their thresholds.
//!
//! | id | fires when | severity |
//! |---|---|---|
//! | `time-wait-server-side` | TIME_WAIT on a local listening port >= [`CHURN_PER_S`] x TIME_WAIT length (300 on Linux: 5 server-closed connections/s) | info; warning when one port holds >= 50% of `tcp_max_tw_buckets` |
//! | `time-wait-client-side` | TIME_WAIT towards one remote (address, port) >= the same pile | info |
//! | `ephemeral-port-exhaustion` | ports in use (any state) of one (local IP, remote IP, remote port) >= [`PORTS_WARN`] of the usable range (`ip_local_port_range` minus `ip_local_reserved_ports`) | warning; critical from [`PORTS_CRIT`] |
//! | `tw-bucket-overflow` | `TCPTimeWaitOverflow` rose over the interval, or sockstat `tw` >= 98% of `tcp_max_tw_buckets`; >= 80%, or a non-zero counter without an interval | critical; warning |
//! | `close-wait-leak` | one process holds >= [`CLOSE_WAIT_MIN`] CLOSE_WAIT (>= [`CLOSE_WAIT_PERSIST_MIN`] when sockets persisted across scans); without owners, per service | warning; critical from [`CLOSE_WAIT_CRIT`] |
//! | `connection-growth` | two or more scans: ESTABLISHED or CLOSE_WAIT of a process or peer never decreases and grows by >= max(20, 20% of the first count) | info with two scans of ESTABLISHED; warning for CLOSE_WAIT or three or more scans |
//! | `mysql-connection-leak` | with `--mysql`: Sleep threads of one client host (present at the first reading) grow by >= max([`MYSQL_GROWTH_MIN`], [`MYSQL_GROWTH_FRAC`] of the first count), or Sleep threads (all hosts) >= [`MYSQL_NEAR_MAX`] of `max_connections` | warning; critical from [`MYSQL_NEAR_MAX_CRIT`], or when `Threads_connected` > `max_connections` (the admin slot is in use) with Sleep threads at least half of them |
//! | `accept-queue-overflow` | a listener's accept queue >= 80% of its backlog, or `ListenOverflows` rose | warning; critical when a queue is full and overflows rose |
//! | `syn-recv-flood` | SYN_RECV on a listening port >= 50% of `tcp_max_syn_backlog` (128 assumed when unknown), or syncookies sent / `TCPReqQFullDoCookies` rose | warning; critical at 100% or when `TCPReqQFullDrop` rose |
//! | `fin-wait2-orphans` | orphaned FIN_WAIT2 (no inode; all FIN_WAIT2 for text) >= [`CHURN_PER_S`] x `tcp_fin_timeout` | info; warning at >= 25% of `tcp_max_tw_buckets` or `tcp_max_orphans` |
//! | `orphan-sockets` | sockstat `orphan` >= 50% of `tcp_max_orphans`; >= 85% or `TCPAbortOnMemory` rose | warning; critical |
//! | `sysctl-tw-recycle-enabled` | `tcp_tw_recycle` exists and is non-zero (kernels before 4.12) | critical |
//! | `sysctl-tw-buckets-lowered` | `tcp_max_tw_buckets` < 8192, or <= half of 64 x `tcp_max_syn_backlog` (the default relation, tcp-facts 4.2) | info; warning when overflows happened |
//! | `sysctl-timestamps-off` | `tcp_timestamps=0` | info; warning with client-side TIME_WAIT or `tcp_tw_reuse=1` |
//! | `sysctl-port-range-small` | usable ephemeral ports < 14,116 (half the default 28,232) | info; warning when a destination uses >= 30% |
//! | `sysctl-somaxconn-low` | a listener's backlog equals `somaxconn` with its queue >= 50% full, or overflows rose with `somaxconn` < 4096 | warning |
//! | `sysctl-syncookies-off` | `tcp_syncookies=0` | info; warning with `syn-recv-flood` |
//! | `sysctl-tw-reuse-server-only` | `tcp_tw_reuse=1` while TIME_WAIT is server-side only | info |
//! | `sysctl-fin-timeout-for-time-wait` | `tcp_fin_timeout` != 60 while TIME_WAIT piles up | info |
//! | `sysctl-tw-timeout-vendor` | the vendor-only `tcp_tw_timeout` exists | info |
//!
//! Settings findings need a live Linux kernel context; pasted text from any OS gets the socket
//! rules with that OS's TIME_WAIT length and default ephemeral range ([`crate::SourceOs`]).

pub use crate::mysql::{MYSQL_GROWTH_FRAC, MYSQL_GROWTH_MIN, MYSQL_NEAR_MAX, MYSQL_NEAR_MAX_CRIT};
pub use crate::rules::{
    CHURN_PER_S, CLOSE_WAIT_CRIT, CLOSE_WAIT_MIN, CLOSE_WAIT_PERSIST_MIN, PORTS_CRIT, PORTS_WARN,
};

/// Every finding id, in catalogue order.
pub fn ids() -> &'static [&'static str] {
    crate::rules::ORDER
}
