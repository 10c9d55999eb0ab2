//! `mysql-connection-leak`: MySQL's own view (Sleep threads per client host, Threads_connected
//! vs max_connections) joined with the TCP view (tcp-facts 14.3-14.8, 16.8).

use super::{dur, n, pct};
use crate::engine::Ctx;
use crate::finding::{Avoid, EvidenceGroup, Finding, GroupKind, Remedy, RemedyLevel, Severity};
use crate::finding::{Metric, Value};
use crate::mysql::{
    is_growth, MysqlHostRow, MysqlSection, MYSQL_HOSTS_SHOWN, MYSQL_NEAR_MAX, MYSQL_NEAR_MAX_CRIT,
};
use crate::observe::Observation;
use std::net::IpAddr;
use tcpdoctor_model::{MysqlStatus, TcpState};

fn canon(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Builds the report's section from the readings and the last observation.
pub(crate) fn section(
    now: &MysqlStatus,
    before: Option<&MysqlStatus>,
    obs: &Observation,
) -> MysqlSection {
    let mut hosts: Vec<MysqlHostRow> = now
        .sleep_by_host
        .iter()
        .map(|h| {
            let b = before.map(|b| b.host(&h.host).map_or(0, |x| x.count));
            let peer = h
                .host
                .parse::<IpAddr>()
                .ok()
                .and_then(|ip| obs.peers.get(&canon(ip)));
            MysqlHostRow {
                host: h.host.clone(),
                sleep: h.count,
                sleep_before: b,
                growth: b.map(|b| h.count as i64 - b as i64),
                max_time_s: h.max_time_s,
                avg_time_s: h.avg_time_s,
                growing: b.is_some_and(|b| is_growth(b, h.count)),
                tcp_established: peer.map(|p| p.established),
                tcp_close_wait: peer.map(|p| p.close_wait),
            }
        })
        .collect();
    // Hosts gone since the first reading (their Sleep threads closed): shown with 0 now.
    if let Some(b) = before {
        for h in &b.sleep_by_host {
            if now.host(&h.host).is_none() {
                hosts.push(MysqlHostRow {
                    host: h.host.clone(),
                    sleep: 0,
                    sleep_before: Some(h.count),
                    growth: Some(-(h.count as i64)),
                    max_time_s: 0,
                    avg_time_s: 0.0,
                    growing: false,
                    tcp_established: None,
                    tcp_close_wait: None,
                });
            }
        }
    }
    hosts.sort_by(|a, b| {
        b.growing
            .cmp(&a.growing)
            .then(b.sleep.cmp(&a.sleep))
            .then(a.host.cmp(&b.host))
    });
    hosts.truncate(MYSQL_HOSTS_SHOWN);
    let interval_s = before.and_then(|b| {
        (b.taken_at_ms > 0 && now.taken_at_ms > b.taken_at_ms)
            .then(|| (now.taken_at_ms - b.taken_at_ms) as f64 / 1000.0)
    });
    MysqlSection {
        status: now.clone(),
        interval_s,
        connections_used_pct: if now.max_connections > 0 {
            now.threads_connected as f64 * 100.0 / now.max_connections as f64
        } else {
            0.0
        },
        sleep_threads: now.sleep_total(),
        aborted_clients_delta: before
            .map(|b| now.aborted_clients as i64 - b.aborted_clients as i64),
        threads_connected_delta: before
            .map(|b| now.threads_connected as i64 - b.threads_connected as i64),
        tcp_established_on_port: now
            .port()
            .and_then(|p| obs.by_local_port.get(&p))
            .map(|c| c.get(TcpState::Established)),
        hosts,
    }
}

fn metric(name: &str, value: Value, unit: Option<&str>, label: &str) -> Metric {
    Metric {
        name: name.to_string(),
        value,
        unit: unit.map(str::to_string),
        label: label.to_string(),
    }
}

pub(crate) fn connection_leak(ctx: &Ctx<'_>) -> Vec<Finding> {
    let Some(sec) = ctx.mysql.as_ref() else {
        return Vec::new();
    };
    let st = &sec.status;
    let max = st.max_connections;
    let sleep = sec.sleep_threads;
    let used = if max > 0 {
        sleep as f64 / max as f64
    } else {
        0.0
    };
    let limit_hit = max > 0 && st.threads_connected > max && sleep * 2 >= st.threads_connected;
    let growing: Vec<&MysqlHostRow> = sec.hosts.iter().filter(|h| h.growing).collect();
    let severity = if used >= MYSQL_NEAR_MAX_CRIT || limit_hit {
        Severity::Critical
    } else if used >= MYSQL_NEAR_MAX || !growing.is_empty() {
        Severity::Warning
    } else {
        return Vec::new();
    };
    let per = |s: Option<f64>| s.map(|s| format!(" in {}", dur(s))).unwrap_or_default();
    let summary = match growing.first() {
        Some(h) => format!(
            "Sleep threads from {} grew {} -> {}{}; {} of {} max_connections in use",
            h.host,
            n(h.sleep_before.unwrap_or(0)),
            n(h.sleep),
            per(sec.interval_s),
            n(st.threads_connected),
            n(max)
        ),
        None => format!(
            "{} idle (Sleep) connections hold {} of max_connections {}; {} connected",
            n(sleep),
            pct(used),
            n(max),
            n(st.threads_connected)
        ),
    };
    let mut f = Finding::new("mysql-connection-leak", severity, summary);
    let e = &mut f.evidence;
    e.metric(
        "threads_connected",
        Value::Int(st.threads_connected as i64),
        None,
        "Threads_connected",
    );
    e.metric(
        "max_connections",
        Value::Int(max as i64),
        None,
        "max_connections",
    );
    e.metric(
        "sleep_threads",
        Value::Int(sleep as i64),
        None,
        "Sleep threads (all hosts)",
    );
    e.metric(
        "wait_timeout",
        Value::Int(st.wait_timeout as i64),
        Some("s"),
        "wait_timeout",
    );
    if let Some(d) = sec.aborted_clients_delta {
        e.metric(
            "aborted_clients_delta",
            Value::Int(d),
            None,
            "Aborted_clients since the first reading",
        );
    }
    e.metric(
        "aborted_clients",
        Value::Int(st.aborted_clients as i64),
        None,
        "Aborted_clients since start",
    );
    e.metric(
        "max_used_connections",
        Value::Int(st.max_used_connections as i64),
        None,
        "Max_used_connections",
    );
    e.metric(
        "connections_used_pct",
        Value::Float(sec.connections_used_pct),
        Some("%"),
        "Threads_connected of max_connections",
    );
    e.metric(
        "sleep_used_pct",
        Value::Float(used * 100.0),
        Some("%"),
        "Sleep threads of max_connections",
    );
    if let Some(t) = sec.tcp_established_on_port {
        e.metric(
            "tcp_established_on_port",
            Value::Int(t as i64),
            None,
            "ESTABLISHED sockets on the server port (TCP view)",
        );
    }
    for h in sec.hosts.iter().filter(|h| h.sleep > 0).take(10) {
        let mut label = format!("Sleep threads from {}", h.host);
        if let (Some(b), Some(g)) = (h.sleep_before, h.growth) {
            label.push_str(&format!(" (was {}, {g:+})", n(b)));
        }
        label.push_str(&format!(", idle up to {}", dur(h.max_time_s as f64)));
        if let Some(t) = h.tcp_established {
            label.push_str(&format!("; {} ESTABLISHED in the TCP view", n(t)));
        }
        let mut metrics = vec![
            metric("sleep", Value::Int(h.sleep as i64), None, "Sleep threads"),
            metric(
                "max_time_s",
                Value::Int(h.max_time_s as i64),
                Some("s"),
                "longest idle time",
            ),
            metric(
                "avg_time_s",
                Value::Float(h.avg_time_s),
                Some("s"),
                "mean idle time",
            ),
        ];
        if let Some(g) = h.growth {
            metrics.push(metric(
                "growth",
                Value::Int(g),
                None,
                "Sleep threads since the first reading",
            ));
        }
        if let Some(t) = h.tcp_established {
            metrics.push(metric(
                "tcp_established",
                Value::Int(t as i64),
                None,
                "ESTABLISHED sockets from this host",
            ));
        }
        e.groups.push(EvidenceGroup {
            kind: GroupKind::Peer,
            key: h.host.clone(),
            label,
            count: h.sleep,
            states: None,
            metrics,
        });
    }
    if let Some(h) = growing.first() {
        e.metric(
            "top_host",
            Value::Text(h.host.clone()),
            None,
            "fastest-growing client host",
        );
        if let Some(g) = h.growth {
            e.metric(
                "top_host_growth",
                Value::Int(g),
                None,
                "its Sleep threads since the first reading",
            );
        }
    }
    let wt = st.wait_timeout;
    f.explanation = format!(
        "A Sleep thread is a connection the server holds open while it waits for the client's \
         next statement; its Time is how long it has been idle (tcp-facts 14.7), and \
         Threads_connected counts every open connection (14.5). An application that opens \
         connections and never closes or returns them shows exactly this: Sleep threads from its \
         host that keep growing, with growing idle times, and Threads_connected climbing toward \
         max_connections ({max} here; the server admits max_connections+1, the last one for an \
         administrator, then answers \"Too many connections\", 14.4). A healthy pool also keeps \
         Sleep threads, but a stable number of them; a leak grows monotonically (14.8). After \
         wait_timeout ({}) the server closes an idle connection itself: the server side gets the \
         TIME_WAIT, the application host keeps a CLOSE_WAIT socket until the application touches \
         or closes it, and Aborted_clients grows (14.3, 14.6). Never-closed connections do not \
         produce a stream of TIME_WAIT on the server (16.8).",
        dur(wt as f64)
    );
    let who = growing
        .first()
        .map(|h| format!(" on {}", h.host))
        .unwrap_or_default();
    f.remedies.push(Remedy::new(
        RemedyLevel::Application,
        format!(
            "Close or return every connection on every code path of the application{who} \
             (try/finally, with/using, defer; error paths included): a leaked connection stays a \
             Sleep thread until wait_timeout."
        ),
    ));
    f.remedies.push(Remedy::new(
        RemedyLevel::Application,
        format!(
            "Use a connection pool with a maximum size per instance so that all instances together \
             stay well below max_connections ({max}), and an idle timeout / max lifetime below \
             wait_timeout ({wt} s), so the pool retires idle connections before the server kills \
             them (e.g. HikariCP maximumPoolSize, idleTimeout and maxLifetime; Go \
             SetMaxOpenConns and SetConnMaxIdleTime)."
        ),
    ));
    f.remedies.push(
        Remedy::new(
            RemedyLevel::Operations,
            "Find the process that holds the connections: on the client host, the sockets to the \
             database port and their owners; on the server, the Sleep threads per host and user.",
        )
        .cmd(format!(
            "ss -tnp state established '( dport = :{} )'",
            st.port().unwrap_or(3306)
        ))
        .cmd(
            "mysql -e \"SELECT SUBSTRING_INDEX(HOST,':',1) AS host, USER, COUNT(*), MAX(TIME) \
             FROM information_schema.PROCESSLIST WHERE COMMAND='Sleep' GROUP BY 1, 2 ORDER BY 3 DESC\"",
        ),
    );
    let lower = (wt / 2).clamp(60, 600);
    f.remedies.push(
        Remedy::new(
            RemedyLevel::Operations,
            format!(
                "Stopgap on the server while the application is fixed: a lower wait_timeout \
                 (e.g. {lower} s instead of {wt} s) makes the server close leaked idle connections \
                 sooner. The application then meets closed connections (\"server has gone away\", \
                 CLOSE_WAIT sockets on its host) and Aborted_clients grows (tcp-facts 14.3, 14.6); \
                 persist it in the server configuration ([mysqld] wait_timeout) if you keep it."
            ),
        )
        .cmd(format!("mysql -e 'SET GLOBAL wait_timeout = {lower}'")),
    );
    f.avoid.push(Avoid::new(
        "raising max_connections alone",
        "A leak fills any limit: more connections only postpone \"Too many connections\" and cost \
         the server a thread and buffers for every idle connection (tcp-facts 14.4, 14.8).",
    ));
    f.avoid.push(Avoid::new(
        "net.ipv4.tcp_tw_reuse / tcp_tw_recycle and other tcp_tw_* sysctls",
        "Leaked connections are ESTABLISHED (CLOSE_WAIT on the application host after \
         wait_timeout), not TIME_WAIT: the tcp_tw_* settings do not touch them; tcp_tw_recycle \
         was removed in Linux 4.12 (tcp-facts 16.2, 16.3, 16.8).",
    ));
    if !st.processlist_complete {
        f.remedies.push(Remedy::new(
            RemedyLevel::Operations,
            "The account used to read the server lacks the PROCESS privilege, so only its own \
             threads were counted per host: read again with an account that has it for the full \
             picture.",
        ));
    }
    vec![f.facts(&[
        "14.3", "14.4", "14.5", "14.6", "14.7", "14.8", "16.2", "16.3", "16.8",
    ])]
}
