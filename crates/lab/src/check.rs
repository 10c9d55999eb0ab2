//! `lab run NAME --check`: compares what the diagnosis reported on each side with what the
//! scenario expects.

use crate::report::{DiagFinding, DiagReport};
use crate::scenario::{Expect, Naming, Side};
use serde::Serialize;
use std::collections::BTreeMap;

/// The diagnosis of both sides at one probe.
#[derive(Debug, Clone)]
pub struct ProbeReports {
    /// The probe's label.
    pub label: String,
    /// Per side: the report, or why there is none.
    pub sides: BTreeMap<Side, Result<DiagReport, String>>,
}

/// What the check needs besides the reports.
#[derive(Debug, Clone, Default)]
pub struct CheckContext {
    /// The service port.
    pub port: u16,
    /// Pids that count as "the process" of each side.
    pub pids: BTreeMap<Side, Vec<u32>>,
}

/// The outcome of one expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectOutcome {
    /// What was expected, in words.
    pub expected: String,
    /// Whether it was met.
    pub ok: bool,
    /// What was found, in words.
    pub got: String,
}

/// The outcome of `--check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckOutcome {
    /// One per expectation.
    pub outcomes: Vec<ExpectOutcome>,
}

impl CheckOutcome {
    /// Every expectation met (and there was at least one).
    pub fn passed(&self) -> bool {
        !self.outcomes.is_empty() && self.outcomes.iter().all(|o| o.ok)
    }
}

fn describe_found(f: &DiagFinding) -> String {
    let keys = f.group_keys();
    let keys = if keys.is_empty() {
        "no evidence groups".to_string()
    } else {
        keys.join(", ")
    };
    format!("{} {} ({keys})", f.id, f.severity.name())
}

fn names_ok(f: &DiagFinding, names: Option<Naming>, ctx: &CheckContext) -> bool {
    match names {
        None => true,
        Some(Naming::Port) => f.names_port(ctx.port),
        Some(Naming::Process(side)) => ctx
            .pids
            .get(&side)
            .is_some_and(|pids| pids.iter().any(|p| f.names_pid(*p))),
    }
}

fn check_one(e: &Expect, probes: &[ProbeReports], ctx: &CheckContext) -> ExpectOutcome {
    let expected = e.describe(ctx.port);
    let relevant: Vec<&ProbeReports> = probes
        .iter()
        .filter(|p| e.probe.is_none_or(|l| p.label == l))
        .collect();
    if relevant.is_empty() {
        return ExpectOutcome {
            expected,
            ok: false,
            got: "no diagnosis was taken".into(),
        };
    }
    let mut problems = Vec::new();
    let mut same_id = Vec::new();
    let mut met = false;
    for p in &relevant {
        match p.sides.get(&e.side) {
            None => problems.push(format!("[{}] the {} side was not diagnosed", p.label, e.side.name())),
            Some(Err(why)) => problems.push(format!("[{}] no diagnosis of the {}: {why}", p.label, e.side.name())),
            Some(Ok(r)) if r.findings.is_none() => problems.push(format!(
                "[{}] the report of the {} has no `findings` (this tcpdoctor binary does not diagnose yet)",
                p.label,
                e.side.name()
            )),
            Some(Ok(r)) => {
                for f in r.findings().iter().filter(|f| f.id == e.id) {
                    same_id.push(format!("[{}] {}", p.label, describe_found(f)));
                    if e.present && f.severity >= e.min_severity && names_ok(f, e.names, ctx) {
                        met = true;
                    }
                }
            }
        }
    }
    let all_diagnosed = problems.is_empty();
    let ok = if e.present {
        met
    } else {
        all_diagnosed && same_id.is_empty()
    };
    let show_problems = !(problems.is_empty() || e.present && met);
    let got = if show_problems {
        let mut v = problems;
        v.extend(same_id);
        v.join("; ")
    } else if same_id.is_empty() {
        let others: Vec<String> = relevant
            .iter()
            .filter_map(|p| match p.sides.get(&e.side) {
                Some(Ok(r)) => Some(
                    r.findings()
                        .iter()
                        .map(|f| format!("[{}] {} {}", p.label, f.id, f.severity.name()))
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect();
        if others.is_empty() {
            format!("no findings on the {}", e.side.name())
        } else {
            format!(
                "not reported; the {} had: {}",
                e.side.name(),
                others.join(", ")
            )
        }
    } else {
        same_id.join("; ")
    };
    ExpectOutcome { expected, ok, got }
}

/// Checks every expectation against the probes' reports.
pub fn check(expects: &[Expect], probes: &[ProbeReports], ctx: &CheckContext) -> CheckOutcome {
    CheckOutcome {
        outcomes: expects.iter().map(|e| check_one(e, probes, ctx)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::find;

    fn report(findings: &str) -> DiagReport {
        DiagReport::parse(&format!(
            r#"{{"total": 3, "states": {{"TIME_WAIT": 3}}, "findings": [{findings}]}}"#
        ))
        .unwrap()
    }

    fn probe(
        label: &str,
        client: Result<DiagReport, String>,
        server: Result<DiagReport, String>,
    ) -> ProbeReports {
        ProbeReports {
            label: label.into(),
            sides: BTreeMap::from([(Side::Client, client), (Side::Server, server)]),
        }
    }

    fn ctx(port: u16) -> CheckContext {
        CheckContext {
            port,
            pids: BTreeMap::from([(Side::Client, vec![100]), (Side::Server, vec![200, 201])]),
        }
    }

    const TW_SERVER: &str = r#"{"id": "time-wait-server-side", "severity": "info", "summary": "s",
        "evidence": {"groups": [{"key": "local:8080"}]}}"#;
    const TW_SERVER_WRONG_PORT: &str = r#"{"id": "time-wait-server-side", "severity": "info", "summary": "s",
        "evidence": {"groups": [{"key": "local:9090"}]}}"#;
    const TW_CLIENT: &str = r#"{"id": "time-wait-client-side", "severity": "info", "summary": "s",
        "evidence": {"groups": [{"key": "10.213.0.2:8080"}]}}"#;

    #[test]
    fn server_close_storm_passes_with_the_right_finding() {
        let s = find("server-close-storm").unwrap();
        let out = check(
            &s.expects,
            &[probe("after", Ok(report("")), Ok(report(TW_SERVER)))],
            &ctx(8080),
        );
        assert!(out.passed(), "{out:?}");
        assert_eq!(out.outcomes.len(), 2);
        assert_eq!(
            out.outcomes[0].expected,
            "time-wait-server-side on the server naming port 8080"
        );
        assert_eq!(
            out.outcomes[0].got,
            "[after] time-wait-server-side info (local:8080)"
        );
        assert_eq!(
            out.outcomes[1].expected,
            "no time-wait-client-side on the client"
        );
        assert_eq!(out.outcomes[1].got, "no findings on the client");
    }

    #[test]
    fn wrong_side_wrong_port_and_unwanted_findings_fail() {
        let s = find("server-close-storm").unwrap();
        // On the wrong side.
        let out = check(
            &s.expects,
            &[probe("after", Ok(report(TW_SERVER)), Ok(report("")))],
            &ctx(8080),
        );
        assert!(!out.passed());
        assert!(!out.outcomes[0].ok);
        assert_eq!(out.outcomes[0].got, "no findings on the server");
        // Naming another port.
        let out = check(
            &s.expects,
            &[probe(
                "after",
                Ok(report("")),
                Ok(report(TW_SERVER_WRONG_PORT)),
            )],
            &ctx(8080),
        );
        assert!(!out.outcomes[0].ok);
        assert_eq!(
            out.outcomes[0].got,
            "[after] time-wait-server-side info (local:9090)"
        );
        // A finding that must be absent.
        let out = check(
            &s.expects,
            &[probe("after", Ok(report(TW_CLIENT)), Ok(report(TW_SERVER)))],
            &ctx(8080),
        );
        assert!(out.outcomes[0].ok);
        assert!(!out.outcomes[1].ok);
        assert_eq!(
            out.outcomes[1].got,
            "[after] time-wait-client-side info (10.213.0.2:8080)"
        );
        assert!(!out.passed());
    }

    #[test]
    fn severity_floor() {
        let s = find("port-exhaustion").unwrap();
        let warn = r#"{"id": "ephemeral-port-exhaustion", "severity": "warning", "summary": "s",
            "evidence": {"groups": [{"key": "10.213.0.1->10.213.0.2:8080"}]}}"#;
        let crit = warn.replace("warning", "critical");
        let out = check(
            &s.expects,
            &[probe("after", Ok(report(warn)), Ok(report("")))],
            &ctx(8080),
        );
        assert!(!out.passed());
        let out = check(
            &s.expects,
            &[probe("after", Ok(report(&crit)), Ok(report("")))],
            &ctx(8080),
        );
        assert!(out.passed(), "{out:?}");
    }

    #[test]
    fn process_naming_uses_the_side_pids() {
        let s = find("close-wait-leak").unwrap();
        let f = |pid: u32| {
            format!(
                r#"{{"id": "close-wait-leak", "severity": "warning", "summary": "s",
                "evidence": {{"groups": [{{"key": "pid:{pid}"}}]}}}}"#
            )
        };
        let out = check(
            &s.expects,
            &[probe("after", Ok(report("")), Ok(report(&f(201))))],
            &ctx(8080),
        );
        assert!(out.passed(), "{out:?}");
        // The client's pid does not count for the server's process.
        let out = check(
            &s.expects,
            &[probe("after", Ok(report("")), Ok(report(&f(100))))],
            &ctx(8080),
        );
        assert!(!out.passed());
    }

    #[test]
    fn probe_specific_expectations() {
        let s = find("mysql-pooled").unwrap();
        let tw3306 = r#"{"id": "time-wait-client-side", "severity": "info", "summary": "s",
            "evidence": {"groups": [{"key": "10.213.0.2:3306"}]}}"#;
        let good = [
            probe("pooled", Ok(report("")), Ok(report(""))),
            probe("short", Ok(report(tw3306)), Ok(report(""))),
        ];
        assert!(check(&s.expects, &good, &ctx(3306)).passed());
        let bad = [
            probe("pooled", Ok(report(tw3306)), Ok(report(""))),
            probe("short", Ok(report(tw3306)), Ok(report(""))),
        ];
        let out = check(&s.expects, &bad, &ctx(3306));
        assert!(!out.passed());
        assert_eq!(out.outcomes.iter().filter(|o| !o.ok).count(), 1);
    }

    #[test]
    fn missing_diagnosis_fails_even_for_absent_expectations() {
        let s = find("server-close-storm").unwrap();
        let nofind = DiagReport::parse(r#"{"total": 0, "states": {}}"#).unwrap();
        let out = check(
            &s.expects,
            &[probe("after", Ok(nofind.clone()), Ok(nofind))],
            &ctx(8080),
        );
        assert!(!out.passed());
        assert!(out.outcomes.iter().all(|o| !o.ok));
        assert!(
            out.outcomes[0].got.contains("has no `findings`"),
            "{}",
            out.outcomes[0].got
        );
        let out = check(
            &s.expects,
            &[probe("after", Err("exit 2".into()), Err("exit 2".into()))],
            &ctx(8080),
        );
        assert_eq!(
            out.outcomes[1].got,
            "[after] no diagnosis of the client: exit 2"
        );
        assert!(!check(&s.expects, &[], &ctx(8080)).passed());
        assert!(!check(&[], &[], &ctx(8080)).passed());
    }
}
