//! Listener rules: full accept queues and SYN_RECV piles.

use super::*;
use crate::finding::{EvidenceGroup, GroupKind, Metric, SampleSocket, Severity, Value};
use crate::observe::ListenerInfo;
use std::net::IpAddr;
use tcpdoctor_model::TcpState;

/// Accept-queue fill from which a listener is shown as "filling" (80%).
const QUEUE_HIGH: f64 = 0.80;

fn fill(l: &ListenerInfo) -> Option<f64> {
    match (l.accept_queue, l.backlog) {
        (Some(q), Some(b)) if b > 0 => Some(f64::from(q) / f64::from(b)),
        _ => None,
    }
}

fn owner(l: &ListenerInfo) -> String {
    l.process
        .as_ref()
        .map(|p| format!(" ({} pid {})", p.comm, p.pid))
        .unwrap_or_default()
}

/// `accept-queue-overflow`.
pub(crate) fn accept_queue(ctx: &Ctx<'_>) -> Vec<Finding> {
    let mut hot: Vec<(&ListenerInfo, f64)> = ctx
        .obs
        .listeners
        .iter()
        .filter_map(|l| fill(l).map(|f| (l, f)))
        .filter(|(_, f)| *f >= QUEUE_HIGH)
        .collect();
    hot.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.port.cmp(&b.0.port)));
    let full = hot.iter().any(|(_, f)| *f >= 1.0);
    let ov = ctx.ext_delta("ListenOverflows");
    let drops = ctx.ext_delta("ListenDrops");
    let rising = ov.is_some_and(|d| d > 0);
    let sev = if full && rising {
        Severity::Critical
    } else if full || rising || !hot.is_empty() {
        Severity::Warning
    } else {
        return Vec::new();
    };
    let summary = match hot.first() {
        Some((l, _)) => format!(
            "Accept queue of {}{} at {}/{}{}",
            l.local,
            owner(l),
            l.accept_queue.unwrap_or(0),
            l.backlog.unwrap_or(0),
            if rising {
                format!(
                    ": {} connections dropped (ListenOverflows) in {}",
                    n(ov.unwrap_or(0) as u64),
                    dur(ctx.rates.as_ref().map(|r| r.interval_s).unwrap_or(0.0))
                )
            } else if full {
                match ov {
                    // The clients may be between SYN retransmissions (1 s, 3 s, 7 s, ...).
                    Some(_) => format!(
                        ": full; new connections are dropped while it stays full (none counted in \
                         the last {})",
                        dur(ctx.rates.as_ref().map(|r| r.interval_s).unwrap_or(0.0))
                    ),
                    None => ": full; new connections are dropped while it stays full".to_string(),
                }
            } else {
                ": nearly full".to_string()
            }
        ),
        None => format!(
            "{} connections dropped because an accept queue was full (ListenOverflows) in {}",
            n(ov.unwrap_or(0) as u64),
            dur(ctx.rates.as_ref().map(|r| r.interval_s).unwrap_or(0.0))
        ),
    };
    let mut f = Finding::new("accept-queue-overflow", sev, summary)
        .facts(&["7.4", "7.5", "7.6", "8.5", "9.7"]);
    let e = &mut f.evidence;
    if let Some(d) = ov {
        e.metric(
            "listen_overflows_delta",
            Value::Int(d),
            None,
            "ListenOverflows increase over the interval",
        );
    }
    if let Some(d) = drops {
        e.metric(
            "listen_drops_delta",
            Value::Int(d),
            None,
            "ListenDrops increase over the interval (includes overflows)",
        );
    }
    if let Some(t) = ctx.ext_total("ListenOverflows") {
        e.metric(
            "listen_overflows_total",
            Value::Int(t as i64),
            None,
            "ListenOverflows since boot (in a network namespace: since it was created)",
        );
    }
    let somax = ctx.sysctl("net.core.somaxconn");
    if let Some(s) = somax {
        e.metric(
            "somaxconn",
            Value::Int(s as i64),
            None,
            "net.core.somaxconn (caps every listen() backlog)",
        );
    }
    for (l, fr) in hot.iter().take(5) {
        e.groups.push(EvidenceGroup {
            kind: GroupKind::Listener,
            key: format!("listen:{}", l.local),
            label: format!("{}{}", l.local, owner(l)),
            count: u64::from(l.accept_queue.unwrap_or(0)),
            states: None,
            metrics: vec![
                Metric {
                    name: "backlog".into(),
                    value: Value::Int(i64::from(l.backlog.unwrap_or(0))),
                    unit: None,
                    label: "accept-queue limit (Send-Q)".into(),
                },
                Metric {
                    name: "fill_pct".into(),
                    value: Value::Float(fr * 100.0),
                    unit: Some("%".into()),
                    label: "queue / limit".into(),
                },
            ],
        });
        e.samples.push(SampleSocket {
            state: TcpState::Listen,
            local: l.local.clone(),
            remote: "*:*".into(),
            timer: None,
            recv_q: l.accept_queue,
            send_q: l.backlog,
            process: l.process.as_ref().map(|p| format!("{}[{}]", p.comm, p.pid)),
        });
    }
    let capped = hot
        .iter()
        .any(|(l, _)| somax.is_some_and(|s| l.backlog.map(u64::from) == Some(s)));
    f.explanation = format!(
        "The kernel completes the handshake and queues the connection until the application \
         calls accept(); for a listener Recv-Q is the queue and Send-Q its limit (tcp-facts 8.5, \
         9.7). While the queue is full the kernel drops new SYNs for the listener and counts \
         ListenOverflows (also in ListenDrops, 7.5): the client retransmits, and users see slow \
         or timed-out connects. The limit is the listen() backlog capped by net.core.somaxconn \
         (default 4096 since 5.4, 128 before; 7.4).{}",
        if capped {
            " The limit here equals somaxconn, so the application asked for more than the kernel allows."
        } else {
            ""
        }
    );
    f.remedies.push(Remedy::new(
        RemedyLevel::Application,
        "Accept faster: the accept loop must not block on other work; use more acceptor \
         threads/workers (or SO_REUSEPORT listeners) if one cannot keep up.",
    ));
    f.remedies.push(Remedy::new(
        RemedyLevel::Application,
        "Give bursts room: raise the backlog the application passes to listen() (its own \
         setting, e.g. a `backlog=` option).",
    ));
    if ctx.os == SourceOs::Linux && (capped || somax.is_none()) {
        let target = somax.map(|s| (s * 4).max(4096)).unwrap_or(4096);
        f.remedies.push(
            Remedy::new(
                RemedyLevel::Kernel,
                format!(
                    "If the backlog is capped by somaxconn ({}), raise it so the application's \
                     backlog takes effect (tcp-facts 7.4); the application must then listen() again.",
                    somax.map(n).unwrap_or_else(|| "unknown".into())
                ),
            )
            .cmd(format!("sysctl -w net.core.somaxconn={target}"))
            .cmd(persist("net.core.somaxconn", &target.to_string())),
        );
    }
    if let (Some(s), false) = (somax, capped) {
        f.avoid.push(Avoid::new(
            "raising net.core.somaxconn",
            format!(
                "somaxconn is {} here, above the backlog these listeners asked for: the limit is \
                 the application's listen() argument, not the kernel cap (tcp-facts 7.4).",
                n(s)
            ),
        ));
    }
    f.avoid.push(Avoid::new(
        "net.ipv4.tcp_abort_on_overflow=1",
        "Makes the kernel reset connections it cannot queue instead of letting the client \
         retransmit: a burst that would have recovered becomes errors, and the slow acceptor \
         stays slow (default 0; ip-sysctl.rst, tcp-facts 7.6).",
    ));
    f.avoid.push(Avoid::new(
        "net.ipv4.tcp_syncookies",
        "Acts on the SYN queue (half-open connections), not on the accept queue of completed \
         ones (tcp-facts 7.1).",
    ));
    vec![f]
}

/// `syn-recv-flood`.
pub(crate) fn syn_recv(ctx: &Ctx<'_>) -> Vec<Finding> {
    let o = ctx.obs;
    let known_limit = ctx.sysctl("net.ipv4.tcp_max_syn_backlog");
    let limit = known_limit.unwrap_or(128).max(1);
    let mut ports: Vec<(u16, u64)> = o
        .listening
        .iter()
        .filter_map(|p| {
            let c = o.by_local_port.get(&p)?.get(TcpState::SynRecv);
            (c > 0 && c * 2 >= limit).then_some((p, c))
        })
        .collect();
    ports.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let qfull_drop = ctx.ext_delta("TCPReqQFullDrop").unwrap_or(0);
    let cookies = ctx
        .ext_delta("TCPReqQFullDoCookies")
        .unwrap_or(0)
        .max(ctx.ext_delta("SyncookiesSent").unwrap_or(0));
    let top = ports.first().copied();
    let sev = if qfull_drop > 0 || top.is_some_and(|(_, c)| c >= limit) {
        Severity::Critical
    } else if cookies > 0 || top.is_some() {
        Severity::Warning
    } else {
        return Vec::new();
    };
    let total_sr = o.states.get(TcpState::SynRecv);
    let peers_with: Vec<(IpAddr, u64)> = {
        let mut v: Vec<(IpAddr, u64)> = o
            .peers
            .iter()
            .filter(|(_, p)| p.syn_recv > 0)
            .map(|(ip, p)| (*ip, p.syn_recv))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    let summary = match top {
        Some((p, c)) => format!(
            "{} half-open connections (SYN_RECV) on port {} from {} addresses; limit per listener {}{}",
            n(c),
            ctx.port_label(p),
            n(peers_with.len() as u64),
            n(limit),
            if qfull_drop > 0 { format!(", {} SYNs dropped", n(qfull_drop as u64)) } else { String::new() }
        ),
        None => format!(
            "SYN queue overflowing: {} syncookies sent, {} SYNs dropped in {}",
            n(cookies as u64),
            n(qfull_drop as u64),
            dur(ctx.rates.as_ref().map(|r| r.interval_s).unwrap_or(0.0))
        ),
    };
    let mut f = Finding::new("syn-recv-flood", sev, summary)
        .facts(&["7.1", "7.2", "7.3", "7.5", "7.6", "9.9"]);
    let e = &mut f.evidence;
    e.metric(
        "syn_recv",
        Value::Int(total_sr as i64),
        Some("sockets"),
        "SYN_RECV requests in all",
    );
    e.metric(
        "tcp_max_syn_backlog",
        Value::Int(limit as i64),
        None,
        if known_limit.is_some() {
            "net.ipv4.tcp_max_syn_backlog"
        } else {
            "tcp_max_syn_backlog assumed at its minimum 128 (not known here)"
        },
    );
    e.metric(
        "distinct_peers",
        Value::Int(peers_with.len() as i64),
        None,
        "addresses with half-open connections",
    );
    for name in [
        "TCPReqQFullDrop",
        "TCPReqQFullDoCookies",
        "SyncookiesSent",
        "SyncookiesRecv",
        "SyncookiesFailed",
        "ListenDrops",
    ] {
        if let Some(d) = ctx.ext_delta(name).filter(|d| *d > 0) {
            e.metric(
                &format!("{name}_delta"),
                Value::Int(d),
                None,
                &format!("{name} increase over the interval"),
            );
        } else if let Some(t) = ctx
            .ext_total(name)
            .filter(|t| *t > 0 && ctx.rates.is_none())
        {
            e.metric(
                &format!("{name}_total"),
                Value::Int(t as i64),
                None,
                &format!("{name} since boot"),
            );
        }
    }
    if let Some(s) = ctx.sysctl("net.ipv4.tcp_syncookies") {
        e.metric(
            "tcp_syncookies",
            Value::Int(s as i64),
            None,
            "net.ipv4.tcp_syncookies",
        );
    }
    for (p, c) in ports.iter().take(3) {
        e.groups.push(EvidenceGroup {
            kind: GroupKind::LocalPort,
            key: format!("local:{p}"),
            label: ctx.port_label(*p),
            count: *c,
            states: o.by_local_port.get(p).copied(),
            metrics: Vec::new(),
        });
        if let Some(s) = o.syn_recv_samples.get(p) {
            e.samples.extend(s.iter().cloned());
        }
    }
    for (ip, c) in peers_with.iter().take(5) {
        e.groups.push(EvidenceGroup {
            kind: GroupKind::Peer,
            key: ip.to_string(),
            label: format!("source {ip}"),
            count: *c,
            states: None,
            metrics: Vec::new(),
        });
    }
    let spread = match (top, peers_with.first()) {
        (Some((_, c)), Some((_, topc))) if peers_with.len() as u64 * 2 >= c && *topc <= 3 => {
            " They come from many addresses with a few each: the signature of a spoofed or distributed SYN flood."
        }
        (Some(_), Some((_, topc))) if *topc * 2 >= total_sr => {
            " Most come from one address: a misbehaving client or a targeted flood from one source."
        }
        _ => "",
    };
    f.explanation = format!(
        "A SYN_RECV entry is a half-open connection: the SYN arrived, the SYN-ACK went out, the \
         client's final ACK has not come back. Since 4.1 these are request mini-sockets shown as \
         SYN_RECV (tcp-facts 7.2); the retransmit count on them is the SYN-ACKs resent (9.9). \
         tcp_max_syn_backlog limits them per listener (7.3). When the SYN queue overflows the \
         kernel answers with syncookies if tcp_syncookies=1 (the default, 7.1) and counts \
         TCPReqQFullDoCookies, or drops the SYN (TCPReqQFullDrop, 7.6); the log then says \
         \"Possible SYN flooding on port N\".{spread}"
    );
    f.remedies.push(Remedy::new(
        RemedyLevel::Operations,
        "If the sources are not legitimate clients, filter them before this host (firewall, \
         load balancer, DDoS scrubbing); list them with:",
    ).cmd("ss -tn state syn-recv | awk 'NR>1 {sub(/:[0-9]+$/, \"\", $4); print $4}' | sort | uniq -c | sort -rn | head"));
    if ctx.os == SourceOs::Linux {
        if ctx.sysctl("net.ipv4.tcp_syncookies") == Some(0) {
            f.remedies.push(
                Remedy::new(RemedyLevel::Kernel, "Turn syncookies back on (the default 1: cookies only when a SYN queue overflows, tcp-facts 7.1).")
                    .cmd("sysctl -w net.ipv4.tcp_syncookies=1")
                    .cmd(persist("net.ipv4.tcp_syncookies", "1")),
            );
        }
        let target = (limit * 4).max(4096);
        f.remedies.push(
            Remedy::new(
                RemedyLevel::Kernel,
                format!(
                    "For legitimate bursts, raise the per-listener SYN limit from {} (each request costs ~304 bytes, tcp-facts 7.3) together with the listen() backlog.",
                    n(limit)
                ),
            )
            .cmd(format!("sysctl -w net.ipv4.tcp_max_syn_backlog={target}"))
            .cmd(persist("net.ipv4.tcp_max_syn_backlog", &target.to_string())),
        );
    }
    f.avoid.push(Avoid::new(
        "net.ipv4.tcp_syncookies=2",
        "Sends cookies for every SYN, not only on overflow; the docs call cookies a fallback, not \
         a tool for legitimate load (tcp-facts 7.1).",
    ));
    vec![f]
}
