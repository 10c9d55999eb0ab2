//! TIME_WAIT rules: server side, client side, ephemeral-port exhaustion, TW bucket overflow.

use super::*;
use crate::finding::{EvidenceGroup, GroupKind, Severity, Value};
use crate::observe::PortSpaceKey;
use std::net::IpAddr;
use tcpdoctor_model::{StateCounts, TcpState};

/// At most this many findings of one id for separate ports / services.
const MAX_PER_ID: usize = 3;

fn tw_len_sentence(ctx: &Ctx<'_>) -> String {
    let t = ctx.os.time_wait();
    format!("TIME_WAIT lasts {} s here ({})", t.secs, t.source)
}

/// `time-wait-server-side`: TIME_WAIT piles on a local listening port.
pub(crate) fn server_side(ctx: &Ctx<'_>) -> Vec<Finding> {
    let o = ctx.obs;
    let pile = ctx.tw_pile();
    let mut ports: Vec<(u16, u64)> = o
        .listening
        .iter()
        .filter_map(|p| {
            let tw = o.by_local_port.get(&p)?.get(TcpState::TimeWait);
            (tw >= pile && tw > 0).then_some((p, tw))
        })
        .collect();
    ports.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let limit = ctx.sysctl("net.ipv4.tcp_max_tw_buckets");
    let mut out = Vec::new();
    for (port, tw) in ports.into_iter().take(MAX_PER_ID) {
        let states = o.by_local_port.get(&port).copied().unwrap_or_default();
        let close_rate = tw as f64 / ctx.tw_secs as f64;
        let near_limit = limit.is_some_and(|l| l > 0 && tw * 2 >= l);
        let sev = if near_limit {
            Severity::Warning
        } else {
            Severity::Info
        };
        let label = ctx.port_label(port);
        let mut f = Finding::new(
            "time-wait-server-side",
            sev,
            format!(
                "{} TIME_WAIT on local port {label}: this server closes first, ~{} connections/s",
                n(tw),
                rate(close_rate)
            ),
        )
        .facts(&[
            "1.1", "1.6", "2.4", "3.4", "4.1", "4.4", "5.6", "5.10", "14.2", "14.3", "16.2",
            "16.8", "16.9",
        ]);
        let e = &mut f.evidence;
        e.metric(
            "port",
            Value::Int(i64::from(port)),
            None,
            "local listening port",
        );
        e.metric(
            "time_wait",
            Value::Int(tw as i64),
            Some("sockets"),
            "TIME_WAIT on the port",
        );
        e.metric(
            "closes_per_s",
            Value::Float(close_rate),
            Some("/s"),
            &format!(
                "connections closed first here, estimated as TIME_WAIT / {} s",
                ctx.tw_secs
            ),
        );
        e.metric(
            "memory_kib",
            Value::Int(((tw * 168) / 1024) as i64),
            Some("KiB"),
            "memory held, at ~168 bytes per TIME_WAIT socket (tcp-facts 5.10)",
        );
        e.metric(
            "established",
            Value::Int(states.get(TcpState::Established) as i64),
            Some("sockets"),
            "ESTABLISHED on the port",
        );
        if let Some(l) = limit {
            e.metric(
                "tcp_max_tw_buckets",
                Value::Int(l as i64),
                None,
                "net.ipv4.tcp_max_tw_buckets",
            );
        }
        if let Some(r) = ctx.rates.as_ref().and_then(|r| r.passive_opens_per_s) {
            e.metric(
                "passive_opens_per_s",
                Value::Float(r),
                Some("/s"),
                "incoming connections per second, whole host (PassiveOpens)",
            );
        }
        e.groups.push(EvidenceGroup {
            kind: GroupKind::LocalPort,
            key: format!("local:{port}"),
            label: label.clone(),
            count: tw,
            states: Some(states),
            metrics: Vec::new(),
        });
        let mut peers: Vec<(IpAddr, u64)> = o
            .server_tw_peers
            .iter()
            .filter(|((p, _), _)| *p == port)
            .map(|((_, ip), c)| (*ip, *c))
            .collect();
        top_by(&mut peers, 5, |a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        for (ip, c) in peers.iter() {
            e.groups.push(EvidenceGroup {
                kind: GroupKind::Peer,
                key: ip.to_string(),
                label: format!("client {ip}"),
                count: *c,
                states: None,
                metrics: Vec::new(),
            });
        }
        if let Some(s) = o.server_tw_samples.get(&port) {
            e.samples = s.clone();
        }
        let mysql = port == 3306;
        f.explanation = format!(
            "The side that sends the first FIN keeps the TIME_WAIT (tcp-facts 14.2); here that is \
             this host, as the server on port {label}. {}. These sockets hold no ephemeral port: \
             each blocks only its exact 4-tuple, and Linux still accepts a new SYN on it when the \
             SYN's sequence number or timestamp is newer (5.6). They cost ~168 bytes each \
             (~{} KiB in all, 5.10). So this is churn to reduce, not a resource to tune away (16.9).{}",
            tw_len_sentence(ctx),
            n((tw * 168) / 1024),
            if mysql {
                " On MySQL, server-side TIME_WAIT means mysqld closes first: connections idle past \
                 wait_timeout (default 28,800 s) or a connector that lets the server close; \
                 libmysqlclient clients send COM_QUIT and close first, leaving TIME_WAIT on the \
                 client (14.2, 14.3, 16.8)."
            } else {
                ""
            }
        );
        f.remedies.push(Remedy::new(
            RemedyLevel::Application,
            "Reuse connections: keep-alive or a connection pool on the clients listed below turns \
             many short connections into a few long ones, so fewer are closed at all.",
        ));
        f.remedies.push(Remedy::new(
            RemedyLevel::Application,
            if mysql {
                "Let the clients close first: keep the pool's idle timeout / max lifetime below \
                 wait_timeout so the client sends COM_QUIT and closes, and the TIME_WAIT lands on \
                 the client (tcp-facts 14.1-14.3)."
            } else {
                "Let the clients close first: keep the server's idle timeout longer than the \
                 clients' idle timeout, so idle connections are ended by the client and the \
                 TIME_WAIT lands there (tcp-facts 14.2)."
            },
        ));
        if let Some(r) = os_tw_remedy(ctx.os) {
            f.remedies.push(r);
        }
        match (limit, ctx.os) {
            (Some(l), SourceOs::Linux) if near_limit => f.remedies.push(
                Remedy::new(
                    RemedyLevel::Kernel,
                    format!(
                        "This port alone holds {} of the {} TIME_WAIT slots (tcp_max_tw_buckets): \
                         raise the limit before it overflows, never lower it (tcp-facts 4.1, 4.4).",
                        n(tw),
                        n(l)
                    ),
                )
                .cmd(format!(
                    "sysctl -w net.ipv4.tcp_max_tw_buckets={}",
                    (l * 2).max(262_144)
                ))
                .cmd(persist(
                    "net.ipv4.tcp_max_tw_buckets",
                    &(l * 2).max(262_144).to_string(),
                )),
            ),
            (_, SourceOs::Linux) => f.remedies.push(Remedy::new(
                RemedyLevel::Kernel,
                "No kernel change is needed for server-side TIME_WAIT. If sockstat's tw ever \
                 approaches tcp_max_tw_buckets, raise that limit (tcp-facts 4.1).",
            )),
            _ => {}
        }
        if ctx.os == SourceOs::Linux {
            f.avoid.push(Avoid::new(
                "net.ipv4.tcp_tw_reuse=1",
                "Consulted only when this host connect()s out and the 4-tuple collides with a \
                 TIME_WAIT socket; it never applies to inbound connections on a listening port \
                 (tcp-facts 2.4, 16.2).",
            ));
            f.avoid.push(avoid_recycle());
            f.avoid.push(avoid_fin_timeout_for_tw());
            f.avoid.push(avoid_lower_buckets());
        }
        f.avoid.push(avoid_linger0());
        if ctx.os == SourceOs::Linux {
            f.avoid.push(avoid_syncookies_for_tw());
        }
        out.push(f);
    }
    out
}

/// Client-side sockets per remote service (address, port), summed over local addresses.
/// The remote services (address, port) with at least `min_tw` TIME_WAIT sockets towards
/// them, most TIME_WAIT first. (Port spaces are capped but may still hold hundreds of
/// thousands of keys: only the services that can make a finding are sorted.)
fn remote_services(ctx: &Ctx<'_>, min_tw: u64) -> Vec<((IpAddr, u16), StateCounts)> {
    let mut m: crate::fxhash::FxHashMap<(IpAddr, u16), StateCounts> = Default::default();
    for (k, v) in &ctx.obs.port_spaces {
        m.entry((k.remote_ip, k.remote_port))
            .or_default()
            .merge(&v.states);
    }
    let mut v: Vec<_> = m
        .into_iter()
        .filter(|(_, s)| s.get(TcpState::TimeWait) >= min_tw)
        .collect();
    v.sort_by(|a, b| {
        b.1.get(TcpState::TimeWait)
            .cmp(&a.1.get(TcpState::TimeWait))
            .then(a.0.cmp(&b.0))
    });
    v
}

fn reuse_remedy(ctx: &Ctx<'_>, loopback: bool) -> Option<Remedy> {
    if ctx.os != SourceOs::Linux {
        return None;
    }
    let reuse = ctx.sysctl("net.ipv4.tcp_tw_reuse");
    let ts = ctx.sysctl("net.ipv4.tcp_timestamps");
    if ts == Some(0) {
        return Some(
            Remedy::new(
                RemedyLevel::Kernel,
                "tcp_timestamps is 0 here, so tcp_tw_reuse cannot reuse anything: reuse needs \
                 timestamps seen on the old connection. Re-enable timestamps first (tcp-facts 2.5).",
            )
            .cmd("sysctl -w net.ipv4.tcp_timestamps=1")
            .cmd(persist("net.ipv4.tcp_timestamps", "1")),
        );
    }
    match reuse {
        Some(1) => Some(Remedy::new(
            RemedyLevel::Kernel,
            "tcp_tw_reuse=1 is already set: connect() may take over a TIME_WAIT 4-tuple when the \
             old connection carried timestamps (tcp-facts 2.4-2.5); TWRecycled counts each reuse (2.9).",
        )),
        Some(2) | None if loopback => Some(Remedy::new(
            RemedyLevel::Kernel,
            "The peer is loopback and tcp_tw_reuse=2 (the default since 4.18) already reuses \
             loopback TIME_WAIT 4-tuples (tcp-facts 2.1-2.3).",
        )),
        _ => Some(
            Remedy::new(
                RemedyLevel::Kernel,
                "Only when ephemeral ports run short and timestamps are on at \
                 both ends: tcp_tw_reuse=1 lets this client's connect() reuse a TIME_WAIT 4-tuple \
                 about 1 s after it entered TIME_WAIT (tcp_tw_reuse_delay on 6.14+). It acts on \
                 outgoing connections only (tcp-facts 2.4-2.7, 5.5, 16.2).",
            )
            .cmd("sysctl -w net.ipv4.tcp_tw_reuse=1")
            .cmd(persist("net.ipv4.tcp_tw_reuse", "1")),
        ),
    }
}

/// `time-wait-client-side`: TIME_WAIT on ephemeral ports towards one remote service.
pub(crate) fn client_side(ctx: &Ctx<'_>) -> Vec<Finding> {
    let pile = ctx.tw_pile();
    let mut out = Vec::new();
    for ((ip, port), states) in remote_services(ctx, pile.max(1))
        .into_iter()
        .take(MAX_PER_ID)
    {
        let tw = states.get(TcpState::TimeWait);
        if tw < pile || tw == 0 {
            break;
        }
        let close_rate = tw as f64 / ctx.tw_secs as f64;
        let svc = ctx.port_label(port);
        let dest = if ip.is_ipv6() {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        };
        let mut f = Finding::new(
            "time-wait-client-side",
            Severity::Info,
            format!(
                "{} TIME_WAIT towards {dest}: this client closes its connections to {svc} first, \
                 ~{}/s averaged over the last {} s",
                n(tw),
                rate(close_rate),
                ctx.tw_secs
            ),
        )
        .facts(&[
            "1.1", "2.1", "2.2", "2.4", "2.5", "2.7", "3.4", "5.3", "5.5", "14.2", "16.2",
        ]);
        let e = &mut f.evidence;
        e.metric(
            "time_wait",
            Value::Int(tw as i64),
            Some("sockets"),
            "TIME_WAIT towards the service",
        );
        e.metric(
            "closes_per_s",
            Value::Float(close_rate),
            Some("/s"),
            &format!(
                "connections closed first here, estimated as TIME_WAIT / {} s",
                ctx.tw_secs
            ),
        );
        e.metric(
            "established",
            Value::Int(states.get(TcpState::Established) as i64),
            Some("sockets"),
            "ESTABLISHED towards the service",
        );
        let share = tw as f64 / ctx.range.usable.max(1) as f64;
        e.metric(
            "range_share",
            Value::Float(share * 100.0),
            Some("%"),
            if ctx.range.assumed {
                "TIME_WAIT as a share of the assumed default ephemeral range"
            } else {
                "TIME_WAIT as a share of the usable ephemeral range"
            },
        );
        if let Some(r) = ctx.rates.as_ref().and_then(|r| r.active_opens_per_s) {
            e.metric(
                "active_opens_per_s",
                Value::Float(r),
                Some("/s"),
                "outgoing connections per second, whole host (ActiveOpens)",
            );
        }
        e.groups.push(EvidenceGroup {
            kind: GroupKind::RemoteService,
            key: dest.clone(),
            label: format!("{svc} at {ip}"),
            count: tw,
            states: Some(states),
            metrics: Vec::new(),
        });
        if let Some(ps) = ctx
            .obs
            .port_spaces
            .iter()
            .filter(|(k, _)| k.remote_ip == ip && k.remote_port == port)
            .max_by_key(|(_, v)| v.states.total())
        {
            e.samples = ps.1.samples.clone();
        }
        f.explanation = format!(
            "This host sends the first FIN on its connections to {dest}, so it keeps their \
             TIME_WAIT (tcp-facts 14.2); {}. Each one holds its local port for that 4-tuple: \
             {} of the {} {} ({}{}) towards this one destination (5.3, 5.5). {}",
            tw_len_sentence(ctx),
            n(tw),
            n(ctx.range.usable),
            if ctx.range.assumed {
                "ports of the default range"
            } else {
                "usable ports"
            },
            pct(share),
            if ctx.range.assumed {
                "; this host's own range is not known here"
            } else {
                ""
            },
            if share >= PORTS_WARN {
                "That is most of the range: see ephemeral-port-exhaustion."
            } else {
                "Harmless while the range is far from full; it is the cost of opening a new \
                 connection per request."
            }
        );
        f.remedies.push(Remedy::new(
            RemedyLevel::Application,
            format!(
                "Pool or keep alive the connections to {svc}: one long-lived connection replaces \
                 ~{} connects and closes per second.",
                rate(close_rate)
            ),
        ));
        if let Some(r) = os_tw_remedy(ctx.os) {
            f.remedies.push(r);
        }
        if let Some(r) = reuse_remedy(ctx, ip.is_loopback()) {
            f.remedies.push(r);
        }
        linux_tw_avoids(ctx, &mut f);
        out.push(f);
    }
    out
}

fn space_in_use(ctx: &Ctx<'_>, v: &crate::observe::PortSpace) -> u64 {
    if ctx.obs.port_range().is_some() {
        v.in_range
    } else {
        v.states.total()
    }
}

fn space_key(k: &PortSpaceKey) -> String {
    let r = if k.remote_ip.is_ipv6() {
        format!("[{}]:{}", k.remote_ip, k.remote_port)
    } else {
        format!("{}:{}", k.remote_ip, k.remote_port)
    };
    format!("{}->{r}", k.local_ip)
}

/// Count of the same port space in an earlier observation.
fn earlier_in_use(ctx: &Ctx<'_>, k: &PortSpaceKey) -> Option<u64> {
    let first = ctx.first?;
    Some(
        first
            .port_spaces
            .get(k)
            .map(|v| space_in_use(ctx, v))
            .unwrap_or(0),
    )
}

/// `ephemeral-port-exhaustion`.
pub(crate) fn port_exhaustion(ctx: &Ctx<'_>) -> Vec<Finding> {
    let usable = ctx.range.usable.max(1);
    let mut spaces: Vec<(&PortSpaceKey, &crate::observe::PortSpace, u64)> = ctx
        .obs
        .port_spaces
        .iter()
        .map(|(k, v)| (k, v, space_in_use(ctx, v)))
        .filter(|(_, _, u)| *u as f64 >= PORTS_WARN * usable as f64)
        .collect();
    if spaces.is_empty() {
        return Vec::new();
    }
    spaces.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
    let (k, top, in_use) = spaces[0];
    let frac = in_use as f64 / usable as f64;
    let sev = if frac >= PORTS_CRIT {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let tw = top.states.get(TcpState::TimeWait);
    let max_rate = usable as f64 / ctx.tw_secs as f64;
    let key = space_key(k);
    let svc = ctx.port_label(k.remote_port);
    let mut f = Finding::new(
        "ephemeral-port-exhaustion",
        sev,
        format!(
            "{} of {} usable ephemeral ports ({}) in use from {} to {}: new connections there fail with EADDRNOTAVAIL when none is left",
            n(in_use),
            n(usable),
            pct(frac),
            k.local_ip,
            key.split("->").nth(1).unwrap_or("")
        ),
    )
    .facts(&["1.1", "2.4", "2.5", "5.1", "5.2", "5.3", "5.4", "5.5", "5.7", "5.8", "5.9", "12.3", "12.4", "12.5"]);
    let e = &mut f.evidence;
    e.metric(
        "ports_in_use",
        Value::Int(in_use as i64),
        Some("ports"),
        "local ports in use for this (local IP, remote IP, remote port), any state",
    );
    e.metric(
        "usable_ports",
        Value::Int(usable as i64),
        Some("ports"),
        if ctx.range.assumed {
            "size of the assumed default ephemeral range"
        } else {
            "ip_local_port_range minus ip_local_reserved_ports"
        },
    );
    e.metric(
        "used_pct",
        Value::Float(frac * 100.0),
        Some("%"),
        "share of the usable range in use",
    );
    e.metric(
        "time_wait",
        Value::Int(tw as i64),
        Some("sockets"),
        "of which TIME_WAIT",
    );
    e.metric(
        "port_range",
        Value::Text(format!("{}-{}", ctx.range.low, ctx.range.high)),
        None,
        &format!("ephemeral range ({})", ctx.range.source),
    );
    if ctx.range.reserved > 0 {
        e.metric(
            "reserved_ports",
            Value::Int(ctx.range.reserved as i64),
            Some("ports"),
            "ports of the range in ip_local_reserved_ports",
        );
    }
    e.metric(
        "max_new_per_s",
        Value::Float(max_rate),
        Some("/s"),
        &format!("highest sustainable new-connection rate to this destination: usable ports / {} s TIME_WAIT", ctx.tw_secs),
    );
    let range_ports = ctx.obs.client_ports_in_use();
    e.metric("client_ports_in_use", Value::Int(range_ports as i64), Some("ports"), "distinct local ports in use by all outgoing connections (what bind()-before-connect would need)");
    let mut tte_text = String::new();
    if let (Some(before), Some(dt)) = (earlier_in_use(ctx, k), ctx.interval_s) {
        if dt > 0.0 {
            let growth = (in_use as f64 - before as f64) / dt;
            e.metric(
                "growth_per_s",
                Value::Float(growth),
                Some("/s"),
                "change of ports in use per second between the first and last scan",
            );
            if growth > 0.0 {
                let tte = (usable.saturating_sub(in_use)) as f64 / growth;
                e.metric(
                    "time_to_empty_s",
                    Value::Float(tte),
                    Some("s"),
                    "time until no port is left at the current growth",
                );
                tte_text = format!(
                    " Ports in use grew by {}/s over the last {}: at that pace the range is empty in {}.",
                    rate(growth),
                    dur(dt),
                    dur(tte)
                );
            }
        }
    }
    if let Some(a) = ctx.rates.as_ref().and_then(|r| r.active_opens_per_s) {
        e.metric(
            "active_opens_per_s",
            Value::Float(a),
            Some("/s"),
            "outgoing connections per second, whole host (ActiveOpens)",
        );
        if a > max_rate {
            tte_text.push_str(&format!(
                " The host opens {} outgoing connections/s, more than the {}/s this destination can sustain if they all go there.",
                rate(a),
                rate(max_rate)
            ));
        }
    }
    for (k2, v, u) in spaces.iter().take(5) {
        e.groups.push(EvidenceGroup {
            kind: GroupKind::PortSpace,
            key: space_key(k2),
            label: format!("{} -> {}", k2.local_ip, ctx.port_label(k2.remote_port)),
            count: *u,
            states: Some(v.states),
            metrics: vec![crate::finding::Metric {
                name: "used_pct".into(),
                value: Value::Float(*u as f64 / usable as f64 * 100.0),
                unit: Some("%".into()),
                label: "share of the usable range".into(),
            }],
        });
    }
    e.samples = top.samples.clone();
    f.explanation = format!(
        "Each connection from {} to {} needs its own local port, since the 4-tuple must be \
         unique (tcp-facts 5.3), and the port stays taken in every state, TIME_WAIT included. \
         {}, so this destination sustains at most {} / {} s = {} new connections/s (5.5). {} {} of \
         the {} ports in use are in TIME_WAIT: this host closes first.{}{}",
        k.local_ip,
        key.split("->").nth(1).unwrap_or(""),
        tw_len_sentence(ctx),
        n(usable),
        ctx.tw_secs,
        rate(max_rate),
        match ctx.os {
            SourceOs::Linux =>
                "When no port yields a free 4-tuple, connect() fails with EADDRNOTAVAIL \
                \"Cannot assign requested address\" (5.4).",
            SourceOs::Windows =>
                "When none is left, outbound connects fail and the System log shows \
                events 4227/4231 (12.5).",
            _ => "When none is left, new outgoing connects fail.",
        },
        n(tw),
        n(in_use),
        tte_text,
        if ctx.os == SourceOs::Linux {
            format!(
                " Sockets that bind() to port 0 before connect() need a port of their own whatever \
                 the destination (5.7): with those, {} ports for all destinations are what counts \
                 (now {} in use).",
                n(usable),
                n(range_ports)
            )
        } else {
            String::new()
        }
    );
    f.remedies.push(Remedy::new(
        RemedyLevel::Application,
        format!("Pool or keep alive the connections to {svc}: reusing one connection needs no new port at all."),
    ));
    f.remedies.push(Remedy::new(
        RemedyLevel::Application,
        if ctx.os == SourceOs::Linux {
            "Add 4-tuples: spread the load over several destination addresses or ports, or several \
             local addresses; each (local IP, remote IP, remote port) has the whole range \
             (tcp-facts 5.3). If the code bind()s a source address before connect(), set \
             IP_BIND_ADDRESS_NO_PORT on the socket first so the port is chosen at connect() and \
             can be shared across destinations (5.7-5.8)."
        } else {
            "Add 4-tuples: spread the load over several destination addresses or ports, or several \
             local addresses; a connection needs only a unique (local IP, local port, remote IP, \
             remote port) (tcp-facts 5.3)."
        },
    ));
    match ctx.os {
        SourceOs::Linux => {
            if ctx.range.usable < 40_000 {
                f.remedies.push(widen_range(ctx));
            }
            if tw * 2 >= in_use {
                if let Some(r) = reuse_remedy(ctx, k.remote_ip.is_loopback()) {
                    f.remedies.push(r);
                }
            }
        }
        SourceOs::Windows => {
            f.remedies.push(
                Remedy::new(
                    RemedyLevel::Kernel,
                    "Windows Vista/2008 and later: check and widen the dynamic port range \
                     (default 49152-65535, 16,384 ports; start >= 1025, at least 255 ports). On \
                     Windows 2000/2003 the limit is MaxUserPort (default 5000). Event IDs 4227 \
                     and 4231 in the System log confirm exhaustion (tcp-facts 12.3-12.5).",
                )
                .cmd("netsh int ipv4 show dynamicport tcp")
                .cmd("netsh int ipv4 set dynamicport tcp start=10000 num=55536")
                .cmd("netstat -anobq"),
            );
            if let Some(r) = os_tw_remedy(ctx.os) {
                f.remedies.push(r);
            }
        }
        _ => {
            if let Some(r) = os_tw_remedy(ctx.os) {
                f.remedies.push(r);
            }
        }
    }
    linux_tw_avoids(ctx, &mut f);
    vec![f]
}

fn linux_tw_avoids(ctx: &Ctx<'_>, f: &mut Finding) {
    if ctx.os == SourceOs::Linux {
        f.avoid.push(avoid_recycle());
        f.avoid.push(avoid_fin_timeout_for_tw());
        f.avoid.push(avoid_lower_buckets());
    }
    f.avoid.push(avoid_linger0());
}

/// `tw-bucket-overflow`: TCPTimeWaitOverflow rising, or sockstat tw at tcp_max_tw_buckets.
pub(crate) fn tw_bucket_overflow(ctx: &Ctx<'_>) -> Vec<Finding> {
    if ctx.os != SourceOs::Linux {
        return Vec::new();
    }
    let delta = ctx.ext_delta("TCPTimeWaitOverflow");
    let total = ctx.ext_total("TCPTimeWaitOverflow");
    let limit = ctx.sysctl("net.ipv4.tcp_max_tw_buckets");
    let tw = ctx.k.sockstat.map(|s| s.tw);
    let fill = match (tw, limit) {
        (Some(t), Some(l)) if l > 0 => Some(t as f64 / l as f64),
        _ => None,
    };
    let rising = delta.is_some_and(|d| d > 0);
    let at_limit = fill.is_some_and(|f| f >= 0.98);
    let near = fill.is_some_and(|f| f >= 0.80);
    let since_boot = delta.is_none() && total.is_some_and(|t| t > 0);
    let sev = if rising || at_limit {
        Severity::Critical
    } else if near || since_boot {
        Severity::Warning
    } else {
        return Vec::new();
    };
    let summary = if rising {
        format!(
            "{} connections closed without TIME_WAIT in the last {} (TCPTimeWaitOverflow): tcp_max_tw_buckets is full",
            n(delta.unwrap_or(0) as u64),
            dur(ctx.rates.as_ref().map(|r| r.interval_s).unwrap_or(0.0))
        )
    } else if let (Some(t), Some(l)) = (tw, limit) {
        format!(
            "{} TIME_WAIT slots used of {} (tcp_max_tw_buckets, {})",
            n(t),
            n(l),
            pct(fill.unwrap_or(0.0))
        )
    } else {
        format!(
            "TCPTimeWaitOverflow is {} since boot: connections have been closed without TIME_WAIT",
            n(total.unwrap_or(0))
        )
    };
    let mut f = Finding::new("tw-bucket-overflow", sev, summary)
        .facts(&["1.7", "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "11.6"]);
    let e = &mut f.evidence;
    if let Some(d) = delta {
        e.metric(
            "overflow_delta",
            Value::Int(d),
            None,
            "TCPTimeWaitOverflow increase over the interval",
        );
        if let Some(r) = &ctx.rates {
            e.metric(
                "overflow_per_s",
                Value::Float(d as f64 / r.interval_s),
                Some("/s"),
                "connections per second that got no TIME_WAIT",
            );
        }
    }
    if let Some(t) = total {
        e.metric(
            "overflow_total",
            Value::Int(t as i64),
            None,
            "TCPTimeWaitOverflow since boot",
        );
    }
    if let Some(t) = tw {
        e.metric(
            "sockstat_tw",
            Value::Int(t as i64),
            Some("sockets"),
            "sockstat tw: TIME_WAIT plus FIN_WAIT2 mini-sockets of this netns",
        );
    }
    if let Some(l) = limit {
        e.metric(
            "tcp_max_tw_buckets",
            Value::Int(l as i64),
            None,
            "net.ipv4.tcp_max_tw_buckets",
        );
    }
    if let Some(fr) = fill {
        e.metric(
            "fill_pct",
            Value::Float(fr * 100.0),
            Some("%"),
            "tw / tcp_max_tw_buckets",
        );
    }
    f.explanation = "tcp_max_tw_buckets caps the TIME_WAIT sockets one network namespace holds \
        (tcp-facts 4.1, 4.3); FIN_WAIT2 mini-sockets of orphans count against it too (1.7, 4.6). \
        Past the cap the closing connection gets no TIME_WAIT at all: it is closed at once and \
        TCPTimeWaitOverflow is incremented (4.4). Mainline kernels print nothing for this; the \
        old \"time wait bucket table overflow\" message is absent on 3.x-6.x, so its absence \
        proves nothing: read the counter (4.5)."
        .to_string();
    f.remedies.push(Remedy::new(
        RemedyLevel::Application,
        "Reduce the churn that fills the table: see the time-wait-server-side / time-wait-client-side \
         findings for who closes first and pool or keep alive those connections.",
    ));
    let target = match (tw, limit) {
        (Some(t), Some(l)) => (t.max(l) * 2).max(262_144),
        (_, Some(l)) => (l * 2).max(262_144),
        _ => 262_144,
    };
    f.remedies.push(
        Remedy::new(
            RemedyLevel::Kernel,
            format!(
                "Raise tcp_max_tw_buckets (the default is half the established-hash size, which \
                 scales with RAM: tcp-facts 4.2). A TIME_WAIT socket costs ~168 bytes, so {} slots \
                 cost about {} MiB (5.10).",
                n(target),
                n(target * 168 / (1024 * 1024))
            ),
        )
        .cmd(format!("sysctl -w net.ipv4.tcp_max_tw_buckets={target}"))
        .cmd(persist("net.ipv4.tcp_max_tw_buckets", &target.to_string())),
    );
    f.avoid.push(avoid_lower_buckets());
    f.avoid.push(Avoid::new(
        "grep dmesg for \"time wait bucket table overflow\"",
        "Mainline kernels (3.x to 6.x) only bump TCPTimeWaitOverflow; the message comes from \
         2.4/2.6-era and some vendor kernels (tcp-facts 4.5).",
    ));
    f.avoid.push(avoid_recycle());
    vec![f]
}

/// Widen the ephemeral range: back to the default when it is smaller, else to 15000-64999;
/// ports listened on inside the new range go to ip_local_reserved_ports (tcp-facts 5.1-5.2).
pub(crate) fn widen_range(ctx: &Ctx<'_>) -> Remedy {
    let (lo, hi) = if ctx.range.usable < 28_232 {
        (32768u16, 60999u16)
    } else {
        (15000, 64999)
    };
    let inside: Vec<String> = ctx
        .obs
        .listening
        .iter()
        .filter(|p| *p >= lo && *p <= hi)
        .map(|p| p.to_string())
        .collect();
    let mut r = Remedy::new(
        RemedyLevel::Kernel,
        format!(
            "Widen the range from {}-{} ({} usable ports) to {lo}-{hi} ({} ports); the two ends \
             keep different parity, as the kernel wants (tcp-facts 5.1){}.",
            ctx.range.low,
            ctx.range.high,
            n(ctx.range.usable),
            n(u64::from(hi - lo) + 1),
            if inside.is_empty() {
                String::new()
            } else {
                format!(
                    ", and the ports listened on here inside it ({}) are reserved so connect() never takes them (5.2)",
                    inside.join(",")
                )
            }
        ),
    );
    if !inside.is_empty() {
        r = r.cmd(format!(
            "sysctl -w net.ipv4.ip_local_reserved_ports={}",
            inside.join(",")
        ));
    }
    r.cmd(format!(
        "sysctl -w net.ipv4.ip_local_port_range=\"{lo} {hi}\""
    ))
    .cmd(persist(
        "net.ipv4.ip_local_port_range",
        &format!("{lo} {hi}"),
    ))
}
