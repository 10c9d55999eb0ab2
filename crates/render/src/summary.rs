//! `tcpdoctor summary`: counts per state, IPv4/IPv6 totals, the kernel's own TIME_WAIT figure
//! as a cross-check, and optional groups.

use crate::fmt::{percent, thousands, utc, Paint, Style, Table};
use serde::Serialize;
use tcpdoctor_diagnose::{Direction, GroupBy, Groups};
use tcpdoctor_model::{
    Family, ScanInfo, Socket, SocketSink, Sockstat, SourceKind, StateCounts, TcpState, TimerKind,
    SCHEMA_VERSION,
};

/// Sockets per address family.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FamilyCounts {
    /// IPv4 sockets.
    pub ipv4: u64,
    /// IPv6 sockets (IPv4-mapped included).
    pub ipv6: u64,
}

/// Streaming counter behind `summary`: states, families and FIN_WAIT2 mini-sockets.
#[derive(Debug, Clone, Copy, Default)]
pub struct SummaryCounter {
    /// Per-state counts.
    pub states: StateCounts,
    /// Per-family counts.
    pub families: FamilyCounts,
    /// FIN_WAIT2 sockets that are timewait mini-sockets (timer `timewait`; tcp-facts 1.7).
    pub fin_wait2_mini: u64,
}

impl SocketSink for SummaryCounter {
    #[inline]
    fn socket(&mut self, s: &Socket) {
        self.states.add(s.state);
        match s.family {
            Family::Inet => self.families.ipv4 += 1,
            Family::Inet6 => self.families.ipv6 += 1,
        }
        if s.state == TcpState::FinWait2 && s.timer.is_some_and(|t| t.kind == TimerKind::Timewait) {
            self.fin_wait2_mini += 1;
        }
    }
}

/// The listed TIME_WAIT figure next to the kernel's (`/proc/net/sockstat` `tw` counts
/// TIME_WAIT plus FIN_WAIT2 mini-sockets of this namespace, tcp-facts 11.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeWaitCheck {
    /// TIME_WAIT sockets listed.
    pub listed_time_wait: u64,
    /// FIN_WAIT2 mini-sockets listed.
    pub listed_fin_wait2_mini: u64,
    /// The kernel's `tw` figure read right after the dump.
    pub kernel_tw: u64,
}

impl TimeWaitCheck {
    /// Kernel figure minus listed figure (sockets come and go between the two readings).
    pub fn difference(&self) -> i64 {
        let listed = self.listed_time_wait + self.listed_fin_wait2_mini;
        i64::try_from(self.kernel_tw).unwrap_or(i64::MAX)
            - i64::try_from(listed).unwrap_or(i64::MAX)
    }
}

/// The `summary` report (JSON contract in `docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct SummaryReport {
    /// Contract version.
    pub schema_version: u32,
    /// Always `summary`.
    pub report: &'static str,
    /// Sockets counted (after filters).
    pub total: u64,
    /// Per-state counts, all 11 Linux names.
    pub states: StateCounts,
    /// IPv4 / IPv6 totals.
    pub families: FamilyCounts,
    /// Whether filters beyond "all states" were applied (then totals are of the filtered set).
    pub filtered: bool,
    /// The kernel's `/proc/net/sockstat` TCP line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sockstat: Option<Sockstat>,
    /// The TIME_WAIT cross-check (absent when filters make it meaningless).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_wait_check: Option<TimeWaitCheck>,
    /// Groups, with `--by`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Groups>,
    /// Provenance and gaps.
    pub scan: ScanInfo,
}

impl SummaryReport {
    /// Assembles a report from a finished counter.
    pub fn new(
        counter: &SummaryCounter,
        filtered: bool,
        sockstat: Option<Sockstat>,
        groups: Option<Groups>,
        scan: ScanInfo,
    ) -> SummaryReport {
        let time_wait_check = match (filtered, sockstat) {
            (false, Some(k)) => Some(TimeWaitCheck {
                listed_time_wait: counter.states.get(TcpState::TimeWait),
                listed_fin_wait2_mini: counter.fin_wait2_mini,
                kernel_tw: k.tw,
            }),
            _ => None,
        };
        SummaryReport {
            schema_version: SCHEMA_VERSION,
            report: "summary",
            total: counter.states.total(),
            states: counter.states,
            families: counter.families,
            filtered,
            sockstat,
            time_wait_check,
            groups,
            scan,
        }
    }
}

/// One line saying where the data came from.
pub fn provenance_line(scan: &ScanInfo) -> String {
    let src = match scan.source {
        SourceKind::Netlink => "netlink sock_diag".to_string(),
        SourceKind::Proc => "/proc/net/tcp".to_string(),
        SourceKind::Text => format!("pasted text ({})", scan.format.as_deref().unwrap_or("?")),
        SourceKind::File => "a saved snapshot".to_string(),
    };
    let mut s = String::new();
    match (&scan.host, scan.source) {
        (Some(h), _) => s.push_str(h),
        (None, SourceKind::Text | SourceKind::File) => s.push_str("another machine"),
        (None, _) => s.push_str("this host"),
    }
    if let Some(ns) = &scan.netns {
        s.push_str(&format!(", netns {ns}"));
    }
    s.push_str(&format!(", read with {src}"));
    if scan.taken_at_ms > 0 {
        s.push_str(&format!(" at {}", utc(scan.taken_at_ms)));
    }
    s
}

/// Renders the gaps ("what could not be seen") as an indented list, or nothing.
pub fn render_gaps(scan: &ScanInfo, style: &Style) -> String {
    if scan.gaps.is_empty() {
        return String::new();
    }
    let mut out = format!("\n{}\n", style.paint(Paint::Bold, "Not seen:"));
    for g in &scan.gaps {
        out.push_str(&format!("  - {}", g.message));
        if let Some(h) = &g.hint {
            out.push_str(&format!(" (hint: {})", style.paint(Paint::Dim, h)));
        }
        out.push('\n');
    }
    out
}

/// The per-state table: non-zero states, then a line naming how many are zero.
pub fn render_states(states: &StateCounts, style: &Style) -> String {
    let total = states.total();
    let mut t = Table::new(&["State", "Sockets", "%"], &[false, true, true]);
    let mut zero = Vec::new();
    for (s, n) in states.iter() {
        if n == 0 {
            zero.push(s.name());
            continue;
        }
        t.row(vec![s.name().to_string(), thousands(n), percent(n, total)]);
    }
    let mut out = t.render(style, "  ");
    if !zero.is_empty() && zero.len() < 11 {
        out.push_str(&style.paint(
            Paint::Dim,
            &format!("  0 in the other {} states\n", zero.len()),
        ));
    }
    out
}

fn side(d: Option<Direction>) -> &'static str {
    match d {
        Some(Direction::Local) => "server",
        Some(Direction::Remote) => "client",
        None => "",
    }
}

/// Renders a groups table.
pub fn render_groups(g: &Groups, style: &Style) -> String {
    let shown: Vec<TcpState> = TcpState::ALL
        .into_iter()
        .filter(|s| g.groups.iter().any(|x| x.states.get(*s) > 0) || g.others.states.get(*s) > 0)
        .collect();
    let title = match g.by {
        GroupBy::Service => "Service",
        GroupBy::Peer => "Peer",
        GroupBy::Process => "Process",
        GroupBy::State => "State",
    };
    let with_side = g.by == GroupBy::Service;
    let mut header = vec![title];
    let mut right = vec![false];
    if with_side {
        header.push("Side");
        right.push(false);
    }
    header.push("Total");
    right.push(true);
    for s in &shown {
        header.push(s.name());
        right.push(true);
    }
    let mut t = Table::new(&header, &right);
    for x in &g.groups {
        let mut row = vec![x.label.clone()];
        if with_side {
            row.push(side(x.direction).to_string());
        }
        row.push(thousands(x.total));
        for s in &shown {
            row.push(thousands(x.states.get(*s)));
        }
        t.row(row);
    }
    if g.others.groups > 0 {
        let mut row = vec![format!("({} more groups)", thousands(g.others.groups))];
        if with_side {
            row.push(String::new());
        }
        row.push(thousands(g.others.total));
        for s in &shown {
            row.push(thousands(g.others.states.get(*s)));
        }
        t.row(row);
    }
    let count = g.groups.len() as u64 + g.others.groups;
    let mut out = format!(
        "\n{}\n",
        style.paint(
            Paint::Bold,
            &format!(
                "By {} ({} of {} groups):",
                g.by.name(),
                g.groups.len(),
                thousands(count)
            )
        )
    );
    out.push_str(&t.render(style, "  "));
    out
}

/// The human summary.
pub fn render_text(r: &SummaryReport, style: &Style) -> String {
    let mut out = String::new();
    let what = if r.filtered {
        "TCP sockets matching the filter"
    } else {
        "TCP sockets"
    };
    out.push_str(&style.paint(
        Paint::Bold,
        &format!(
            "{}: {}  (IPv4 {}, IPv6 {})",
            what,
            thousands(r.total),
            thousands(r.families.ipv4),
            thousands(r.families.ipv6)
        ),
    ));
    out.push('\n');
    out.push_str(&style.paint(Paint::Dim, &provenance_line(&r.scan)));
    out.push_str("\n\n");
    if r.total == 0 {
        out.push_str("  no TCP sockets\n");
    } else {
        out.push_str(&render_states(&r.states, style));
    }
    if let Some(c) = &r.time_wait_check {
        let listed = c.listed_time_wait + c.listed_fin_wait2_mini;
        let verdict = match c.difference() {
            0 => "same figure".to_string(),
            d => format!("differs by {d:+}: sockets come and go between the two readings"),
        };
        out.push_str(&format!(
            "\n  Kernel cross-check: /proc/net/sockstat tw {} vs listed {} (TIME_WAIT {} + FIN_WAIT2 \
             mini-sockets {}): {}\n",
            thousands(c.kernel_tw),
            thousands(listed),
            thousands(c.listed_time_wait),
            thousands(c.listed_fin_wait2_mini),
            verdict
        ));
    }
    if let Some(g) = &r.groups {
        out.push_str(&render_groups(g, style));
    }
    out.push_str(&render_gaps(&r.scan, style));
    out
}

/// The JSON contract: one object.
pub fn render_json(r: &SummaryReport) -> serde_json::Result<String> {
    serde_json::to_string_pretty(r)
}
