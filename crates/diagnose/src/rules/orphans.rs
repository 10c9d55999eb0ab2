//! FIN_WAIT2 piles and orphaned sockets.

use super::*;
use crate::finding::{EvidenceGroup, GroupKind, Severity, Value};
use std::net::IpAddr;
use tcpdoctor_model::TcpState;

/// `fin-wait2-orphans`: FIN_WAIT2 sockets this host closed, waiting for peers that never send
/// their FIN.
pub(crate) fn fin_wait2(ctx: &Ctx<'_>) -> Vec<Finding> {
    let o = ctx.obs;
    let fw2 = o.states.get(TcpState::FinWait2);
    if fw2 == 0 {
        return Vec::new();
    }
    let live = o.has_inodes();
    let orphans = if live {
        o.no_inode.get(TcpState::FinWait2)
    } else {
        fw2
    };
    let fin_timeout = ctx.sysctl("net.ipv4.tcp_fin_timeout").unwrap_or(60).max(1);
    let pile = (CHURN_PER_S * fin_timeout as f64) as u64;
    if orphans < pile {
        return Vec::new();
    }
    let tw_limit = ctx.sysctl("net.ipv4.tcp_max_tw_buckets");
    let max_orphans = ctx.sysctl("net.ipv4.tcp_max_orphans");
    let heavy =
        tw_limit.is_some_and(|l| orphans * 4 >= l) || max_orphans.is_some_and(|l| orphans * 4 >= l);
    let sev = if heavy {
        Severity::Warning
    } else {
        Severity::Info
    };
    let mut f = Finding::new(
        "fin-wait2-orphans",
        sev,
        format!(
            "{} {}FIN_WAIT2 sockets: this host closed, the peers never sent their FIN",
            n(orphans),
            if live { "orphaned " } else { "" }
        ),
    )
    .facts(&["1.1", "1.6", "1.7", "1.8", "4.6", "8.10", "9.8"]);
    let e = &mut f.evidence;
    e.metric(
        "fin_wait2",
        Value::Int(fw2 as i64),
        Some("sockets"),
        "FIN_WAIT2 in all",
    );
    if live {
        e.metric(
            "orphaned",
            Value::Int(orphans as i64),
            Some("sockets"),
            "FIN_WAIT2 with no owning socket (closed by the application)",
        );
        e.metric("held", Value::Int(o.fin_wait2_held as i64), Some("sockets"), "FIN_WAIT2 still open in an application (shutdown(SHUT_WR)): tcp_fin_timeout does not apply");
    }
    e.metric(
        "tcp_fin_timeout",
        Value::Int(fin_timeout as i64),
        Some("s"),
        if ctx.sysctl("net.ipv4.tcp_fin_timeout").is_some() {
            "net.ipv4.tcp_fin_timeout"
        } else {
            "tcp_fin_timeout assumed at its default 60 s"
        },
    );
    e.metric(
        "closes_per_s",
        Value::Float(orphans as f64 / fin_timeout as f64),
        Some("/s"),
        "closes per second whose peer stays silent, estimated as count / tcp_fin_timeout",
    );
    if let Some(l) = tw_limit {
        e.metric(
            "tcp_max_tw_buckets",
            Value::Int(l as i64),
            None,
            "net.ipv4.tcp_max_tw_buckets (FIN_WAIT2 mini-sockets count against it)",
        );
    }
    let mut peers: Vec<(IpAddr, u64)> = o
        .peers
        .iter()
        .filter(|(_, p)| p.fin_wait2 > 0)
        .map(|(ip, p)| (*ip, p.fin_wait2))
        .collect();
    top_by(&mut peers, 5, |a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (ip, c) in peers.iter() {
        e.groups.push(EvidenceGroup {
            kind: GroupKind::Peer,
            key: ip.to_string(),
            label: format!("peer {ip}"),
            count: *c,
            states: None,
            metrics: Vec::new(),
        });
    }
    e.samples = o.fin_wait2_samples.clone();
    f.explanation = format!(
        "FIN_WAIT2 means this host sent its FIN, got it acknowledged, and waits for the peer's \
         FIN. The peers below have not closed their side: on their hosts these connections sit \
         in CLOSE_WAIT, the mirror image of a close-wait leak. For an orphaned socket (the \
         application already closed it, no inode: tcp-facts 8.10) the kernel gives up after \
         tcp_fin_timeout = {fin_timeout} s (1.6); with a timeout of 60 s or less it turns the \
         socket into a FIN_WAIT2 mini-socket that counts in sockstat tw and against \
         tcp_max_tw_buckets (1.7, 4.6). tcp_fin_timeout does not change TIME_WAIT, which stays \
         60 s (1.1).{}",
        if live {
            ""
        } else {
            " This input does not show owners, so orphans cannot be told from sockets an application half-closed with shutdown()."
        }
    );
    f.remedies.push(Remedy::new(
        RemedyLevel::Application,
        "On the peers listed, find the application that leaves these connections in CLOSE_WAIT \
         and fix its close() (run tcpdoctor there).",
    ).cmd("ss -tanp state close-wait"));
    f.remedies.push(Remedy::new(
        RemedyLevel::Application,
        "Per socket, TCP_LINGER2 bounds FIN_WAIT2 for that socket (at most 120 s); a negative \
         value resets the connection at FIN_WAIT2 instead (TCPAbortOnLinger, tcp-facts 1.8).",
    ));
    if ctx.os == SourceOs::Linux {
        f.remedies.push(
            Remedy::new(
                RemedyLevel::Kernel,
                "tcp_fin_timeout is the right knob here: it bounds how long orphaned FIN_WAIT2 \
                 sockets wait for the peer (tcp-facts 1.6). Lowering it to 30 s halves their \
                 number; it does not shorten TIME_WAIT.",
            )
            .cmd("sysctl -w net.ipv4.tcp_fin_timeout=30")
            .cmd(persist("net.ipv4.tcp_fin_timeout", "30")),
        );
    }
    f.avoid.push(avoid_recycle());
    f.avoid.push(Avoid::new(
        "net.ipv4.tcp_tw_reuse=1",
        "Reuse applies to TIME_WAIT 4-tuples of outgoing connections and never to FIN_WAIT2 \
         mini-sockets (tcp-facts 2.4, 2.5).",
    ));
    vec![f]
}

/// `orphan-sockets`: orphans against tcp_max_orphans, TCPAbortOnMemory.
pub(crate) fn orphans(ctx: &Ctx<'_>) -> Vec<Finding> {
    if ctx.os != SourceOs::Linux {
        return Vec::new();
    }
    let o = ctx.obs;
    let observed = if o.has_inodes() {
        [
            TcpState::FinWait1,
            TcpState::FinWait2,
            TcpState::LastAck,
            TcpState::Closing,
        ]
        .iter()
        .map(|s| o.no_inode.get(*s))
        .sum::<u64>()
    } else {
        0
    };
    let count = ctx.k.sockstat.map(|s| s.orphan).unwrap_or(observed);
    let max = ctx.sysctl("net.ipv4.tcp_max_orphans");
    let abort = ctx.ext_delta("TCPAbortOnMemory").unwrap_or(0);
    let frac = max.filter(|m| *m > 0).map(|m| count as f64 / m as f64);
    let sev = if abort > 0 || frac.is_some_and(|f| f >= 0.85) {
        Severity::Critical
    } else if frac.is_some_and(|f| f >= 0.50) {
        Severity::Warning
    } else {
        return Vec::new();
    };
    let mut f = Finding::new(
        "orphan-sockets",
        sev,
        match max {
            Some(m) => format!(
                "{} orphaned sockets of tcp_max_orphans {} ({}){}",
                n(count),
                n(m),
                pct(frac.unwrap_or(0.0)),
                if abort > 0 {
                    format!(
                        "; {} dropped for memory (TCPAbortOnMemory)",
                        n(abort as u64)
                    )
                } else {
                    String::new()
                }
            ),
            None => format!(
                "{} orphaned sockets dropped for memory (TCPAbortOnMemory)",
                n(abort as u64)
            ),
        },
    )
    .facts(&["1.6", "8.10", "11.5", "11.6"]);
    let e = &mut f.evidence;
    e.metric(
        "orphans",
        Value::Int(count as i64),
        Some("sockets"),
        "orphaned sockets (sockstat orphan, global)",
    );
    if let Some(m) = max {
        e.metric(
            "tcp_max_orphans",
            Value::Int(m as i64),
            None,
            "net.ipv4.tcp_max_orphans",
        );
    }
    if abort > 0 {
        e.metric(
            "abort_on_memory_delta",
            Value::Int(abort),
            None,
            "TCPAbortOnMemory increase over the interval",
        );
    }
    for st in [
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::LastAck,
        TcpState::Closing,
    ] {
        if o.has_inodes() && o.no_inode.get(st) > 0 {
            e.metric(
                &format!("orphan_{}", st.name().to_ascii_lowercase()),
                Value::Int(o.no_inode.get(st) as i64),
                Some("sockets"),
                &format!("{} with no owner", st.name()),
            );
        }
    }
    f.explanation = "An orphan is a connection the application has closed while the kernel \
        still finishes it: FIN_WAIT1 (our FIN not yet acknowledged), FIN_WAIT2, LAST_ACK, CLOSING; \
        it has no inode any more (tcp-facts 8.10). sockstat counts them for the whole host \
        (11.6). Past tcp_max_orphans, or under tcp_mem pressure, the kernel drops them and counts \
        TCPAbortOnMemory (11.5): the peer may then miss the end of the data."
        .to_string();
    f.remedies.push(Remedy::new(
        RemedyLevel::Application,
        "Find the peers that do not acknowledge or do not close (FIN_WAIT1 piles mean peers not \
         reading, FIN_WAIT2 piles mean peers not closing) and fix them there.",
    ).cmd("ss -tno state fin-wait-1 state fin-wait-2 state last-ack state closing"));
    if let Some(m) = max {
        let target = (m * 2).max(count * 2);
        f.remedies.push(
            Remedy::new(
                RemedyLevel::Kernel,
                format!("If memory allows, raise tcp_max_orphans from {} so closing connections are not cut short.", n(m)),
            )
            .cmd(format!("sysctl -w net.ipv4.tcp_max_orphans={target}"))
            .cmd(persist("net.ipv4.tcp_max_orphans", &target.to_string())),
        );
    }
    f.avoid.push(Avoid::new(
        "lowering net.ipv4.tcp_max_orphans",
        "More orphans are then dropped with TCPAbortOnMemory, and peers lose the end of their data (tcp-facts 11.5).",
    ));
    vec![f]
}
