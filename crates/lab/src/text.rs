//! Human-readable output of the lab.

use crate::check::CheckOutcome;
use crate::clean::CleanReport;
use crate::report::DiagReport;
use crate::run::{RunOutcome, CLIENT_ADDR, SERVER_ADDR};
use crate::scenario::{Expect, Scenario, Side};
use crate::worker::Stats;
use std::fmt::Write;

const STATES: [&str; 11] = [
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
];

fn expects_of(s: &Scenario, side: Side) -> String {
    let v: Vec<String> = s
        .expects
        .iter()
        .filter(|e| e.side == side)
        .map(|e: &Expect| {
            if e.present {
                e.id.to_string()
            } else {
                format!("no {}", e.id)
            }
        })
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

/// One line of the side-by-side table: label, client and server reports, MySQL threads.
type Row<'a> = (
    String,
    Option<&'a DiagReport>,
    Option<&'a DiagReport>,
    Option<u64>,
);

/// `lab list`: one scenario per line.
pub fn list(scenarios: &[Scenario]) -> String {
    let w = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut o = String::new();
    for s in scenarios {
        let _ = writeln!(o, "{:w$}  {}", s.name, s.description);
        let _ = writeln!(
            o,
            "{:w$}    expects: client: {}; server: {}",
            "",
            expects_of(s, Side::Client),
            expects_of(s, Side::Server)
        );
    }
    o
}

fn stats_line(s: &Stats) -> String {
    let mut o = format!(
        "{} attempts, {} connected, {} requests answered, {} failed",
        s.attempts,
        s.connected,
        s.requests,
        s.failed()
    );
    if s.failed() > 0 {
        let _ = write!(
            o,
            " (EADDRNOTAVAIL {}, refused {}, timeout {}, other {})",
            s.failed_addrnotavail, s.failed_refused, s.failed_timeout, s.failed_other
        );
    }
    let _ = write!(
        o,
        ", {} closed, {} held open, in {:.1} s",
        s.closed,
        s.held,
        s.elapsed_ms as f64 / 1000.0
    );
    if let Some(e) = &s.first_error {
        let _ = write!(o, "; first error: {e}");
    }
    o
}

fn side_report(o: &mut String, side: Side, r: &Result<DiagReport, String>) {
    match r {
        Err(e) => {
            let _ = writeln!(o, "    tcpdoctor on the {}: no diagnosis: {e}", side.name());
        }
        Ok(r) => match &r.findings {
            None => {
                let _ = writeln!(o, "    tcpdoctor on the {}: (report without findings: this binary does not diagnose yet)", side.name());
            }
            Some(f) if f.is_empty() => {
                let _ = writeln!(o, "    tcpdoctor on the {}: no findings", side.name());
            }
            Some(f) => {
                let _ = writeln!(o, "    tcpdoctor on the {}:", side.name());
                for f in f {
                    let _ = writeln!(o, "      {:8} {}: {}", f.severity.name(), f.id, f.summary);
                }
            }
        },
    }
}

/// The report of a run.
pub fn outcome(r: &RunOutcome) -> String {
    let s = &r.scenario;
    let mut o = String::new();
    let _ = writeln!(o, "lab {}: {}", s.name, s.description);
    let ns = |side| r.namespaces.get(&side).map(String::as_str).unwrap_or("?");
    let _ = writeln!(
        o,
        "  client {} ({CLIENT_ADDR}) -> server {} ({SERVER_ADDR}:{}){}",
        ns(Side::Client),
        ns(Side::Server),
        s.port,
        s.client_port_range
            .map(|(a, b)| format!("; client ip_local_port_range {a}-{b}"))
            .unwrap_or_default()
    );
    let pid = |side| {
        r.pids
            .get(&side)
            .map(|v| v.iter().map(u32::to_string).collect::<Vec<_>>().join(","))
            .unwrap_or_default()
    };
    let _ = writeln!(
        o,
        "  processes: client pid {}, server pid {}",
        pid(Side::Client),
        pid(Side::Server)
    );
    let mut table: Vec<Row<'_>> = Vec::new();
    for ph in &r.phases {
        let _ = writeln!(
            o,
            "\nphase {}: client {:?}, {}/s for {:.1} s",
            ph.label, ph.client, s.rate, s.duration_s
        );
        if let Some(st) = &ph.client_stats {
            let _ = writeln!(o, "  client: {}", stats_line(st));
        }
        for p in &ph.probes {
            let _ = writeln!(
                o,
                "  probe {} at {:.1} s{}:",
                p.reports.label,
                p.at_ms as f64 / 1000.0,
                p.interval_s
                    .map(|i| format!(" (two readings {i} s apart)"))
                    .unwrap_or_default()
            );
            let c = p
                .reports
                .sides
                .get(&Side::Client)
                .and_then(|x| x.as_ref().ok());
            let sv = p
                .reports
                .sides
                .get(&Side::Server)
                .and_then(|x| x.as_ref().ok());
            let _ = writeln!(o, "    {:12} {:>8} {:>8}", "state", "client", "server");
            for st in STATES {
                let (a, b) = (c.map(|r| r.state(st)), sv.map(|r| r.state(st)));
                if a.unwrap_or(0) + b.unwrap_or(0) > 0 {
                    let f = |x: Option<u64>| x.map(|v| v.to_string()).unwrap_or_else(|| "?".into());
                    let _ = writeln!(o, "    {st:12} {:>8} {:>8}", f(a), f(b));
                }
            }
            let mut threads = None;
            match &p.mysql {
                Some(Ok(m)) => {
                    threads = Some(m.threads_connected);
                    let _ = writeln!(
                        o,
                        "    MySQL: Threads_connected {}, Sleep threads (lab user) {}, Max_used_connections {}, Aborted_clients {}, Connections {}, wait_timeout {} s",
                        m.threads_connected, m.sleep_threads, m.max_used_connections, m.aborted_clients, m.connections, m.wait_timeout
                    );
                }
                Some(Err(e)) => {
                    let _ = writeln!(o, "    MySQL: not read: {e}");
                }
                None => {}
            }
            for side in [Side::Client, Side::Server] {
                if let Some(rep) = p.reports.sides.get(&side) {
                    side_report(&mut o, side, rep);
                }
            }
            table.push((format!("{}/{}", ph.label, p.reports.label), c, sv, threads));
        }
    }
    if let Some(st) = &r.server_stats {
        let _ = writeln!(
            o,
            "\nserver: {} accepted, {} answered, {} closed, {} held open",
            st.connected, st.requests, st.closed, st.held
        );
    }
    if table.len() > 1 {
        let _ = writeln!(o, "\nside by side:");
        let _ = writeln!(
            o,
            "  {:28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
            "phase/probe",
            "cli ESTAB",
            "cli TW",
            "cli CW",
            "srv ESTAB",
            "srv TW",
            "srv CW",
            "threads"
        );
        for (l, c, s, t) in &table {
            let g = |r: &Option<&DiagReport>, st: &str| {
                r.map(|r| r.state(st).to_string())
                    .unwrap_or_else(|| "?".into())
            };
            let _ = writeln!(
                o,
                "  {l:28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
                g(c, "ESTABLISHED"),
                g(c, "TIME_WAIT"),
                g(c, "CLOSE_WAIT"),
                g(s, "ESTABLISHED"),
                g(s, "TIME_WAIT"),
                g(s, "CLOSE_WAIT"),
                t.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
            );
        }
    }
    let _ = writeln!(o, "\nwhy: {}", s.lesson);
    if r.kept {
        let _ = writeln!(o, "\nkept: the namespaces and processes are still there (up to 10 min); `tcpdoctor lab clean` removes them");
    }
    for e in &r.cleanup_errors {
        let _ = writeln!(o, "cleanup problem: {e}");
    }
    let _ = writeln!(o, "({:.1} s)", r.elapsed_ms as f64 / 1000.0);
    o
}

/// The `--check` verdict with expected vs got.
pub fn check(c: &CheckOutcome) -> String {
    let mut o = format!("\ncheck: {}\n", if c.passed() { "PASS" } else { "FAIL" });
    for x in &c.outcomes {
        let _ = writeln!(
            o,
            "  {} expected {}\n       got {}",
            if x.ok { "ok  " } else { "FAIL" },
            x.expected,
            x.got
        );
    }
    o
}

/// `lab clean`.
pub fn clean(r: &CleanReport) -> String {
    let mut o = String::new();
    if r.runs.is_empty() && r.namespaces.is_empty() && r.killed.is_empty() {
        o.push_str("nothing to clean\n");
    }
    for x in &r.runs {
        let _ = writeln!(o, "removed run {x}");
    }
    for x in &r.killed {
        let _ = writeln!(o, "stopped {x}");
    }
    for x in &r.namespaces {
        let _ = writeln!(o, "deleted namespace {x}");
    }
    for x in &r.live {
        let _ = writeln!(o, "left alone (still running): {x}");
    }
    for x in &r.errors {
        let _ = writeln!(o, "problem: {x}");
    }
    o
}
