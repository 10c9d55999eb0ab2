//! `tcpdoctor analyze FILE...`: pasted netstat/ss text -> the same model and diagnosis as a
//! live host.
//!
//! Each input is read streaming into one `Observation` per snapshot (its maps capped, see
//! `ObserveConfig::max_keys`). When a snapshot ends it is diagnosed on its own, and only what
//! the combined diagnosis needs stays: the first and the latest observation and a growth
//! `Trend` of all of them, so memory does not grow with the number of snapshots (a log of
//! `netstat` every second for a day is 86,400 snapshots). The text report lists the first and
//! last few snapshots and sums up the others (`SnapshotList`); `--json` writes every entry to
//! an unlinked temporary file as it comes and streams them back into the report (`Spill`);
//! only `-v`, which prints every entry as text, keeps them all (about 3 KB each).
//!
//! Whether a TIME_WAIT sits on a listening port decides which side closed first, so listeners
//! must be known before the connections: Linux `netstat`, `ss` and `/proc/net/tcp` list them
//! first (kernel order, per family), so one pass does. Windows, BSD, PowerShell and bare pasted
//! rows do not: at the first such snapshot the reading stops taking snapshots and only collects
//! each snapshot's listening ports, and a second reading observes from that snapshot on.
//! Standard input is spooled to an unlinked temporary file so it can be read again.
//!
//! On inputs over 1 MiB the sockets of the common Linux rows are observed on the parser's
//! worker threads: each gets a part (an `Observation` of the same snapshot, with the listening
//! ports known so far and its share of the key cap), and the parts are merged into the
//! snapshot's observation before it ends. Counts come out exactly as from one observation;
//! which sample sockets a finding shows, and which keys a capped map keeps, depend on the split
//! (fixed by chunk position, so a run is reproducible).

use crate::cli::{AnalyzeArgs, FailOn, Global};
use crate::out;
use crate::UserError;
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::process::ExitCode;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use tcpdoctor_diagnose::{
    diagnose, DiagnoseInput, ListeningPorts, Observation, ObserveConfig, Report, SourceOs, Trend,
};
use tcpdoctor_model::{
    KernelContext, ScanInfo, ServiceNames, Socket, SocketSink, SourceKind, StateCounts, UnknownRow,
};
use tcpdoctor_render::analyze::{
    render_text, write_json, AnalyzeReport, InputInfo, SkippedLine, SnapshotEntry, SnapshotList,
};
use tcpdoctor_text::{
    parse_reader, Format, ParseOptions, SinkPart, SnapshotMeta, SnapshotSummary, TextError,
    TextSink,
};

/// Rows of a snapshot that move the diagnosis of ended snapshots to a thread of its own.
const THREAD_ROWS: u64 = 65_536;

/// Rows of ended snapshots held back before they are sent to that thread.
const BATCH_ROWS: u64 = 4096;

/// Unknown-state rows and skipped lines listed in the report (all are counted).
const KEEP_ROWS: usize = 200;

/// The listening ports of each snapshot, kept as a short list each (a set of all 65,536 ports
/// is 8 KB, and a log of Windows `netstat` has thousands of snapshots): what the first reading
/// of an input collects once it has met a snapshot that lists its listeners late.
#[derive(Default)]
struct Listeners {
    /// By snapshot index.
    done: Vec<Box<[u16]>>,
    cur: Option<ListeningPorts>,
}

impl Listeners {
    /// Records the ports of snapshot `index`.
    fn record(&mut self, index: usize, ports: &ListeningPorts) {
        self.done.resize(index, Box::default());
        self.done.push(ports.iter().collect());
    }
}

impl TextSink for Listeners {
    fn begin_snapshot(&mut self, _meta: &SnapshotMeta) {
        self.cur = Some(ListeningPorts::new());
    }
    fn socket(&mut self, s: &Socket, _line: usize) {
        if let Some(l) = self.cur.as_mut() {
            l.observe(s);
        }
    }
    fn end_snapshot(&mut self, summary: &SnapshotSummary) {
        if let Some(l) = self.cur.take() {
            self.record(summary.index, &l);
        }
    }
}

/// What stays of the snapshots read so far, over every input: each one's entry (its own
/// diagnosis, made when it ends), and what the combined diagnosis needs: the first and the
/// latest observation and the growth trend of all of them. A snapshot's observation is dropped
/// once it is neither, so memory does not grow with the number of snapshots.
struct Run<'k> {
    kernel: &'k KernelContext,
    services: &'k ServiceNames,
    /// The first observation and the latest (at most two).
    kept: Vec<Observation>,
    trend: Trend,
    entries: SnapshotList,
    /// With `--json`: every entry goes to a temporary file instead of `entries`.
    spill: Option<Spill>,
    sum: StateCounts,
    /// The OS of every snapshot, or `Unknown` once two differ.
    os: Option<SourceOs>,
    /// A snapshot with at least one socket was seen.
    any_sockets: bool,
    /// An `ss -s` summary was seen.
    any_ss_summary: bool,
}

impl<'k> Run<'k> {
    /// `keep_all`: every snapshot's entry is kept (`-v`, or `--json` without a spill file),
    /// not only the first and last few; `spill`: they go there instead (`--json`).
    fn new(
        kernel: &'k KernelContext,
        services: &'k ServiceNames,
        keep_all: bool,
        spill: Option<Spill>,
    ) -> Run<'k> {
        Run {
            kernel,
            services,
            kept: Vec::new(),
            trend: Trend::new(),
            entries: SnapshotList::new(keep_all),
            spill,
            sum: StateCounts::default(),
            os: None,
            any_sockets: false,
            any_ss_summary: false,
        }
    }

    fn diagnose(&self, obs: &[Observation], os: SourceOs, trend: Option<&Trend>) -> Report {
        let mut input = DiagnoseInput::new(obs, self.kernel, os);
        input.services = Some(self.services);
        input.trend = trend;
        diagnose(&input)
    }

    /// A snapshot has ended: its own diagnosis now, and its observation kept only while it is
    /// the first or the latest.
    fn commit(&mut self, input: &str, obs: Observation, s: &SnapshotSummary) {
        let os = diag_os(s.os);
        let r = self.diagnose(std::slice::from_ref(&obs), os, None);
        self.sum.merge(&s.counts);
        self.any_sockets |= obs.total > 0;
        self.any_ss_summary |= s.ss_summary.is_some();
        self.os = match self.os {
            None => Some(os),
            Some(o) if o == os => Some(o),
            Some(_) => Some(SourceOs::Unknown),
        };
        let entry = SnapshotEntry {
            input: input.to_string(),
            index: s.index,
            format: s.format.name().to_string(),
            os: s.os.name().to_string(),
            command: s.command.clone(),
            first_line: s.first_line,
            last_line: s.last_line,
            total: s.counts.total(),
            states: s.counts,
            unknown_state: s.unknown_rows,
            duplicates: s.duplicates,
            findings: r.findings,
            ss_summary: s
                .ss_summary
                .as_ref()
                .and_then(|x| serde_json::to_value(x).ok()),
        };
        match &mut self.spill {
            Some(spill) => spill.push(&entry),
            None => self.entries.push(entry),
        }
        self.trend.observe(&obs);
        if self.kept.len() == 2 {
            self.kept.pop();
        }
        self.kept.push(obs);
    }

    /// The diagnosis of every snapshot together: the latest one, with growth across all.
    fn combined(&self) -> Report {
        let mut r = self.diagnose(
            &self.kept,
            self.os.unwrap_or(SourceOs::Unknown),
            Some(&self.trend),
        );
        r.total = self.sum.total();
        r.states = self.sum;
        r
    }
}

/// Snapshot entries written to an unlinked temporary file as they come (JSON values, one per
/// line), so that `--json` of a long log keeps none of them in memory (about 3 KB each); they
/// are read back, one at a time, while the report is written.
struct Spill {
    w: BufWriter<File>,
    /// The first write error; reported when the entries are read back, never dropped.
    error: Option<io::Error>,
}

impl Spill {
    fn create() -> io::Result<Spill> {
        Ok(Spill {
            w: BufWriter::with_capacity(1 << 16, unlinked_temp_file("snapshots")?),
            error: None,
        })
    }

    fn push(&mut self, e: &SnapshotEntry) {
        if self.error.is_some() {
            return;
        }
        // As a value, so its keys come sorted like the rest of the report.
        let written = serde_json::to_value(e)
            .and_then(|v| serde_json::to_writer(&mut self.w, &v))
            .map_err(io::Error::from)
            .and_then(|()| self.w.write_all(b"\n"));
        if let Err(err) = written {
            self.error = Some(err);
        }
    }

    /// The entries, in order.
    fn read_back(self) -> io::Result<impl Iterator<Item = io::Result<serde_json::Value>>> {
        if let Some(e) = self.error {
            return Err(io::Error::new(
                e.kind(),
                format!("writing the snapshot entries to a temporary file: {e}"),
            ));
        }
        let mut f = self.w.into_inner().map_err(|e| e.into_error())?;
        f.seek(SeekFrom::Start(0))?;
        Ok(io::BufRead::lines(BufReader::new(f))
            .map(|l| l.and_then(|l| serde_json::from_str(&l).map_err(io::Error::from))))
    }
}

/// A snapshot that has ended, on its way to [`Run::commit`].
struct Ended {
    input: String,
    obs: Observation,
    summary: SnapshotSummary,
}

impl Ended {
    fn rows(&self) -> u64 {
        self.summary.counts.total() + self.summary.unknown_rows
    }
}

/// Where ended snapshots are diagnosed ([`Run::commit`]): here, on the parsing thread, until a
/// second snapshot of [`THREAD_ROWS`] rows ends (one big snapshot, the common paste, gains
/// nothing from a thread); from then on, on a thread of their own, so that the next snapshot
/// is read meanwhile (a 1 GB log of 100 big snapshots: 20 % less wall time). Small
/// snapshots stay here because a hand-over costs more than diagnosing a few rows; after the
/// switch they go in batches of about [`BATCH_ROWS`] rows. The channel holds one batch, so what
/// waits is one big snapshot or a few thousand rows' worth of small ones. The order of the
/// commits is the order of the snapshots in both cases.
struct Committer<'s, 'k> {
    scope: &'s std::thread::Scope<'s, 'k>,
    mode: Mode<'s, 'k>,
    /// A snapshot of [`THREAD_ROWS`] rows or more was diagnosed here.
    seen_big: bool,
    batch: Vec<Ended>,
    batch_rows: u64,
}

enum Mode<'s, 'k> {
    Here(Box<Run<'k>>),
    Thread {
        to: SyncSender<Vec<Ended>>,
        run: std::thread::ScopedJoinHandle<'s, Run<'k>>,
    },
    /// The diagnosing thread stopped (it panicked): nothing more can be committed.
    Stopped,
}

impl<'s, 'k> Committer<'s, 'k> {
    fn new(scope: &'s std::thread::Scope<'s, 'k>, run: Run<'k>) -> Committer<'s, 'k> {
        Committer {
            scope,
            mode: Mode::Here(Box::new(run)),
            seen_big: false,
            batch: Vec::new(),
            batch_rows: 0,
        }
    }

    /// Whether the diagnosing thread has stopped (nothing more can be committed).
    fn stopped(&self) -> bool {
        matches!(self.mode, Mode::Stopped)
    }

    /// Takes an ended snapshot (dropped once the diagnosing thread has stopped: the run then
    /// ends in an error).
    fn ended(&mut self, e: Ended) {
        match &mut self.mode {
            Mode::Stopped => return,
            Mode::Here(run) if e.rows() < THREAD_ROWS || !self.seen_big => {
                self.seen_big |= e.rows() >= THREAD_ROWS;
                run.commit(&e.input, e.obs, &e.summary);
                return;
            }
            Mode::Here(_) => self.start_thread(),
            Mode::Thread { .. } => {}
        }
        self.batch_rows += e.rows();
        self.batch.push(e);
        if self.batch_rows >= BATCH_ROWS {
            self.flush();
        }
    }

    /// Moves the run to a thread of its own that commits what the channel brings.
    fn start_thread(&mut self) {
        if let Mode::Here(mut run) = std::mem::replace(&mut self.mode, Mode::Stopped) {
            let (to, ended) = sync_channel::<Vec<Ended>>(1);
            let handle = self.scope.spawn(move || {
                for e in ended.into_iter().flatten() {
                    run.commit(&e.input, e.obs, &e.summary);
                }
                *run
            });
            self.mode = Mode::Thread { to, run: handle };
        }
    }

    /// Sends the snapshots held back; false once the diagnosing thread has stopped.
    fn flush(&mut self) -> bool {
        self.batch_rows = 0;
        match &self.mode {
            Mode::Here(_) => true,
            Mode::Thread { to, .. } => {
                if !self.batch.is_empty() && to.send(std::mem::take(&mut self.batch)).is_err() {
                    self.mode = Mode::Stopped;
                    return false;
                }
                true
            }
            Mode::Stopped => false,
        }
    }

    /// Every snapshot committed: the run, or `None` when the diagnosing thread stopped.
    fn finish(mut self) -> Option<Run<'k>> {
        if !self.flush() {
            return None;
        }
        match self.mode {
            Mode::Here(run) => Some(*run),
            Mode::Thread { to, run } => {
                drop(to);
                run.join().ok()
            }
            Mode::Stopped => None,
        }
    }
}

/// Reads one input into the run: one Observation per snapshot, handed to the [`Committer`]
/// when it ends.
///
/// Without listening ports given (the first reading of an input), a snapshot in a format that
/// does not list its listeners first (`rerun_from`) stops the reading from taking snapshots:
/// from then on it only collects each snapshot's listening ports (`found`), and the input is
/// read a second time, with them, from that snapshot on; the snapshots before it are already
/// in the run (`skip_below` on the second reading).
struct Collect<'a, 's, 'k> {
    input: &'a str,
    commit: &'a mut Committer<'s, 'k>,
    listening: Option<Vec<Box<[u16]>>>,
    skip_below: usize,
    rerun_from: Option<usize>,
    found: Listeners,
    cur: Option<Observation>,
    unknown: Vec<UnknownRow>,
    skipped: Vec<SkippedLine>,
}

impl<'a, 's, 'k> Collect<'a, 's, 'k> {
    fn new(
        input: &'a str,
        commit: &'a mut Committer<'s, 'k>,
        listening: Option<Vec<Box<[u16]>>>,
        skip_below: usize,
    ) -> Collect<'a, 's, 'k> {
        Collect {
            input,
            commit,
            listening,
            skip_below,
            rerun_from: None,
            found: Listeners::default(),
            cur: None,
            unknown: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

/// Formats that print every listener before the connections of its family (kernel order).
fn listeners_first(f: Format) -> bool {
    matches!(f, Format::NetstatLinux | Format::Ss | Format::ProcNetTcp)
}

impl TextSink for Collect<'_, '_, '_> {
    fn begin_snapshot(&mut self, meta: &SnapshotMeta) {
        self.cur = None;
        if self.rerun_from.is_some() {
            self.found.begin_snapshot(meta);
            return;
        }
        if meta.index < self.skip_below {
            return;
        }
        let listening = self
            .listening
            .as_ref()
            .and_then(|l| l.get(meta.index))
            .map(|ports| ListeningPorts::from(ports.to_vec()))
            .unwrap_or_default();
        let cfg = ObserveConfig {
            listening,
            ..Default::default()
        };
        self.cur = Some(Observation::new(&meta.info, cfg));
    }
    fn socket(&mut self, s: &Socket, line: usize) {
        match self.cur.as_mut() {
            Some(o) => o.socket(s),
            None => self.found.socket(s, line),
        }
    }
    fn unknown_row(&mut self, row: &UnknownRow) {
        if self.unknown.len() < KEEP_ROWS {
            self.unknown.push(row.clone());
        }
    }
    fn skipped(&mut self, s: &tcpdoctor_text::Skipped) {
        if self.skipped.len() < KEEP_ROWS {
            self.skipped.push(SkippedLine {
                input: self.input.to_string(),
                line: s.line,
                reason: s.reason.clone(),
                text: s.text.clone(),
            });
        }
    }
    fn end_snapshot(&mut self, summary: &SnapshotSummary) {
        let Some(o) = self.cur.take() else {
            self.found.end_snapshot(summary);
            return;
        };
        if self.listening.is_none() && !listeners_first(summary.format) {
            self.rerun_from = Some(summary.index);
            self.found.record(summary.index, &o.listening);
        } else {
            let ended = Ended {
                input: self.input.to_string(),
                obs: o,
                summary: summary.clone(),
            };
            self.commit.ended(ended);
        }
    }
    fn part(&mut self, of: usize) -> Option<Box<dyn SinkPart>> {
        Some(Box::new(Part(self.cur.as_ref()?.part(of))))
    }
    fn join(&mut self, part: Box<dyn SinkPart>) {
        if let (Some(o), Ok(p)) = (self.cur.as_mut(), part.into_any().downcast::<Part>()) {
            o.merge(p.0);
        }
    }
}

/// An observation of some of a snapshot's sockets, made on a parser worker thread.
struct Part(Observation);

impl SinkPart for Part {
    fn socket(&mut self, socket: &Socket, _line: usize) {
        self.0.socket(socket);
    }
    fn listener(&mut self, socket: &Socket) {
        self.0.listening.observe(socket);
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

fn diag_os(os: tcpdoctor_text::SourceOs) -> SourceOs {
    os.name().parse().unwrap_or(SourceOs::Unknown)
}

/// Opens an input twice-readable: a file as is, standard input spooled to an unlinked file.
/// A read-write file in the temporary directory, unlinked at once: it goes away with the
/// process, however that ends.
fn unlinked_temp_file(tag: &str) -> io::Result<File> {
    let path = std::env::temp_dir().join(format!("tcpdoctor-{tag}-{}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let _ = std::fs::remove_file(&path);
    Ok(f)
}

fn open_input(name: &str) -> Result<File> {
    if name == "-" {
        let mut f = unlinked_temp_file("stdin").context("spooling standard input")?;
        io::copy(&mut io::stdin().lock(), &mut f).context("reading standard input")?;
        f.seek(SeekFrom::Start(0))?;
        Ok(f)
    } else {
        File::open(name).map_err(|e| UserError(format!("cannot read {name}: {e}")).into())
    }
}

fn text_error(name: &str, e: TextError) -> anyhow::Error {
    match e {
        TextError::NothingRecognised { message, hint } => {
            UserError(format!("{name}: {message}\n  hint: {hint}")).into()
        }
        other => anyhow::Error::new(other).context(format!("reading {name}")),
    }
}

/// Runs `analyze`.
pub fn run(g: &Global, a: &AnalyzeArgs) -> Result<ExitCode> {
    let mut opts = ParseOptions::default();
    if let Some(f) = &a.format {
        opts.format = Some(Format::parse(f).ok_or_else(|| {
            UserError(format!(
                "unknown format '{f}'; known: {}",
                Format::ALL
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?);
    }
    if let Some(o) = &a.os {
        opts.os = Some(tcpdoctor_text::SourceOs::parse(o).ok_or_else(|| {
            UserError(format!(
                "unknown OS '{o}'; known: linux, windows, macos, freebsd, openbsd, solaris, hpux, aix"
            ))
        })?);
    }
    opts.services = Some(Arc::clone(crate::cli::services()));

    let kernel = KernelContext::default();
    let mut inputs = Vec::new();
    let mut unknown = Vec::new();
    let mut skipped = Vec::new();
    let (mut unknown_total, mut skipped_total, mut duplicates) = (0u64, 0u64, 0u64);
    let kernel = &kernel;
    let (spill, spill_note) = match g.json.then(Spill::create).transpose() {
        Ok(s) => (s, None),
        Err(e) => (
            None,
            Some(format!(
                "Could not create a temporary file in {} ({e}): every snapshot's entry was kept in memory instead.",
                std::env::temp_dir().display()
            )),
        ),
    };
    let run = std::thread::scope(|scope| -> Result<Run<'_>> {
        let stopped = || anyhow::anyhow!("the thread that diagnoses each snapshot stopped");
        let mut commit = Committer::new(
            scope,
            Run::new(kernel, crate::cli::services(), g.json || a.verbose, spill),
        );
        for name in &a.files {
            let mut f = open_input(name)?;
            let mut c = Collect::new(name, &mut commit, None, 0);
            let mut stats = parse_reader(BufReader::with_capacity(1 << 20, &f), &opts, &mut c)
                .map_err(|e| text_error(name, e))?;
            if let Some(from) = c.rerun_from {
                let listening = std::mem::take(&mut c.found.done);
                f.seek(SeekFrom::Start(0))?;
                c = Collect::new(name, &mut commit, Some(listening), from);
                stats = parse_reader(BufReader::with_capacity(1 << 20, &f), &opts, &mut c)
                    .map_err(|e| text_error(name, e))?;
            }
            unknown_total += stats.unknown_rows;
            skipped_total += stats.skipped;
            duplicates += stats.duplicates;
            inputs.push(InputInfo {
                name: name.clone(),
                format: stats.format.clone(),
                os: stats
                    .os
                    .map(|o| o.name().to_string())
                    .unwrap_or_else(|| "unknown".into()),
                lines: stats.lines,
            });
            unknown.extend(c.unknown);
            skipped.extend(c.skipped);
            if commit.stopped() {
                return Err(stopped());
            }
        }
        commit.finish().ok_or_else(stopped)
    })?;
    unknown.truncate(KEEP_ROWS);
    skipped.truncate(KEEP_ROWS);
    let mut diagnosis = run.combined();
    diagnosis.notes.extend(spill_note);
    let snapshots = run.entries;

    let mut formats: Vec<&str> = Vec::new();
    for i in &inputs {
        for f in i.format.split('+') {
            if !f.is_empty() && !formats.contains(&f) {
                formats.push(f);
            }
        }
    }
    let mut scan = ScanInfo::new(SourceKind::Text);
    scan.format = Some(formats.join("+"));
    if !run.any_sockets && unknown_total == 0 && !run.any_ss_summary {
        return Err(UserError(format!(
            "no TCP socket rows found in {} (only UDP/unix rows, or no socket table)\n  hint: paste the \
             output of `netstat -tan`, `ss -tan` or Windows `netstat -ano`",
            a.files.join(", ")
        ))
        .into());
    }
    let report = AnalyzeReport {
        report: "analyze",
        diagnosis,
        format: formats.join("+"),
        inputs,
        snapshots,
        unknown_state: unknown_total,
        unknown_rows: unknown,
        duplicates,
        skipped,
        skipped_total,
        scan,
    };
    if g.json {
        let mut more: Box<dyn Iterator<Item = io::Result<serde_json::Value>>> = match run.spill {
            Some(spill) => Box::new(spill.read_back()?),
            None => Box::new(std::iter::empty()),
        };
        let mut w = BufWriter::new(io::stdout().lock());
        write_json(&report, &mut *more, &mut w)?;
        w.write_all(b"\n")?;
        w.flush()?;
    } else {
        out::print(&render_text(&report, &out::style(g.color), a.verbose))?;
    }
    let fail = match a.fail_on {
        FailOn::Never => false,
        FailOn::Info => report.diagnosis.worst().is_some(),
        FailOn::Warning => report.diagnosis.worst() >= Some(tcpdoctor_diagnose::Severity::Warning),
        FailOn::Critical => {
            report.diagnosis.worst() >= Some(tcpdoctor_diagnose::Severity::Critical)
        }
    };
    Ok(if fail {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
