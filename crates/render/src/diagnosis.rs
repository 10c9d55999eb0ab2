//! `tcpdoctor` (the diagnosis): a short state summary, then the findings, worst first.
//!
//! The default view is meant to fit a terminal for a typical host: per finding the summary,
//! the key evidence (a few numbers and the top groups), why, what to do (with commands), and
//! what not to do. `verbose` adds every metric, group, sample socket and fact reference.

use crate::fmt::{thousands, Paint, Style};
use crate::summary::{provenance_line, render_gaps};
use serde::Serialize;
use tcpdoctor_diagnose::{Finding, MysqlSection, Report, Severity};
use tcpdoctor_model::{ScanInfo, StateCounts};

/// The `tcpdoctor --json` object: the diagnosis [`Report`] plus `report` and `scan`.
#[derive(Debug, Serialize)]
pub struct DiagnosisJson<'a> {
    /// Always `diagnosis`.
    pub report: &'static str,
    /// The diagnosis (its fields appear at the top level).
    #[serde(flatten)]
    pub diagnosis: &'a Report,
    /// Provenance and gaps of the (last) scan.
    pub scan: &'a ScanInfo,
}

/// The JSON contract (`docs/json.md`).
pub fn render_json(report: &Report, scan: &ScanInfo) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&DiagnosisJson {
        report: "diagnosis",
        diagnosis: report,
        scan,
    })
}

const WIDTH: usize = 100;

fn wrap(text: &str, first: &str, rest: &str) -> String {
    let opts = textwrap::Options::new(WIDTH)
        .initial_indent(first)
        .subsequent_indent(rest);
    let mut out = textwrap::fill(text, opts);
    out.push('\n');
    out
}

/// `ESTABLISHED 50 · TIME_WAIT 1,200 · LISTEN 1`, biggest first, zeros left out.
pub fn compact_states(states: &StateCounts) -> String {
    let mut v: Vec<_> = states.iter().filter(|(_, n)| *n > 0).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.iter()
        .map(|(s, n)| format!("{} {}", s.name(), thousands(*n)))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn badge(sev: Severity, style: &Style) -> String {
    match sev {
        Severity::Critical => style.paint(Paint::Red, "CRITICAL"),
        Severity::Warning => style.paint(Paint::Yellow, "WARNING"),
        Severity::Info => style.paint(Paint::Green, "INFO"),
    }
}

fn first_sentence(s: &str) -> &str {
    match s.find(". ") {
        Some(i) => &s[..=i],
        None => s,
    }
}

fn finding(
    f: &Finding,
    style: &Style,
    verbose: bool,
    repeat: bool,
    avoided: &mut Vec<String>,
) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{} {}  {}\n",
        badge(f.severity, style),
        style.paint(Paint::Bold, &f.id),
        f.summary
    ));
    let ind = "    ";
    let metrics: Vec<_> = if verbose {
        f.evidence.metrics.iter().collect()
    } else {
        f.evidence.metrics.iter().take(4).collect()
    };
    if !metrics.is_empty() {
        let parts: Vec<String> = metrics
            .iter()
            .map(|m| {
                let unit = m
                    .unit
                    .as_deref()
                    .map(|u| format!(" {u}"))
                    .unwrap_or_default();
                format!("{}: {}{}", m.label, m.value, unit)
            })
            .collect();
        out.push_str(&wrap(&parts.join("; "), "  Evidence: ", ind));
    }
    let groups: Vec<_> = if verbose {
        f.evidence.groups.iter().collect()
    } else {
        f.evidence.groups.iter().take(3).collect()
    };
    for g in groups {
        out.push_str(&format!("{ind}{:>9}  {}\n", thousands(g.count), g.label));
    }
    if f.evidence.groups.len() > 3 && !verbose {
        out.push_str(&style.paint(
            Paint::Dim,
            &format!(
                "{ind}(+{} more groups; -v shows all)\n",
                f.evidence.groups.len() - 3
            ),
        ));
    }
    if verbose {
        for s in &f.evidence.samples {
            let timer = s
                .timer
                .map(|t| format!(" timer {}:{}ms", t.kind.name(), t.expires_ms))
                .unwrap_or_default();
            let proc_ = s
                .process
                .as_deref()
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{ind}e.g. {} {} -> {}{timer}{proc_}\n",
                s.state, s.local, s.remote
            ));
        }
    }
    if repeat {
        out.push_str(&style.paint(
            Paint::Dim,
            &format!(
                "  Why, what to do and what not to: as for the {} above.\n",
                f.id
            ),
        ));
        return out;
    }
    if !f.explanation.is_empty() {
        out.push_str(&wrap(&f.explanation, "  Why: ", ind));
    }
    if !f.remedies.is_empty() {
        out.push_str("  Do:\n");
        for (i, r) in f.remedies.iter().enumerate() {
            let level = format!("{:?}", r.level).to_lowercase();
            out.push_str(&wrap(
                &format!("[{level}] {}", r.text),
                &format!("{ind}{}. ", i + 1),
                "       ",
            ));
            for c in &r.commands {
                out.push_str(&format!(
                    "       {}\n",
                    style.paint(Paint::Cyan, &format!("$ {c}"))
                ));
            }
        }
    }
    if !f.avoid.is_empty() {
        out.push_str("  Don't:\n");
        let mut seen = Vec::new();
        for a in &f.avoid {
            if !verbose && avoided.contains(&a.advice) {
                seen.push(a.advice.as_str());
                continue;
            }
            avoided.push(a.advice.clone());
            let why = if verbose {
                a.why.as_str()
            } else {
                first_sentence(&a.why)
            };
            out.push_str(&wrap(
                &format!("{}: {why}", a.advice),
                &format!("{ind}- "),
                "      ",
            ));
        }
        if !seen.is_empty() {
            out.push_str(&wrap(
                &format!("{} (why: see above)", seen.join("; ")),
                &format!("{ind}- "),
                "      ",
            ));
        }
    }
    if verbose && !f.facts.is_empty() {
        out.push_str(&style.paint(
            Paint::Dim,
            &format!("  Facts: tcp-facts {}\n", f.facts.join(", ")),
        ));
    }
    out
}

fn secs(s: u64) -> String {
    if s >= 7200 {
        format!("{:.1} h", s as f64 / 3600.0)
    } else if s >= 120 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// `MySQL 10.0.0.1:3306: Threads_connected 76 of max_connections 151 (50%) ...` and the Sleep
/// threads per client host (tcp-facts 14.3-14.7).
fn mysql_section(m: &MysqlSection, style: &Style) -> String {
    let st = &m.status;
    let mut out = String::new();
    let version = st
        .version
        .as_deref()
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    out.push_str(&style.paint(Paint::Bold, &format!("MySQL {}{version}:", st.server)));
    out.push('\n');
    let delta = |d: Option<i64>| d.map(|d| format!(" ({d:+})")).unwrap_or_default();
    let line = format!(
        "Threads_connected {}{} of max_connections {} ({:.0}%), peak {}; Aborted_clients {}{}; \
         wait_timeout {}; {} Sleep threads",
        thousands(st.threads_connected),
        delta(m.threads_connected_delta),
        thousands(st.max_connections),
        m.connections_used_pct,
        thousands(st.max_used_connections),
        thousands(st.aborted_clients),
        delta(m.aborted_clients_delta),
        secs(st.wait_timeout),
        thousands(m.sleep_threads),
    );
    out.push_str(&wrap(&line, "  ", "  "));
    let hosts: Vec<_> = m.hosts.iter().take(5).collect();
    if !hosts.is_empty() {
        let over = m
            .interval_s
            .map(|s| format!(" (change over {s:.1} s)"))
            .unwrap_or_default();
        out.push_str(&format!("  Sleep threads per client host{over}:\n"));
        for h in hosts {
            let mut parts = vec![format!("{:>9}  {}", thousands(h.sleep), h.host)];
            if let (Some(b), Some(g)) = (h.sleep_before, h.growth) {
                parts.push(format!("was {}, {g:+}", thousands(b)));
            }
            if h.sleep > 0 {
                parts.push(format!("idle up to {}", secs(h.max_time_s)));
            }
            if let Some(t) = h.tcp_established {
                parts.push(format!("{} ESTABLISHED", thousands(t)));
            }
            let mut l = parts.join("  ");
            if h.growing {
                l.push_str("  ");
                l.push_str(&style.paint(Paint::Yellow, "growing"));
            }
            out.push_str(&format!("  {l}\n"));
        }
        if m.hosts.len() > 5 {
            out.push_str(&style.paint(
                Paint::Dim,
                &format!("  (+{} more hosts in --json)\n", m.hosts.len() - 5),
            ));
        }
    }
    out
}

/// The human diagnosis.
pub fn render_text(r: &Report, scan: &ScanInfo, style: &Style, verbose: bool) -> String {
    render_text_sockets(r, scan, style, verbose, &sockets_line(r.total, &r.states))
}

/// `Sockets: 1,234  ESTABLISHED 1,000 · ...` for a total and its states.
pub(crate) fn sockets_line(total: u64, states: &StateCounts) -> String {
    if total == 0 {
        return "Sockets: 0  no TCP sockets\n".to_string();
    }
    format!(
        "Sockets: {}  {}\n",
        thousands(total),
        compact_states(states)
    )
}

/// [`render_text`] with the sockets line given (`analyze` of several snapshots says what its
/// sums are over).
pub(crate) fn render_text_sockets(
    r: &Report,
    scan: &ScanInfo,
    style: &Style,
    verbose: bool,
    sockets: &str,
) -> String {
    let mut out = String::new();
    let headline = match r.findings.len() {
        0 => "no problems found".to_string(),
        1 => "1 finding".to_string(),
        n => format!("{n} findings"),
    };
    out.push_str(&style.paint(Paint::Bold, &format!("tcpdoctor: {headline}")));
    out.push('\n');
    out.push_str(&style.paint(Paint::Dim, &provenance_line(scan)));
    out.push('\n');
    out.push_str(sockets);
    if let Some(rt) = &r.rates {
        let mut parts = Vec::new();
        if let Some(n) = rt.new_connections_per_s {
            let mut s = format!("{n:.1} new connections/s");
            if let (Some(a), Some(p)) = (rt.active_opens_per_s, rt.passive_opens_per_s) {
                s.push_str(&format!(" (outgoing {a:.1}, incoming {p:.1})"));
            }
            parts.push(s);
        }
        if let Some(t) = rt.time_wait_per_s {
            parts.push(format!("{t:.1} closes into TIME_WAIT/s"));
        }
        if !parts.is_empty() {
            out.push_str(&format!(
                "Rates over {:.1} s: {}\n",
                rt.interval_s,
                parts.join(", ")
            ));
        }
    }
    if let Some(m) = &r.mysql {
        out.push_str(&mysql_section(m, style));
    }
    let mut avoided = Vec::new();
    for (i, f) in r.findings.iter().enumerate() {
        out.push('\n');
        let repeat = !verbose && r.findings[..i].iter().any(|p| p.id == f.id);
        out.push_str(&finding(f, style, verbose, repeat, &mut avoided));
    }
    if r.findings.is_empty() && r.total > 0 {
        out.push_str(
            "\nNothing here needs a fix: no TIME_WAIT or CLOSE_WAIT pile, no port pressure, \
                      no queue overflow, no risky setting.\n",
        );
    }
    if !r.notes.is_empty() {
        out.push_str(&format!("\n{}\n", style.paint(Paint::Bold, "Not checked:")));
        for n in &r.notes {
            out.push_str(&wrap(n, "  - ", "    "));
        }
    }
    out.push_str(&render_gaps(scan, style));
    out
}
