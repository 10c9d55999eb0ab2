//! `tcpdoctor` with no command: live source -> Observation(s) + kernel context -> diagnosis.

use crate::cli::{DiagnoseArgs, FailOn, Global};
use crate::out;
use anyhow::Result;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tcpdoctor_diagnose::{
    diagnose, DiagnoseInput, Observation, ObserveConfig, Report, Severity, SourceOs,
};
use tcpdoctor_model::{KernelContext, ScanInfo, SocketFilter, SourceKind};
use tcpdoctor_render::diagnosis::{render_json, render_text};
use tcpdoctor_sources::{kernel, live};

/// Default pause between the two counter readings when no `--interval` is given.
const DEFAULT_COUNTER_INTERVAL: Duration = Duration::from_secs(1);

/// A finished diagnosis and the provenance of its last scan.
pub struct Collected {
    /// The report.
    pub report: Report,
    /// The last scan's provenance and gaps (kernel-context gaps included).
    pub scan: ScanInfo,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn observe(g: &Global, owners: bool, k: &KernelContext) -> Result<(Observation, ScanInfo)> {
    let listening = super::listening_ports(g)?;
    let opts = super::live_options(g, SocketFilter::default(), owners);
    let mut pre = ScanInfo::new(SourceKind::Netlink);
    pre.taken_at_ms = now_ms();
    pre.owners_resolved = owners;
    let cfg = ObserveConfig {
        listening,
        port_range: k.local_port_range(),
        ..Default::default()
    };
    let mut obs = Observation::new(&pre, cfg);
    let info = live::scan(&opts, &mut obs)?;
    Ok((obs, info))
}

/// Reads this host (or `-N` namespace) and diagnoses it.
pub fn collect(g: &Global, a: &DiagnoseArgs) -> Result<Collected> {
    let _ns = super::enter_netns(g)?;
    let owners = !a.no_owners;
    let t0 = Instant::now();
    let (k0, gaps0) = kernel::read_context();
    let (obs1, mut scan) = observe(g, owners, &k0)?;
    let mut observations = vec![obs1];
    let wait = a.interval.unwrap_or(DEFAULT_COUNTER_INTERVAL);
    let (k1, interval_ms) = if wait.is_zero() {
        (k0.clone(), None)
    } else {
        std::thread::sleep(wait.saturating_sub(t0.elapsed()));
        if a.interval.is_some() {
            let (obs2, scan2) = observe(g, owners, &k0)?;
            observations.push(obs2);
            scan = scan2;
        }
        let k1 = kernel::read_context().0;
        (
            k1,
            Some(u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX)),
        )
    };
    scan.gaps.extend(gaps0);
    let mut input = DiagnoseInput::new(&observations, &k1, SourceOs::Linux);
    input.kernel_before = interval_ms.map(|_| &k0);
    input.interval_ms = interval_ms;
    input.services = Some(crate::cli::services());
    Ok(Collected {
        report: diagnose(&input),
        scan,
    })
}

/// Exit status for `--fail-on`.
pub fn exit_for(report: &Report, fail_on: FailOn) -> ExitCode {
    let limit = match fail_on {
        FailOn::Info => Some(Severity::Info),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Critical => Some(Severity::Critical),
        FailOn::Never => None,
    };
    match (limit, report.worst()) {
        (Some(l), Some(w)) if w >= l => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

/// Runs the diagnosis.
pub fn run(g: &Global, a: &DiagnoseArgs) -> Result<ExitCode> {
    let c = collect(g, a)?;
    if g.json {
        out::print(&render_json(&c.report, &c.scan)?)?;
        out::print("\n")?;
    } else {
        out::print(&render_text(
            &c.report,
            &c.scan,
            &out::style(g.color),
            a.verbose,
        ))?;
    }
    Ok(exit_for(&c.report, a.fail_on))
}
