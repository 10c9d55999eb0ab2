//! The part of tcpdoctor's diagnosis JSON report that the lab relies on.
//!
//! The lab runs the `tcpdoctor` binary (`tcpdoctor -N NS --json`) and reads only these
//! documented fields (docs/json.md and the diagnosis report): `total`, `states` (the 11 Linux
//! state names), and `findings[]` with `id`, `severity`, `summary` and `evidence` (of which
//! `evidence.groups[].key`, `evidence.metrics[]` `name`/`value` and
//! `evidence.samples[].process` are used to see what the finding names). Every other field is
//! ignored, so the lab depends on the JSON contract only.

use serde::Deserialize;
use std::collections::BTreeMap;

/// A finding's severity, as the report spells it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// `info`.
    Info,
    /// `warning`.
    Warning,
    /// `critical`.
    Critical,
}

impl Severity {
    /// `info`, `warning`, `critical`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One finding of the report (only the fields the lab reads).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DiagFinding {
    /// Stable id (`time-wait-server-side`).
    pub id: String,
    /// Severity.
    pub severity: Severity,
    /// One-line summary.
    #[serde(default)]
    pub summary: String,
    /// The evidence object, kept as JSON.
    #[serde(default)]
    pub evidence: serde_json::Value,
}

/// The lab's view of `tcpdoctor -N NS --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DiagReport {
    /// Sockets counted.
    pub total: u64,
    /// Per-state counts (Linux names).
    pub states: BTreeMap<String, u64>,
    /// Findings, worst first; `None` when the report has no `findings` field (a binary without
    /// the diagnosis).
    #[serde(default)]
    pub findings: Option<Vec<DiagFinding>>,
}

impl DiagReport {
    /// Parses the report.
    pub fn parse(json: &str) -> Result<DiagReport, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The count of one state (`TIME_WAIT`), 0 when absent.
    pub fn state(&self, name: &str) -> u64 {
        self.states.get(name).copied().unwrap_or(0)
    }

    /// The findings (empty when there are none or the field is missing).
    pub fn findings(&self) -> &[DiagFinding] {
        self.findings.as_deref().unwrap_or(&[])
    }
}

impl DiagFinding {
    fn groups(&self) -> impl Iterator<Item = &serde_json::Value> {
        self.evidence
            .get("groups")
            .and_then(|g| g.as_array())
            .into_iter()
            .flatten()
    }

    fn metric(&self, name: &str) -> Option<&serde_json::Value> {
        self.evidence
            .get("metrics")
            .and_then(|m| m.as_array())?
            .iter()
            .find(|m| m.get("name").and_then(|n| n.as_str()) == Some(name))
            .and_then(|m| m.get("value"))
    }

    /// The evidence group keys (`local:8080`, `pid:1234`, `10.0.0.2:3306`, ...).
    pub fn group_keys(&self) -> Vec<&str> {
        self.groups()
            .filter_map(|g| g.get("key").and_then(|k| k.as_str()))
            .collect()
    }

    /// Whether the evidence names TCP port `port`: a group key ending in `:PORT`
    /// (`local:8080`, `listen:10.0.0.2:8080`, `10.0.0.1->10.0.0.2:8080`) or a `port` metric.
    pub fn names_port(&self, port: u16) -> bool {
        let suffix = format!(":{port}");
        self.group_keys().iter().any(|k| k.ends_with(&suffix))
            || self.metric("port").and_then(|v| v.as_u64()) == Some(u64::from(port))
    }

    /// Whether the evidence names process `pid`: a group keyed `pid:PID`, a `pid` metric, or a
    /// sample socket owned by `comm[PID]`.
    pub fn names_pid(&self, pid: u32) -> bool {
        let key = format!("pid:{pid}");
        let owner = format!("[{pid}]");
        self.group_keys().iter().any(|k| *k == key)
            || self.metric("pid").and_then(|v| v.as_u64()) == Some(u64::from(pid))
            || self
                .evidence
                .get("samples")
                .and_then(|s| s.as_array())
                .into_iter()
                .flatten()
                .filter_map(|s| s.get("process").and_then(|p| p.as_str()))
                .any(|p| p.ends_with(&owner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"{
      "schema_version": 1, "report": "diagnosis", "total": 603,
      "states": {"ESTABLISHED": 2, "SYN_SENT": 0, "SYN_RECV": 0, "FIN_WAIT1": 0, "FIN_WAIT2": 0,
                 "TIME_WAIT": 600, "CLOSE": 0, "CLOSE_WAIT": 0, "LAST_ACK": 0, "LISTEN": 1, "CLOSING": 0},
      "findings": [
        {"id": "time-wait-server-side", "severity": "info", "summary": "600 TIME_WAIT on local port 8080",
         "evidence": {"metrics": [{"name": "port", "value": 8080, "label": "local listening port"}],
                      "groups": [{"kind": "local-port", "key": "local:8080", "label": "8080", "count": 600},
                                 {"kind": "peer", "key": "10.213.0.1", "label": "client", "count": 600}]},
         "explanation": "x", "remedies": [], "future_field": true},
        {"id": "close-wait-leak", "severity": "warning", "summary": "s",
         "evidence": {"groups": [{"kind": "process", "key": "pid:4242", "label": "tcpdoctor", "count": 50}],
                      "samples": [{"state": "CLOSE_WAIT", "local": "a", "remote": "b", "process": "tcpdoctor[4242]"}]}}
      ],
      "unknown": {"nested": [1, 2]}
    }"#;

    #[test]
    fn parses_documented_fields_and_ignores_the_rest() {
        let r = DiagReport::parse(REPORT).unwrap();
        assert_eq!(r.total, 603);
        assert_eq!(r.state("TIME_WAIT"), 600);
        assert_eq!(r.state("NOPE"), 0);
        assert_eq!(r.findings().len(), 2);
        assert_eq!(r.findings()[0].severity, Severity::Info);
        assert_eq!(r.findings()[1].severity, Severity::Warning);
        assert_eq!(
            r.findings()[0].group_keys(),
            vec!["local:8080", "10.213.0.1"]
        );
    }

    #[test]
    fn names_port_and_pid() {
        let r = DiagReport::parse(REPORT).unwrap();
        let tw = &r.findings()[0];
        assert!(tw.names_port(8080));
        assert!(!tw.names_port(80));
        assert!(!tw.names_port(808));
        assert!(!tw.names_pid(4242));
        let cw = &r.findings()[1];
        assert!(cw.names_pid(4242));
        assert!(!cw.names_pid(424));
        assert!(!cw.names_port(8080));
    }

    #[test]
    fn summary_without_findings_parses_as_none() {
        let r = DiagReport::parse(r#"{"total": 1, "states": {"LISTEN": 1}}"#).unwrap();
        assert_eq!(r.findings, None);
        assert!(r.findings().is_empty());
    }

    #[test]
    fn bad_json_is_an_error() {
        assert!(DiagReport::parse("{").is_err());
        assert!(DiagReport::parse(r#"{"states": {}}"#).is_err());
        assert!(DiagReport::parse(
            r#"{"total": 1, "states": {}, "findings": [{"id": "x", "severity": "bad"}]}"#
        )
        .is_err());
    }
}
