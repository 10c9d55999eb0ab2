//! The rules. Each rule reads the [`Ctx`] and returns zero or more findings. Thresholds are
//! documented in [`crate::catalogue`].

use crate::engine::Ctx;
use crate::finding::{Avoid, Finding, Remedy, RemedyLevel};
use crate::os::SourceOs;

mod closewait;
mod listen;
pub(crate) mod mysql;
mod orphans;
mod settings;
mod timewait;

/// Connections per second closed first by this host above which a TIME_WAIT (or FIN_WAIT2)
/// count is "a pile": the count divided by the TIME_WAIT length is the close rate, and at
/// 5 connections/s per service the setup cost of fresh connections (handshake, slow start,
/// TLS) is worth pooling away. 300 TIME_WAIT sockets on Linux (5 x 60 s), 150 on macOS.
pub const CHURN_PER_S: f64 = 5.0;

/// Port-space use from which `ephemeral-port-exhaustion` is a warning (60%).
pub const PORTS_WARN: f64 = 0.60;
/// Port-space use from which `ephemeral-port-exhaustion` is critical (85%).
pub const PORTS_CRIT: f64 = 0.85;

/// CLOSE_WAIT sockets held by one process from which `close-wait-leak` fires.
pub const CLOSE_WAIT_MIN: u64 = 20;
/// CLOSE_WAIT sockets that fire `close-wait-leak` when they persisted across scans.
pub const CLOSE_WAIT_PERSIST_MIN: u64 = 5;
/// CLOSE_WAIT sockets held by one process from which `close-wait-leak` is critical.
pub const CLOSE_WAIT_CRIT: u64 = 1000;

/// Catalogue order, for sorting findings of equal severity.
pub(crate) const ORDER: &[&str] = &[
    "tw-bucket-overflow",
    "ephemeral-port-exhaustion",
    "accept-queue-overflow",
    "syn-recv-flood",
    "close-wait-leak",
    "connection-growth",
    "mysql-connection-leak",
    "orphan-sockets",
    "fin-wait2-orphans",
    "time-wait-client-side",
    "time-wait-server-side",
    "sysctl-tw-recycle-enabled",
    "sysctl-tw-buckets-lowered",
    "sysctl-timestamps-off",
    "sysctl-port-range-small",
    "sysctl-somaxconn-low",
    "sysctl-syncookies-off",
    "sysctl-tw-reuse-server-only",
    "sysctl-fin-timeout-for-time-wait",
    "sysctl-tw-timeout-vendor",
];

pub(crate) fn order(id: &str) -> usize {
    ORDER.iter().position(|x| *x == id).unwrap_or(ORDER.len())
}

pub(crate) fn run(ctx: &Ctx<'_>) -> Vec<Finding> {
    let mut v = Vec::new();
    v.extend(timewait::server_side(ctx));
    v.extend(timewait::client_side(ctx));
    v.extend(timewait::port_exhaustion(ctx));
    v.extend(timewait::tw_bucket_overflow(ctx));
    v.extend(closewait::close_wait_leak(ctx));
    v.extend(closewait::connection_growth(ctx));
    v.extend(mysql::connection_leak(ctx));
    v.extend(listen::accept_queue(ctx));
    v.extend(listen::syn_recv(ctx));
    v.extend(orphans::fin_wait2(ctx));
    v.extend(orphans::orphans(ctx));
    v.extend(settings::settings(ctx, &v));
    v
}

/// `28232` -> `28,232`.
/// Keeps the `k` first items of `v` in the order `cmp`, sorted (a partial selection first, so
/// maps of hundreds of thousands of keys are not sorted whole for a top five).
pub(crate) fn top_by<T>(
    v: &mut Vec<T>,
    k: usize,
    mut cmp: impl FnMut(&T, &T) -> std::cmp::Ordering,
) {
    if k == 0 {
        v.clear();
        return;
    }
    if v.len() > k {
        v.select_nth_unstable_by(k - 1, &mut cmp);
        v.truncate(k);
    }
    v.sort_by(cmp);
}

/// A count with thousands separators, as every report prints them.
pub(crate) use tcpdoctor_model::thousands as n;

/// A rate with sensible precision: `470`, `12.5`, `0.25`.
pub(crate) fn rate(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// A duration in s/min/h.
pub(crate) fn dur(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else if secs < 7200.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

pub(crate) fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// The shared "persist it" command for a Linux sysctl.
pub(crate) fn persist(key: &str, value: &str) -> String {
    format!("echo '{key} = {value}' >> /etc/sysctl.d/60-tcpdoctor.conf && sysctl --system")
}

pub(crate) fn avoid_recycle() -> Avoid {
    Avoid::new(
        "net.ipv4.tcp_tw_recycle=1",
        "Removed in Linux 4.12: writing it now fails with \"No such file or directory\". Where it \
         existed it dropped SYNs from clients behind NAT, and from 4.10 on from every client once \
         timestamp offsets were randomised (tcp-facts 3.2-3.5, 16.3).",
    )
}

pub(crate) fn avoid_fin_timeout_for_tw() -> Avoid {
    Avoid::new(
        "net.ipv4.tcp_fin_timeout=30 \"to shorten TIME_WAIT\"",
        "tcp_fin_timeout only limits how long an orphaned connection may stay in FIN_WAIT_2; it \
         does not change TIME_WAIT, which Linux fixes at 60 s (tcp-facts 1.1, 1.6, 16.4).",
    )
}

pub(crate) fn avoid_lower_buckets() -> Avoid {
    Avoid::new(
        "lowering net.ipv4.tcp_max_tw_buckets (e.g. to 5000)",
        "Past the limit the kernel closes connections with no TIME_WAIT at all and counts \
         TCPTimeWaitOverflow; that only hides the count and loses TIME_WAIT's protection against \
         old duplicate segments. The kernel docs say not to lower it (tcp-facts 4.1, 4.4, 16.9).",
    )
}

pub(crate) fn avoid_linger0() -> Avoid {
    Avoid::new(
        "SO_LINGER with l_linger=0 everywhere",
        "close() then sends RST and skips TIME_WAIT, but the peer sees ECONNRESET and may lose \
         in-flight data, and old segments can hit a new connection on the same 4-tuple; use it \
         only where the protocol makes it safe (tcp-facts 6.1, 6.4).",
    )
}

pub(crate) fn avoid_syncookies_for_tw() -> Avoid {
    Avoid::new(
        "net.ipv4.tcp_syncookies=1 against TIME_WAIT",
        "Already the default; it acts only when a listener's SYN queue overflows and has nothing \
         to do with TIME_WAIT (tcp-facts 7.1, 16.1).",
    )
}

/// OS-specific TIME_WAIT-length remedy for pasted text from non-Linux systems.
pub(crate) fn os_tw_remedy(os: SourceOs) -> Option<Remedy> {
    match os {
        SourceOs::Windows => Some(
            Remedy::new(
                RemedyLevel::Kernel,
                "Windows only, and only as a mitigation after reducing churn: TcpTimedWaitDelay \
                 (REG_DWORD, seconds, valid 30-300) shortens TIME_WAIT on this host; it takes \
                 effect after a reboot (tcp-facts 12.1, 16.5).",
            )
            .cmd(r"reg add HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters /v TcpTimedWaitDelay /t REG_DWORD /d 60 /f"),
        ),
        SourceOs::Macos | SourceOs::Freebsd => Some(
            Remedy::new(
                RemedyLevel::Kernel,
                "On macOS and FreeBSD TIME_WAIT is 2 x net.inet.tcp.msl (macOS 15,000 ms -> 30 s; \
                 FreeBSD 30,000 ms -> 60 s); lowering msl is a mitigation of last resort, after \
                 reducing churn (tcp-facts 13.1-13.2).",
            )
            .cmd("sysctl net.inet.tcp.msl"),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod top_tests {
    use super::top_by;

    #[test]
    fn top_by_equals_the_head_of_a_full_sort() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let data: Vec<(u64, u32)> = (0..5000u32)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 50, i)
            })
            .collect();
        let cmp = |a: &(u64, u32), b: &(u64, u32)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        for k in [0, 1, 5, 4999, 5000, 6000] {
            let mut full = data.clone();
            full.sort_by(cmp);
            full.truncate(k);
            let mut top = data.clone();
            top_by(&mut top, k, cmp);
            assert_eq!(top, full, "k = {k}");
        }
    }
}
