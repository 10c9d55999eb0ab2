//! `tcpdoctor analyze`: the diagnosis of pasted text, with what the parser detected, each
//! snapshot on its own, and what it could not read.

use crate::diagnosis::{compact_states, render_text_sockets, sockets_line};
use crate::fmt::{thousands, Paint, Style};
use serde::Serialize;
use tcpdoctor_diagnose::{Finding, Report};
use tcpdoctor_model::{ScanInfo, StateCounts, UnknownRow};

/// One input file (or standard input).
#[derive(Debug, Clone, Serialize)]
pub struct InputInfo {
    /// The path as given (`-` for standard input).
    pub name: String,
    /// Detected format(s) of this input.
    pub format: String,
    /// Detected source OS.
    pub os: String,
    /// Lines read.
    pub lines: usize,
}

/// One skipped line.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedLine {
    /// Input name.
    pub input: String,
    /// 1-based line number.
    pub line: usize,
    /// Why it could not be read.
    pub reason: String,
    /// The line as printed.
    pub text: String,
}

/// One snapshot (one pasted command output).
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotEntry {
    /// Input name.
    pub input: String,
    /// 0-based index within its input.
    pub index: usize,
    /// Detected format.
    pub format: String,
    /// Detected OS.
    pub os: String,
    /// The command line pasted above it, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// First line of the snapshot.
    pub first_line: usize,
    /// Last line.
    pub last_line: usize,
    /// TCP sockets counted (duplicates once, unknown-state rows not included).
    pub total: u64,
    /// Per-state counts (all 11 keys).
    pub states: StateCounts,
    /// TCP rows with an unknown or missing state.
    pub unknown_state: u64,
    /// Copy-paste duplicates counted once.
    pub duplicates: u64,
    /// This snapshot's own diagnosis.
    pub findings: Vec<Finding>,
    /// For `ss -s` output: its totals (it lists no sockets, so `states` stays zero).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ss_summary: Option<serde_json::Value>,
}

/// The `analyze --json` object: the diagnosis contract (`total`, `states`, `findings`, ...)
/// over all snapshots together, plus what was detected and what could not be read.
#[derive(Debug)]
pub struct AnalyzeReport {
    /// Always `analyze`.
    pub report: &'static str,
    /// The diagnosis over all snapshots in order (two or more give `connection-growth`);
    /// `total` and `states` are the sums over every snapshot.
    pub diagnosis: Report,
    /// Detected format over all inputs (names joined with `+` when they differ).
    pub format: String,
    /// The inputs.
    pub inputs: Vec<InputInfo>,
    /// The snapshots, one by one (for a long run in the text report: the first and last few
    /// and a summary of the others).
    pub snapshots: SnapshotList,
    /// TCP rows with an unknown or missing state, over all snapshots.
    pub unknown_state: u64,
    /// The first of those rows (line, raw state, text).
    pub unknown_rows: Vec<UnknownRow>,
    /// Copy-paste duplicates counted once, over all snapshots.
    pub duplicates: u64,
    /// Lines that looked like socket rows but could not be read (the first ones).
    pub skipped: Vec<SkippedLine>,
    /// All skipped lines, including those not listed.
    pub skipped_total: u64,
    /// Provenance (source `text`) and gaps.
    pub scan: ScanInfo,
}

/// The JSON contract. The diagnosis report's own `snapshots` (a count) is replaced by the
/// array of snapshots, so the key appears once.
///
/// Every snapshot must have been kept ([`SnapshotList::new`] with `keep_all`): a list with
/// elided snapshots is an error, never a shorter array.
pub fn render_json(r: &AnalyzeReport) -> serde_json::Result<String> {
    let mut out = Vec::new();
    write_json(r, &mut std::iter::empty(), &mut out).map_err(serde_json::Error::io)?;
    String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

/// [`render_json`] written to `w` as it is produced, with `more` snapshots after the listed
/// ones: a long run's entries can wait in a file (as JSON values, one per line) instead of in
/// memory. The bytes are those of [`render_json`] with every snapshot listed.
pub fn write_json<W: std::io::Write>(
    r: &AnalyzeReport,
    more: &mut dyn Iterator<Item = std::io::Result<serde_json::Value>>,
    w: W,
) -> std::io::Result<()> {
    if r.snapshots.elided.is_some() {
        return Err(std::io::Error::other(
            "analyze: snapshots were summed up, not kept; the JSON report needs every one",
        ));
    }
    let mut v = serde_json::to_value(&r.diagnosis)?;
    let extra = serde_json::to_value(AnalyzeExtra {
        report: r.report,
        format: &r.format,
        inputs: &r.inputs,
        unknown_state: r.unknown_state,
        unknown_rows: &r.unknown_rows,
        duplicates: r.duplicates,
        skipped: &r.skipped,
        skipped_total: r.skipped_total,
        scan: &r.scan,
    })?;
    let mut map = match v.take() {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    if let serde_json::Value::Object(add) = extra {
        map.extend(add);
    }
    // The key sits where a map sorts it (serde_json's maps are sorted), as before.
    map.remove("snapshots");
    let listed = r
        .snapshots
        .listed()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()?;
    let body = Streamed {
        map,
        listed,
        more: std::cell::RefCell::new(more),
    };
    let mut ser = serde_json::Serializer::pretty(w);
    body.serialize(&mut ser)?;
    Ok(())
}

/// The report's map with `snapshots` written in its sorted place from the listed entries and
/// then `more`.
struct Streamed<'a> {
    map: serde_json::Map<String, serde_json::Value>,
    listed: Vec<serde_json::Value>,
    more: std::cell::RefCell<&'a mut dyn Iterator<Item = std::io::Result<serde_json::Value>>>,
}

impl Serialize for Streamed<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.map.len() + 1))?;
        let mut done = false;
        for (k, v) in &self.map {
            if !done && k.as_str() > "snapshots" {
                m.serialize_entry("snapshots", &Entries(self))?;
                done = true;
            }
            m.serialize_entry(k, v)?;
        }
        if !done {
            m.serialize_entry("snapshots", &Entries(self))?;
        }
        m.end()
    }
}

struct Entries<'b, 'a>(&'b Streamed<'a>);

impl Serialize for Entries<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = s.serialize_seq(None)?;
        for e in &self.0.listed {
            seq.serialize_element(e)?;
        }
        let mut more = self.0.more.borrow_mut();
        for e in &mut **more {
            seq.serialize_element(&e.map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct AnalyzeExtra<'a> {
    report: &'static str,
    format: &'a str,
    inputs: &'a [InputInfo],
    unknown_state: u64,
    unknown_rows: &'a [UnknownRow],
    duplicates: u64,
    skipped: &'a [SkippedLine],
    skipped_total: u64,
    scan: &'a ScanInfo,
}

/// Snapshots listed at the start and at the end of a long run in the text report (a
/// [`SnapshotList`] made with `keep_all`, as for `-v`, lists every one).
pub const SHOWN_AT_EACH_END: usize = 5;

/// The snapshots a long run does not list: how many, their sockets, and how many of them had
/// each finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Elided {
    /// Index of the first and the last of them (0-based).
    pub first_index: usize,
    /// Index of the last.
    pub last_index: usize,
    /// How many.
    pub count: u64,
    /// Fewest and most sockets in one of them.
    pub sockets: (u64, u64),
    /// Each finding id with its worst severity and the number of them that had it.
    pub findings: Vec<(tcpdoctor_diagnose::Severity, String, u64)>,
}

impl Elided {
    fn new(e: &SnapshotEntry) -> Elided {
        let mut x = Elided {
            first_index: e.index,
            last_index: e.index,
            count: 0,
            sockets: (e.total, e.total),
            findings: Vec::new(),
        };
        x.add(e);
        x
    }

    fn add(&mut self, e: &SnapshotEntry) {
        self.last_index = e.index;
        self.count += 1;
        self.sockets = (self.sockets.0.min(e.total), self.sockets.1.max(e.total));
        for f in &e.findings {
            match self.findings.iter_mut().find(|(_, id, _)| *id == f.id) {
                Some(x) => {
                    x.0 = x.0.max(f.severity);
                    x.2 += 1;
                }
                None => self.findings.push((f.severity, f.id.clone(), 1)),
            }
        }
    }
}

/// The snapshots of a report as they are listed: every one (`keep_all`: `--json`, `-v`), or,
/// for a long run, the first and last [`SHOWN_AT_EACH_END`] and an [`Elided`] summary of the
/// others, so that a log of thousands of snapshots takes no memory per snapshot.
#[derive(Debug, Clone, Default)]
pub struct SnapshotList {
    keep_all: bool,
    /// Every snapshot with `keep_all`; else the first ones.
    head: Vec<SnapshotEntry>,
    /// The latest ones (at most `SHOWN_AT_EACH_END + 2`, so that a summary always stands for
    /// three or more).
    tail: std::collections::VecDeque<SnapshotEntry>,
    elided: Option<Elided>,
}

impl SnapshotList {
    /// An empty list.
    pub fn new(keep_all: bool) -> SnapshotList {
        SnapshotList {
            keep_all,
            ..SnapshotList::default()
        }
    }

    /// Adds the next snapshot.
    pub fn push(&mut self, e: SnapshotEntry) {
        if self.keep_all || self.head.len() < SHOWN_AT_EACH_END {
            self.head.push(e);
            return;
        }
        self.tail.push_back(e);
        if self.tail.len() > SHOWN_AT_EACH_END + 2 {
            if let Some(old) = self.tail.pop_front() {
                self.elide(old);
            }
        }
    }

    fn elide(&mut self, e: SnapshotEntry) {
        match &mut self.elided {
            Some(x) => x.add(&e),
            None => self.elided = Some(Elided::new(&e)),
        }
    }

    /// Number of snapshots pushed.
    pub fn len(&self) -> usize {
        let elided = self.elided.as_ref().map_or(0, |x| x.count);
        self.head.len() + self.tail.len() + usize::try_from(elided).unwrap_or(usize::MAX)
    }

    /// Whether none was pushed.
    pub fn is_empty(&self) -> bool {
        self.head.is_empty()
    }

    /// The last snapshot pushed.
    pub fn last(&self) -> Option<&SnapshotEntry> {
        self.tail.back().or(self.head.last())
    }

    /// The listed snapshots before the summary, the summary, and those after it. Once a
    /// summary exists the two oldest of the latest ones join it, so it always stands for three
    /// or more.
    fn parts(&self) -> (&[SnapshotEntry], Option<Elided>, Vec<&SnapshotEntry>) {
        let mut tail: Vec<&SnapshotEntry> = self.tail.iter().collect();
        let elided = self.elided.clone().map(|mut x| {
            let extra = tail.len().saturating_sub(SHOWN_AT_EACH_END);
            for e in tail.drain(..extra) {
                x.add(e);
            }
            x
        });
        (&self.head, elided, tail)
    }

    /// The listed snapshots, in order (all of them with `keep_all`).
    pub fn listed(&self) -> impl Iterator<Item = &SnapshotEntry> {
        let (head, _, tail) = self.parts();
        head.iter().chain(tail)
    }
}

/// One line for the snapshots a long run does not list.
fn elided_line(x: &Elided, style: &Style) -> String {
    let (low, high) = x.sockets;
    let sockets = if low == high {
        thousands(low)
    } else {
        format!("{}-{}", thousands(low), thousands(high))
    };
    let mut line = format!(
        "  ... snapshots {}-{} ({} more, {sockets} sockets each; -v lists them)\n",
        x.first_index + 1,
        x.last_index + 1,
        thousands(x.count),
    );
    let mut seen = x.findings.clone();
    seen.sort_by(|a, b| b.0.cmp(&a.0).then(b.2.cmp(&a.2)).then(a.1.cmp(&b.1)));
    if seen.is_empty() {
        line.push_str("      no findings in them\n");
    }
    for (sev, id, count) in seen {
        line.push_str(&format!(
            "      {sev} {id} in {} of them\n",
            thousands(count)
        ));
    }
    style.paint(Paint::Dim, &line)
}

/// The human report: what was read, each snapshot in a line (the first and last
/// [`SHOWN_AT_EACH_END`] of a long run, and a summary of the others), then the diagnosis.
pub fn render_text(r: &AnalyzeReport, style: &Style, verbose: bool) -> String {
    let mut out = String::new();
    for i in &r.inputs {
        out.push_str(&style.paint(
            Paint::Bold,
            &format!(
                "{}: {} ({}), {} lines",
                i.name,
                i.format,
                i.os,
                thousands(i.lines as u64)
            ),
        ));
        out.push('\n');
    }
    if r.snapshots.len() > 1 {
        let line = |s: &SnapshotEntry| {
            let cmd = s
                .command
                .as_deref()
                .map(|c| format!(" `{c}`"))
                .unwrap_or_default();
            let mut l = format!(
                "  snapshot {} (lines {}-{}){cmd}: {} socket{}  {}\n",
                s.index + 1,
                s.first_line,
                s.last_line,
                thousands(s.total),
                if s.total == 1 { "" } else { "s" },
                compact_states(&s.states)
            );
            for f in &s.findings {
                l.push_str(&format!("      {} {}\n", f.severity, f.id));
            }
            l
        };
        let (head, elided, tail) = r.snapshots.parts();
        for s in head {
            out.push_str(&line(s));
        }
        if let Some(x) = &elided {
            out.push_str(&elided_line(x, style));
        }
        for s in tail {
            out.push_str(&line(s));
        }
        out.push_str(&style.paint(
            Paint::Dim,
            &format!(
                "  together (the last snapshot, and growth across all {}):\n",
                thousands(r.snapshots.len() as u64)
            ),
        ));
    }
    let mut notes = Vec::new();
    for s in r.snapshots.listed().filter(|s| s.ss_summary.is_some()) {
        if let Some(serde_json::Value::Object(m)) = &s.ss_summary {
            let parts: Vec<String> = [
                "tcp_total",
                "estab",
                "closed",
                "orphaned",
                "synrecv",
                "timewait",
            ]
            .iter()
            .filter_map(|k| {
                m.get(*k)
                    .and_then(|v| v.as_u64())
                    .map(|v| format!("{k} {}", thousands(v)))
            })
            .collect();
            notes.push(format!(
                "`ss -s` (lines {}-{}) gives totals only, no sockets to diagnose: TCP {}",
                s.first_line,
                s.last_line,
                parts.join(", ")
            ));
        }
    }
    if r.duplicates > 0 {
        notes.push(format!(
            "{} repeated connected rows were counted once (a socket's 4-tuple is unique, so an \
             exact repeat is a copy-paste artefact)",
            thousands(r.duplicates)
        ));
    }
    if r.unknown_state > 0 {
        notes.push(format!(
            "{} TCP rows carry no state or one nobody knows; they are in no state count",
            thousands(r.unknown_state)
        ));
    }
    for n in notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    out.push('\n');
    // With several snapshots the totals are sums over all of them, and the findings are the
    // last one's: say both.
    let sockets = match (r.snapshots.len(), r.snapshots.last()) {
        (n, Some(last)) if n > 1 => format!(
            "Sockets: {} in {} snapshots  {}\n  in the last one: {}  {}\n",
            thousands(r.diagnosis.total),
            thousands(n as u64),
            compact_states(&r.diagnosis.states),
            thousands(last.total),
            compact_states(&last.states)
        ),
        _ => sockets_line(r.diagnosis.total, &r.diagnosis.states),
    };
    out.push_str(&render_text_sockets(
        &r.diagnosis,
        &r.scan,
        style,
        verbose,
        &sockets,
    ));
    if !r.unknown_rows.is_empty() {
        out.push_str(&format!(
            "\n{}\n",
            style.paint(Paint::Bold, "TCP rows without a known state:")
        ));
        for u in r
            .unknown_rows
            .iter()
            .take(if verbose { usize::MAX } else { 10 })
        {
            let st = if u.raw_state.is_empty() {
                "(none)"
            } else {
                &u.raw_state
            };
            out.push_str(&format!(
                "  line {}: state {st}: {}\n",
                u.line,
                u.text.trim()
            ));
        }
    }
    if r.skipped_total > 0 {
        out.push_str(&format!(
            "\n{}\n",
            style.paint(
                Paint::Bold,
                &format!(
                    "Lines that look like sockets but could not be read: {}",
                    thousands(r.skipped_total)
                )
            )
        ));
        for s in r.skipped.iter().take(if verbose { usize::MAX } else { 10 }) {
            out.push_str(&format!(
                "  {}:{}: {}: {}\n",
                s.input,
                s.line,
                s.reason,
                s.text.trim()
            ));
        }
    }
    out
}
