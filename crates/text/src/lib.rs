//! Text sources: netstat/ss/Windows/BSD output pasted from any machine, parsed into the
//! tcpdoctor model.
//!
//! People paste `netstat` and `ss` output from servers they cannot reach, from Windows boxes,
//! from tickets and blog posts. This crate turns that text into [`Snapshot`]s of
//! `Socket`s, one per pasted command output, and says which format
//! and which operating system it came from (advice depends on it).
//!
//! Formats are detected per line and per table (see [`Format`]): Linux net-tools and BusyBox
//! `netstat` (all the usual flags, names, localised titles and states), `ss` (with or without
//! Netid/State columns, `-p -o -e -i`, `ss state X`, `ss -s`), `/proc/net/tcp[6]`, Windows
//! `netstat -an/-ano/-anob` in any language we could confirm, PowerShell
//! `Get-NetTCPConnection`, macOS/FreeBSD/OpenBSD/HP-UX/AIX/Solaris `netstat`, and bare rows.
//! Prompts, command lines, prose, `...` elisions and invalid UTF-8 around the rows are fine.
//!
//! Two ways in:
//! - [`parse_reader`] / [`Parser`]: streaming, events to a [`TextSink`] in input order.
//!   Memory stays bounded whatever the input size: one line (at most
//!   [`ParseOptions::max_line_bytes`]), one socket buffer, and a capped duplicate table per
//!   snapshot ([`ParseOptions::dedupe_cap`], 1.8 MB at most by default); inputs over 1 MiB
//!   are read on worker threads ([`ParseOptions::threads`]) with at most eight 1 MiB chunks
//!   per worker in existence (`scripts/bench-analyze` and docs/benchmarks.md have the speed
//!   and memory figures). A sink that offers [`SinkPart`]s gets the sockets of the common
//!   Linux rows built and handed over on the worker threads.
//! - [`parse_bytes`]: everything collected into a [`ParseOutput`] (memory grows with the
//!   number of sockets, by design).
//!
//! Counting rules (shared with the conformance corpus): only `tcp*` rows count; udp, raw,
//! unix, vsock, netlink and Bluetooth rows never do, whatever state words they carry. A TCP
//! row with a state nobody knows, or no state at all, is an
//! [`UnknownRow`]: counted and listed, never dropped. A
//! connected row that repeats an earlier row of the same snapshot character for character
//! is a copy-paste artefact and counts once ([`Duplicate`]); listeners never merge. Lines
//! that look like socket rows but cannot be read are reported as [`Skipped`].
//!
//! The crate is pure: it reads only the bytes it is given and never panics on any input.

mod api;
mod command;
mod dedupe;
mod endpoint;
mod parser;
mod pipeline;
mod rows;
mod words;

pub use api::{
    Duplicate, Format, ParseOptions, ParseOutput, ParseStats, SinkPart, Skipped, SnapshotMeta,
    SnapshotSummary, SocketsOnly, SourceOs, SsSummary, SsTransport, TextError, TextSink,
    DEFAULT_DEDUPE_CAP,
};
pub use parser::Parser;

use std::io::BufRead;
use tcpdoctor_model::{Snapshot, Socket, StateCounts, UnknownRow};

/// Reads `reader` to the end and sends everything found to `sink`, in input order.
///
/// Memory stays bounded whatever the input size (see [`Parser`]). Input that starts with a
/// UTF-16 byte-order mark (what PowerShell's `>` writes) is converted on the fly.
pub fn parse_reader<R: BufRead, S: TextSink + ?Sized>(
    mut reader: R,
    opts: &ParseOptions,
    sink: &mut S,
) -> Result<ParseStats, TextError> {
    let mut parser = Parser::new(opts.clone());
    let head = loop {
        match reader.fill_buf() {
            Ok(b) => break b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    };
    let utf16 = match head {
        [0xFF, 0xFE, ..] => Some(false),
        [0xFE, 0xFF, ..] => Some(true),
        _ => None,
    };
    if let Some(big_endian) = utf16 {
        reader.consume(2);
        let mut conv = Utf16Reader {
            inner: reader,
            big_endian,
            pending: None,
        };
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = String::new();
        loop {
            let n = match conv.inner.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            out.clear();
            conv.decode(&buf[..n], &mut out);
            parser.feed(out.as_bytes(), sink);
        }
        return parser.finish(sink);
    }
    let workers = match opts.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(4),
        n => n.min(64),
    };
    // The first MiB on this thread; bigger inputs continue on the workers from the next line
    // boundary on.
    let mut fed = 0usize;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if buf.is_empty() {
            return parser.finish(sink);
        }
        if workers > 1 && fed >= pipeline::CHUNK {
            if let Some(i) = memchr::memchr(b'\n', buf) {
                parser.feed(&buf[..=i], sink);
                reader.consume(i + 1);
                pipeline::run(&mut parser, reader, sink, workers)?;
                return parser.finish(sink);
            }
        }
        // At most the first MiB here, even when the reader hands over more at once (a byte
        // slice hands over everything).
        let n = if workers > 1 {
            buf.len().min(pipeline::CHUNK.saturating_sub(fed).max(1))
        } else {
            buf.len()
        };
        parser.feed(&buf[..n], sink);
        fed += n;
        reader.consume(n);
    }
}

/// Converts UTF-16 bytes to UTF-8 text, one chunk at a time (odd bytes and surrogate pairs
/// carried over; bad code units become U+FFFD).
struct Utf16Reader<R> {
    inner: R,
    big_endian: bool,
    pending: Option<u8>,
}

impl<R> Utf16Reader<R> {
    fn decode(&mut self, mut bytes: &[u8], out: &mut String) {
        let mut units: Vec<u16> = Vec::with_capacity(bytes.len() / 2 + 1);
        if let Some(p) = self.pending.take() {
            if let Some((&b, rest)) = bytes.split_first() {
                units.push(self.unit(p, b));
                bytes = rest;
            } else {
                self.pending = Some(p);
                return;
            }
        }
        let mut it = bytes.chunks_exact(2);
        for c in &mut it {
            units.push(self.unit(c[0], c[1]));
        }
        if let [b] = it.remainder() {
            self.pending = Some(*b);
        }
        out.extend(char::decode_utf16(units).map(|r| r.unwrap_or('\u{FFFD}')));
    }

    fn unit(&self, a: u8, b: u8) -> u16 {
        if self.big_endian {
            u16::from_be_bytes([a, b])
        } else {
            u16::from_le_bytes([a, b])
        }
    }
}

/// A [`TextSink`] that collects everything into a [`ParseOutput`]
/// (what [`parse_bytes`] uses).
#[derive(Debug)]
pub struct CollectSink {
    max_kept: usize,
    snapshots: Vec<Snapshot>,
    details: Vec<SnapshotSummary>,
    skipped: Vec<Skipped>,
    duplicate_rows: Vec<Duplicate>,
}

impl CollectSink {
    /// A collector that keeps at most `max_kept` skipped lines and duplicate records.
    pub fn new(max_kept: usize) -> CollectSink {
        CollectSink {
            max_kept,
            snapshots: Vec::new(),
            details: Vec::new(),
            skipped: Vec::new(),
            duplicate_rows: Vec::new(),
        }
    }

    /// The collected output, with the totals of a finished parse.
    pub fn into_output(self, stats: &ParseStats) -> ParseOutput {
        let mut states = StateCounts::default();
        for d in &self.details {
            states.merge(&d.counts);
        }
        ParseOutput {
            format: stats.format.clone(),
            os: stats.os.unwrap_or(SourceOs::Unknown),
            snapshots: self.snapshots,
            details: self.details,
            skipped: self.skipped,
            skipped_total: stats.skipped,
            duplicates: stats.duplicates,
            duplicate_rows: self.duplicate_rows,
            states,
            lines: stats.lines,
        }
    }
}

impl TextSink for CollectSink {
    fn begin_snapshot(&mut self, meta: &SnapshotMeta) {
        self.snapshots.push(Snapshot::new(meta.info.clone()));
    }
    fn socket(&mut self, socket: &Socket, _line: usize) {
        if let Some(s) = self.snapshots.last_mut() {
            s.sockets.push(socket.clone());
        }
    }
    fn unknown_row(&mut self, row: &UnknownRow) {
        if let Some(s) = self.snapshots.last_mut() {
            s.unknown_rows.push(row.clone());
        }
    }
    fn skipped(&mut self, skipped: &Skipped) {
        if self.skipped.len() < self.max_kept {
            self.skipped.push(skipped.clone());
        }
    }
    fn duplicate(&mut self, dup: &Duplicate) {
        if self.duplicate_rows.len() < self.max_kept {
            self.duplicate_rows.push(dup.clone());
        }
    }
    fn end_snapshot(&mut self, summary: &SnapshotSummary) {
        if let Some(s) = self.snapshots.last_mut() {
            s.info = summary.info.clone();
        }
        self.details.push(summary.clone());
    }
}

/// Parses a whole input held in memory and collects everything.
///
/// ```
/// use tcpdoctor_text::{parse_bytes, ParseOptions, SourceOs};
/// use tcpdoctor_model::TcpState;
///
/// let text = "\r\nActive Connections\r\n\r\n  Proto  Local Address   Foreign Address  State\r\n\
///             \x20 TCP    0.0.0.0:135     0.0.0.0:0        LISTENING\r\n";
/// let out = parse_bytes(text.as_bytes(), &ParseOptions::default()).unwrap();
/// assert_eq!(out.format, "windows-netstat");
/// assert_eq!(out.os, SourceOs::Windows);
/// assert_eq!(out.states.get(TcpState::Listen), 1);
/// ```
pub fn parse_bytes(input: &[u8], opts: &ParseOptions) -> Result<ParseOutput, TextError> {
    let mut sink = CollectSink::new(opts.max_skipped_kept);
    let stats = parse_reader(input, opts, &mut sink)?;
    Ok(sink.into_output(&stats))
}
