//! `tcpdoctor sysctl`: the kernel-settings audit as an aligned table (value, verdict,
//! recommendation, default), then per setting what it does, what it does NOT do, and the
//! advice for what was observed; and the JSON contract (`docs/json.md`, "tcpdoctor sysctl").
//!
//! Also the plan of `--apply` / `--rollback` (which settings change from what to what).

use crate::fmt::{Paint, Style, Table};
use crate::summary::{provenance_line, render_gaps};
use serde::Serialize;
use tcpdoctor_diagnose::{SysctlAudit, Verdict};
use tcpdoctor_model::{ScanInfo, SCHEMA_VERSION};

const WIDTH: usize = 100;

/// The `tcpdoctor sysctl --json` object.
#[derive(Debug, Serialize)]
pub struct SysctlJson<'a> {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Always `sysctl`.
    pub report: &'static str,
    /// Kernel release, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<&'a str>,
    /// One row per setting, in display order.
    pub settings: &'a [SysctlAudit],
    /// Provenance and gaps of the scan the recommendations come from.
    pub scan: &'a ScanInfo,
}

/// The JSON contract of `tcpdoctor sysctl --json`.
pub fn render_json(
    rows: &[SysctlAudit],
    kernel_release: Option<&str>,
    scan: &ScanInfo,
) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&SysctlJson {
        schema_version: SCHEMA_VERSION,
        report: "sysctl",
        kernel_release,
        settings: rows,
        scan,
    })
}

/// A value as shown: `(empty)` for an empty one (e.g. no reserved ports).
fn shown(v: &str) -> String {
    if v.is_empty() {
        "(empty)".into()
    } else {
        v.to_string()
    }
}

fn verdict_cell(r: &SysctlAudit, style: &Style) -> String {
    match r.verdict {
        Verdict::Ok => style.paint(Paint::Green, "ok"),
        Verdict::Change => style.paint(Paint::Yellow, "change"),
        Verdict::Absent => style.paint(Paint::Dim, "absent"),
        Verdict::Unknown => style.paint(Paint::Dim, "unknown"),
    }
}

fn wrap(label: &str, text: &str) -> String {
    let first = format!("    {label:<10}");
    let rest = " ".repeat(first.len());
    let opts = textwrap::Options::new(WIDTH)
        .initial_indent(&first)
        .subsequent_indent(&rest);
    let mut out = textwrap::fill(text, opts);
    out.push('\n');
    out
}

/// The human audit: a table, then one block per setting (does / does not / advice).
pub fn render_text(
    rows: &[SysctlAudit],
    kernel_release: Option<&str>,
    scan: &ScanInfo,
    style: &Style,
) -> String {
    let mut out = String::new();
    let title = match (&scan.netns, kernel_release) {
        (Some(ns), Some(k)) => format!("Kernel settings of network namespace {ns} (Linux {k})"),
        (Some(ns), None) => format!("Kernel settings of network namespace {ns}"),
        (None, Some(k)) => format!("Kernel settings (Linux {k})"),
        (None, None) => "Kernel settings".to_string(),
    };
    out.push_str(&style.paint(Paint::Bold, &title));
    out.push('\n');
    out.push_str(&style.paint(Paint::Dim, &provenance_line(scan)));
    out.push_str("\n\n");
    let mut t = Table::new(
        &["SETTING", "VALUE", "VERDICT", "RECOMMENDED", "DEFAULT"],
        &[false, false, false, false, false],
    );
    for r in rows {
        t.row(vec![
            r.key.clone(),
            r.value.as_deref().map(shown).unwrap_or_else(|| "-".into()),
            verdict_cell(r, style),
            r.recommended.clone().unwrap_or_else(|| "-".into()),
            r.default.clone(),
        ]);
    }
    out.push_str(&t.render(style, ""));
    for r in rows {
        out.push('\n');
        let head = match (&r.value, &r.recommended) {
            (Some(v), Some(rec)) => format!("{} = {}  ->  {rec}", r.key, shown(v)),
            (Some(v), None) => format!("{} = {}", r.key, shown(v)),
            (None, _) => r.key.clone(),
        };
        out.push_str(&style.paint(Paint::Cyan, &head));
        out.push_str(&style.paint(Paint::Dim, &format!("  (tcp-facts {})", r.facts.join(", "))));
        out.push('\n');
        out.push_str(&wrap("does", &r.does));
        out.push_str(&wrap("does not", &r.does_not));
        let label = match r.verdict {
            Verdict::Change => "change",
            Verdict::Absent => "absent",
            _ => "advice",
        };
        out.push_str(&wrap(label, &r.reason));
    }
    let changes = rows.iter().filter(|r| r.verdict == Verdict::Change).count();
    out.push('\n');
    if changes == 0 {
        out.push_str(
            "Nothing to change for what was observed. Application fixes come first anyway.\n",
        );
    } else {
        out.push_str(&format!(
            "{changes} change{} recommended. `tcpdoctor sysctl --apply` shows the plan (writes \
             nothing without --yes); `--emit` prints a file for /etc/sysctl.d/.\n",
            if changes == 1 { "" } else { "s" }
        ));
    }
    out.push_str(&render_gaps(scan, style));
    out
}

/// One line of an `--apply` or `--rollback` plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanItem {
    /// Dotted name.
    pub key: String,
    /// The value now (`None`: not readable).
    pub current: Option<String>,
    /// The value to write.
    pub new: String,
    /// Why (the audit's reason, `--set`, or `rollback`).
    pub reason: String,
}

/// The plan as an aligned table.
pub fn render_plan(items: &[PlanItem], style: &Style) -> String {
    let mut t = Table::new(&["SETTING", "NOW", "NEW", "WHY"], &[false; 4]);
    for i in items {
        t.row(vec![
            i.key.clone(),
            i.current
                .as_deref()
                .map(shown)
                .unwrap_or_else(|| "-".into()),
            shown(&i.new),
            i.reason.clone(),
        ]);
    }
    t.render(style, "  ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tcpdoctor_diagnose::audit;
    use tcpdoctor_model::{KernelContext, SourceKind};

    fn rows() -> Vec<SysctlAudit> {
        let mut k = KernelContext {
            kernel_release: Some("6.8.0".into()),
            ..Default::default()
        };
        for (a, b) in [
            ("net.ipv4.tcp_tw_reuse", "2"),
            ("net.ipv4.tcp_fin_timeout", "60"),
            ("net.ipv4.ip_local_port_range", "32768\t60999"),
            ("net.ipv4.tcp_abort_on_overflow", "1"),
        ] {
            k.sysctls.insert(a.into(), b.into());
        }
        k.absent_sysctls.push("net.ipv4.tcp_tw_recycle".into());
        audit(&k, None)
    }

    #[test]
    fn text_has_table_and_blocks() {
        let r = rows();
        let mut scan = ScanInfo::new(SourceKind::Netlink);
        scan.netns = Some("blue".into());
        let t = render_text(&r, Some("6.8.0"), &scan, &Style::default());
        assert!(t.starts_with("Kernel settings of network namespace blue (Linux 6.8.0)\n"));
        let line = t
            .lines()
            .find(|l| l.starts_with("net.ipv4.tcp_abort_on_overflow "))
            .unwrap();
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            &cells[..4],
            &["net.ipv4.tcp_abort_on_overflow", "1", "change", "0"]
        );
        assert!(t.contains("net.ipv4.tcp_abort_on_overflow = 1  ->  0"));
        assert!(
            t.contains("    does not  Does not set or shorten TIME_WAIT"),
            "{t}"
        );
        assert!(t.contains("1 change recommended."));
        // Every row of the table is aligned: the VALUE column starts at the same place.
        let header = t.lines().find(|l| l.starts_with("SETTING")).unwrap();
        let col = header.find("VALUE").unwrap();
        let fin = t
            .lines()
            .find(|l| l.starts_with("net.ipv4.tcp_fin_timeout "))
            .unwrap();
        assert_eq!(&fin[col..col + 2], "60");
    }

    #[test]
    fn json_contract() {
        let r = rows();
        let scan = ScanInfo::new(SourceKind::Netlink);
        let v: serde_json::Value =
            serde_json::from_str(&render_json(&r, Some("6.8.0"), &scan).unwrap()).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["report"], "sysctl");
        assert_eq!(v["settings"].as_array().unwrap().len(), r.len());
        assert_eq!(v["settings"][0]["key"], "net.ipv4.tcp_tw_reuse");
        assert_eq!(v["settings"][2]["verdict"], "absent");
        assert!(v["scan"].is_object());
    }

    #[test]
    fn plan_table() {
        let p = vec![PlanItem {
            key: "net.ipv4.tcp_fin_timeout".into(),
            current: Some("60".into()),
            new: "33".into(),
            reason: "--set".into(),
        }];
        assert_eq!(
            render_plan(&p, &Style::default()),
            "  SETTING                   NOW  NEW  WHY\n  net.ipv4.tcp_fin_timeout  60   33   --set\n"
        );
    }
}
