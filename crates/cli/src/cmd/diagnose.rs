//! `tcpdoctor` with no command: live source -> Observation(s) + kernel context -> diagnosis;
//! with `--mysql`, MySQL's own view read at the same moments (tcpdoctor-mysql).

use crate::cli::{DiagnoseArgs, FailOn, Global, MysqlArgs};
use crate::out;
use crate::UserError;
use anyhow::Result;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tcpdoctor_diagnose::{
    diagnose, DiagnoseInput, Observation, ObserveConfig, Report, Severity, SourceOs,
};
use tcpdoctor_model::{KernelContext, MysqlStatus, ScanInfo, SocketFilter, SourceKind};
use tcpdoctor_mysql::{MysqlReader, MysqlTarget, ReadOptions};
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

/// A `--mysql` request: the server and the password (from the environment or a prompt,
/// never from the command line).
pub struct MysqlRequest {
    /// Where and as whom.
    pub target: MysqlTarget,
    /// The password, when one was given.
    pub password: Option<String>,
}

impl MysqlRequest {
    /// From `--mysql URL`: refuses a URL with a password; takes the password from
    /// MYSQL_PWD / TCPDOCTOR_MYSQL_PASSWORD, else asks on a terminal (echo off).
    pub fn from_args(m: &MysqlArgs) -> Result<Option<MysqlRequest>> {
        let Some(url) = &m.mysql else {
            return Ok(None);
        };
        let target = MysqlTarget::parse(url).map_err(|e| UserError(e.to_string()))?;
        let password = match tcpdoctor_mysql::password_from_env() {
            Some(p) => Some(p),
            None => tcpdoctor_mysql::prompt_password(&format!(
                "MySQL password for {}@{}: ",
                target.user,
                target.server()
            ))
            .map_err(|e| UserError(format!("--mysql: could not read the password: {e}")))?,
        };
        Ok(Some(MysqlRequest { target, password }))
    }
}

/// Reads MySQL's view; a failure becomes a gap (and no further reading is tried).
struct MysqlSide {
    reader: Option<MysqlReader>,
    gaps: Vec<tcpdoctor_model::Gap>,
}

impl MysqlSide {
    fn connect(req: Option<&MysqlRequest>) -> MysqlSide {
        let mut side = MysqlSide {
            reader: None,
            gaps: Vec::new(),
        };
        if let Some(r) = req {
            match MysqlReader::connect(&r.target, r.password.as_deref(), &ReadOptions::default()) {
                Ok(c) => side.reader = Some(c),
                Err(e) => side.gaps.push(e.gap()),
            }
        }
        side
    }

    fn read(&mut self) -> Option<MysqlStatus> {
        let r = self.reader.as_mut()?;
        match r.read() {
            Ok(s) => Some(s),
            Err(e) => {
                self.gaps.push(e.gap());
                self.reader = None;
                None
            }
        }
    }
}

/// Reads this host (or `-N` namespace) and diagnoses it.
pub fn collect(g: &Global, a: &DiagnoseArgs) -> Result<Collected> {
    collect_with(g, a, None)
}

/// [`collect`], plus MySQL's own view when asked (read inside the `-N` namespace, once, or at
/// both readings with `--interval`).
pub fn collect_with(
    g: &Global,
    a: &DiagnoseArgs,
    mysql: Option<&MysqlRequest>,
) -> Result<Collected> {
    let _ns = super::enter_netns(g)?;
    let owners = !a.no_owners;
    // MySQL first: tcpdoctor's own connection must not count in the rates between the two
    // counter readings.
    let mut my = MysqlSide::connect(mysql);
    let t0 = Instant::now();
    let (k0, gaps0) = kernel::read_context();
    let (obs1, mut scan) = observe(g, owners, &k0)?;
    let mut my_readings = Vec::new();
    my_readings.extend(my.read());
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
            my_readings.extend(my.read());
        }
        let k1 = kernel::read_context().0;
        (
            k1,
            Some(u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX)),
        )
    };
    scan.gaps.extend(gaps0);
    scan.gaps.extend(my.gaps);
    let mut input = DiagnoseInput::new(&observations, &k1, SourceOs::Linux);
    input.kernel_before = interval_ms.map(|_| &k0);
    input.interval_ms = interval_ms;
    input.services = Some(crate::cli::services());
    input.mysql = my_readings.last();
    input.mysql_before = (my_readings.len() >= 2).then(|| &my_readings[0]);
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

/// Runs the diagnosis (with `--mysql`, MySQL's view joined in).
pub fn run(g: &Global, a: &DiagnoseArgs, m: &MysqlArgs) -> Result<ExitCode> {
    let req = MysqlRequest::from_args(m)?;
    let c = collect_with(g, a, req.as_ref())?;
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
