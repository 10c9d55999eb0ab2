//! CLOSE_WAIT leaks and connection growth across scans.

use super::*;
use crate::finding::{EvidenceGroup, GroupKind, Metric, Severity, Value};
use crate::observe::ProcessStats;
use crate::trend::{Owner, STATES};
use std::net::IpAddr;
use tcpdoctor_model::TcpState;

fn persisting(ctx: &Ctx<'_>) -> Option<(u64, f64)> {
    let first = ctx.first?;
    if first.close_wait_ids.is_empty() && ctx.obs.close_wait_ids.is_empty() {
        return None;
    }
    let both = ctx
        .obs
        .close_wait_ids
        .iter()
        .filter(|id| first.close_wait_ids.contains(id))
        .count();
    Some((both as u64, ctx.interval_s.unwrap_or(0.0)))
}

fn remote_str(ip: IpAddr, port: u16) -> String {
    if ip.is_ipv6() {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

fn common_texts(f: &mut Finding, who: &str, any_mysql: bool) {
    f.remedies.push(Remedy::new(
        RemedyLevel::Application,
        format!(
            "Fix {who}: when read()/recv() returns 0 (EOF) the peer has closed; the code must then \
             close() the socket, on every path (finally / with / defer / try-with-resources)."
        ),
    ));
    f.remedies.push(Remedy::new(
        RemedyLevel::Application,
        if any_mysql {
            "For a MySQL pool: validate connections before use and evict idle ones before the \
             server's wait_timeout (default 28,800 s) closes them (tcp-facts 14.3, 14.8)."
        } else {
            "For a connection pool: validate connections before use and evict idle ones before \
             the server's idle timeout closes them, so half-closed connections are closed rather \
             than parked."
        },
    ));
    f.avoid.push(Avoid::new(
        "net.ipv4.tcp_fin_timeout / tcp_max_orphans",
        "They govern connections the application has already closed (orphans in FIN_WAIT_2 and \
         friends); a CLOSE_WAIT socket is still open in the application (it has an inode), so no \
         sysctl reaches it (tcp-facts 1.6, 8.10).",
    ));
    f.avoid.push(Avoid::new(
        "net.ipv4.tcp_tw_reuse / tcp_tw_recycle",
        "TIME_WAIT settings; CLOSE_WAIT is the other end of the close, on the passive side \
         (tcp-facts 2.4, 3.4).",
    ));
    f.avoid.push(Avoid::new(
        "raising the open-files limit (ulimit -n) or the server's connection limit",
        "Only postpones \"Too many open files\" / \"Too many connections\"; the leak keeps \
         growing (tcp-facts 14.4, 14.8).",
    ));
}

/// `close-wait-leak`.
pub(crate) fn close_wait_leak(ctx: &Ctx<'_>) -> Vec<Finding> {
    let o = ctx.obs;
    let cw_total = o.states.get(TcpState::CloseWait);
    if cw_total == 0 {
        return Vec::new();
    }
    let persist = persisting(ctx);
    let persist_n = persist.map(|p| p.0).unwrap_or(0);
    let min = if persist_n >= CLOSE_WAIT_PERSIST_MIN {
        CLOSE_WAIT_PERSIST_MIN
    } else {
        CLOSE_WAIT_MIN
    };
    let mut procs: Vec<&ProcessStats> = o
        .processes
        .values()
        .filter(|p| p.states.get(TcpState::CloseWait) >= min)
        .collect();
    procs.sort_by(|a, b| {
        b.states
            .get(TcpState::CloseWait)
            .cmp(&a.states.get(TcpState::CloseWait))
            .then(a.process.pid.cmp(&b.process.pid))
    });
    let mut out = Vec::new();
    for p in procs.iter().take(3) {
        let cw = p.states.get(TcpState::CloseWait);
        let pr = &p.process;
        let sev = if cw >= CLOSE_WAIT_CRIT {
            Severity::Critical
        } else {
            Severity::Warning
        };
        // Windows `netstat -ano` gives a pid without a name.
        let name = if pr.comm.is_empty() {
            format!("process {}", pr.pid)
        } else {
            pr.comm.clone()
        };
        let who = if pr.comm.is_empty() {
            format!("pid {}", pr.pid)
        } else {
            format!("{} (pid {})", pr.comm, pr.pid)
        };
        let mut f = Finding::new(
            "close-wait-leak",
            sev,
            format!(
                "{who} holds {} CLOSE_WAIT sockets: the peers closed, the application never did",
                n(cw)
            ),
        )
        .facts(&["1.6", "8.10", "9.6", "9.12", "10.4", "14.3", "14.8"]);
        let e = &mut f.evidence;
        e.metric("pid", Value::Int(i64::from(pr.pid)), None, "process id");
        e.metric(
            "close_wait",
            Value::Int(cw as i64),
            Some("sockets"),
            "CLOSE_WAIT held by the process",
        );
        e.metric(
            "share_pct",
            Value::Float(cw as f64 / p.states.total().max(1) as f64 * 100.0),
            Some("%"),
            "share of the process's TCP sockets",
        );
        e.metric(
            "unread",
            Value::Int(p.close_wait_unread as i64),
            Some("sockets"),
            "CLOSE_WAIT with unread data (Recv-Q > 0)",
        );
        let [none, on, ka, persist_t] = p.close_wait_timers;
        if o.with_timer > 0 {
            e.metric(
                "no_timer",
                Value::Int(none as i64),
                Some("sockets"),
                "CLOSE_WAIT with no timer running: nothing in flight, idle",
            );
            if ka > 0 {
                e.metric(
                    "keepalive",
                    Value::Int(ka as i64),
                    Some("sockets"),
                    "CLOSE_WAIT with a keepalive timer",
                );
                e.metric(
                    "max_keepalive_probes",
                    Value::Int(i64::from(p.close_wait_max_probes)),
                    None,
                    "most keepalive probes sent on one of them",
                );
            }
            if on + persist_t > 0 {
                e.metric("sending", Value::Int((on + persist_t) as i64), Some("sockets"), "CLOSE_WAIT with a retransmit or zero-window timer: the application still writes");
            }
        }
        if let Some((both, secs)) = persist {
            e.metric(
                "persisting",
                Value::Int(both as i64),
                Some("sockets"),
                &format!("CLOSE_WAIT sockets (all processes) already in CLOSE_WAIT at the first scan, {} earlier", dur(secs)),
            );
        }
        let mut g = EvidenceGroup {
            kind: GroupKind::Process,
            key: format!("pid:{}", pr.pid),
            label: if pr.cmdline.is_empty() {
                pr.comm.clone()
            } else {
                pr.cmdline.clone()
            },
            count: cw,
            states: Some(p.states),
            metrics: Vec::new(),
        };
        if let Some(c) = &pr.container {
            g.metrics.push(Metric {
                name: "container".into(),
                value: Value::Text(c.clone()),
                unit: None,
                label: "container id".into(),
            });
        }
        e.groups.push(g);
        let mut remotes: Vec<(&(IpAddr, u16), &u64)> = p.close_wait_remotes.iter().collect();
        remotes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let any_mysql = remotes.iter().any(|((_, port), _)| *port == 3306);
        for ((ip, port), c) in remotes.iter().take(5) {
            // Port 0: the clients from `ip` of a port this process listens on.
            let (kind, key, label) = if *port == 0 {
                (GroupKind::Peer, ip.to_string(), format!("client {ip}"))
            } else {
                (
                    GroupKind::RemoteService,
                    remote_str(*ip, *port),
                    format!("{} at {ip}", ctx.port_label(*port)),
                )
            };
            e.groups.push(EvidenceGroup {
                kind,
                key,
                label,
                count: **c,
                states: None,
                metrics: Vec::new(),
            });
        }
        e.samples = p.samples.clone();
        let mut idle = String::new();
        if p.close_wait_unread > 0 {
            idle.push_str(&format!(
                " {} of them still hold unread data: the application stopped reading before the peer's FIN.",
                n(p.close_wait_unread)
            ));
        }
        if o.with_timer > 0 && none > 0 {
            idle.push_str(&format!(
                " {} have no timer running at all: nothing is in flight, they are idle (tcp-facts 9.6).",
                n(none)
            ));
        }
        if let Some((both, secs)) = persist {
            if both > 0 && secs > 0.0 {
                idle.push_str(&format!(
                    " {} CLOSE_WAIT sockets were already there at the first scan, so they have been idle for at least {}.",
                    n(both),
                    dur(secs)
                ));
            }
        }
        f.explanation = format!(
            "The peer sent its FIN first; the kernel acknowledged it and moved the socket to \
             CLOSE_WAIT, where it stays until {} calls close(): the socket is still open in the \
             process (it has an inode, tcp-facts 8.10), and the kernel does not close it on the \
             application's behalf (14.3). Each \
             one also holds a file descriptor.{}{}",
            name,
            idle,
            if any_mysql {
                " The peers include MySQL (3306): mysqld closes connections idle past wait_timeout \
                 (default 28,800 s) and a pool that never notices keeps them in CLOSE_WAIT (14.3, 14.8)."
            } else {
                ""
            }
        );
        common_texts(&mut f, &who, any_mysql);
        let restart = Remedy::new(
            RemedyLevel::Operations,
            format!(
                "Restarting {name} releases all {} at once; that treats the symptom. List them:",
                n(cw)
            ),
        );
        f.remedies.push(match ctx.os {
            SourceOs::Linux => restart
                .cmd(format!(
                    "ss -tanpo state close-wait | grep 'pid={},'",
                    pr.pid
                ))
                .cmd(format!(
                    "ls /proc/{}/fd | wc -l; grep 'open files' /proc/{}/limits",
                    pr.pid, pr.pid
                )),
            SourceOs::Windows => restart.cmd(format!(
                "netstat -ano | findstr CLOSE_WAIT | findstr \" {}\"",
                pr.pid
            )),
            _ => restart.cmd(format!("lsof -nP -a -p {} -iTCP -sTCP:CLOSE_WAIT", pr.pid)),
        });
        f.remedies.push(Remedy::new(
            RemedyLevel::Kernel,
            if ctx.os == SourceOs::Linux {
                "No kernel setting fixes this: only the application's close() ends CLOSE_WAIT. As \
                 a stopgap `ss -K state close-wait` can destroy them from outside (SOCK_DESTROY: \
                 root, and a kernel built with INET_DIAG_DESTROY, tcp-facts 9.12)."
            } else {
                "No OS setting fixes this: only the application's close() ends CLOSE_WAIT (tcp-facts 14.3)."
            },
        ));
        out.push(f);
    }
    if !out.is_empty() || o.owners_resolved && !o.processes.is_empty() {
        return out;
    }
    // No owners known: group by service.
    let mut svcs: Vec<(&(bool, u16), &u64)> = o
        .close_wait_by_service
        .iter()
        .filter(|(_, c)| **c >= min)
        .collect();
    if svcs.is_empty() {
        return out;
    }
    svcs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let sum: u64 = svcs.iter().map(|(_, c)| **c).sum();
    let sev = if *svcs[0].1 >= CLOSE_WAIT_CRIT {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let ((local, port), c) = svcs[0];
    let any_mysql = svcs.iter().any(|((l, p), _)| !*l && *p == 3306);
    let mut f = Finding::new(
        "close-wait-leak",
        sev,
        format!(
            "{} CLOSE_WAIT sockets ({} on {} port {}): the peers closed, the owning application never did",
            n(sum),
            n(*c),
            if *local { "local" } else { "remote" },
            ctx.port_label(*port)
        ),
    )
    .facts(&["8.10", "14.3", "14.8"]);
    f.evidence.metric(
        "close_wait",
        Value::Int(cw_total as i64),
        Some("sockets"),
        "CLOSE_WAIT in all",
    );
    for ((l, p), c) in svcs.iter().take(5) {
        f.evidence.groups.push(EvidenceGroup {
            kind: if *l {
                GroupKind::LocalPort
            } else {
                GroupKind::RemoteService
            },
            key: format!("{}:{p}", if *l { "local" } else { "remote" }),
            label: ctx.port_label(*p),
            count: **c,
            states: None,
            metrics: Vec::new(),
        });
    }
    f.explanation = "The peer sent its FIN first; the kernel acknowledged it and the socket \
        waits in CLOSE_WAIT until the owning process calls close() (tcp-facts 14.3). The owner \
        is not known from this input; on the host run `ss -tanp state close-wait` or \
        `tcpdoctor ls --state close-wait -p` as root to name it."
        .to_string();
    common_texts(&mut f, "the owning application", any_mysql);
    out.push(f);
    out
}

/// A series of one count across observations, for growth.
struct Series {
    kind: GroupKind,
    key: String,
    label: String,
    state: TcpState,
    /// The counts shown (every scan, or evenly spaced ones and the last).
    values: Vec<u64>,
    first: u64,
    last: u64,
}

/// Growth enough to report, for a series that never decreased (the trend drops the others).
fn grows(first: u64, last: u64) -> bool {
    last.saturating_sub(first) >= 20.max(first / 5)
}

/// `connection-growth`: with two or more observations, ESTABLISHED or CLOSE_WAIT growing per
/// process or per peer.
pub(crate) fn connection_growth(ctx: &Ctx<'_>) -> Vec<Finding> {
    if ctx.scans < 2 {
        return Vec::new();
    }
    // Processes and peers of the first scan still there at the last (the trend follows only
    // what existed at the first scan: a process started since then ramps up from zero, which
    // is not a leak).
    let mut series = Vec::new();
    for f in ctx.trend.present() {
        for (st, s) in STATES.iter().zip(&f.series) {
            let Some(s) = s else { continue };
            if !grows(s.first, s.last) {
                continue;
            }
            let (kind, key, label) = match &f.owner {
                Owner::Process(pid, comm) => (
                    GroupKind::Process,
                    format!("pid:{pid}"),
                    if comm.is_empty() {
                        format!("pid {pid}")
                    } else {
                        format!("{comm} (pid {pid})")
                    },
                ),
                Owner::Peer(ip) => (GroupKind::Peer, ip.to_string(), format!("peer {ip}")),
            };
            series.push(Series {
                kind,
                key,
                label,
                state: *st,
                values: ctx.trend.shown(s),
                first: s.first,
                last: s.last,
            });
        }
    }
    if series.is_empty() {
        return Vec::new();
    }
    let growth = |s: &Series| s.last.saturating_sub(s.first);
    series.sort_by(|a, b| {
        let ka = (
            a.kind == GroupKind::Process,
            a.state == TcpState::CloseWait,
            growth(a),
        );
        let kb = (
            b.kind == GroupKind::Process,
            b.state == TcpState::CloseWait,
            growth(b),
        );
        kb.cmp(&ka).then(a.key.cmp(&b.key))
    });
    let secs = ctx.interval_s.filter(|s| *s > 0.0);
    let top = &series[0];
    let g = growth(top);
    let any_cw = series.iter().any(|s| s.state == TcpState::CloseWait);
    let sev = if any_cw || ctx.scans >= 3 {
        Severity::Warning
    } else {
        Severity::Info
    };
    let per_min = secs.map(|s| g as f64 / s * 60.0);
    let mut f = Finding::new(
        "connection-growth",
        sev,
        format!(
            "{} {} grew from {} to {}{} across {} scans",
            top.label,
            top.state.name(),
            n(top.first),
            n(top.last),
            per_min
                .map(|r| format!(" (+{}/min)", rate(r)))
                .unwrap_or_default(),
            ctx.scans
        ),
    )
    .facts(&["14.4", "14.5", "14.8"]);
    f.evidence.metric(
        "scans",
        Value::Int(ctx.scans as i64),
        None,
        "observations compared",
    );
    if let Some(s) = secs {
        f.evidence.metric(
            "interval_s",
            Value::Float(s),
            Some("s"),
            "time from the first to the last scan",
        );
    }
    let spacing = ctx.trend.spacing();
    for s in series.iter().take(6) {
        let g = growth(s);
        let mut metrics = vec![Metric {
            name: "state".into(),
            value: Value::Text(s.state.name().to_string()),
            unit: None,
            label: "the state that grows".into(),
        }];
        metrics.push(Metric {
            name: "series".into(),
            value: Value::Text(
                s.values
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(" -> "),
            ),
            unit: None,
            label: if spacing == 1 {
                format!("{} count per scan", s.state.name())
            } else {
                format!(
                    "{} count every {spacing} scans of {}{}",
                    s.state.name(),
                    ctx.scans,
                    if (ctx.scans - 1) % spacing == 0 {
                        ""
                    } else {
                        ", and at the last"
                    }
                )
            },
        });
        if let Some(secs) = secs {
            metrics.push(Metric {
                name: "per_min".into(),
                value: Value::Float(g as f64 / secs * 60.0),
                unit: Some("/min".into()),
                label: "growth per minute".into(),
            });
        }
        f.evidence.groups.push(EvidenceGroup {
            kind: s.kind,
            // The documented group key (`pid:1234`, an address); the state is a metric, so a
            // process growing in two states has two groups with the same key.
            key: s.key.clone(),
            label: format!("{} {}", s.label, s.state.name()),
            count: g,
            states: None,
            metrics,
        });
    }
    f.explanation = format!(
        "A healthy pool holds a stable number of connections; a leak grows monotonically, scan \
         after scan (tcp-facts 14.8). {}{}",
        if any_cw {
            "Growing CLOSE_WAIT means peers close and the application does not: see close-wait-leak. "
        } else {
            "Growing ESTABLISHED means connections are opened and never returned or closed; against a \
             database this ends in \"Too many connections\" (MySQL: max_connections, default 151, \
             14.4). "
        },
        if ctx.scans < 3 {
            "Two scans show a trend, not a leak: compare a longer run (--interval with several scans)."
        } else {
            ""
        }
    )
    .trim_end()
    .to_string();
    f.remedies.push(Remedy::new(
        RemedyLevel::Application,
        "Check that every connection taken from a pool is returned (or closed) on every path, and \
         that the pool has a maximum size; a bounded pool stops growing.",
    ));
    f.remedies.push(
        Remedy::new(
            RemedyLevel::Operations,
            "Watch the trend over a longer window before acting on it:",
        )
        .cmd("tcpdoctor --interval 60s --json"),
    );
    f.avoid.push(Avoid::new(
        "raising the server's connection limit",
        "Only moves the wall; a leak grows until any limit is reached (tcp-facts 14.4, 14.8).",
    ));
    vec![f]
}
