//! `tcpdoctor check`: the diagnosis as a monitoring plugin (Nagios, Icinga, Sensu).
//!
//! One status line `TCP STATUS - summary | perfdata`, exit 0/1/2/3 for
//! OK/WARNING/CRITICAL/UNKNOWN. The plugin's own failures (a bad threshold, an unknown
//! namespace, no permission, a scan error) are UNKNOWN with exit 3 and one line, never the
//! usual exit 2, which a monitoring system would read as CRITICAL.

use crate::cli::{CheckArgs, DiagnoseArgs, FailOn, Global};
use crate::out;
use anyhow::Result;
use serde_json::json;
use std::process::ExitCode;
use tcpdoctor_diagnose::{check, CheckConfig, CheckResult};
use tcpdoctor_model::SCHEMA_VERSION;

fn config(a: &CheckArgs) -> Result<CheckConfig, String> {
    let mut cfg = CheckConfig::default();
    for w in &a.warn {
        cfg.add_warn(w).map_err(|e| format!("--warn {w}: {e}"))?;
    }
    for c in &a.crit {
        cfg.add_crit(c).map_err(|e| format!("--crit {c}: {e}"))?;
    }
    Ok(cfg)
}

fn result(g: &Global, a: &CheckArgs) -> CheckResult {
    let cfg = match config(a) {
        Ok(c) => c,
        Err(e) => return CheckResult::unknown(e),
    };
    let d = DiagnoseArgs {
        interval: a.interval,
        fail_on: FailOn::Never,
        verbose: false,
        no_owners: a.no_owners,
    };
    match super::diagnose::collect(g, &d) {
        Ok(c) => check(&c.report, &cfg),
        // One line: the error and its causes joined.
        Err(e) => CheckResult::unknown(format!("{e:#}").replace('\n', " ")),
    }
}

/// Runs the check; the exit status is the plugin status.
pub fn run(g: &Global, a: &CheckArgs) -> Result<ExitCode> {
    let r = result(g, a);
    let text = if g.json {
        let mut v = json!({
            "schema_version": SCHEMA_VERSION,
            "report": "check",
            "output": r.output(),
            "exit_code": r.exit_code(),
        });
        if let (Some(o), Ok(serde_json::Value::Object(m))) =
            (v.as_object_mut(), serde_json::to_value(&r))
        {
            o.extend(m);
        }
        o_line(serde_json::to_string_pretty(&v)?)
    } else {
        o_line(r.output())
    };
    out::print(&text)?;
    Ok(ExitCode::from(u8::try_from(r.exit_code()).unwrap_or(3)))
}

fn o_line(mut s: String) -> String {
    s.push('\n');
    s
}
