//! The pure part of `tcpdoctor sysctl`: for every setting that matters to TIME_WAIT,
//! CLOSE_WAIT, port exhaustion and listen queues, its value, its default, what it does and
//! does not do (tcp-facts), and a recommendation for what was observed; a generator for a
//! commented `/etc/sysctl.d/` file; and [`validate_write`], which refuses keys absent on this
//! kernel (and dangerous values) with a sentence that says why.
//!
//! Recommendations come from the diagnosis: every `sysctl -w KEY=VALUE` command among the
//! remedies of the report's findings becomes the recommended value for KEY, with the finding
//! as the reason, so the audit and the findings never disagree. A few settings are judged on
//! their own (tcp_tw_recycle present, tcp_abort_on_overflow=1, tcp_syncookies=2).
//!
//! The I/O (reading and writing `/proc/sys`, backups, rollback) is the caller's.

use crate::engine::{kernel_version, Report};
use crate::finding::Severity;
use crate::rules::n;
use serde::{Deserialize, Serialize};
use tcpdoctor_model::KernelContext;

/// What is known about one setting.
#[derive(Debug, Clone, Copy)]
pub struct SysctlSpec {
    /// Dotted name.
    pub key: &'static str,
    /// The default, in words.
    pub default: &'static str,
    /// What it does.
    pub does: &'static str,
    /// What it does not do (the folklore it does not support).
    pub does_not: &'static str,
    /// Fact-sheet sections.
    pub facts: &'static [&'static str],
    /// First kernel (major, minor) that has it, when it is newer than 4.x.
    pub since: Option<(u32, u32)>,
    /// Kernel (major, minor) that removed it.
    pub removed: Option<(u32, u32)>,
}

/// Every setting the audit covers, in display order.
pub const SPECS: &[SysctlSpec] = &[
    SysctlSpec {
        key: "net.ipv4.tcp_tw_reuse",
        default: "2 (loopback only) since 4.18; 0 before",
        does: "Lets connect() take over a TIME_WAIT 4-tuple for a NEW OUTGOING connection when the old one carried timestamps: 1 everywhere, 2 loopback only.",
        does_not: "Does not shorten TIME_WAIT and never helps TIME_WAIT of inbound connections on a listening port; does nothing with tcp_timestamps=0.",
        facts: &["2.1", "2.2", "2.3", "2.4", "2.5", "16.2"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.tcp_tw_reuse_delay",
        default: "1000 ms (range 1-60000)",
        does: "How long after entering TIME_WAIT a 4-tuple may be reused by tcp_tw_reuse.",
        does_not: "Does not change the TIME_WAIT length; must not be set below the peer's timestamp clock tick.",
        facts: &["1.11", "2.7"],
        since: Some((6, 14)),
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.tcp_tw_recycle",
        default: "0; removed in 4.12",
        does: "Shortened TIME_WAIT and dropped SYNs whose timestamp was older than the last one from that address.",
        does_not: "Never safe: broke clients behind NAT, and every client from 4.10; it no longer exists.",
        facts: &["3.1", "3.2", "3.3", "3.4", "3.5", "16.3"],
        since: None,
        removed: Some((4, 12)),
    },
    SysctlSpec {
        key: "net.ipv4.tcp_fin_timeout",
        default: "60 s",
        does: "How long an ORPHANED connection (closed by the application) may wait in FIN_WAIT_2 for the peer's FIN.",
        does_not: "Does not set or shorten TIME_WAIT (fixed at 60 s); does not touch CLOSE_WAIT.",
        facts: &["1.1", "1.6", "1.7", "16.4"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.tcp_max_tw_buckets",
        default: "half the established-hash size (scales with RAM)",
        does: "Caps the TIME_WAIT (and FIN_WAIT2 mini-) sockets of a network namespace; beyond it connections close with no TIME_WAIT (TCPTimeWaitOverflow).",
        does_not: "Lowering it does not fix anything: it only skips TIME_WAIT, which is unsafe; the docs say not to lower it.",
        facts: &["4.1", "4.2", "4.3", "4.4", "4.6"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.ip_local_port_range",
        default: "32768 60999 (28,232 ports)",
        does: "The ports connect() and bind(0) pick from; each (local IP, remote IP, remote port) has the whole range.",
        does_not: "Does not change how long ports stay in TIME_WAIT; keep the two ends of different parity.",
        facts: &["5.1", "5.3", "5.5"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.ip_local_reserved_ports",
        default: "empty",
        does: "Ports skipped by automatic assignment (connect(), bind(0)); use it for listening ports inside the ephemeral range.",
        does_not: "Does not affect explicit binds.",
        facts: &["5.2"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.ip_autobind_reuse",
        default: "0",
        does: "Lets bind(0) reuse ports when all sockets set SO_REUSEADDR.",
        does_not: "Not the preferred fix: the docs prefer IP_BIND_ADDRESS_NO_PORT in the application.",
        facts: &["5.9"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.tcp_timestamps",
        default: "1 (on, random per-connection offsets)",
        does: "TCP timestamps (RFC 7323): RTT measurement and PAWS; required for tcp_tw_reuse.",
        does_not: "Turning them off disables TIME_WAIT reuse and PAWS protection.",
        facts: &["2.5", "3.3", "15.4"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.core.somaxconn",
        default: "4096 since 5.4; 128 before",
        does: "Caps the backlog (accept-queue limit) of every listen().",
        does_not: "Raising it does nothing unless the application asks listen() for more.",
        facts: &["7.4", "7.5"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.tcp_max_syn_backlog",
        default: "max(128, established-hash entries / 128)",
        does: "Per-listener limit of half-open (SYN_RECV) requests, ~304 bytes each.",
        does_not: "Does not affect the accept queue of completed connections or TIME_WAIT.",
        facts: &["4.2", "7.3"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.tcp_syncookies",
        default: "1 (cookies only when a SYN queue overflows)",
        does: "Answers SYNs with cookies when a listener's SYN queue overflows (2: always).",
        does_not: "Nothing to do with TIME_WAIT; a fallback, not a tool for legitimate load.",
        facts: &["7.1", "16.1"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.tcp_max_orphans",
        default: "scales with memory",
        does: "Maximum orphaned sockets (closed by the application, still finishing); beyond it they are dropped (TCPAbortOnMemory).",
        does_not: "Does not touch CLOSE_WAIT (those are not orphans) or TIME_WAIT.",
        facts: &["8.10", "11.5", "11.6"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.tcp_abort_on_overflow",
        default: "0",
        does: "1 resets connections the accept queue cannot take instead of letting clients retransmit.",
        does_not: "Does not make the application accept faster; a burst that would recover becomes errors.",
        facts: &["7.6"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.tcp_rfc1337",
        default: "0",
        does: "1 protects TIME_WAIT sockets from being killed by an in-window RST (TIME_WAIT assassination, RFC 1337).",
        does_not: "Does not change the TIME_WAIT length or count.",
        facts: &["1.4", "15.5"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.tcp_keepalive_time",
        default: "7200 s (ip-sysctl.rst; not in the fact sheet)",
        does: "Idle time before the first keepalive probe on sockets that enabled SO_KEEPALIVE.",
        does_not: "Does not close CLOSE_WAIT sockets the application holds, nor touch TIME_WAIT.",
        facts: &["9.6"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.tcp_keepalive_intvl",
        default: "75 s (ip-sysctl.rst; not in the fact sheet)",
        does: "Interval between keepalive probes.",
        does_not: "Only for sockets with SO_KEEPALIVE; not a leak fix.",
        facts: &["9.6"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.tcp_keepalive_probes",
        default: "9 (ip-sysctl.rst; not in the fact sheet)",
        does: "Unanswered probes before the connection is declared dead.",
        does_not: "Only for sockets with SO_KEEPALIVE; not a leak fix.",
        facts: &["9.6"],
        since: None,
        removed: None,
    },
    SysctlSpec {
        key: "net.ipv4.tcp_tw_timeout",
        default: "absent from mainline (vendor kernels only)",
        does: "On vendor kernels (e.g. Alibaba Cloud Linux) sets the TIME_WAIT length.",
        does_not: "Does not exist on mainline Linux, where TIME_WAIT is fixed at 60 s.",
        facts: &["1.9", "1.10"],
        since: None,
        removed: None,
    },
];

/// The spec of a key, if the audit covers it.
pub fn spec(key: &str) -> Option<&'static SysctlSpec> {
    SPECS.iter().find(|s| s.key == key)
}

/// Verdict on one setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Fine for what was observed.
    Ok,
    /// Should be changed to `recommended`.
    Change,
    /// Does not exist on this kernel.
    Absent,
    /// The value could not be read.
    Unknown,
}

/// One row of the audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysctlAudit {
    /// Dotted name.
    pub key: String,
    /// Current value, when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The default.
    pub default: String,
    /// What it does.
    pub does: String,
    /// What it does not do.
    pub does_not: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Recommended value when the verdict is `change`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommended: Option<String>,
    /// Why, in one or two sentences (with the finding id when one drives it).
    pub reason: String,
    /// Finding ids behind the recommendation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    /// Fact-sheet sections.
    pub facts: Vec<String>,
}

/// Parses `sysctl -w KEY=VALUE` / `sysctl -w KEY="A B"` commands.
fn parse_sysctl_cmd(c: &str) -> Option<(String, String)> {
    let rest = c.trim().strip_prefix("sysctl -w ")?;
    let (k, v) = rest.split_once('=')?;
    Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
}

/// Normalises whitespace so `32768\t60999` equals `32768 60999`.
fn norm(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn absent_reason(key: &str, release: Option<&str>) -> String {
    let on = release
        .map(|r| format!(" on this kernel ({r})"))
        .unwrap_or_default();
    match key {
        "net.ipv4.tcp_tw_recycle" => format!(
            "net.ipv4.tcp_tw_recycle does not exist{on}: it was removed in Linux 4.12 (commit \
             4396e46187ca) because it silently dropped connections from clients behind NAT, and \
             from 4.10 from every client; writing it fails with \"No such file or directory\" \
             (tcp-facts 3.2-3.5)."
        ),
        "net.ipv4.tcp_tw_reuse_delay" => format!(
            "net.ipv4.tcp_tw_reuse_delay does not exist{on}: it was added in Linux 6.14; before \
             that the reuse delay is about 1 s, fixed (tcp-facts 2.7)."
        ),
        "net.ipv4.tcp_tw_timeout" => format!(
            "net.ipv4.tcp_tw_timeout does not exist{on}: it is a vendor-kernel addition (e.g. \
             Alibaba Cloud Linux); mainline Linux fixes TIME_WAIT at 60 s and has no knob for it \
             (tcp-facts 1.9-1.10)."
        ),
        _ => format!("{key} does not exist{on}: there is no /proc/sys entry for it."),
    }
}

/// Whether `key` is known to be absent: listed as absent by the source, or outside the kernel
/// versions that have it.
fn is_absent(k: &KernelContext, spec: Option<&SysctlSpec>, key: &str) -> bool {
    if k.absent_sysctls.iter().any(|a| a == key) {
        return true;
    }
    if k.sysctls.contains_key(key) {
        return false;
    }
    let Some(v) = k.kernel_release.as_deref().and_then(kernel_version) else {
        return false;
    };
    match spec {
        Some(s) => s.since.is_some_and(|m| v < m) || s.removed.is_some_and(|m| v >= m),
        None => false,
    }
}

/// Audits every setting of [`SPECS`] against the kernel context and, when given, the
/// diagnosis of the same host.
pub fn audit(k: &KernelContext, report: Option<&Report>) -> Vec<SysctlAudit> {
    // Recommendations from the findings' remedy commands.
    let mut recs: Vec<(String, String, String, String)> = Vec::new(); // key, value, id, summary
    if let Some(r) = report {
        // Warnings and worse drive changes; settings findings drive them at any severity.
        for f in r
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning || f.id.starts_with("sysctl-"))
        {
            for rem in &f.remedies {
                for c in &rem.commands {
                    if let Some((key, val)) = parse_sysctl_cmd(c) {
                        if !recs.iter().any(|x| x.0 == key) {
                            recs.push((key, val, f.id.clone(), f.summary.clone()));
                        }
                    }
                }
            }
        }
    }
    let release = k.kernel_release.as_deref();
    let mut out = Vec::new();
    for s in SPECS {
        let value = k.sysctls.get(s.key).map(|v| norm(v));
        let mut row = SysctlAudit {
            key: s.key.to_string(),
            value: value.clone(),
            default: s.default.to_string(),
            does: s.does.to_string(),
            does_not: s.does_not.to_string(),
            verdict: Verdict::Ok,
            recommended: None,
            reason: String::new(),
            findings: Vec::new(),
            facts: s.facts.iter().map(|f| f.to_string()).collect(),
        };
        if is_absent(k, Some(s), s.key) {
            row.verdict = Verdict::Absent;
            row.reason = absent_reason(s.key, release);
            out.push(row);
            continue;
        }
        let Some(v) = value else {
            row.verdict = Verdict::Unknown;
            row.reason = if k.sysctls.is_empty() {
                "Not known: no kernel context (pasted text, or another OS).".into()
            } else {
                "Not read on this host.".into()
            };
            out.push(row);
            continue;
        };
        if let Some((_, val, id, summary)) = recs.iter().find(|x| x.0 == s.key) {
            if norm(val) != v {
                row.verdict = Verdict::Change;
                row.recommended = Some(norm(val));
                row.reason = format!("Finding {id}: {summary}.");
                row.findings.push(id.clone());
                out.push(row);
                continue;
            }
        }
        // Judged on their own.
        let own: Option<(&str, String)> = match (s.key, v.as_str()) {
            ("net.ipv4.tcp_tw_recycle", x) if x != "0" => Some((
                "0",
                "Dangerous: drops SYNs from clients behind NAT and, since 4.10, from any client (tcp-facts 3.2-3.3).".into(),
            )),
            ("net.ipv4.tcp_abort_on_overflow", "1") => Some((
                "0",
                "Resets clients on a full accept queue instead of letting them retry; fix the slow acceptor instead (tcp-facts 7.6).".into(),
            )),
            ("net.ipv4.tcp_syncookies", "2") => Some((
                "1",
                "2 sends cookies for every SYN; 1 sends them only on overflow, the intended fallback (tcp-facts 7.1).".into(),
            )),
            ("net.ipv4.tcp_timestamps", "0") => Some((
                "1",
                "Timestamps off disable TIME_WAIT reuse and PAWS (tcp-facts 2.5, 15.4).".into(),
            )),
            _ => None,
        };
        if let Some((rec, why)) = own {
            row.verdict = Verdict::Change;
            row.recommended = Some(rec.to_string());
            row.reason = why;
        } else {
            row.reason = ok_reason(s.key, &v, k);
        }
        out.push(row);
    }
    out
}

fn ok_reason(key: &str, v: &str, k: &KernelContext) -> String {
    match key {
        "net.ipv4.tcp_tw_reuse" => match v {
            "2" => "Default: reuse for loopback only. Set 1 only on a client host that runs out of ports to one destination (tcp-facts 2.1, 16.2).".into(),
            "1" => "Reuse for outgoing connections; harmless, and useless for inbound TIME_WAIT (tcp-facts 2.4).".into(),
            _ => "Reuse off: fine unless this host runs out of ports towards one destination (tcp-facts 5.5).".into(),
        },
        "net.ipv4.tcp_fin_timeout" => format!(
            "{v} s bounds orphaned FIN_WAIT_2 only; nothing observed calls for a change, and it would not change TIME_WAIT (tcp-facts 1.6)."
        ),
        "net.ipv4.tcp_max_tw_buckets" => match k.sockstat {
            Some(s) => format!("{} TIME_WAIT slots used of {}: room enough (tcp-facts 4.1).", n(s.tw), v),
            None => "No sign of overflow (tcp-facts 4.4).".into(),
        },
        "net.ipv4.ip_local_port_range" => match k.local_port_range() {
            Some((a, b)) => format!("{} ports; no destination is near exhaustion (tcp-facts 5.5).", n(u64::from(b) - u64::from(a) + 1)),
            None => "Unparsable value.".into(),
        },
        _ => "Fine for what was observed.".into(),
    }
}

/// Generates a commented `/etc/sysctl.d/` file with the changes of an audit. Settings without
/// a change appear as comments only. `origin` is a free-form line (host, kernel, date) for
/// the header; the caller supplies it, since this crate reads no clock.
pub fn emit_sysctl_d(audit: &[SysctlAudit], origin: &str) -> String {
    let mut s = String::new();
    s.push_str("# /etc/sysctl.d/60-tcpdoctor.conf - generated by `tcpdoctor sysctl --emit`\n");
    if !origin.is_empty() {
        s.push_str(&format!("# {origin}\n"));
    }
    s.push_str("# Review, then apply with: sysctl --system\n");
    s.push_str(
        "# Application fixes (pooling, keep-alive, closing sockets) come first; these only\n",
    );
    s.push_str("# remove kernel limits that the observed load runs into.\n");
    let changes: Vec<&SysctlAudit> = audit
        .iter()
        .filter(|a| a.verdict == Verdict::Change)
        .collect();
    if changes.is_empty() {
        s.push_str("#\n# Nothing to change for what was observed.\n");
    }
    for a in &changes {
        s.push('\n');
        s.push_str(&format!("# {}: {}\n", a.key, a.does));
        s.push_str(&format!("#   {}\n", a.does_not));
        s.push_str(&format!(
            "#   Was {}, default {}.\n",
            a.value.as_deref().unwrap_or("unknown"),
            a.default
        ));
        s.push_str(&format!(
            "#   Why: {} (tcp-facts {})\n",
            a.reason,
            a.facts.join(", ")
        ));
        if let Some(r) = &a.recommended {
            s.push_str(&format!("{} = {}\n", a.key, r));
        }
    }
    s.push_str("\n# Deliberately not set:\n");
    s.push_str("#   net.ipv4.tcp_tw_recycle - removed in Linux 4.12, broke clients behind NAT (tcp-facts 3.4).\n");
    s.push_str("#   net.ipv4.tcp_fin_timeout for TIME_WAIT - it does not change TIME_WAIT (tcp-facts 1.6).\n");
    s.push_str(
        "#   a lower net.ipv4.tcp_max_tw_buckets - it only skips TIME_WAIT (tcp-facts 4.1, 4.4).\n",
    );
    s
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The key does not exist on this kernel.
    #[error("{0}")]
    Absent(String),
    /// The value is dangerous or out of range.
    #[error("{0}")]
    BadValue(String),
}

/// Checks one write before the caller performs it: refuses keys absent on this kernel
/// (`tcp_tw_recycle` since 4.12, `tcp_tw_reuse_delay` before 6.14, the vendor-only
/// `tcp_tw_timeout`) with a sentence that says why, dangerous values (`tcp_tw_recycle` other
/// than 0, lowering `tcp_max_tw_buckets`), and values out of the kernel's range.
pub fn validate_write(k: &KernelContext, key: &str, value: &str) -> Result<(), Refusal> {
    let key = key.trim();
    let value = norm(value);
    let sp = spec(key);
    let vendor_absent = key == "net.ipv4.tcp_tw_timeout" && !k.sysctls.contains_key(key);
    if is_absent(k, sp, key) || vendor_absent {
        return Err(Refusal::Absent(absent_reason(
            key,
            k.kernel_release.as_deref(),
        )));
    }
    let num = || value.parse::<u64>().ok();
    let bad = |msg: String| Err(Refusal::BadValue(msg));
    match key {
        "net.ipv4.tcp_tw_recycle" if value != "0" => bad(
            "Refusing net.ipv4.tcp_tw_recycle=".to_string()
                + &value
                + ": it drops SYNs from clients behind NAT and, since 4.10, from any client (tcp-facts 3.2-3.3); only 0 may be written.",
        ),
        "net.ipv4.tcp_tw_reuse" if !matches!(value.as_str(), "0" | "1" | "2") => {
            bad(format!("net.ipv4.tcp_tw_reuse takes 0, 1 or 2, not {value:?} (tcp-facts 2.1)."))
        }
        "net.ipv4.tcp_tw_reuse_delay" if num().filter(|v| (1..=60_000).contains(v)).is_none() => bad(format!(
            "net.ipv4.tcp_tw_reuse_delay takes 1-60000 ms, not {value:?} (tcp-facts 2.7)."
        )),
        "net.ipv4.tcp_max_tw_buckets" => match (num(), k.sysctl_u64(key)) {
            (None, _) => bad(format!("net.ipv4.tcp_max_tw_buckets takes a number, not {value:?}.")),
            (Some(v), Some(cur)) if v < cur => bad(format!(
                "Refusing to lower net.ipv4.tcp_max_tw_buckets from {cur} to {v}: past the limit \
                 connections close with no TIME_WAIT at all, and the docs say not to lower it \
                 (tcp-facts 4.1, 4.4)."
            )),
            _ => Ok(()),
        },
        "net.ipv4.ip_local_port_range" => {
            let parts: Vec<Option<u16>> = value.split(' ').map(|p| p.parse().ok()).collect();
            match parts.as_slice() {
                [Some(a), Some(b)] if a < b && *a >= 1024 => Ok(()),
                _ => bad(format!(
                    "net.ipv4.ip_local_port_range takes \"LOW HIGH\" with 1024 <= LOW < HIGH <= 65535, not {value:?} (tcp-facts 5.1)."
                )),
            }
        }
        "net.ipv4.tcp_fin_timeout" if num().filter(|v| *v >= 1).is_none() => {
            bad(format!("net.ipv4.tcp_fin_timeout takes a number of seconds >= 1, not {value:?} (tcp-facts 1.6)."))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn k(release: &str) -> KernelContext {
        let mut k = KernelContext {
            kernel_release: Some(release.into()),
            ..Default::default()
        };
        for (a, b) in [
            ("net.ipv4.tcp_tw_reuse", "2"),
            ("net.ipv4.tcp_fin_timeout", "60"),
            ("net.ipv4.tcp_max_tw_buckets", "262144"),
            ("net.ipv4.ip_local_port_range", "32768\t60999"),
            ("net.ipv4.tcp_timestamps", "1"),
            ("net.ipv4.tcp_abort_on_overflow", "1"),
        ] {
            k.sysctls.insert(a.into(), b.into());
        }
        k
    }

    #[test]
    fn refuses_recycle_on_new_kernels_with_a_reason() {
        let mut kc = k("6.8.0-45-generic");
        kc.absent_sysctls.push("net.ipv4.tcp_tw_recycle".into());
        let e = validate_write(&kc, "net.ipv4.tcp_tw_recycle", "1").unwrap_err();
        assert!(matches!(e, Refusal::Absent(_)));
        let t = e.to_string();
        assert!(t.contains("removed in Linux 4.12"), "{t}");
        assert!(t.contains("6.8.0-45-generic"), "{t}");
        // Even without the absent list, the version says so.
        let kc = k("5.15.0");
        assert!(matches!(
            validate_write(&kc, "net.ipv4.tcp_tw_recycle", "0"),
            Err(Refusal::Absent(_))
        ));
        // Old kernel: exists, but only 0 may be written.
        let mut old = k("4.9.0");
        old.sysctls
            .insert("net.ipv4.tcp_tw_recycle".into(), "1".into());
        assert!(validate_write(&old, "net.ipv4.tcp_tw_recycle", "0").is_ok());
        assert!(matches!(
            validate_write(&old, "net.ipv4.tcp_tw_recycle", "1"),
            Err(Refusal::BadValue(_))
        ));
    }

    #[test]
    fn refuses_version_bound_and_vendor_keys_and_bad_values() {
        let kc = k("6.8.0");
        let e = validate_write(&kc, "net.ipv4.tcp_tw_reuse_delay", "100")
            .unwrap_err()
            .to_string();
        assert!(e.contains("added in Linux 6.14"), "{e}");
        let mut new = k("6.14.2");
        new.sysctls
            .insert("net.ipv4.tcp_tw_reuse_delay".into(), "1000".into());
        assert!(validate_write(&new, "net.ipv4.tcp_tw_reuse_delay", "100").is_ok());
        assert!(validate_write(&new, "net.ipv4.tcp_tw_reuse_delay", "0").is_err());
        let e = validate_write(&kc, "net.ipv4.tcp_tw_timeout", "30")
            .unwrap_err()
            .to_string();
        assert!(e.contains("vendor"), "{e}");
        assert!(validate_write(&kc, "net.ipv4.tcp_max_tw_buckets", "5000").is_err());
        assert!(validate_write(&kc, "net.ipv4.tcp_max_tw_buckets", "524288").is_ok());
        assert!(validate_write(&kc, "net.ipv4.ip_local_port_range", "15000 64999").is_ok());
        assert!(validate_write(&kc, "net.ipv4.ip_local_port_range", "60000 50000").is_err());
        assert!(validate_write(&kc, "net.ipv4.tcp_tw_reuse", "3").is_err());
    }

    #[test]
    fn audit_rows_and_emit() {
        let mut kc = k("6.8.0");
        kc.absent_sysctls.push("net.ipv4.tcp_tw_recycle".into());
        let a = audit(&kc, None);
        assert_eq!(a.len(), SPECS.len());
        let row = |key: &str| a.iter().find(|r| r.key == key).unwrap();
        assert_eq!(row("net.ipv4.tcp_tw_recycle").verdict, Verdict::Absent);
        assert_eq!(row("net.ipv4.tcp_tw_reuse_delay").verdict, Verdict::Absent);
        assert_eq!(row("net.ipv4.tcp_tw_reuse").verdict, Verdict::Ok);
        assert_eq!(
            row("net.ipv4.ip_local_port_range").value.as_deref(),
            Some("32768 60999")
        );
        let ab = row("net.ipv4.tcp_abort_on_overflow");
        assert_eq!(
            (ab.verdict, ab.recommended.as_deref()),
            (Verdict::Change, Some("0"))
        );
        assert_eq!(row("net.core.somaxconn").verdict, Verdict::Unknown);
        let f = emit_sysctl_d(&a, "host web01, kernel 6.8.0");
        assert!(f.contains("\nnet.ipv4.tcp_abort_on_overflow = 0\n"), "{f}");
        assert_eq!(
            f.lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .count(),
            1,
            "{f}"
        );
    }
}
