//! Settings found in force that are wrong for what was observed, or dangerous.

use super::timewait;
use super::*;
use crate::finding::{EvidenceGroup, GroupKind, Severity, Value};
use tcpdoctor_model::TcpState;

fn sysctl_group(key: &str, value: &str) -> EvidenceGroup {
    EvidenceGroup {
        kind: GroupKind::Sysctl,
        key: key.to_string(),
        label: format!("{key} = {value}"),
        count: 0,
        states: None,
        metrics: Vec::new(),
    }
}

fn has(found: &[Finding], id: &str) -> bool {
    found.iter().any(|f| f.id == id)
}

pub(crate) fn settings(ctx: &Ctx<'_>, found: &[Finding]) -> Vec<Finding> {
    if !ctx.live {
        return Vec::new();
    }
    let mut out = Vec::new();
    let o = ctx.obs;
    let client_tw = has(found, "time-wait-client-side") || has(found, "ephemeral-port-exhaustion");
    let server_tw = has(found, "time-wait-server-side");

    // tcp_tw_recycle present and on (kernels < 4.12).
    if ctx
        .sysctl("net.ipv4.tcp_tw_recycle")
        .is_some_and(|v| v != 0)
    {
        let mut f = Finding::new(
            "sysctl-tw-recycle-enabled",
            Severity::Critical,
            "net.ipv4.tcp_tw_recycle=1: SYNs from clients behind NAT are silently dropped",
        )
        .facts(&["3.1", "3.2", "3.3", "3.4", "3.5", "16.3"]);
        f.evidence
            .groups
            .push(sysctl_group("net.ipv4.tcp_tw_recycle", "1"));
        f.explanation = "tcp_tw_recycle drops a SYN from a host whose timestamp is not newer than \
            the last one seen from that address within 60 s (PAWSPassive). Clients behind one NAT \
            address have unrelated timestamp clocks, so all but one get random connect timeouts; \
            since 4.10 randomised timestamp offsets break it for every client. It was removed in \
            4.12 (tcp-facts 3.1-3.4)."
            .to_string();
        f.remedies.push(
            Remedy::new(RemedyLevel::Kernel, "Turn it off now, and remove it from /etc/sysctl.conf and /etc/sysctl.d/ so it does not come back at boot.")
                .cmd("sysctl -w net.ipv4.tcp_tw_recycle=0")
                .cmd("grep -rn tcp_tw_recycle /etc/sysctl.conf /etc/sysctl.d/"),
        );
        out.push(f);
    }

    // tcp_max_tw_buckets lowered.
    if let Some(l) = ctx.sysctl("net.ipv4.tcp_max_tw_buckets") {
        // Defaults (4.2): tw = ehash/2, syn_backlog = max(128, ehash/128) => tw = 64 x syn_backlog
        // when syn_backlog > 128 was left alone.
        let est = ctx
            .sysctl("net.ipv4.tcp_max_syn_backlog")
            .filter(|s| *s > 128)
            .map(|s| s * 64);
        let lowered = l < 8192 || est.is_some_and(|d| l * 2 <= d);
        if lowered {
            let overflow = has(found, "tw-bucket-overflow")
                || ctx.ext_total("TCPTimeWaitOverflow").is_some_and(|t| t > 0);
            let sev = if overflow {
                Severity::Warning
            } else {
                Severity::Info
            };
            let mut f = Finding::new(
                "sysctl-tw-buckets-lowered",
                sev,
                format!(
                    "net.ipv4.tcp_max_tw_buckets={} looks lowered{}",
                    n(l),
                    est.map(|d| format!(" (default on this host about {})", n(d)))
                        .unwrap_or_default()
                ),
            )
            .facts(&["4.1", "4.2", "4.4", "16.9"]);
            f.evidence
                .groups
                .push(sysctl_group("net.ipv4.tcp_max_tw_buckets", &l.to_string()));
            if let Some(d) = est {
                f.evidence.metric("estimated_default", Value::Int(d as i64), None, "64 x tcp_max_syn_backlog (both derive from the established-hash size, tcp-facts 4.2)");
            }
            if let Some(t) = ctx.ext_total("TCPTimeWaitOverflow") {
                f.evidence.metric(
                    "overflow_total",
                    Value::Int(t as i64),
                    None,
                    "TCPTimeWaitOverflow since boot",
                );
            }
            f.explanation = "The default is half the established-hash size, which scales with RAM \
                (tcp-facts 4.2); the kernel docs say not to lower it (4.1). Once the limit is \
                reached, closing connections skip TIME_WAIT entirely (TCPTimeWaitOverflow, 4.4): \
                the count looks better and the protection is gone."
                .to_string();
            let target = est.unwrap_or(262_144).max(262_144);
            f.remedies.push(
                Remedy::new(RemedyLevel::Kernel, "Restore the default (or a higher value) and remove the lowered entry from /etc/sysctl.conf and /etc/sysctl.d/.")
                    .cmd(format!("sysctl -w net.ipv4.tcp_max_tw_buckets={target}"))
                    .cmd("grep -rn tcp_max_tw_buckets /etc/sysctl.conf /etc/sysctl.d/"),
            );
            f.avoid.push(avoid_lower_buckets());
            out.push(f);
        }
    }

    // tcp_timestamps=0.
    if ctx.sysctl("net.ipv4.tcp_timestamps") == Some(0) {
        let reuse = ctx.sysctl("net.ipv4.tcp_tw_reuse").unwrap_or(2);
        let sev = if client_tw || reuse == 1 {
            Severity::Warning
        } else {
            Severity::Info
        };
        let mut f = Finding::new(
            "sysctl-timestamps-off",
            sev,
            format!("net.ipv4.tcp_timestamps=0: tcp_tw_reuse={reuse} can reuse nothing, and PAWS is off"),
        )
        .facts(&["2.5", "15.4"]);
        f.evidence
            .groups
            .push(sysctl_group("net.ipv4.tcp_timestamps", "0"));
        f.explanation = "TIME_WAIT reuse needs TCP timestamps seen on the old connection \
            (tcp-facts 2.5); PAWS, which drops old duplicate segments by timestamp, needs them too \
            (15.4). With timestamps off, tcp_tw_reuse does nothing."
            .to_string();
        f.remedies.push(
            Remedy::new(
                RemedyLevel::Kernel,
                "Re-enable timestamps (1 = on with per-connection random offsets).",
            )
            .cmd("sysctl -w net.ipv4.tcp_timestamps=1")
            .cmd(persist("net.ipv4.tcp_timestamps", "1")),
        );
        out.push(f);
    }

    // Tiny port range.
    if ctx.k.local_port_range().is_some() && ctx.range.usable < 14_116 {
        let busiest = o
            .port_spaces
            .values()
            .map(|v| v.states.total())
            .max()
            .unwrap_or(0);
        let sev = if busiest * 10 >= ctx.range.usable * 3 {
            Severity::Warning
        } else {
            Severity::Info
        };
        let mut f = Finding::new(
            "sysctl-port-range-small",
            sev,
            format!(
                "ip_local_port_range {}-{} leaves {} usable ports: at most {}/s new connections per destination",
                ctx.range.low,
                ctx.range.high,
                n(ctx.range.usable),
                rate(ctx.range.usable as f64 / ctx.tw_secs as f64)
            ),
        )
        .facts(&["5.1", "5.2", "5.5"]);
        f.evidence.groups.push(sysctl_group(
            "net.ipv4.ip_local_port_range",
            &format!("{} {}", ctx.range.low, ctx.range.high),
        ));
        f.evidence.metric(
            "usable_ports",
            Value::Int(ctx.range.usable as i64),
            Some("ports"),
            "range minus reserved ports",
        );
        f.evidence.metric(
            "busiest_space",
            Value::Int(busiest as i64),
            Some("ports"),
            "ports in use towards the busiest destination",
        );
        f.explanation = format!(
            "The default range is 32768-60999 (28,232 ports, tcp-facts 5.1). With {} usable ports \
             and TIME_WAIT fixed at 60 s, one destination sustains at most {}/s new connections (5.5).",
            n(ctx.range.usable),
            rate(ctx.range.usable as f64 / ctx.tw_secs as f64)
        );
        f.remedies.push(timewait::widen_range(ctx));
        out.push(f);
    }

    // somaxconn capping a busy listener.
    if let Some(s) = ctx.sysctl("net.core.somaxconn") {
        let capped: Vec<_> = o
            .listeners
            .iter()
            .filter(|l| {
                l.backlog.map(u64::from) == Some(s)
                    && l.accept_queue.is_some_and(|q| u64::from(q) * 2 >= s)
            })
            .collect();
        let ov = ctx.ext_delta("ListenOverflows").unwrap_or(0);
        if !capped.is_empty() || (ov > 0 && s < 4096) {
            let mut f = Finding::new(
                "sysctl-somaxconn-low",
                Severity::Warning,
                format!(
                    "net.core.somaxconn={} caps {} busy listener(s)",
                    n(s),
                    capped.len()
                ),
            )
            .facts(&["7.4", "7.5"]);
            f.evidence
                .groups
                .push(sysctl_group("net.core.somaxconn", &s.to_string()));
            for l in capped.iter().take(5) {
                f.evidence.groups.push(EvidenceGroup {
                    kind: GroupKind::Listener,
                    key: format!("listen:{}", l.local),
                    label: l.local.clone(),
                    count: u64::from(l.accept_queue.unwrap_or(0)),
                    states: None,
                    metrics: Vec::new(),
                });
            }
            f.explanation = format!(
                "somaxconn caps the backlog of every listen() (default 4096 since 5.4, 128 \
                 before, tcp-facts 7.4); these listeners sit at that cap with their queue at least \
                 half full, so a burst overflows it (ListenOverflows, 7.5).{}",
                if ctx.kernel_at_least(5, 4) == Some(true) && s < 4096 {
                    format!(
                        " On this {} kernel {} is lowered from the default 4096.",
                        ctx.k.kernel_release.as_deref().unwrap_or(""),
                        n(s)
                    )
                } else {
                    String::new()
                }
            );
            let t = (s * 4).max(4096);
            f.remedies.push(
                Remedy::new(RemedyLevel::Kernel, "Raise somaxconn, then restart or re-listen the service so its backlog takes effect.")
                    .cmd(format!("sysctl -w net.core.somaxconn={t}"))
                    .cmd(persist("net.core.somaxconn", &t.to_string())),
            );
            out.push(f);
        }
    }

    // syncookies off.
    if ctx.sysctl("net.ipv4.tcp_syncookies") == Some(0) {
        let sev = if has(found, "syn-recv-flood") {
            Severity::Warning
        } else {
            Severity::Info
        };
        let mut f = Finding::new(
            "sysctl-syncookies-off",
            sev,
            "net.ipv4.tcp_syncookies=0: an overflowing SYN queue drops connections instead of answering with cookies",
        )
        .facts(&["7.1", "7.6"]);
        f.evidence
            .groups
            .push(sysctl_group("net.ipv4.tcp_syncookies", "0"));
        f.explanation =
            "With the default 1 the kernel sends syncookies only when a listener's SYN \
            queue overflows, a fallback that keeps accepting real clients during a flood \
            (tcp-facts 7.1). With 0 those SYNs are dropped (TCPReqQFullDrop, 7.6)."
                .to_string();
        f.remedies.push(
            Remedy::new(RemedyLevel::Kernel, "Restore the default.")
                .cmd("sysctl -w net.ipv4.tcp_syncookies=1")
                .cmd(persist("net.ipv4.tcp_syncookies", "1")),
        );
        out.push(f);
    }

    // tcp_tw_reuse=1 set against server-side TIME_WAIT.
    if ctx.sysctl("net.ipv4.tcp_tw_reuse") == Some(1) && server_tw && !client_tw {
        let mut f = Finding::new(
            "sysctl-tw-reuse-server-only",
            Severity::Info,
            "net.ipv4.tcp_tw_reuse=1 is set, but this host's TIME_WAIT is on its listening ports, where reuse never applies",
        )
        .facts(&["2.1", "2.4", "16.2"]);
        f.evidence
            .groups
            .push(sysctl_group("net.ipv4.tcp_tw_reuse", "1"));
        f.explanation = "tcp_tw_reuse is consulted only when this host connect()s out and the \
            chosen 4-tuple collides with a TIME_WAIT socket (tcp-facts 2.4); the TIME_WAIT here \
            comes from inbound connections, so the setting changes nothing for it. The default 2 \
            (loopback only) is what the docs recommend unless advised otherwise (2.1)."
            .to_string();
        f.remedies.push(
            Remedy::new(
                RemedyLevel::Kernel,
                "Unless this host also makes many outgoing connections, go back to the default.",
            )
            .cmd("sysctl -w net.ipv4.tcp_tw_reuse=2"),
        );
        out.push(f);
    }

    // tcp_fin_timeout changed while TIME_WAIT piles up.
    if let Some(ft) = ctx.sysctl("net.ipv4.tcp_fin_timeout") {
        let tw_pile = o.states.get(TcpState::TimeWait) >= ctx.tw_pile();
        if ft != 60 && (server_tw || client_tw || tw_pile) {
            let mut f = Finding::new(
                "sysctl-fin-timeout-for-time-wait",
                Severity::Info,
                format!("net.ipv4.tcp_fin_timeout={ft} is set, but it does not shorten TIME_WAIT (fixed at 60 s)"),
            )
            .facts(&["1.1", "1.6", "1.7", "16.4"]);
            f.evidence
                .groups
                .push(sysctl_group("net.ipv4.tcp_fin_timeout", &ft.to_string()));
            f.evidence.metric(
                "time_wait",
                Value::Int(o.states.get(TcpState::TimeWait) as i64),
                Some("sockets"),
                "TIME_WAIT now",
            );
            f.explanation = format!(
                "tcp_fin_timeout ({ft} s) bounds how long an orphaned connection waits in \
                 FIN_WAIT_2 (tcp-facts 1.6); TIME_WAIT is the constant TCP_TIMEWAIT_LEN, 60 s, \
                 and no sysctl changes it (1.1, 1.9). Setting it is harmless, but it is not why \
                 TIME_WAIT counts go up or down (16.4)."
            );
            f.remedies.push(Remedy::new(
                RemedyLevel::Application,
                "Act on TIME_WAIT where it is made: see the time-wait findings for who closes first.",
            ));
            out.push(f);
        }
    }

    // Vendor-only knob present.
    if ctx.k.sysctls.contains_key("net.ipv4.tcp_tw_timeout") {
        let v = ctx
            .k
            .sysctls
            .get("net.ipv4.tcp_tw_timeout")
            .cloned()
            .unwrap_or_default();
        let mut f = Finding::new(
            "sysctl-tw-timeout-vendor",
            Severity::Info,
            format!(
                "net.ipv4.tcp_tw_timeout={v} exists: a vendor kernel; mainline has no such knob"
            ),
        )
        .facts(&["1.9", "1.10"]);
        f.evidence
            .groups
            .push(sysctl_group("net.ipv4.tcp_tw_timeout", &v));
        f.explanation = "Mainline Linux hard-codes TIME_WAIT at 60 s (tcp-facts 1.9); \
            tcp_tw_timeout is a vendor addition (e.g. Alibaba Cloud Linux, 1.10). Advice built on \
            it does not carry over to other kernels, and the arithmetic here assumes 60 s."
            .to_string();
        f.remedies.push(Remedy::new(
            RemedyLevel::Application,
            "Reduce churn rather than relying on a vendor-only setting.",
        ));
        out.push(f);
    }
    out
}
