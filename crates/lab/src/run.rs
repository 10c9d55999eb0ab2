//! One lab run: namespaces, workers, probes (diagnosis of both sides while the problem is
//! live), the check, and the cleanup that happens whatever the outcome.

use crate::check::{check, CheckContext, CheckOutcome, ProbeReports};
use crate::cmd::{self, ip, run_ok, terminate};
use crate::error::LabError;
use crate::mariadb::{Mariadb, MysqlView, LAB_USER};
use crate::procs::{self, ProcRecord};
use crate::report::DiagReport;
use crate::scenario::{ClientMode, ProbeAt, Scenario, ServerMode, Side, MYSQL_WAIT_TIMEOUT_S};
use crate::state::{RunRecord, StateFile};
use crate::worker::{Event, Role, Stats, WorkerSpec, PASSWORD_ENV};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

/// Prefix of every namespace (and state entry) of the lab.
pub const NS_PREFIX: &str = "tcpdoctor-lab-";
/// Client address (inside the client namespace only).
pub const CLIENT_ADDR: &str = "10.213.0.1";
/// Server address (inside the server namespace only).
pub const SERVER_ADDR: &str = "10.213.0.2";
/// Longest a diagnosis may take.
const DIAG_LIMIT: Duration = Duration::from_secs(30);

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Workload length per phase (seconds), instead of the scenario's.
    pub duration_s: Option<f64>,
    /// Rate instead of the scenario's.
    pub rate: Option<u32>,
    /// Leave namespaces and processes for inspection (`lab clean` removes them).
    pub keep: bool,
    /// The tcpdoctor binary (workers and diagnosis).
    pub exe: PathBuf,
    /// The state file.
    pub state: StateFile,
}

/// One probe's result.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    /// Milliseconds since the phase's client started.
    pub at_ms: u64,
    /// `--interval` used.
    pub interval_s: Option<u32>,
    /// Both sides' reports.
    pub reports: ProbeReports,
    /// MySQL's own view at that moment.
    pub mysql: Option<Result<MysqlView, String>>,
}

/// One phase's result.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    /// Label.
    pub label: String,
    /// Client behaviour.
    pub client: ClientMode,
    /// Counts of the client's workload.
    pub client_stats: Option<Stats>,
    /// Probes.
    pub probes: Vec<ProbeResult>,
}

/// Everything a run saw.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The scenario as run (rate and duration after options).
    pub scenario: Scenario,
    /// Client and server namespace names.
    pub namespaces: BTreeMap<Side, String>,
    /// Main process pids per side.
    pub pids: BTreeMap<Side, Vec<u32>>,
    /// Phases.
    pub phases: Vec<PhaseResult>,
    /// The server worker's counts (the lab's own server).
    pub server_stats: Option<Stats>,
    /// The check.
    pub check: CheckOutcome,
    /// Left running (`--keep`).
    pub kept: bool,
    /// Wall time, milliseconds.
    pub elapsed_ms: u64,
    /// Problems met while cleaning up.
    pub cleanup_errors: Vec<String>,
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

struct Worker {
    child: Child,
    rec: ProcRecord,
    stdin: Option<ChildStdin>,
    rx: Receiver<(Instant, Event)>,
    ready: bool,
    done: Option<(Instant, Stats)>,
    exit: Option<Stats>,
    error: Option<String>,
    gone: bool,
}

impl Worker {
    fn spawn(
        exe: &PathBuf,
        ns: &str,
        spec: &WorkerSpec,
        password: Option<&str>,
    ) -> Result<Worker, LabError> {
        let json = serde_json::to_string(spec).map_err(|e| LabError::Protocol(e.to_string()))?;
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns])
            .arg(exe)
            .args(["lab", "__worker", &json]);
        if let Some(p) = password {
            c.env(PASSWORD_ENV, p);
        }
        c.stdin(if spec.detached {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        let mut child = c
            .spawn()
            .map_err(|e| LabError::io("starting a worker", e))?;
        let rec = ProcRecord::of(
            child.id(),
            &format!(
                "{} worker",
                match spec.role {
                    Role::Server(_) => "server",
                    Role::Client(_) => "client",
                }
            ),
        )
        .unwrap_or(ProcRecord {
            pid: child.id(),
            start_time: 0,
            what: "worker".into(),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take();
        std::thread::spawn(move || {
            let Some(out) = stdout else { return };
            // Bounded by the worker's life: the pipe closes when it exits.
            for line in std::io::BufReader::new(out).lines().take(10_000) {
                let Ok(line) = line else { break };
                let ev = serde_json::from_str::<Event>(&line).unwrap_or(Event::Error {
                    message: format!("unexpected worker output: {line}"),
                });
                if tx.send((Instant::now(), ev)).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Ok(Worker {
            child,
            rec,
            stdin,
            rx,
            ready: false,
            done: None,
            exit: None,
            error: None,
            gone: false,
        })
    }

    fn poll(&mut self) {
        loop {
            match self.rx.try_recv() {
                Ok((t, ev)) => match ev {
                    Event::Ready => self.ready = true,
                    Event::Done { stats } => self.done = Some((t, stats)),
                    Event::Exit { stats } => self.exit = Some(stats),
                    Event::Error { message } => self.error = Some(message),
                },
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.gone = true;
                    break;
                }
            }
        }
    }

    /// Waits until `f` holds, the worker fails, or `limit` passes.
    fn wait(
        &mut self,
        what: &str,
        limit: Duration,
        f: impl Fn(&Worker) -> bool,
    ) -> Result<(), LabError> {
        let start = Instant::now();
        loop {
            self.poll();
            if f(self) {
                return Ok(());
            }
            if let Some(e) = &self.error {
                return Err(LabError::Protocol(format!("{} failed: {e}", self.rec.what)));
            }
            if self.gone {
                return Err(LabError::Protocol(format!(
                    "{} exited before {what}",
                    self.rec.what
                )));
            }
            if start.elapsed() > limit {
                return Err(LabError::Timeout {
                    what: format!("{} ({what})", self.rec.what),
                    limit,
                    detail: String::new(),
                });
            }
            cmd::sleep(Duration::from_millis(10))?;
        }
    }

    /// Closes its stdin (it stops), waits for its last counts, then makes sure it is gone.
    fn stop(&mut self) -> Option<Stats> {
        self.stdin = None;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            self.poll();
            if self.exit.is_some() || self.gone {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        terminate(&mut self.child, Duration::from_secs(1));
        self.exit.clone()
    }
}

/// Everything a run created; removes it on drop unless kept.
struct LabEnv {
    state: StateFile,
    record: RunRecord,
    workers: Vec<Worker>,
    mariadb: Option<Mariadb>,
    keep: bool,
    errors: Vec<String>,
}

impl LabEnv {
    fn save(&mut self) {
        if let Err(e) = self.state.put(&self.record) {
            self.errors
                .push(format!("updating {}: {e}", self.state.path().display()));
        }
    }

    fn cleanup(&mut self) {
        if self.keep {
            self.record.kept = true;
            self.save();
            for w in &mut self.workers {
                w.stdin = None;
            }
            if let Some(db) = self.mariadb.take() {
                db.detach();
            }
            return;
        }
        for w in &mut self.workers {
            if w.exit.is_none() {
                w.stop();
            }
        }
        if let Some(mut db) = self.mariadb.take() {
            db.stop();
        }
        self.errors.extend(remove_run(&self.record));
        if let Err(e) = self.state.remove(&self.record.id) {
            self.errors
                .push(format!("updating {}: {e}", self.state.path().display()));
        }
    }
}

impl Drop for LabEnv {
    fn drop(&mut self) {
        if !self.record.id.is_empty() {
            self.cleanup();
            self.record.id.clear();
        }
    }
}

/// Kills the recorded processes that still are what was recorded, then anything left inside
/// the run's namespaces that the lab started (its workers, mariadbd), deletes the namespaces
/// and the directories. Returns the problems met.
pub(crate) fn remove_run(r: &RunRecord) -> Vec<String> {
    let mut errors = Vec::new();
    for p in &r.processes {
        procs::kill_verified(
            p,
            Duration::from_secs(if p.what == "mariadbd" { 10 } else { 2 }),
        );
    }
    for ns in &r.namespaces {
        if !ns.starts_with(NS_PREFIX) {
            errors.push(format!("not deleting namespace {ns}: it is not the lab's"));
            continue;
        }
        if !std::path::Path::new("/run/netns").join(ns).exists() {
            continue;
        }
        if let Ok(out) = ip(&["netns", "pids", ns]) {
            for pid in out
                .stdout
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
            {
                let cmdl = procs::cmdline(pid).unwrap_or_default();
                let ours = cmdl.contains(" lab __worker ")
                    || cmdl.contains("mariadbd")
                    || cmdl.contains("mysqld");
                if pid != std::process::id() && ours {
                    if let Some(rec) = ProcRecord::of(pid, "leftover") {
                        procs::kill_verified(&rec, Duration::from_secs(5));
                    }
                }
            }
        }
        if let Err(e) = ip(&["netns", "del", ns]) {
            errors.push(e.to_string());
        }
    }
    for d in &r.dirs {
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with(NS_PREFIX) && d.exists() {
            if let Err(e) = std::fs::remove_dir_all(d) {
                errors.push(format!("removing {}: {e}", d.display()));
            }
        }
    }
    errors
}

fn diagnose(exe: &PathBuf, ns: &str, interval: Option<u32>) -> Result<DiagReport, String> {
    let mut c = Command::new(exe);
    c.args(["-N", ns, "--json"]);
    if let Some(i) = interval {
        c.args(["--interval", &format!("{i}s")]);
    }
    let what = cmd::describe(&c);
    let out = cmd::run(&mut c, DIAG_LIMIT, true).map_err(|e| e.to_string())?;
    // 0: nothing reached --fail-on; 1: a finding did. Both print the report.
    if !matches!(out.status.code(), Some(0 | 1)) {
        return Err(format!(
            "`{what}` failed ({}): {}",
            out.status,
            out.stderr.trim()
        ));
    }
    DiagReport::parse(&out.stdout)
        .map_err(|e| format!("`{what}` printed no diagnosis report ({e})"))
}

fn diagnose_both(
    exe: &PathBuf,
    ns: &BTreeMap<Side, String>,
    interval: Option<u32>,
) -> BTreeMap<Side, Result<DiagReport, String>> {
    std::thread::scope(|s| {
        let hs: Vec<_> = ns
            .iter()
            .map(|(side, name)| (*side, s.spawn(move || diagnose(exe, name, interval))))
            .collect();
        hs.into_iter()
            .map(|(side, h)| {
                (
                    side,
                    h.join()
                        .unwrap_or_else(|_| Err("diagnosis thread panicked".into())),
                )
            })
            .collect()
    })
}

/// Runs `scenario`. Needs root. `progress` receives one line per step.
pub fn run(
    scenario: &Scenario,
    opts: &RunOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<RunOutcome, LabError> {
    if !is_root() {
        return Err(LabError::NotRoot);
    }
    let mut sc = scenario.clone();
    if let Some(d) = opts.duration_s {
        if !(0.1..=600.0).contains(&d) {
            return Err(LabError::Invalid(
                "--duration must be between 0.1 and 600 seconds".into(),
            ));
        }
        sc.duration_s = d;
    }
    if let Some(r) = opts.rate {
        if !(1..=10_000).contains(&r) {
            return Err(LabError::Invalid(
                "--rate must be between 1 and 10000".into(),
            ));
        }
        sc.rate = r;
    }
    if sc.needs_mariadb() {
        crate::mariadb::binaries()?;
    }
    let t0 = Instant::now();
    let me = std::process::id();
    let owner = ProcRecord::of(me, "tcpdoctor lab run")
        .ok_or_else(|| LabError::Protocol("cannot read /proc/self/stat".into()))?;
    let id = format!("{me}-{}", owner.start_time);
    let cns = format!("{NS_PREFIX}{me}-client");
    let sns = format!("{NS_PREFIX}{me}-server");
    let mut env = LabEnv {
        state: opts.state.clone(),
        record: RunRecord {
            id,
            scenario: sc.name.into(),
            owner,
            namespaces: vec![],
            processes: vec![],
            dirs: vec![],
            kept: false,
        },
        workers: vec![],
        mariadb: None,
        keep: opts.keep,
        errors: vec![],
    };
    let result = run_in(&mut env, &sc, opts, &cns, &sns, progress);
    if !opts.keep {
        progress("removing the namespaces and everything the lab started");
    }
    env.cleanup();
    env.record.id.clear();
    let mut outcome = result?;
    outcome.cleanup_errors = std::mem::take(&mut env.errors);
    outcome.elapsed_ms = t0.elapsed().as_millis() as u64;
    Ok(outcome)
}

fn run_in(
    env: &mut LabEnv,
    sc: &Scenario,
    opts: &RunOptions,
    cns: &str,
    sns: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<RunOutcome, LabError> {
    env.record.namespaces = vec![cns.to_string(), sns.to_string()];
    env.save();
    progress(&format!(
        "creating namespaces {cns} ({CLIENT_ADDR}) and {sns} ({SERVER_ADDR}) joined by a veth pair"
    ));
    for ns in [cns, sns] {
        ip(&["netns", "add", ns])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
    }
    let me = std::process::id();
    let (cif, sif) = (format!("tdlab{me}c"), format!("tdlab{me}s"));
    ip(&[
        "link", "add", &cif, "netns", cns, "type", "veth", "peer", "name", &sif, "netns", sns,
    ])?;
    ip(&[
        "-n",
        cns,
        "addr",
        "add",
        &format!("{CLIENT_ADDR}/30"),
        "dev",
        &cif,
    ])?;
    ip(&[
        "-n",
        sns,
        "addr",
        "add",
        &format!("{SERVER_ADDR}/30"),
        "dev",
        &sif,
    ])?;
    ip(&["-n", cns, "link", "set", &cif, "up"])?;
    ip(&["-n", sns, "link", "set", &sif, "up"])?;
    if let Some((lo, hi)) = sc.client_port_range {
        progress(&format!(
            "client namespace: net.ipv4.ip_local_port_range = {lo} {hi} ({} ports)",
            hi - lo + 1
        ));
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            cns,
            "sysctl",
            "-qw",
            &format!("net.ipv4.ip_local_port_range={lo} {hi}"),
        ]);
        run_ok(&mut c, Duration::from_secs(20))?;
    }
    let namespaces = BTreeMap::from([
        (Side::Client, cns.to_string()),
        (Side::Server, sns.to_string()),
    ]);
    let mut pids: BTreeMap<Side, Vec<u32>> = BTreeMap::new();
    let life = if opts.keep { 600 } else { 300 };
    let spec = |role| WorkerSpec {
        role,
        addr: SERVER_ADDR.into(),
        port: sc.port,
        rate: sc.rate,
        duration_ms: (sc.duration_s * 1000.0) as u64,
        backlog: sc.backlog,
        mysql_user: if sc.needs_mariadb() {
            Some(LAB_USER.into())
        } else {
            None
        },
        detached: opts.keep,
        max_life_s: life,
    };
    let mut password = None;
    let mut server_worker = None;
    if sc.server == ServerMode::Mariadb {
        let dir = std::env::temp_dir().join(format!("{NS_PREFIX}{me}-mariadb"));
        env.record.dirs.push(dir.clone());
        env.save();
        progress(&format!("starting MariaDB in {sns} on {SERVER_ADDR}:{} (datadir in {}, wait_timeout={MYSQL_WAIT_TIMEOUT_S}s)", sc.port, dir.display()));
        let db = Mariadb::start(
            sns,
            SERVER_ADDR,
            sc.port,
            &dir,
            MYSQL_WAIT_TIMEOUT_S,
            opts.keep,
        )?;
        env.record.processes.push(db.proc.clone());
        pids.insert(Side::Server, vec![db.proc.pid]);
        password = Some(db.password.clone());
        env.mariadb = Some(db);
        env.save();
    } else {
        progress(&format!(
            "starting the server in {sns} on {SERVER_ADDR}:{} ({:?}, backlog {})",
            sc.port, sc.server, sc.backlog
        ));
        let mut w = Worker::spawn(&opts.exe, sns, &spec(Role::Server(sc.server)), None)?;
        env.record.processes.push(w.rec.clone());
        pids.insert(Side::Server, vec![w.rec.pid]);
        env.save();
        w.wait("listening", Duration::from_secs(10), |w| w.ready)?;
        server_worker = Some(env.workers.len());
        env.workers.push(w);
    }
    let mut phases = Vec::new();
    for ph in &sc.phases {
        progress(&format!(
            "phase {}: client {:?} at {}/s for {:.1} s towards {SERVER_ADDR}:{}",
            ph.label, ph.client, sc.rate, sc.duration_s, sc.port
        ));
        let mut w = Worker::spawn(
            &opts.exe,
            cns,
            &spec(Role::Client(ph.client)),
            password.as_deref(),
        )?;
        env.record.processes.push(w.rec.clone());
        pids.entry(Side::Client).or_default().push(w.rec.pid);
        env.save();
        w.wait("starting", Duration::from_secs(20), |w| w.ready)?;
        let start = Instant::now();
        let workload_limit = Duration::from_secs_f64(sc.duration_s + 30.0);
        let mut probes = Vec::new();
        for p in &ph.probes {
            let due = match p.at {
                ProbeAt::During(ms) => start + Duration::from_millis(ms),
                ProbeAt::After(ms) => {
                    w.wait("finishing its workload", workload_limit, |w| {
                        w.done.is_some()
                    })?;
                    let done_at = w.done.as_ref().map(|d| d.0).unwrap_or_else(Instant::now);
                    done_at + Duration::from_millis(ms)
                }
                ProbeAt::AfterKillIdle(ms) => {
                    w.wait("finishing its workload", workload_limit, |w| {
                        w.done.is_some()
                    })?;
                    if let Some(db) = &env.mariadb {
                        let n = db.kill_idle()?;
                        progress(&format!("killed {n} idle Sleep threads of the lab user (KILL CONNECTION, as a pt-kill watchdog would)"));
                    }
                    Instant::now() + Duration::from_millis(ms)
                }
            };
            cmd::sleep(due.saturating_duration_since(Instant::now()))?;
            w.poll();
            if let Some(e) = &w.error {
                return Err(LabError::Protocol(format!("client worker failed: {e}")));
            }
            let at_ms = start.elapsed().as_millis() as u64;
            progress(&format!(
                "probe {}: diagnosing both namespaces{}",
                p.label,
                p.interval_s
                    .map(|i| format!(" over {i} s (--interval)"))
                    .unwrap_or_default()
            ));
            let sides = diagnose_both(&opts.exe, &namespaces, p.interval_s);
            if crate::signals::interrupted() {
                return Err(LabError::Interrupted);
            }
            let mysql = env
                .mariadb
                .as_ref()
                .map(|db| db.view().map_err(|e| e.to_string()));
            probes.push(ProbeResult {
                at_ms,
                interval_s: p.interval_s,
                reports: ProbeReports {
                    label: p.label.to_string(),
                    sides,
                },
                mysql,
            });
        }
        w.wait("finishing its workload", workload_limit, |w| {
            w.done.is_some()
        })?;
        let stats = w.done.as_ref().map(|d| d.1.clone());
        if !opts.keep {
            w.stop();
        }
        env.workers.push(w);
        phases.push(PhaseResult {
            label: ph.label.to_string(),
            client: ph.client,
            client_stats: stats,
            probes,
        });
    }
    let server_stats = match server_worker {
        Some(i) if !opts.keep => env.workers.get_mut(i).and_then(|w| w.stop()),
        _ => None,
    };
    let all: Vec<ProbeReports> = phases
        .iter()
        .flat_map(|p| p.probes.iter().map(|q| q.reports.clone()))
        .collect();
    let outcome = check(
        &sc.expects,
        &all,
        &CheckContext {
            port: sc.port,
            pids: pids.clone(),
        },
    );
    Ok(RunOutcome {
        scenario: sc.clone(),
        namespaces,
        pids,
        phases,
        server_stats,
        check: outcome,
        kept: opts.keep,
        elapsed_ms: 0,
        cleanup_errors: vec![],
    })
}
