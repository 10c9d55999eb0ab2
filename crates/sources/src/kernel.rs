//! Reads the kernel context of a diagnosis: the sysctls that matter to connection states,
//! `/proc/net/netstat` `TcpExt`, `/proc/net/snmp` `Tcp`, `/proc/net/sockstat`, the release.
//!
//! Everything is read for the network namespace of the calling thread (`/proc/thread-self/net`
//! and `/proc/sys/net` follow the thread's namespace), so a caller that entered a namespace
//! with [`crate::sys::enter_netns`] reads that namespace's values.

use std::fs;
use std::io;
use std::path::PathBuf;
use tcpdoctor_model::{Gap, GapKind, KernelContext, Sockstat};

/// The sysctls a diagnosis looks at (dotted names). Missing ones are recorded as absent.
pub const SYSCTLS: &[&str] = &[
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_tw_reuse_delay",
    "net.ipv4.tcp_tw_recycle",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.ip_autobind_reuse",
    "net.ipv4.tcp_timestamps",
    "net.core.somaxconn",
    "net.ipv4.tcp_max_syn_backlog",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_abort_on_overflow",
    "net.ipv4.tcp_max_orphans",
    "net.ipv4.tcp_orphan_retries",
    "net.ipv4.tcp_rfc1337",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_synack_retries",
    "net.ipv4.tcp_syn_retries",
    "net.ipv4.tcp_mem",
    "net.ipv4.tcp_ehash_entries",
    "net.ipv4.tcp_child_ehash_entries",
    // Vendor kernels only (e.g. Alibaba Cloud Linux); read so that its presence is seen
    // (tcp-facts 1.9-1.10) and its absence on mainline is recorded.
    "net.ipv4.tcp_tw_timeout",
];

/// `/proc/sys/...` path of a dotted sysctl name.
pub fn sysctl_path(key: &str) -> PathBuf {
    let mut p = PathBuf::from("/proc/sys");
    for part in key.split('.') {
        p.push(part);
    }
    p
}

/// Reads one sysctl; `Ok(None)` when the key does not exist on this kernel.
pub fn read_sysctl(key: &str) -> io::Result<Option<String>> {
    match fs::read_to_string(sysctl_path(key)) {
        Ok(v) => Ok(Some(v.split_whitespace().collect::<Vec<_>>().join(" "))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes one sysctl (the value as `sysctl -w` would).
pub fn write_sysctl(key: &str, value: &str) -> io::Result<()> {
    fs::write(sysctl_path(key), format!("{value}\n"))
}

fn net_file(name: &str) -> io::Result<String> {
    fs::read_to_string(format!("/proc/thread-self/net/{name}"))
        .or_else(|_| fs::read_to_string(format!("/proc/net/{name}")))
}

/// Reads the whole context; what cannot be read becomes a gap.
pub fn read_context() -> (KernelContext, Vec<Gap>) {
    let mut k = KernelContext::default();
    let mut gaps = Vec::new();
    k.kernel_release = fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string());
    let mut unreadable = Vec::new();
    for key in SYSCTLS {
        match read_sysctl(key) {
            Ok(Some(v)) => {
                k.sysctls.insert((*key).to_string(), v);
            }
            Ok(None) => k.absent_sysctls.push((*key).to_string()),
            Err(_) => unreadable.push(*key),
        }
    }
    if !unreadable.is_empty() {
        gaps.push(Gap::new(
            GapKind::Permission,
            format!("these sysctls could not be read: {}", unreadable.join(", ")),
        ));
    }
    match net_file("netstat") {
        Ok(t) => {
            k.tcp_ext = KernelContext::parse_counter_table(&t, "TcpExt")
                .into_iter()
                .filter_map(|(n, v)| Some((n, u64::try_from(v).ok()?)))
                .collect();
        }
        Err(e) => gaps.push(Gap::new(
            GapKind::Unavailable,
            format!("/proc/net/netstat could not be read ({e}): no TcpExt counters"),
        )),
    }
    match net_file("snmp") {
        Ok(t) => k.tcp = KernelContext::parse_counter_table(&t, "Tcp"),
        Err(e) => gaps.push(Gap::new(
            GapKind::Unavailable,
            format!("/proc/net/snmp could not be read ({e}): no Tcp counters"),
        )),
    }
    match net_file("sockstat") {
        Ok(t) => k.sockstat = Sockstat::parse(&t),
        Err(e) => gaps.push(Gap::new(
            GapKind::Unavailable,
            format!("/proc/net/sockstat could not be read ({e})"),
        )),
    }
    (k, gaps)
}

/// The kernel's own sockstat line only (cheap: one small file), for the summary cross-check.
pub fn read_sockstat() -> Option<Sockstat> {
    net_file("sockstat").ok().and_then(|t| Sockstat::parse(&t))
}

/// The host name (UTS namespace), when readable.
pub fn hostname() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
}

/// The kernel release (`uname -r`), when readable.
pub fn kernel_release() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_kernel() {
        let (k, _gaps) = read_context();
        assert!(k.kernel_release.is_some());
        assert!(k.local_port_range().is_some());
        assert!(k.tcp.contains_key("ActiveOpens"));
        assert!(k.sockstat.is_some());
        // tcp_tw_recycle is gone since 4.12 (tcp-facts 3.4).
        assert!(k
            .absent_sysctls
            .iter()
            .any(|s| s == "net.ipv4.tcp_tw_recycle"));
    }

    #[test]
    fn sysctl_paths() {
        assert_eq!(
            sysctl_path("net.core.somaxconn"),
            PathBuf::from("/proc/sys/net/core/somaxconn")
        );
    }
}
