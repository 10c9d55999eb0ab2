//! The pure part of `tcpdoctor check`: monitoring-plugin conventions (Nagios, Icinga, Sensu).
//!
//! One status line, performance data after `|`, exit 0/1/2/3 for OK/WARNING/CRITICAL/UNKNOWN.
//! Thresholds per metric (`--warn time_wait=20000 --crit time_wait=50000`: alert when the
//! value is above the number, Nagios' plain `N` range meaning "outside 0..N") and per finding
//! severity (`--warn finding=warning --crit finding=critical`, the defaults; `finding=none`
//! turns one off).
//!
//! Metrics: `total`, the 11 states in lower case (`time_wait`, `close_wait`, `syn_recv`, ...),
//! `port_use_pct` (busiest ephemeral-port space), and with an interval `new_conn_per_s`,
//! `time_wait_per_s`, `listen_overflows_per_s`; with kernel context `sockstat_tw`, `orphans`.
//! A threshold on a metric this run cannot measure makes the result UNKNOWN, never OK.

use crate::engine::Report;
use crate::finding::Severity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use tcpdoctor_model::TcpState;

/// Plugin status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// 0
    Ok,
    /// 1
    Warning,
    /// 2
    Critical,
    /// 3
    Unknown,
}

impl Status {
    /// The exit status (0, 1, 2, 3).
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    /// `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    fn rank(self) -> u8 {
        // UNKNOWN ranks between WARNING and CRITICAL, as in the plugin guidelines' worst-of.
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Unknown => 2,
            Status::Critical => 3,
        }
    }

    fn worst(self, other: Status) -> Status {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A bad `--warn` / `--crit` argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckConfigError {
    /// Not `name=value`.
    #[error("threshold '{0}' is not NAME=VALUE (e.g. time_wait=20000 or finding=warning)")]
    Syntax(String),
    /// Unknown metric.
    #[error("unknown metric '{0}'; use one of: {1}")]
    UnknownMetric(String, String),
    /// Not a number.
    #[error("threshold for '{0}' must be a non-negative number, not '{1}'")]
    BadNumber(String, String),
    /// Bad severity.
    #[error("finding threshold must be info, warning, critical or none, not '{0}'")]
    BadSeverity(String),
}

/// Every metric name a threshold may use.
pub fn metric_names() -> Vec<String> {
    let mut v = vec!["total".to_string()];
    v.extend(TcpState::ALL.iter().map(|s| s.name().to_ascii_lowercase()));
    for m in [
        "port_use_pct",
        "new_conn_per_s",
        "time_wait_per_s",
        "listen_overflows_per_s",
        "sockstat_tw",
        "orphans",
    ] {
        v.push(m.to_string());
    }
    v
}

/// Thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckConfig {
    /// WARNING when a metric is above.
    pub warn: BTreeMap<String, f64>,
    /// CRITICAL when a metric is above.
    pub crit: BTreeMap<String, f64>,
    /// Findings of this severity or worse make WARNING (default `warning`).
    pub finding_warning: Option<Severity>,
    /// Findings of this severity or worse make CRITICAL (default `critical`).
    pub finding_critical: Option<Severity>,
}

impl Default for CheckConfig {
    fn default() -> CheckConfig {
        CheckConfig {
            warn: BTreeMap::new(),
            crit: BTreeMap::new(),
            finding_warning: Some(Severity::Warning),
            finding_critical: Some(Severity::Critical),
        }
    }
}

impl CheckConfig {
    fn parse(spec: &str) -> Result<(String, Result<f64, Option<Severity>>), CheckConfigError> {
        let (k, v) = spec
            .split_once('=')
            .ok_or_else(|| CheckConfigError::Syntax(spec.into()))?;
        let k = k.trim().to_ascii_lowercase().replace('-', "_");
        let v = v.trim();
        if k == "finding" || k == "findings" {
            if v.eq_ignore_ascii_case("none") {
                return Ok((k, Err(None)));
            }
            let s = Severity::parse(v).ok_or_else(|| CheckConfigError::BadSeverity(v.into()))?;
            return Ok((k, Err(Some(s))));
        }
        if !metric_names().contains(&k) {
            return Err(CheckConfigError::UnknownMetric(
                k,
                metric_names().join(", "),
            ));
        }
        let n: f64 = v
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| CheckConfigError::BadNumber(k.clone(), v.into()))?;
        Ok((k, Ok(n)))
    }

    /// Adds one `--warn NAME=VALUE` (`time_wait=20000`, `finding=info`).
    pub fn add_warn(&mut self, spec: &str) -> Result<(), CheckConfigError> {
        match Self::parse(spec)? {
            (k, Ok(n)) => {
                self.warn.insert(k, n);
            }
            (_, Err(s)) => self.finding_warning = s,
        }
        Ok(())
    }

    /// Adds one `--crit NAME=VALUE`.
    pub fn add_crit(&mut self, spec: &str) -> Result<(), CheckConfigError> {
        match Self::parse(spec)? {
            (k, Ok(n)) => {
                self.crit.insert(k, n);
            }
            (_, Err(s)) => self.finding_critical = s,
        }
        Ok(())
    }
}

/// One performance-data item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerfDatum {
    /// Label.
    pub label: String,
    /// Value.
    pub value: f64,
    /// Unit (`%`, or empty).
    pub uom: String,
    /// Warning threshold.
    pub warn: Option<f64>,
    /// Critical threshold.
    pub crit: Option<f64>,
    /// Minimum.
    pub min: Option<f64>,
    /// Maximum.
    pub max: Option<f64>,
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x:.2}")
    }
}

impl fmt::Display for PerfDatum {
    /// `'label'=value[UOM];[warn];[crit];[min];[max]`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = |x: Option<f64>| x.map(num).unwrap_or_default();
        write!(
            f,
            "'{}'={}{};{};{};{};{}",
            self.label.replace('\'', "''"),
            num(self.value),
            self.uom,
            o(self.warn),
            o(self.crit),
            o(self.min),
            o(self.max)
        )
    }
}

/// The result of a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Status.
    pub status: Status,
    /// The text of the status line after `STATUS - `.
    pub summary: String,
    /// Every reason for a non-OK status.
    pub reasons: Vec<String>,
    /// Performance data.
    pub perfdata: Vec<PerfDatum>,
}

impl CheckResult {
    /// An UNKNOWN result (the scan itself failed).
    pub fn unknown(message: impl Into<String>) -> CheckResult {
        let m = message.into();
        CheckResult {
            status: Status::Unknown,
            summary: m.clone(),
            reasons: vec![m],
            perfdata: Vec::new(),
        }
    }

    /// The exit status.
    pub fn exit_code(&self) -> i32 {
        self.status.exit_code()
    }

    /// The plugin output: `TCP STATUS - summary | perfdata`, one line.
    pub fn output(&self) -> String {
        let mut s = format!(
            "TCP {} - {}",
            self.status,
            self.summary.replace(['|', '\n'], " ")
        );
        if !self.perfdata.is_empty() {
            s.push_str(" | ");
            s.push_str(
                &self
                    .perfdata
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        s
    }
}

fn metrics(r: &Report) -> BTreeMap<String, (f64, &'static str, Option<f64>)> {
    let mut m = BTreeMap::new();
    m.insert("total".to_string(), (r.total as f64, "", None));
    for (s, c) in r.states.iter() {
        m.insert(s.name().to_ascii_lowercase(), (c as f64, "", None));
    }
    let pct = r
        .busiest_port_space
        .as_ref()
        .map(|p| p.used_pct)
        .unwrap_or(0.0);
    m.insert("port_use_pct".into(), (pct, "%", Some(100.0)));
    if let Some(rt) = &r.rates {
        if let Some(x) = rt.new_connections_per_s {
            m.insert("new_conn_per_s".into(), (x, "", None));
        }
        if let Some(x) = rt.time_wait_per_s {
            m.insert("time_wait_per_s".into(), (x, "", None));
        }
        m.insert(
            "listen_overflows_per_s".into(),
            (rt.ext_per_s("ListenOverflows"), "", None),
        );
    }
    if let Some(s) = r.sockstat {
        m.insert("sockstat_tw".into(), (s.tw as f64, "", None));
        m.insert("orphans".into(), (s.orphan as f64, "", None));
    }
    m
}

/// Evaluates a report against thresholds.
pub fn check(r: &Report, cfg: &CheckConfig) -> CheckResult {
    let m = metrics(r);
    let mut status = Status::Ok;
    let mut reasons = Vec::new();
    // Findings first: they carry the words.
    for f in &r.findings {
        let st = if cfg.finding_critical.is_some_and(|c| f.severity >= c) {
            Status::Critical
        } else if cfg.finding_warning.is_some_and(|w| f.severity >= w) {
            Status::Warning
        } else {
            continue;
        };
        status = status.worst(st);
        reasons.push(format!("{}: {}", f.id, f.summary));
    }
    // Metric thresholds.
    let mut names: Vec<&String> = cfg.warn.keys().chain(cfg.crit.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let Some((v, _, _)) = m.get(name.as_str()) else {
            status = status.worst(Status::Unknown);
            reasons.push(format!(
                "{name} cannot be measured in this run (needs an interval or kernel context)"
            ));
            continue;
        };
        let (w, c) = (cfg.warn.get(name), cfg.crit.get(name));
        if let Some(c) = c.filter(|c| v > *c) {
            status = status.worst(Status::Critical);
            reasons.push(format!("{name} {} > {}", num(*v), num(*c)));
        } else if let Some(w) = w.filter(|w| v > *w) {
            status = status.worst(Status::Warning);
            reasons.push(format!("{name} {} > {}", num(*v), num(*w)));
        }
    }
    // Perfdata: every state and metric, thresholds where set.
    let perfdata = m
        .iter()
        .map(|(k, (v, uom, max))| PerfDatum {
            label: k.clone(),
            value: *v,
            uom: uom.to_string(),
            warn: cfg.warn.get(k).copied(),
            crit: cfg.crit.get(k).copied(),
            min: Some(0.0),
            max: *max,
        })
        .collect();
    let tw = r.states.get(TcpState::TimeWait);
    let cw = r.states.get(TcpState::CloseWait);
    let est = r.states.get(TcpState::Established);
    let counts = format!(
        "{} sockets, {est} ESTABLISHED, {tw} TIME_WAIT, {cw} CLOSE_WAIT",
        r.total
    );
    let summary = if reasons.is_empty() {
        format!("{counts}; no findings at or above the thresholds")
    } else {
        let more = if reasons.len() > 1 {
            format!(" (+{} more)", reasons.len() - 1)
        } else {
            String::new()
        };
        format!("{}{more}; {counts}", reasons[0])
    };
    CheckResult {
        status,
        summary,
        reasons,
        perfdata,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::engine::{PortRange, Report};
    use crate::finding::Finding;
    use crate::os::SourceOs;
    use tcpdoctor_model::{StateCounts, SCHEMA_VERSION};

    fn report(tw: u64, findings: Vec<Finding>) -> Report {
        let mut states = StateCounts::default();
        states.add_n(TcpState::TimeWait, tw);
        states.add_n(TcpState::Established, 10);
        Report {
            schema_version: SCHEMA_VERSION,
            total: tw + 10,
            states,
            findings,
            rates: None,
            os: SourceOs::Linux,
            kernel_context: true,
            kernel_release: None,
            sockstat: None,
            snapshots: 1,
            interval_s: None,
            time_wait_secs: 60,
            port_range: PortRange {
                low: 32768,
                high: 60999,
                reserved: 0,
                usable: 28232,
                assumed: false,
                source: String::new(),
            },
            busiest_port_space: None,
            notes: Vec::new(),
            mysql: None,
        }
    }

    #[test]
    fn thresholds_and_perfdata() {
        let mut cfg = CheckConfig::default();
        cfg.add_warn("time_wait=20000").unwrap();
        cfg.add_crit("TIME-WAIT=50000").unwrap();
        let r = check(&report(1200, vec![]), &cfg);
        assert_eq!((r.status, r.exit_code()), (Status::Ok, 0));
        let out = r.output();
        assert!(
            out.starts_with(
                "TCP OK - 1210 sockets, 10 ESTABLISHED, 1200 TIME_WAIT, 0 CLOSE_WAIT; no findings"
            ),
            "{out}"
        );
        assert!(out.contains(" | "), "{out}");
        assert!(out.contains("'time_wait'=1200;20000;50000;0;"), "{out}");
        assert!(out.contains("'port_use_pct'=0%;;;0;100"), "{out}");
        assert_eq!(out.lines().count(), 1);

        let r = check(&report(30000, vec![]), &cfg);
        assert_eq!(r.status, Status::Warning);
        assert!(
            r.output()
                .starts_with("TCP WARNING - time_wait 30000 > 20000; "),
            "{}",
            r.output()
        );
        let r = check(&report(60000, vec![]), &cfg);
        assert_eq!((r.status, r.exit_code()), (Status::Critical, 2));
    }

    #[test]
    fn findings_by_severity_and_unknown() {
        let f = Finding::new(
            "close-wait-leak",
            Severity::Warning,
            "java (pid 1) holds 150 CLOSE_WAIT sockets",
        );
        let r = check(&report(0, vec![f.clone()]), &CheckConfig::default());
        assert_eq!(r.status, Status::Warning);
        assert!(r.output().starts_with(
            "TCP WARNING - close-wait-leak: java (pid 1) holds 150 CLOSE_WAIT sockets;"
        ));
        let mut cfg = CheckConfig::default();
        cfg.add_crit("finding=warning").unwrap();
        assert_eq!(
            check(&report(0, vec![f.clone()]), &cfg).status,
            Status::Critical
        );
        let mut cfg = CheckConfig::default();
        cfg.add_warn("finding=none").unwrap();
        assert_eq!(check(&report(0, vec![f]), &cfg).status, Status::Ok);
        let mut cfg = CheckConfig::default();
        cfg.add_warn("new_conn_per_s=100").unwrap();
        let r = check(&report(0, vec![]), &cfg);
        assert_eq!((r.status, r.exit_code()), (Status::Unknown, 3));
        assert!(CheckConfig::default().add_warn("bogus=1").is_err());
        assert!(CheckConfig::default().add_warn("time_wait").is_err());
        assert!(CheckConfig::default().add_warn("time_wait=-1").is_err());
        assert!(CheckConfig::default().add_warn("finding=severe").is_err());
        assert_eq!(
            CheckResult::unknown("netlink: permission denied").output(),
            "TCP UNKNOWN - netlink: permission denied"
        );
    }
}
