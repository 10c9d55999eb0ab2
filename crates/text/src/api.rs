//! The public vocabulary of the text source: formats, operating systems, options, events,
//! results and errors.

use serde::{Serialize, Serializer};
use std::fmt;
use std::sync::Arc;
use tcpdoctor_model::{
    ScanInfo, ServiceNames, Snapshot, Socket, StateCounts, TcpState, UnknownRow,
};

/// A text format the parser knows. Detected automatically; [`ParseOptions::format`] forces one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Linux net-tools `netstat` (`-an`, `-tanp`, `-tano`, `-tae`, `-W`, names) and BusyBox
    /// `netstat` (same layout; the two cannot be told apart from their output).
    NetstatLinux,
    /// iproute2 `ss` socket listings (with or without Netid/State columns, `-p -o -e -i`).
    Ss,
    /// `ss -s` summary (totals only, no socket rows).
    SsSummary,
    /// `/proc/net/tcp` and `/proc/net/tcp6` dumps.
    ProcNetTcp,
    /// Windows `netstat -an/-ano/-anob` (any display language).
    WindowsNetstat,
    /// macOS, FreeBSD, OpenBSD and other BSD-style `netstat` (`addr.port`, `(state)`).
    BsdNetstat,
    /// Solaris / illumos `netstat -an` (`TCP: IPv4` sections with Swind/Rwind columns).
    SolarisNetstat,
    /// HP-UX `netstat -an` (BSD-style rows; recognised by its `(IPv6, ...)` titles).
    HpuxNetstat,
    /// AIX `netstat -an` / `-Aan` (BSD-style rows; recognised by its PCB addresses).
    AixNetstat,
    /// PowerShell `Get-NetTCPConnection` tables.
    PowerShell,
    /// Bare rows as people paste them: `local foreign state`, without header or proto column.
    PastedRows,
}

impl Format {
    /// Every format, in detection-priority order.
    pub const ALL: [Format; 11] = [
        Format::NetstatLinux,
        Format::Ss,
        Format::SsSummary,
        Format::ProcNetTcp,
        Format::WindowsNetstat,
        Format::BsdNetstat,
        Format::SolarisNetstat,
        Format::HpuxNetstat,
        Format::AixNetstat,
        Format::PowerShell,
        Format::PastedRows,
    ];

    /// The stable name used in JSON and by `--format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::NetstatLinux => "netstat-linux",
            Format::Ss => "ss",
            Format::SsSummary => "ss-summary",
            Format::ProcNetTcp => "proc-net-tcp",
            Format::WindowsNetstat => "windows-netstat",
            Format::BsdNetstat => "bsd-netstat",
            Format::SolarisNetstat => "solaris-netstat",
            Format::HpuxNetstat => "hpux-netstat",
            Format::AixNetstat => "aix-netstat",
            Format::PowerShell => "powershell",
            Format::PastedRows => "pasted-rows",
        }
    }

    /// Parses a format name (the [`Format::name`] spelling, case-insensitive; `busybox`,
    /// `netstat`, `linux`, `windows`, `bsd`, `macos`, `solaris`, `proc` are accepted too).
    pub fn parse(name: &str) -> Option<Format> {
        let n = name.trim().to_ascii_lowercase();
        for f in Format::ALL {
            if f.name() == n {
                return Some(f);
            }
        }
        Some(match n.as_str() {
            "netstat" | "linux" | "busybox" | "busybox-netstat" | "net-tools" => {
                Format::NetstatLinux
            }
            "ss-s" | "summary" => Format::SsSummary,
            "proc" | "proc-net-tcp6" | "/proc/net/tcp" => Format::ProcNetTcp,
            "windows" | "win" => Format::WindowsNetstat,
            "bsd" | "macos" | "darwin" | "freebsd" | "openbsd" | "netbsd" => Format::BsdNetstat,
            "solaris" | "illumos" | "sunos" => Format::SolarisNetstat,
            "hpux" | "hp-ux" => Format::HpuxNetstat,
            "aix" => Format::AixNetstat,
            "get-nettcpconnection" | "pwsh" => Format::PowerShell,
            "rows" | "pasted" => Format::PastedRows,
            _ => return None,
        })
    }

    /// The operating system a format implies on its own (refined by clues in the text).
    pub fn default_os(self) -> SourceOs {
        match self {
            Format::NetstatLinux | Format::Ss | Format::SsSummary | Format::ProcNetTcp => {
                SourceOs::Linux
            }
            Format::WindowsNetstat | Format::PowerShell => SourceOs::Windows,
            Format::SolarisNetstat => SourceOs::Solaris,
            Format::HpuxNetstat => SourceOs::HpUx,
            Format::AixNetstat => SourceOs::Aix,
            Format::BsdNetstat | Format::PastedRows => SourceOs::Unknown,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Format {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The operating system the text came from, as far as the text tells. Advice depends on it
/// (Windows `TcpTimedWaitDelay`, macOS/BSD `net.inet.tcp.msl`, Linux sysctls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceOs {
    /// Linux (net-tools, BusyBox, ss, /proc).
    Linux,
    /// Windows.
    Windows,
    /// macOS.
    MacOs,
    /// FreeBSD.
    FreeBsd,
    /// OpenBSD.
    OpenBsd,
    /// Solaris / illumos.
    Solaris,
    /// HP-UX.
    HpUx,
    /// AIX.
    Aix,
    /// Not known (BSD-style output without a telling detail, bare pasted rows).
    Unknown,
}

impl SourceOs {
    /// The stable lower-case name (`linux`, `macos`, `freebsd`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SourceOs::Linux => "linux",
            SourceOs::Windows => "windows",
            SourceOs::MacOs => "macos",
            SourceOs::FreeBsd => "freebsd",
            SourceOs::OpenBsd => "openbsd",
            SourceOs::Solaris => "solaris",
            SourceOs::HpUx => "hpux",
            SourceOs::Aix => "aix",
            SourceOs::Unknown => "unknown",
        }
    }

    /// Parses a name as printed by [`SourceOs::name`] (plus `darwin`, `osx`, `sunos`, `hp-ux`).
    pub fn parse(name: &str) -> Option<SourceOs> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "linux" => SourceOs::Linux,
            "windows" | "win" => SourceOs::Windows,
            "macos" | "darwin" | "osx" => SourceOs::MacOs,
            "freebsd" => SourceOs::FreeBsd,
            "openbsd" => SourceOs::OpenBsd,
            "solaris" | "sunos" | "illumos" => SourceOs::Solaris,
            "hpux" | "hp-ux" => SourceOs::HpUx,
            "aix" => SourceOs::Aix,
            "unknown" => SourceOs::Unknown,
            _ => return None,
        })
    }
}

impl fmt::Display for SourceOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Default cap on remembered row fingerprints per snapshot (see [`ParseOptions::dedupe_cap`]).
pub const DEFAULT_DEDUPE_CAP: usize = 1 << 16;

/// Options for one parse.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Force a format instead of detecting it. Lines the forced format cannot read are
    /// reported as skipped when they look like socket rows.
    pub format: Option<Format>,
    /// Force the source operating system (otherwise taken from the format and clues).
    pub os: Option<SourceOs>,
    /// Service names (`/etc/services` of the machine the text came from), consulted before
    /// the built-in table of well-known services when a row prints `host:mysql`.
    pub services: Option<Arc<ServiceNames>>,
    /// `/proc/net/tcp` addresses are printed in the *host* byte order of the machine that
    /// produced them (tcp-facts 8.3). `false` (default): little-endian (x86, arm64);
    /// `true`: big-endian (s390x, big-endian POWER/MIPS).
    pub proc_big_endian: bool,
    /// `USER_HZ` of the machine that produced a `/proc/net/tcp` dump: `tm->when` is in these
    /// units (tcp-facts 8.7). Default 100.
    pub clock_ticks_per_sec: u32,
    /// How many connected-row fingerprints are remembered per snapshot to find copy-paste
    /// duplicates (default [`DEFAULT_DEDUPE_CAP`] = 65 536; about 28 bytes each, so 1.8 MB
    /// at most). When a snapshot has more connected rows than this, later repeats of rows
    /// that were not remembered are no longer recognised; the snapshot then carries a gap
    /// saying so. 0 disables the check.
    pub dedupe_cap: usize,
    /// Longest line kept, in bytes; the rest of a longer line is dropped (bounded memory on
    /// input without newlines). Default 1 MiB.
    pub max_line_bytes: usize,
    /// How many skipped-line records [`parse_bytes`](crate::parse_bytes) keeps in
    /// [`ParseOutput::skipped`]; all of them are counted in `skipped_total`. Default 10 000.
    pub max_skipped_kept: usize,
    /// Worker threads for big inputs in [`parse_reader`](crate::parse_reader): 0 (default)
    /// uses the available cores (at most 4), 1 reads on the calling thread only. Inputs
    /// shorter than 1 MiB are always read on the calling thread. Events reach the sink on the
    /// calling thread, in input order, whatever this is.
    pub threads: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            format: None,
            os: None,
            services: None,
            proc_big_endian: false,
            clock_ticks_per_sec: 100,
            dedupe_cap: DEFAULT_DEDUPE_CAP,
            max_line_bytes: 1 << 20,
            max_skipped_kept: 10_000,
            threads: 0,
        }
    }
}

/// A line that looked like a socket row but could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// 1-based line number in the input.
    pub line: usize,
    /// Why it could not be read, as one short sentence.
    pub reason: String,
    /// The line as printed (cut at 300 characters).
    pub text: String,
}

/// A connected row that repeats an earlier row of the same snapshot character for character
/// (a copy-paste artefact: the kernel never has two sockets with the same 4-tuple). It is
/// counted once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duplicate {
    /// Index of the snapshot (0-based).
    pub snapshot: usize,
    /// 1-based line number of the repeat.
    pub line: usize,
    /// 1-based line number of the row it repeats.
    pub first_line: usize,
    /// The state of the row.
    pub state: TcpState,
}

/// `ss -s`: the summary ss prints from `/proc/net/sockstat` (totals only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SsSummary {
    /// `Total:` sockets of all kinds.
    pub total: Option<u64>,
    /// `TCP:` first number (all TCP sockets, TIME_WAIT included).
    pub tcp_total: Option<u64>,
    /// `estab`.
    pub estab: Option<u64>,
    /// `closed`.
    pub closed: Option<u64>,
    /// `orphaned`.
    pub orphaned: Option<u64>,
    /// `synrecv` (older ss only).
    pub synrecv: Option<u64>,
    /// `timewait` (first number of `timewait a/b` in older ss).
    pub timewait: Option<u64>,
    /// `ports` (older ss only).
    pub ports: Option<u64>,
    /// The `Transport Total IP IPv6` table rows (`TCP`, `UDP`, `RAW`, `INET`, `FRAG`, `*`).
    pub transports: Vec<SsTransport>,
}

/// One row of the `ss -s` transport table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SsTransport {
    /// `TCP`, `UDP`, ...
    pub name: String,
    /// Total column.
    pub total: Option<u64>,
    /// IP (IPv4) column.
    pub ipv4: Option<u64>,
    /// IPv6 column.
    pub ipv6: Option<u64>,
}

/// Sent when a snapshot begins (its format is known; the OS may still be refined by later
/// lines: [`SnapshotSummary`] has the final word).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotMeta {
    /// Index of the snapshot (0-based, in input order).
    pub index: usize,
    /// 1-based line where it begins (its command line, header or first row).
    pub first_line: usize,
    /// The detected (or forced) format.
    pub format: Format,
    /// The operating system as known so far.
    pub os: SourceOs,
    /// The pasted command line that produced it, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Provenance: source `Text`, the format name, the host name from a pasted prompt.
    pub info: ScanInfo,
}

/// Sent when a snapshot ends, with everything learnt about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotSummary {
    /// Index of the snapshot (0-based).
    pub index: usize,
    /// 1-based first line.
    pub first_line: usize,
    /// 1-based last line that belonged to it.
    pub last_line: usize,
    /// The format.
    pub format: Format,
    /// The final operating-system verdict.
    pub os: SourceOs,
    /// The pasted command line, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Final provenance, with every gap found while reading (elided lines, filtered output,
    /// listings without listeners, duplicate-check cap, ...).
    pub info: ScanInfo,
    /// TCP sockets per state (duplicates counted once).
    pub counts: StateCounts,
    /// TCP rows with an unknown or missing state (listed as [`UnknownRow`]s).
    pub unknown_rows: u64,
    /// Copy-paste duplicates dropped.
    pub duplicates: u64,
    /// The dropped duplicates per state.
    pub duplicate_counts: StateCounts,
    /// Socket rows of other protocols (udp, raw, unix, ...) that were recognised and left out.
    pub other_rows: u64,
    /// Whether the duplicate check ran out of room ([`ParseOptions::dedupe_cap`]).
    pub dedupe_cap_reached: bool,
    /// The `ss -s` summary, for that format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ss_summary: Option<SsSummary>,
}

impl SnapshotSummary {
    /// TCP rows as printed: sockets + unknown rows + dropped duplicates.
    pub fn tcp_rows_printed(&self) -> u64 {
        self.counts.total() + self.unknown_rows + self.duplicates
    }
}

/// Receives what the streaming parser finds, in input order. Only [`TextSink::socket`] is
/// required. References are valid for the call only.
pub trait TextSink {
    /// A snapshot begins; everything until [`TextSink::end_snapshot`] belongs to it.
    fn begin_snapshot(&mut self, _meta: &SnapshotMeta) {}
    /// One TCP socket (after the duplicate check), with its 1-based line number.
    fn socket(&mut self, socket: &Socket, line: usize);
    /// A TCP row with an unknown or missing state.
    fn unknown_row(&mut self, _row: &UnknownRow) {}
    /// A line that looked like a socket row but could not be read.
    fn skipped(&mut self, _skipped: &Skipped) {}
    /// A copy-paste duplicate that was dropped.
    fn duplicate(&mut self, _dup: &Duplicate) {}
    /// The snapshot ends.
    fn end_snapshot(&mut self, _summary: &SnapshotSummary) {}
    /// A new [`SinkPart`] for a worker thread, one of `of` that share the snapshot's sockets,
    /// made for the current snapshot; or `None` (the default): then every socket comes to
    /// [`TextSink::socket`].
    fn part(&mut self, _of: usize) -> Option<Box<dyn SinkPart>> {
        None
    }
    /// A part made by [`TextSink::part`] comes back with what it collected: always before
    /// [`TextSink::end_snapshot`] of its snapshot and before the parse returns.
    fn join(&mut self, _part: Box<dyn SinkPart>) {}
}

/// The worker-thread side of a [`TextSink`], for sinks whose work on sockets can be split
/// and merged (counts, aggregates).
///
/// When an input is big enough to be read on worker threads (over 1 MiB) and the sink
/// offers parts, the sockets of the common Linux `netstat` rows are handed, after the
/// duplicate check, to a part on a worker instead of to [`TextSink::socket`]. Everything
/// else stays on the calling thread: snapshot events, duplicates, unknown and skipped rows,
/// every other row, and every listening socket. Each part gets the sockets of whole 1 MiB
/// chunks, in input order within a chunk; which chunk goes to which part is fixed by the
/// chunk's position, and the parts are given back to [`TextSink::join`] in a fixed order, so
/// a run is reproducible. The sink sees every socket exactly once, either itself or through
/// a part given back.
pub trait SinkPart: Send {
    /// One socket of the snapshot the part was made for, with its 1-based line number.
    fn socket(&mut self, socket: &Socket, line: usize);
    /// A listening socket that went to the sink itself (not to be counted here), before the
    /// rows that follow it: a part learns from it which ports are listened on, as a sink
    /// that sees every row in order would.
    fn listener(&mut self, socket: &Socket);
    /// The part as `Any`, for [`TextSink::join`] to take its own type back.
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
}

impl<T: TextSink + ?Sized> TextSink for &mut T {
    fn begin_snapshot(&mut self, meta: &SnapshotMeta) {
        (**self).begin_snapshot(meta)
    }
    fn socket(&mut self, socket: &Socket, line: usize) {
        (**self).socket(socket, line)
    }
    fn unknown_row(&mut self, row: &UnknownRow) {
        (**self).unknown_row(row)
    }
    fn skipped(&mut self, skipped: &Skipped) {
        (**self).skipped(skipped)
    }
    fn duplicate(&mut self, dup: &Duplicate) {
        (**self).duplicate(dup)
    }
    fn end_snapshot(&mut self, summary: &SnapshotSummary) {
        (**self).end_snapshot(summary)
    }
    fn part(&mut self, of: usize) -> Option<Box<dyn SinkPart>> {
        (**self).part(of)
    }
    fn join(&mut self, part: Box<dyn SinkPart>) {
        (**self).join(part)
    }
}

/// Adapts any model [`SocketSink`](tcpdoctor_model::SocketSink) (a counter, an aggregator)
/// to a [`TextSink`] that only wants the sockets.
#[derive(Debug, Default)]
pub struct SocketsOnly<S>(pub S);

impl<S: tcpdoctor_model::SocketSink> TextSink for SocketsOnly<S> {
    #[inline]
    fn socket(&mut self, socket: &Socket, _line: usize) {
        self.0.socket(socket)
    }
}

/// What a streaming parse saw in total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ParseStats {
    /// Lines read.
    pub lines: usize,
    /// Snapshots reported.
    pub snapshots: usize,
    /// TCP sockets reported (after the duplicate check).
    pub sockets: u64,
    /// Unknown-state TCP rows reported.
    pub unknown_rows: u64,
    /// Skipped lines.
    pub skipped: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Per-state totals over all snapshots.
    pub states: StateCounts,
    /// The format over all snapshots: one name, or several joined with `+`.
    pub format: String,
    /// The OS over all snapshots (`Unknown` when they disagree).
    pub os: Option<SourceOs>,
}

/// Everything [`parse_bytes`](crate::parse_bytes) found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseOutput {
    /// The format over all snapshots: one name (`ss`), or several joined with `+`.
    pub format: String,
    /// The source OS (`Unknown` when snapshots disagree or nothing tells).
    pub os: SourceOs,
    /// The snapshots, in input order (source `Text`, format in `info.format`).
    pub snapshots: Vec<Snapshot>,
    /// Per-snapshot details, index-aligned with `snapshots`.
    pub details: Vec<SnapshotSummary>,
    /// Lines that looked like socket rows but could not be read (at most
    /// [`ParseOptions::max_skipped_kept`]).
    pub skipped: Vec<Skipped>,
    /// All skipped lines, including those not kept.
    pub skipped_total: u64,
    /// Duplicates dropped over all snapshots.
    pub duplicates: u64,
    /// The dropped duplicates themselves (as many as `skipped` keeps at most).
    pub duplicate_rows: Vec<Duplicate>,
    /// Per-state totals over all snapshots.
    pub states: StateCounts,
    /// Lines read.
    pub lines: usize,
}

/// Why a text could not be turned into snapshots.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// Reading the input failed.
    #[error("reading the input failed: {0}")]
    Io(#[from] std::io::Error),
    /// Nothing in the input is a socket listing.
    #[error("{message}")]
    NothingRecognised {
        /// One sentence: what was (not) found.
        message: String,
        /// What to paste instead.
        hint: String,
    },
}

impl TextError {
    /// The hint for [`TextError::NothingRecognised`], if any.
    pub fn hint(&self) -> Option<&str> {
        match self {
            TextError::NothingRecognised { hint, .. } => Some(hint),
            TextError::Io(_) => None,
        }
    }
}
