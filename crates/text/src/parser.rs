//! The streaming parser: a state machine fed one line at a time. It keeps the current table
//! layout, the open snapshot and one reusable socket; nothing grows with the input except
//! the bounded duplicate table of the open snapshot.

use crate::api::{
    Duplicate, Format, ParseOptions, ParseStats, Skipped, SnapshotMeta, SnapshotSummary, SourceOs,
    SsSummary, SsTransport, TextError, TextSink,
};
use crate::command::{self, Command, Tool};
use crate::dedupe::{fingerprint, Dedupe, Seen};
use crate::endpoint::{looks_like_endpoint, parse_u64, Resolver};
use crate::rows::{
    fast_linux_row, inet_row, pasted_row, proc_row, proc_shape, proto_index, ps_row, solaris_row,
    solaris_shape, ss_row, ss_state, tokenize, trim_blanks_end, Compact, InetKind, InetLayout,
    ProcOpts, PsLayout, Row, RowFacts, RowState, SsContext, SsLayout, SsStar, StateCol, Toks,
};
use crate::words::{proto_word, Proto};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use tcpdoctor_model::{
    Family, Gap, GapKind, Host, Port, Process, ScanInfo, Socket, SourceKind, StateCounts, TcpState,
    UnknownRow,
};

const MAX_TOKENS: usize = 96;
const MAX_KEYS: usize = 64;

/// The table the parser is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Section {
    None,
    Inet(InetLayout),
    Ss(SsLayout),
    Proc {
        tcp: bool,
    },
    Solaris {
        tcp: bool,
    },
    PowerShell(PsLayout),
    SsSummary,
    /// A table whose rows are never TCP sockets (unix, Bluetooth, routes, interfaces, ...).
    Other,
}

#[derive(Debug, Default, Clone, Copy)]
struct OsClues {
    mac: bool,
    /// `tcp4` rows (FreeBSD, macOS, AIX; not OpenBSD/NetBSD/HP-UX, which print `tcp`).
    v4_suffix: bool,
    /// A BSD unix-socket table (`Address Type Recv-Q Send-Q Inode Conn Refs Nextref Addr`).
    bsd_unix_table: bool,
    freebsd: bool,
    openbsd: bool,
    aix: bool,
    hpux: bool,
    windows: bool,
}

/// The open snapshot.
struct Snap {
    index: usize,
    first_line: usize,
    last_line: usize,
    format: Format,
    clues: OsClues,
    command: Option<String>,
    info: ScanInfo,
    counts: StateCounts,
    unknown: u64,
    dups: u64,
    dup_counts: StateCounts,
    other_rows: u64,
    dedupe: Dedupe,
    keys: Vec<u64>,
    ss_summary: Option<SsSummary>,
    ss_ctx: SsContext,
    elisions: u32,
    proc_key_pending: bool,
    ss_assumed_tcp: bool,
}

/// A Windows row held back until its `-b` lines (process name) have been read.
struct Pending {
    sock: Socket,
    line: usize,
}

/// The streaming parser. Feed it lines with [`Parser::feed_line`] (or bytes with
/// [`Parser::feed`]), then call [`Parser::finish`].
///
/// ```
/// use tcpdoctor_text::{Parser, ParseOptions, SocketsOnly};
/// use tcpdoctor_model::{CountingSink, TcpState};
///
/// let mut sink = SocketsOnly(CountingSink::default());
/// let mut p = Parser::new(ParseOptions::default());
/// for line in ["$ ss -tan", "State Recv-Q Send-Q Local Address:Port Peer Address:Port",
///              "ESTAB 0 0 10.0.0.1:22 10.0.0.2:50000"] {
///     p.feed_line(line.as_bytes(), &mut sink);
/// }
/// let stats = p.finish(&mut sink).unwrap();
/// assert_eq!(stats.format, "ss");
/// assert_eq!(sink.0 .0.get(TcpState::Established), 1);
/// ```
pub struct Parser {
    opts: ParseOptions,
    line_no: usize,
    spans: Vec<(u32, u32)>,
    section: Section,
    snap: Option<Snap>,
    pending_cmd: Option<Command>,
    pending_gaps: Vec<Gap>,
    pending_clues: OsClues,
    next_index: usize,
    sock: Socket,
    pending: Option<Pending>,
    win_cont: bool,
    stats: ParseStats,
    formats: Vec<Format>,
    /// The OS of the first snapshot, and whether all later ones agreed (bounded, unlike a
    /// list per snapshot).
    os_seen: Option<(SourceOs, bool)>,
    other_tables: Option<&'static str>,
    first_skip: Option<Skipped>,
    nonblank: usize,
    carry: Vec<u8>,
    carry_truncated: bool,
    cmd_line: Option<usize>,
    /// A section title (`Active Internet connections`) waiting for its table: its line and
    /// its key (a second title of the same kind in one snapshot starts a new snapshot).
    title: Option<(usize, u64)>,
    /// Recent `pid/program` owners.
    owners: OwnerCache,
}

/// Slots of the owner cache.
const OWNER_CACHE: usize = 256;

fn blank_socket() -> Socket {
    Socket::new(
        TcpState::Close,
        std::net::SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        std::net::SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
    )
}

fn key_of(t: &Toks<'_>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for k in 0..t.len() {
        for b in t.at(k).bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        h = (h ^ 0x20).wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn cut(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut e = n;
    while !s.is_char_boundary(e) {
        e -= 1;
    }
    format!("{}…", &s[..e])
}

/// Formats that can share one snapshot (sections of one command's output).
fn same_family(a: Format, b: Format) -> bool {
    let fam = |f: Format| match f {
        Format::BsdNetstat | Format::HpuxNetstat | Format::AixNetstat => Format::BsdNetstat,
        f => f,
    };
    fam(a) == fam(b) || b == Format::PastedRows
}

/// The shared `Process` for a `pid/program` column: rows of one process share one
/// allocation (a small direct-mapped cache, so memory stays bounded).
#[derive(Debug, Default)]
pub(crate) struct OwnerCache(Vec<Option<Arc<Process>>>);

impl OwnerCache {
    pub(crate) fn get(&mut self, pid: u32, comm: &[u8]) -> Arc<Process> {
        let comm = std::str::from_utf8(comm).unwrap_or_default();
        let slot = (pid as usize).wrapping_mul(0x9E37_79B9) >> 7 & (OWNER_CACHE - 1);
        if self.0.len() < OWNER_CACHE {
            self.0.resize(OWNER_CACHE, None);
        }
        if let Some(Some(p)) = self.0.get(slot) {
            if p.pid == pid && p.comm == comm {
                return Arc::clone(p);
            }
        }
        let p = Arc::new(Process {
            pid,
            comm: comm.to_string(),
            ..Process::default()
        });
        if let Some(s) = self.0.get_mut(slot) {
            *s = Some(Arc::clone(&p));
        }
        p
    }
}

/// Builds the socket of a compact row, owner included (`line` as read by the fast path).
pub(crate) fn build_compact(c: &Compact, line: &[u8], sock: &mut Socket, owners: &mut OwnerCache) {
    c.apply(sock, line);
    if let Some((pid, a, b)) = c.owner {
        let comm = line.get(a as usize..b as usize).unwrap_or_default();
        sock.owners.push(owners.get(pid, comm));
    }
}

/// Whether a compact row has a concrete remote endpoint (what [`is_connected`] says of the
/// socket it stands for; a cut host is a name, never `*`).
fn compact_connected(c: &Compact) -> bool {
    !matches!(c.state, TcpState::Listen | TcpState::Close)
        && (c.cut[1].is_some() || !c.remote.0.is_unspecified())
        && c.remote.1 != 0
}

fn is_connected(s: &Socket) -> bool {
    if matches!(s.state, TcpState::Listen | TcpState::Close) {
        return false;
    }
    let host_any = match &s.remote.host {
        Host::Ip(ip) => ip.is_unspecified(),
        Host::Name(n) => &**n == "*",
    };
    let port_any = match &s.remote.port {
        Port::Num(p) => *p == 0,
        Port::Name(n) => &**n == "*",
    };
    !host_any && !port_any
}

impl Parser {
    /// A parser with the given options.
    pub fn new(opts: ParseOptions) -> Parser {
        let forced_section = match opts.format {
            Some(Format::Ss) => Section::Ss(SsLayout {
                netid: None,
                state: None,
            }),
            Some(Format::ProcNetTcp) => Section::Proc { tcp: true },
            Some(Format::SolarisNetstat) => Section::Solaris { tcp: true },
            Some(Format::NetstatLinux) => Section::Inet(InetLayout {
                kind: InetKind::Linux,
                ..InetLayout::UNKNOWN
            }),
            Some(Format::WindowsNetstat) => Section::Inet(InetLayout {
                kind: InetKind::Windows,
                ..InetLayout::UNKNOWN
            }),
            Some(Format::BsdNetstat | Format::HpuxNetstat | Format::AixNetstat) => {
                Section::Inet(InetLayout {
                    kind: InetKind::Bsd,
                    ..InetLayout::UNKNOWN
                })
            }
            _ => Section::None,
        };
        Parser {
            opts,
            line_no: 0,
            spans: Vec::with_capacity(MAX_TOKENS),
            section: forced_section,
            snap: None,
            pending_cmd: None,
            pending_gaps: Vec::new(),
            pending_clues: OsClues::default(),
            next_index: 0,
            sock: blank_socket(),
            pending: None,
            win_cont: false,
            stats: ParseStats::default(),
            formats: Vec::new(),
            os_seen: None,
            other_tables: None,
            first_skip: None,
            nonblank: 0,
            carry: Vec::new(),
            carry_truncated: false,
            cmd_line: None,
            title: None,
            owners: OwnerCache::default(),
        }
    }

    /// Feeds a chunk of bytes; lines may span chunks (the partial line is kept, up to
    /// [`ParseOptions::max_line_bytes`]). Call [`Parser::finish`] at the end.
    pub fn feed<S: TextSink + ?Sized>(&mut self, mut chunk: &[u8], sink: &mut S) {
        while !chunk.is_empty() {
            match memchr::memchr(b'\n', chunk) {
                Some(i) => {
                    if self.carry.is_empty() && !self.carry_truncated {
                        self.feed_line(&chunk[..i], sink);
                    } else {
                        self.push_carry(&chunk[..i]);
                        let carry = std::mem::take(&mut self.carry);
                        self.feed_line(&carry, sink);
                        self.carry = carry;
                        self.carry.clear();
                        self.carry_truncated = false;
                    }
                    chunk = &chunk[i + 1..];
                }
                None => {
                    self.push_carry(chunk);
                    break;
                }
            }
        }
    }

    fn push_carry(&mut self, b: &[u8]) {
        let room = self.opts.max_line_bytes.saturating_sub(self.carry.len());
        if b.len() > room {
            self.carry.extend_from_slice(&b[..room]);
            self.carry_truncated = true;
        } else {
            self.carry.extend_from_slice(b);
        }
    }

    /// Feeds one line (without its `\n`; a trailing `\r` is removed). Invalid UTF-8 is
    /// decoded lossily.
    pub fn feed_line<S: TextSink + ?Sized>(&mut self, bytes: &[u8], sink: &mut S) {
        let bytes = if bytes.len() > self.opts.max_line_bytes {
            &bytes[..self.opts.max_line_bytes]
        } else {
            bytes
        };
        // The fast path reads bytes (a line it accepts is ASCII): no UTF-8 check first.
        if self.line_no > 0 {
            if let Some(ui) = fast_user_inode(&self.section) {
                let nocr = bytes.strip_suffix(b"\r").unwrap_or(bytes);
                if let Some(c) = fast_linux_row(nocr, ui) {
                    let fp = fingerprint(nocr[c.start as usize..].trim_ascii_end());
                    self.compact_line(&c, fp, nocr, sink);
                    return;
                }
            }
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => self.line(text, sink),
            Err(_) => {
                let text = String::from_utf8_lossy(bytes);
                self.line(&text, sink)
            }
        }
    }

    /// Ends the input: flushes the last snapshot and returns the totals, or the error when
    /// nothing in the input was a socket listing.
    pub fn finish<S: TextSink + ?Sized>(mut self, sink: &mut S) -> Result<ParseStats, TextError> {
        if !self.carry.is_empty() || self.carry_truncated {
            let carry = std::mem::take(&mut self.carry);
            self.feed_line(&carry, sink);
        }
        self.close_snapshot(sink);
        let mut stats = std::mem::take(&mut self.stats);
        stats.lines = self.line_no;
        stats.format = self
            .formats
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join("+");
        stats.os = match self.os_seen {
            None => None,
            Some((os, true)) => Some(os),
            Some((_, false)) => Some(SourceOs::Unknown),
        };
        if stats.snapshots == 0 {
            return Err(self.nothing_error(&stats));
        }
        Ok(stats)
    }

    fn nothing_error(&self, stats: &ParseStats) -> TextError {
        let hint =
            "paste the full output of `ss -tanp` or `netstat -tanp` (Linux), `netstat -ano` \
                    (Windows) or `netstat -an` (macOS, BSD, Solaris), including its header line"
                .to_string();
        if self.nonblank == 0 {
            return TextError::NothingRecognised {
                message: "the input is empty".into(),
                hint,
            };
        }
        if let Some(what) = self.other_tables {
            return TextError::NothingRecognised {
                message: format!("this looks like {what}, which lists no sockets"),
                hint,
            };
        }
        if let Some(s) = &self.first_skip {
            return TextError::NothingRecognised {
                message: format!(
                    "{} line(s) looked like socket rows but none could be read (line {}: {})",
                    stats.skipped, s.line, s.reason
                ),
                hint,
            };
        }
        TextError::NothingRecognised {
            message: format!(
                "no netstat, ss, /proc/net/tcp or Get-NetTCPConnection listing found in {} lines",
                self.line_no
            ),
            hint,
        }
    }

    // ---------------------------------------------------------------- snapshots

    fn open_snapshot<S: TextSink + ?Sized>(&mut self, format: Format, sink: &mut S) {
        self.close_snapshot(sink);
        let cmd = self.pending_cmd.take();
        let mut info = ScanInfo::new(SourceKind::Text);
        info.format = Some(format.name().to_string());
        let mut clues = std::mem::take(&mut self.pending_clues);
        let mut ss_ctx = SsContext::default();
        let mut first_line = self.line_no;
        if let Some(c) = &cmd {
            info.host = c.host.clone();
            clues.windows |= c.windows;
            if c.piped {
                info.gap(
                    Gap::new(
                        GapKind::Truncated,
                        format!(
                            "the output was piped (`{}`): only the rows that passed the filter \
                             are here",
                            cut(&c.text, 120)
                        ),
                    )
                    .with_hint("paste the unfiltered output to count every socket"),
                );
            }
            if c.tool == Tool::Ss {
                ss_ctx.single_state = c.ss_single_state;
                ss_ctx.only_tcp = c.ss_only_tcp;
                if !c.ss_state_known {
                    ss_ctx.single_state = None;
                }
            }
        }
        if let Some((l, _)) = self.title {
            first_line = l;
        }
        if cmd.is_some() {
            // The command line is where the snapshot begins.
            first_line = self.cmd_line.take().unwrap_or(first_line);
        }
        for g in self.pending_gaps.drain(..) {
            info.gap(g);
        }
        let index = self.next_index;
        self.next_index += 1;
        let snap = Snap {
            index,
            first_line,
            last_line: self.line_no,
            format,
            clues,
            command: cmd.map(|c| c.text),
            info,
            counts: StateCounts::default(),
            unknown: 0,
            dups: 0,
            dup_counts: StateCounts::default(),
            other_rows: 0,
            dedupe: Dedupe::new(self.opts.dedupe_cap),
            keys: Vec::new(),
            ss_summary: None,
            ss_ctx,
            elisions: 0,
            proc_key_pending: false,
            ss_assumed_tcp: false,
        };
        let meta = SnapshotMeta {
            index,
            first_line: snap.first_line,
            format,
            os: self.os_of(&snap),
            command: snap.command.clone(),
            info: snap.info.clone(),
        };
        self.snap = Some(snap);
        self.stats.snapshots += 1;
        sink.begin_snapshot(&meta);
    }

    fn os_of(&self, s: &Snap) -> SourceOs {
        if let Some(os) = self.opts.os {
            return os;
        }
        let c = s.clues;
        match s.format {
            Format::BsdNetstat => {
                if c.mac {
                    SourceOs::MacOs
                } else if c.aix {
                    SourceOs::Aix
                } else if c.hpux {
                    SourceOs::HpUx
                } else if c.openbsd {
                    SourceOs::OpenBsd
                } else if c.freebsd || (c.v4_suffix && c.bsd_unix_table) {
                    SourceOs::FreeBsd
                } else {
                    SourceOs::Unknown
                }
            }
            Format::PastedRows if c.windows => SourceOs::Windows,
            f => f.default_os(),
        }
    }

    fn close_snapshot<S: TextSink + ?Sized>(&mut self, sink: &mut S) {
        self.flush_pending(sink);
        let Some(mut s) = self.snap.take() else {
            return;
        };
        // Refine the BSD-family format by its clues.
        if s.format == Format::BsdNetstat && self.opts.format.is_none() {
            if s.clues.hpux {
                s.format = Format::HpuxNetstat;
            } else if s.clues.aix {
                s.format = Format::AixNetstat;
            }
            s.info.format = Some(s.format.name().to_string());
        }
        if s.elisions > 0 {
            s.info.gap(
                Gap::new(
                    GapKind::Truncated,
                    format!(
                        "{} elision line(s) ('...'): rows were left out of the paste",
                        s.elisions
                    ),
                )
                .with_hint("paste the complete output to count every socket"),
            );
        }
        if s.dedupe.cap_reached() {
            s.info.gap(Gap::new(
                GapKind::Truncated,
                format!(
                    "more than {} connected rows: repeats beyond that were not checked for \
                     copy-paste duplicates",
                    self.opts.dedupe_cap
                ),
            ));
        }
        if s.ss_assumed_tcp {
            s.info.gap(
                Gap::new(
                    GapKind::NotProvided,
                    "ss output without its Netid column or command line: every row was taken \
                     as TCP",
                )
                .with_hint("paste the ss command line too (`ss -tan`), or use `ss -tan`"),
            );
        }
        if s.format == Format::SsSummary {
            s.info.gap(Gap::new(
                GapKind::NotProvided,
                "`ss -s` prints totals only: there are no per-socket rows to diagnose",
            ));
        }
        let os = self.os_of(&s);
        if !self.formats.contains(&s.format) {
            self.formats.push(s.format);
        }
        self.os_seen = match self.os_seen {
            None => Some((os, true)),
            Some((first, same)) => Some((first, same && first == os)),
        };
        let summary = SnapshotSummary {
            index: s.index,
            first_line: s.first_line,
            last_line: s.last_line,
            format: s.format,
            os,
            command: s.command,
            info: s.info,
            counts: s.counts,
            unknown_rows: s.unknown,
            duplicates: s.dups,
            duplicate_counts: s.dup_counts,
            other_rows: s.other_rows,
            dedupe_cap_reached: s.dedupe.cap_reached(),
            ss_summary: s.ss_summary,
        };
        sink.end_snapshot(&summary);
    }

    /// Makes sure a snapshot of a compatible format is open for a row or table.
    fn ensure_snapshot<S: TextSink + ?Sized>(&mut self, format: Format, sink: &mut S) {
        let reopen = match &self.snap {
            None => true,
            Some(s) => !same_family(s.format, format),
        };
        if reopen {
            self.open_snapshot(format, sink);
        } else if let Some(s) = &mut self.snap {
            if s.format == Format::PastedRows && format != Format::PastedRows {
                s.format = format;
                s.info.format = Some(format.name().to_string());
            }
        }
    }

    /// A socket-table header: opens a snapshot, or a new one when this header was already seen
    /// in the open snapshot (a second paste of the same command).
    fn table_header<S: TextSink + ?Sized>(&mut self, format: Format, key: u64, sink: &mut S) {
        self.flush_pending(sink);
        let repeat = match &self.snap {
            Some(s) => {
                // OpenBSD sorts its sockets by family then protocol and prints one table
                // per family and type: the same `TCP-State` (and UDP) header comes once
                // for IPv4 and once for IPv6 in one output; a third one is a new paste.
                let limit = if s.clues.openbsd { 2 } else { 1 };
                s.keys.iter().filter(|k| **k == key).count() >= limit
                    || !same_family(s.format, format)
                    || s.format == Format::PastedRows
                        && format != Format::PastedRows
                        && s.counts.total() + s.unknown > 0
            }
            None => true,
        };
        if repeat {
            self.open_snapshot(format, sink);
        } else if let Some(s) = &mut self.snap {
            if s.format == Format::PastedRows {
                s.format = format;
                s.info.format = Some(format.name().to_string());
            }
        }
        if let Some(s) = &mut self.snap {
            if s.keys.len() < MAX_KEYS {
                s.keys.push(key);
            }
            for g in self.pending_gaps.drain(..) {
                s.info.gap(g);
            }
            let c = std::mem::take(&mut self.pending_clues);
            merge_clues(&mut s.clues, c);
            s.last_line = self.line_no;
            if let Some((_, k)) = self.title.take() {
                if s.keys.len() < MAX_KEYS {
                    s.keys.push(k);
                }
            }
        }
    }

    /// A gap for the table whose header comes next.
    fn pending_gap(&mut self, g: Gap) {
        if !self.pending_gaps.contains(&g) {
            self.pending_gaps.push(g);
        }
    }

    // ---------------------------------------------------------------- lines

    fn line<S: TextSink + ?Sized>(&mut self, raw: &str, sink: &mut S) {
        self.line_no += 1;
        let mut line = raw.strip_suffix('\r').unwrap_or(raw);
        if self.line_no == 1 {
            line = line.strip_prefix('\u{FEFF}').unwrap_or(line);
        }
        let line = trim_blanks_end(line);
        let mut spans = std::mem::take(&mut self.spans);
        tokenize(line, &mut spans, MAX_TOKENS);
        if spans.is_empty() {
            self.spans = spans;
            self.flush_pending(sink);
            self.win_cont = false;
            return;
        }
        self.nonblank += 1;
        let t = Toks {
            line,
            spans: &spans,
        };
        self.process(&t, sink);
        self.spans = spans;
    }

    fn process<S: TextSink + ?Sized>(&mut self, t: &Toks<'_>, sink: &mut S) {
        // 1. A row of the current table (the fast path for big inputs).
        let section = std::mem::replace(&mut self.section, Section::None);
        let handled = self.try_section_row(&section, t, sink);
        if self.section_is_none_placeholder() {
            self.section = section;
        }
        if handled {
            return;
        }
        // 2. Structure: commands, titles, headers, notes, continuation lines.
        if self.structural(t, sink) {
            return;
        }
        // 3. A row of another shape: detect its format.
        if !matches!(self.opts.format, Some(f) if f != Format::PastedRows) && self.auto_row(t, sink)
        {
            return;
        }
        // 4. Looks like a socket row but could not be read?
        self.maybe_skip(t, None, sink);
    }

    fn section_is_none_placeholder(&self) -> bool {
        matches!(self.section, Section::None)
    }

    /// Tries the current section's row reader. Returns whether the line was consumed.
    fn try_section_row<S: TextSink + ?Sized>(
        &mut self,
        section: &Section,
        t: &Toks<'_>,
        sink: &mut S,
    ) -> bool {
        let mut facts = RowFacts::default();
        let ctx = self.snap.as_ref().map(|s| s.ss_ctx).unwrap_or_default();
        let (row, format) = match section {
            Section::None | Section::SsSummary => return false,
            Section::Other => {
                // Rows of a unix/route/... table: never TCP. A TCP row that follows without
                // a header (pasted after it) is still read by the auto-detection.
                if let Some((pi, _)) = proto_index(t) {
                    if matches!(proto_word(t.at(pi)), Some(Proto::Tcp(_))) {
                        return false;
                    }
                }
                return !self.looks_structural(t);
            }
            _ => match read_row(section, &ctx, &self.opts, t, &mut self.sock, &mut facts) {
                Some(x) => x,
                None => return false,
            },
        };
        if let (Section::Ss(lay), Row::Tcp(_), Some(s)) = (section, &row, &mut self.snap) {
            if lay.netid != Some(true)
                && proto_word(t.at(0)).is_none()
                && s.ss_ctx.only_tcp.is_none()
            {
                s.ss_assumed_tcp = true;
            }
        }
        match row {
            Row::Foreign => {
                // A forced format reads nothing else.
                if self.opts.format.is_some() && !self.looks_structural(t) {
                    self.maybe_skip(t, Some(format), sink);
                    return true;
                }
                false
            }
            Row::Other => {
                self.flush_pending(sink);
                if self.snap.is_none() {
                    self.open_snapshot(format, sink);
                }
                if let Some(s) = &mut self.snap {
                    s.other_rows += 1;
                    s.last_line = self.line_no;
                }
                self.win_cont = matches!(section, Section::Inet(l) if l.kind == InetKind::Windows)
                    || facts.kind == Some(InetKind::Windows);
                true
            }
            Row::Bad(reason) => {
                self.skip(t, reason, sink);
                true
            }
            Row::Tcp(state) => {
                self.flush_pending(sink);
                self.apply_facts(&facts, format);
                self.ensure_snapshot(format, sink);
                self.ss_star_clue(&facts);
                if matches!(section, Section::Proc { .. }) {
                    self.proc_key(sink);
                }
                let hold = format == Format::WindowsNetstat;
                self.emit(t, state, hold, sink);
                self.win_cont = hold;
                true
            }
        }
    }

    /// What a pipeline worker needs to read the next lines the way this parser would.
    pub(crate) fn hint(&self) -> (Section, SsContext) {
        (
            self.section.clone(),
            self.snap.as_ref().map(|s| s.ss_ctx).unwrap_or_default(),
        )
    }

    /// Whether the pipeline may hand over lines read with `hint`: only while the parser is
    /// in exactly that table, past the first line, without a partial line.
    pub(crate) fn accepts(&self, hint: &(Section, SsContext)) -> bool {
        self.line_no > 0
            && self.carry.is_empty()
            && self.section == hint.0
            && self.snap.as_ref().map(|s| s.ss_ctx).unwrap_or_default() == hint.1
    }

    /// Rows counted so far in the open snapshot (0 when none is open).
    pub(crate) fn snapshot_rows(&self) -> u64 {
        self.snap
            .as_ref()
            .map(|s| s.counts.total() + s.unknown)
            .unwrap_or(0)
    }

    /// Options (for the pipeline workers).
    pub(crate) fn options(&self) -> &ParseOptions {
        &self.opts
    }

    /// The fast path of [`Parser::process`] for a line a worker has read with this parser's
    /// current table layout: the same bookkeeping as `try_section_row`, without reading the
    /// line again. `sock` is swapped into the parser.
    pub(crate) fn fast_line<S: TextSink + ?Sized>(
        &mut self,
        pre: Pre,
        sock: Option<&mut Socket>,
        sink: &mut S,
    ) {
        self.line_no += 1;
        self.nonblank += 1;
        match pre {
            Pre::Other { format, facts } => {
                self.flush_pending(sink);
                if self.snap.is_none() {
                    self.open_snapshot(format, sink);
                }
                if let Some(s) = &mut self.snap {
                    s.other_rows += 1;
                    s.last_line = self.line_no;
                }
                self.win_cont = matches!(&self.section, Section::Inet(l) if l.kind == InetKind::Windows)
                    || facts.kind == Some(InetKind::Windows);
            }
            Pre::Tcp {
                state,
                format,
                facts,
                fp,
                t0_proto,
            } => {
                if let Some(sock) = sock {
                    std::mem::swap(&mut self.sock, sock);
                }
                self.flush_pending(sink);
                self.apply_facts(&facts, format);
                self.ensure_snapshot(format, sink);
                self.ss_star_clue(&facts);
                let is_proc = matches!(self.section, Section::Proc { .. });
                if is_proc {
                    self.proc_key(sink);
                }
                if let (Section::Ss(lay), Some(s)) = (&self.section, &mut self.snap) {
                    if lay.netid != Some(true) && !t0_proto && s.ss_ctx.only_tcp.is_none() {
                        s.ss_assumed_tcp = true;
                    }
                }
                let hold = format == Format::WindowsNetstat;
                self.emit_known(state, fp, hold, sink);
                self.win_cont = hold;
            }
        }
    }

    /// The common case for a compact row, a row in the middle of its table: everything
    /// `fast_line` would do besides the count is already done (snapshot open in this format,
    /// nothing held back, owners noted).
    fn mid_table(&self, c: &Compact) -> bool {
        let format = self.opts.format.unwrap_or(Format::NetstatLinux);
        self.pending.is_none()
            && format != Format::WindowsNetstat
            && self.snap.as_ref().is_some_and(|s| {
                s.format == format && (c.owner.is_none() || s.info.owners_resolved)
            })
    }

    /// Like [`Parser::compact_line`] for a pipeline whose sink has worker parts: in the
    /// common case (a row in the middle of its table, not a listener) only the bookkeeping and
    /// the duplicate check happen here, and the line number is returned for the socket to be
    /// built and delivered on a worker. Otherwise the row is handled here as by
    /// `compact_line` and `None` is returned (also for a duplicate).
    pub(crate) fn compact_defer<S: TextSink + ?Sized>(
        &mut self,
        c: &Compact,
        fp: u64,
        line: &[u8],
        sink: &mut S,
    ) -> Option<usize> {
        if c.state != TcpState::Listen && self.mid_table(c) {
            self.line_no += 1;
            self.nonblank += 1;
            self.win_cont = false;
            return self.admit(c.state, fp, compact_connected(c), sink);
        }
        self.compact_line(c, fp, line, sink);
        None
    }

    /// The fast path for a simple Linux row read by [`fast_linux_row`] (here or on a worker).
    pub(crate) fn compact_line<S: TextSink + ?Sized>(
        &mut self,
        c: &Compact,
        fp: u64,
        line: &[u8],
        sink: &mut S,
    ) {
        build_compact(c, line, &mut self.sock, &mut self.owners);
        if self.mid_table(c) {
            self.line_no += 1;
            self.nonblank += 1;
            self.emit_known(c.state, fp, false, sink);
            self.win_cont = false;
            return;
        }
        let pre = Pre::Tcp {
            state: c.state,
            format: self.opts.format.unwrap_or(Format::NetstatLinux),
            facts: RowFacts {
                kind: Some(InetKind::Linux),
                owners: c.owner.is_some(),
                ..RowFacts::default()
            },
            fp,
            t0_proto: true,
        };
        self.fast_line(pre, None, sink);
    }

    /// Emits the socket in the buffer with a known state, after the duplicate check.
    fn emit_known<S: TextSink + ?Sized>(
        &mut self,
        st: TcpState,
        fp: u64,
        hold: bool,
        sink: &mut S,
    ) {
        self.sock.state = st;
        let connected = is_connected(&self.sock);
        let Some(line_no) = self.admit(st, fp, connected, sink) else {
            return;
        };
        if hold {
            self.pending = Some(Pending {
                sock: self.sock.clone(),
                line: line_no,
            });
        } else {
            sink.socket(&self.sock, line_no);
        }
    }

    /// The duplicate check and the counts for a row with a known state on the current line:
    /// the line number when the socket is to be delivered, `None` for a duplicate (reported)
    /// or when no snapshot is open.
    fn admit<S: TextSink + ?Sized>(
        &mut self,
        st: TcpState,
        fp: u64,
        connected: bool,
        sink: &mut S,
    ) -> Option<usize> {
        let line_no = self.line_no;
        let s = self.snap.as_mut()?;
        s.last_line = line_no;
        if connected {
            if let Seen::Repeat(first) = s.dedupe.check(fp, line_no) {
                s.dups += 1;
                s.dup_counts.add(st);
                self.stats.duplicates += 1;
                sink.duplicate(&Duplicate {
                    snapshot: s.index,
                    line: line_no,
                    first_line: first,
                    state: st,
                });
                return None;
            }
        }
        s.counts.add(st);
        self.stats.sockets += 1;
        self.stats.states.add(st);
        Some(line_no)
    }

    fn forced_or(&self, f: Format) -> Format {
        match self.opts.format {
            Some(forced) => forced,
            None => f,
        }
    }

    fn apply_facts(&mut self, facts: &RowFacts, _format: Format) {
        let target = match &mut self.snap {
            Some(s) => &mut s.clues,
            None => &mut self.pending_clues,
        };
        if facts.tcp46 {
            target.mac = true;
        }
        if facts.v4_suffix {
            target.v4_suffix = true;
        }
        if facts.pcb_prefix_fffff {
            target.freebsd = true;
        }
        if facts.pcb_prefix_f1000 {
            target.aix = true;
        }
        if facts.owners {
            if let Some(s) = &mut self.snap {
                s.info.owners_resolved = true;
            }
        }
    }

    /// Remembers what an ss row said a `*` host means, for the rows after it (the latest
    /// clue wins: two ss versions pasted into one snapshot follow each other).
    fn ss_star_clue(&mut self, facts: &RowFacts) {
        if let (Some(star), Some(s)) = (facts.ss_star, &mut self.snap) {
            s.ss_ctx.star = Some(star);
        }
    }

    /// `/proc/net/tcp` + `/proc/net/tcp6` in one paste are one snapshot; the same file twice
    /// is two.
    fn proc_key<S: TextSink + ?Sized>(&mut self, sink: &mut S) {
        let fam = self.sock.family;
        let Some(s) = &mut self.snap else { return };
        if !s.proc_key_pending {
            return;
        }
        s.proc_key_pending = false;
        let key = match fam {
            Family::Inet => 0x7072_6f63_3400_0001u64,
            Family::Inet6 => 0x7072_6f63_3600_0001u64,
        };
        if s.keys.contains(&key) && s.counts.total() + s.unknown > 0 {
            self.open_snapshot(Format::ProcNetTcp, sink);
        }
        if let Some(s) = &mut self.snap {
            s.keys.push(key);
        }
    }

    /// Emits the socket in the buffer (or an unknown row), after the duplicate check.
    fn emit<S: TextSink + ?Sized>(
        &mut self,
        t: &Toks<'_>,
        state: RowState,
        hold: bool,
        sink: &mut S,
    ) {
        let raw = match state {
            RowState::Known(st) => {
                let fp = fingerprint(&t.line.as_bytes()[t.start(0)..]);
                self.emit_known(st, fp, hold, sink);
                return;
            }
            RowState::Unknown(raw) => raw,
            RowState::Missing => String::new(),
        };
        let line_no = self.line_no;
        let Some(s) = &mut self.snap else { return };
        s.last_line = line_no;
        s.unknown += 1;
        self.stats.unknown_rows += 1;
        sink.unknown_row(&UnknownRow {
            line: line_no,
            raw_state: raw,
            text: cut(t.line.trim(), 300),
        });
    }

    fn flush_pending<S: TextSink + ?Sized>(&mut self, sink: &mut S) {
        if let Some(p) = self.pending.take() {
            sink.socket(&p.sock, p.line);
        }
    }

    fn skip<S: TextSink + ?Sized>(&mut self, t: &Toks<'_>, reason: String, sink: &mut S) {
        self.flush_pending(sink);
        self.win_cont = false;
        self.stats.skipped += 1;
        let s = Skipped {
            line: self.line_no,
            reason,
            text: cut(t.line.trim(), 300),
        };
        sink.skipped(&s);
        if self.first_skip.is_none() {
            self.first_skip = Some(s);
        }
    }

    /// Lines that look like socket rows but were not read: report them.
    fn maybe_skip<S: TextSink + ?Sized>(
        &mut self,
        t: &Toks<'_>,
        forced: Option<Format>,
        sink: &mut S,
    ) {
        let in_table = !matches!(
            self.section,
            Section::None | Section::Other | Section::SsSummary
        );
        let tcp_proto = proto_index(t)
            .map(|(pi, _)| matches!(proto_word(t.at(pi)), Some(Proto::Tcp(_))))
            .unwrap_or(false);
        let addr_like = (0..t.len().min(8))
            .filter(|k| looks_like_endpoint(t.at(*k)))
            .count();
        if tcp_proto {
            self.skip(
                t,
                "a tcp row that does not have the columns of any known netstat/ss layout".into(),
                sink,
            );
        } else if let Some(f) = forced {
            if addr_like >= 2 {
                self.skip(t, format!("not a {} row", f.name()), sink);
            }
        } else if in_table && addr_like >= 2 && t.len() <= 40 {
            self.skip(
                t,
                "looks like a socket row but matches no known layout".into(),
                sink,
            );
        }
    }

    // ---------------------------------------------------------------- auto detection

    fn auto_row<S: TextSink + ?Sized>(&mut self, t: &Toks<'_>, sink: &mut S) -> bool {
        let only_pasted = self.opts.format == Some(Format::PastedRows);
        // /proc/net/tcp rows.
        if !only_pasted && proc_shape(t) {
            self.section = Section::Proc { tcp: true };
            if let Some(s) = &mut self.snap {
                if s.format != Format::ProcNetTcp {
                    self.open_snapshot(Format::ProcNetTcp, sink);
                }
            }
            if self.snap.is_none() {
                self.open_snapshot(Format::ProcNetTcp, sink);
            }
            if let Some(s) = &mut self.snap {
                s.proc_key_pending = true;
            }
            return self.retry(t, sink);
        }
        let t0 = t.at(0);
        // ss rows: `tcp ESTAB 0 0 ...` or `ESTAB 0 0 ...`.
        let netid = proto_word(t0);
        let ss_like = |i: usize| {
            let w = t.at(i);
            (ss_state(w).is_some() || w == "UNCONN")
                && t.at(i + 1).bytes().all(|c| c.is_ascii_digit())
                && !t.at(i + 1).is_empty()
                && t.at(i + 2).bytes().all(|c| c.is_ascii_digit())
                && t.get(i + 4).is_some()
        };
        if only_pasted {
            // Forced bare rows: only the pasted-row reader below.
        } else if (netid.is_some() && ss_like(1))
            || (netid.is_none()
                && ss_like(0)
                && (t0.contains('-') || t0 == "ESTAB" || t0 == "UNCONN" || t0 == "LISTEN"))
        {
            let lay = SsLayout {
                netid: Some(netid.is_some()),
                state: Some(true),
            };
            self.switch_to(Section::Ss(lay), Format::Ss, sink);
            return self.retry(t, sink);
        }
        // Proto-first rows (Linux, BSD, Windows, with PCB or `>` prefixes).
        if !only_pasted && proto_index(t).is_some() {
            self.section = Section::Inet(InetLayout::UNKNOWN);
            return self.retry(t, sink);
        }
        // Solaris TCP rows.
        if !only_pasted && solaris_shape(t) {
            self.switch_to(Section::Solaris { tcp: true }, Format::SolarisNetstat, sink);
            return self.retry(t, sink);
        }
        // Bare pasted rows.
        let res = Resolver {
            services: self.opts.services.as_deref(),
        };
        let row = pasted_row(t, &res, &mut self.sock);
        match row {
            Row::Tcp(state) => {
                self.flush_pending(sink);
                if self.snap.is_none() {
                    self.open_snapshot(Format::PastedRows, sink);
                }
                self.emit(t, state, false, sink);
                true
            }
            Row::Bad(reason) => {
                self.skip(t, reason, sink);
                true
            }
            _ => false,
        }
    }

    fn switch_to<S: TextSink + ?Sized>(&mut self, section: Section, format: Format, sink: &mut S) {
        self.section = section;
        self.ensure_snapshot(format, sink);
    }

    fn retry<S: TextSink + ?Sized>(&mut self, t: &Toks<'_>, sink: &mut S) -> bool {
        let section = std::mem::replace(&mut self.section, Section::None);
        let handled = self.try_section_row(&section, t, sink);
        if self.section_is_none_placeholder() {
            self.section = section;
        }
        handled
    }

    // ---------------------------------------------------------------- structure

    /// Whether the line is a title/header/command (so a forced format does not call it a
    /// bad row).
    fn looks_structural(&self, t: &Toks<'_>) -> bool {
        let t0 = t.at(0);
        matches!(
            t0,
            "Proto"
                | "Netid"
                | "State"
                | "Recv-Q"
                | "sl"
                | "Имя"
                | "LocalAddress"
                | "Total:"
                | "TCP:"
                | "UDP:"
                | "SCTP:"
                | "Address"
                | "Name"
                | "Iface"
                | "Destination"
        ) || title_word(t0)
            || t0.starts_with("---")
            || command::detect(t.line).is_some()
    }

    fn structural<S: TextSink + ?Sized>(&mut self, t: &Toks<'_>, sink: &mut S) -> bool {
        let line = t.line;
        let trimmed = line.trim();
        let t0 = t.at(0);
        let n = t.len();

        // Elision lines.
        if n <= 6
            && (t0.chars().all(|c| c == '.' || c == '…')
                && t0.chars().count() >= 2
                && (t0.len() >= 3 || t0 == "…")
                || matches!(
                    t0,
                    "[...]"
                        | "(...)"
                        | "[…]"
                        | "<snip>"
                        | "[snip]"
                        | "(snip)"
                        | "--snip--"
                        | "<...>"
                ))
        {
            self.flush_pending(sink);
            if let Some(s) = &mut self.snap {
                s.elisions += 1;
            }
            return true;
        }

        // Commands.
        let first = t0.as_bytes()[0];
        let maybe_cmd = matches!(first, b'$' | b'#' | b'%' | b'>' | b'[' | b'(')
            || t0.contains('@')
            || t0.contains(":\\")
            || t0 == "PS"
            || t0 == "Every"
            || t.line.contains("netstat")
            || t.line.contains("ss")
            || t.line.contains("/proc/net/tcp")
            || t.line.contains("NetTCPConnection");
        if maybe_cmd {
            if let Some(c) = command::detect(line) {
                self.close_snapshot(sink);
                self.section = Section::None;
                self.pending_gaps.clear();
                self.pending_clues = OsClues::default();
                self.win_cont = false;
                self.cmd_line = Some(self.line_no);
                self.title = None;
                if c.tool == Tool::PowerShell || c.windows {
                    self.pending_clues.windows = true;
                }
                self.pending_cmd = Some(c);
                return true;
            }
        }

        // Windows `-b` lines under a row: `[svchost.exe]`, ` RpcSs`, DLL paths, notes.
        if self.win_cont && !self.is_header_or_title(t) {
            if trimmed.starts_with('[') && trimmed.ends_with(']') && trimmed.len() > 2 {
                let name = &trimmed[1..trimmed.len() - 1];
                if let Some(p) = &mut self.pending {
                    if let Some(o) = p.sock.owners.first_mut() {
                        let mut proc_ = (**o).clone();
                        proc_.comm = name.to_string();
                        *o = Arc::new(proc_);
                    }
                }
            }
            return true;
        }

        // Titles.
        if self.title(t, sink) {
            return true;
        }

        // Headers.
        if self.header(t, sink) {
            return true;
        }

        // Linux netstat notes about -p without root.
        if trimmed.starts_with("(Not all processes could be identified")
            || trimmed.starts_with("(No info could be read for")
            || trimmed.starts_with("(Es konnten nicht alle Prozesse")
        {
            self.pending_gap(
                Gap::new(
                    GapKind::Permission,
                    "netstat -p could not identify every owning process",
                )
                .with_hint("run netstat as root to see all owners"),
            );
            return true;
        }
        if trimmed.starts_with(" will not be shown") || trimmed.starts_with("will not be shown") {
            return true;
        }

        // ss -i / -m continuation lines (indented, key:value).
        if let Section::Ss(_) = self.section {
            if (line.starts_with(' ') || line.starts_with('\t'))
                && proto_word(t0).is_none()
                && ss_state(t0).is_none()
            {
                return true;
            }
        }
        // Solaris header/separator lines inside a section.
        if let Section::Solaris { .. } = self.section {
            if t0.starts_with("---") || (t0 == "Local" && t.at(1) == "Address") {
                return true;
            }
        }
        // PowerShell separator line.
        if t0.starts_with("---") {
            if let Section::PowerShell(lay) = &mut self.section {
                lay.refine(t);
                return true;
            }
        }
        // ss -s lines.
        if let Section::SsSummary = self.section {
            if self.ss_summary_line(t) {
                return true;
            }
        }
        false
    }

    fn is_header_or_title(&self, t: &Toks<'_>) -> bool {
        let t0 = t.at(0);
        t0 == "Proto"
            || t0.starts_with("Activ")
            || t0.starts_with("Aktiv")
            || proto_index(t).is_some()
    }

    fn title<S: TextSink + ?Sized>(&mut self, t: &Toks<'_>, sink: &mut S) -> bool {
        let line = t.line.trim();
        let t0 = t.at(0);
        let lower = line.to_ascii_lowercase();
        if title_word(t0) && n_tokens_ok(t) {
            self.flush_pending(sink);
            self.win_cont = false;
            if lower.contains("unix") {
                self.section = Section::Other;
                if lower.contains("local (unix)") {
                    self.clue(|c| c.mac = true);
                }
                return true;
            }
            if lower.contains("bluetooth") {
                self.section = Section::Other;
                return true;
            }
            if lower.contains("multipath")
                || lower.contains("kernel event")
                || lower.contains("kernel control")
            {
                self.section = Section::Other;
                self.clue(|c| c.mac = true);
                return true;
            }
            if lower.contains("routing") || t0 == "Internet:" || t0 == "Internet6:" {
                self.section = Section::Other;
                self.other_tables
                    .get_or_insert("`netstat -r` output (a routing table)");
                return true;
            }
            if lower.contains("interface") || lower.contains("schnittstellentabelle") {
                self.section = Section::Other;
                self.other_tables
                    .get_or_insert("`netstat -i` output (an interface table)");
                return true;
            }
            if lower.contains("group membership") || lower.contains("gruppenmitgliedschaften") {
                self.section = Section::Other;
                self.other_tables
                    .get_or_insert("`netstat -g` output (multicast groups)");
                return true;
            }
            let inet = lower.contains("internet") || lower.contains("internetverbindungen");
            let conn = lower.contains("connection")
                || lower.contains("verbindungen")
                || lower.contains("conexiones")
                || lower.contains("connexions")
                || lower.contains("connessioni");
            if inet || conn {
                if lower.contains("only servers")
                    || lower.contains("nur server")
                    || lower.contains("seulement serveurs")
                {
                    self.pending_gap(
                        Gap::new(
                            GapKind::Truncated,
                            "the listing shows only listening sockets (netstat -l)",
                        )
                        .with_hint("use -a to see connections too"),
                    );
                }
                if lower.contains("w/o servers")
                    || lower.contains("ohne server")
                    || lower.contains("sans serveurs")
                {
                    self.pending_gap(
                        Gap::new(
                            GapKind::Truncated,
                            "the listing leaves out listening sockets (netstat without -a)",
                        )
                        .with_hint("use -a to see listeners too"),
                    );
                }
                if lower.contains("(ipv6, ") {
                    self.pending_clues.hpux = true;
                }
                let key = if inet {
                    0x7469_746c_6569_6e65u64
                } else {
                    0x7469_746c_6577_696eu64
                };
                // OpenBSD prints the title again before every table of another family or
                // socket type (netdomainpr() in usr.bin/netstat/inet.c): there the table
                // header decides (see `table_header`).
                if self
                    .snap
                    .as_ref()
                    .is_some_and(|s| s.keys.contains(&key) && !s.clues.openbsd)
                {
                    // A second `Active ... connections` title: the next command's output.
                    self.close_snapshot(sink);
                }
                self.title = Some((self.line_no, key));
                self.section = if inet {
                    Section::Inet(InetLayout::UNKNOWN)
                } else {
                    self.pending_clues.windows = true;
                    Section::Inet(InetLayout {
                        kind: InetKind::Windows,
                        ..InetLayout::UNKNOWN
                    })
                };
                return true;
            }
            if t0 == "Kernel" || t0 == "Registered" {
                self.section = Section::Other;
                return true;
            }
        }
        // Linux `netstat -s` group names, Windows `netstat -s` titles.
        if n_eq(t, 1)
            && matches!(
                t0,
                "Ip:"
                    | "Icmp:"
                    | "IcmpMsg:"
                    | "Tcp:"
                    | "Udp:"
                    | "UdpLite:"
                    | "TcpExt:"
                    | "IpExt:"
                    | "MPTcpExt:"
                    | "Sctp:"
            )
        {
            self.section = Section::Other;
            self.other_tables
                .get_or_insert("`netstat -s` output (protocol statistics)");
            return true;
        }
        if lower.ends_with("statistics for ipv4")
            || lower.ends_with("statistics for ipv6")
            || lower.starts_with("interface statistics")
        {
            self.section = Section::Other;
            self.other_tables
                .get_or_insert("`netstat -s`/`-e` output (statistics)");
            return true;
        }
        // Solaris sections: `TCP: IPv4`, `UDP: IPv6`, `SCTP:`, old `TCP`.
        let sol_fam = matches!(t.at(1), "IPv4" | "IPv6");
        if (n_eq(t, 2) && sol_fam && matches!(t0, "TCP:" | "UDP:" | "SCTP:" | "RAWIP:" | "ICMP:"))
            || (n_eq(t, 1) && matches!(t0, "TCP" | "UDP" | "SCTP:" | "SCTP"))
        {
            if self
                .opts
                .format
                .is_some_and(|f| f != Format::SolarisNetstat)
            {
                return false;
            }
            let tcp = t0.starts_with("TCP");
            self.section = Section::Solaris { tcp };
            let key = key_of(t);
            self.table_header(Format::SolarisNetstat, key, sink);
            return true;
        }
        false
    }

    fn clue(&mut self, f: impl FnOnce(&mut OsClues)) {
        match &mut self.snap {
            Some(s) => f(&mut s.clues),
            None => f(&mut self.pending_clues),
        }
    }

    fn header<S: TextSink + ?Sized>(&mut self, t: &Toks<'_>, sink: &mut S) -> bool {
        let t0 = t.at(0);
        let has = |w: &str| (0..t.len().min(40)).any(|k| t.at(k) == w);
        let has_ci = |w: &str| (0..t.len().min(40)).any(|k| t.at(k).eq_ignore_ascii_case(w));
        // /proc/net/tcp header.
        if t0 == "sl" && t.at(1) == "local_address" {
            let tcp = !has("drops");
            self.section = Section::Proc { tcp };
            self.table_header(Format::ProcNetTcp, key_of(t), sink);
            if let Some(s) = &mut self.snap {
                s.proc_key_pending = true;
                // The header key itself must not split tcp+tcp6 pastes: forget it.
                s.keys.retain(|k| *k != key_of(t));
            }
            return true;
        }
        // PowerShell Get-NetTCPConnection.
        if let Some(lay) = PsLayout::from_header(t) {
            self.section = Section::PowerShell(lay);
            self.pending_clues.windows = true;
            self.table_header(Format::PowerShell, key_of(t), sink);
            return true;
        }
        // ss header.
        if matches!(t0, "Netid" | "State" | "Recv-Q")
            && has("Recv-Q")
            && (has("Local") || has("Peer"))
        {
            let lay = SsLayout {
                netid: Some(t0 == "Netid"),
                state: Some(has("State")),
            };
            self.section = Section::Ss(lay);
            self.table_header(Format::Ss, key_of(t), sink);
            // The `Process` column title came with iproute2 5.x, long after ss began to
            // print `*` for dual-stack IPv6 wildcards (see `SsStar`).
            if has("Process") || t.line.contains("PortProcess") {
                if let Some(s) = &mut self.snap {
                    s.ss_ctx.star = Some(SsStar::DualStackV6);
                }
            }
            return true;
        }
        // ss -s.
        if t0 == "Total:" && t.at(1).bytes().all(|c| c.is_ascii_digit()) && !t.at(1).is_empty() {
            self.section = Section::SsSummary;
            self.table_header(Format::SsSummary, key_of(t), sink);
            if let Some(s) = &mut self.snap {
                let sum = s.ss_summary.get_or_insert_with(SsSummary::default);
                sum.total = parse_u64(t.at(1));
            }
            return true;
        }
        // Interface and routing tables without their titles.
        if (t0 == "Name" || t0 == "Iface") && (has("Mtu") || has("MTU")) {
            self.section = Section::Other;
            self.other_tables
                .get_or_insert("`netstat -i` output (an interface table)");
            return true;
        }
        if t0 == "Destination" && (has("Gateway") || has("Genmask")) {
            self.section = Section::Other;
            self.other_tables
                .get_or_insert("`netstat -r` output (a routing table)");
            return true;
        }
        // BSD unix-socket table header.
        if t0 == "Address" && has("Type") && has("Nextref") {
            self.section = Section::Other;
            self.clue(|c| c.bsd_unix_table = true);
            return true;
        }
        // netstat headers: `[Tcpcb|Socket Flowhash|PCB] Proto ...`. Russian Windows names the
        // protocol column `Имя` (`Имя  Локальный адрес  Внешний адрес  Состояние  PID`, states
        // in English).
        let pi = (0..t.len().min(3)).find(|k| {
            matches!(t.at(*k), "Proto" | "Proto/ID") || (t.at(*k) == "Имя" && has("Локальный"))
        });
        let Some(pi) = pi else { return false };
        if t.at(pi) == "Proto/ID"
            || has("RefCnt")
            || has("RefZäh")
            || has("RefCpt")
            || has("I-Node")
            || has("Destination")
            || has("PSM")
            || has("vendor")
            || has("unit")
        {
            self.section = Section::Other;
            return true;
        }
        if self.opts.format.is_some_and(|f| {
            matches!(
                f,
                Format::Ss
                    | Format::ProcNetTcp
                    | Format::PowerShell
                    | Format::SolarisNetstat
                    | Format::SsSummary
            )
        }) {
            return false;
        }
        // net-tools po/cs.po translates the queue titles (`Přích-F Odch-F`).
        if has("Recv-Q") || has("Rexmit") || has("Přích-F") {
            let linux_words = has("State")
                || has("Timer")
                || has("PID/Program")
                || has("User")
                || has("Benutzer")
                || has("Utilisatr")
                || has("Etat")
                || has("Přích-F");
            let bsd_words = has("(state)")
                || has("TCP-State")
                || pi > 0
                || has("Rexmit")
                || has("R-MBUF")
                || has("rxbytes");
            let state = if has("(state)")
                || has_ci("State")
                || has("TCP-State")
                || has("Etat")
                || has("État")
                || has("Estado")
                || has("Stato")
                || has("Status")
                || has("Zustand")
                || has("Stav")
            {
                StateCol::Present
            } else {
                StateCol::Absent
            };
            let kind = if bsd_words && !linux_words {
                InetKind::Bsd
            } else if linux_words {
                InetKind::Linux
            } else if self
                .snap
                .as_ref()
                .is_some_and(|s| s.format == Format::BsdNetstat && s.clues.openbsd)
            {
                // OpenBSD's UDP table header has no state column: still the same output.
                InetKind::Bsd
            } else {
                InetKind::Unknown
            };
            let addr_width = if kind == InetKind::Bsd {
                let l = t.line.find("Local");
                let f = t.line.find("Foreign");
                match (l, f) {
                    (Some(l), Some(f)) if f > l + 2 => u16::try_from(f - l - 1).ok(),
                    _ => None,
                }
            } else {
                None
            };
            if pi > 0 && t0 == "Tcpcb" {
                self.pending_clues.freebsd = true;
            }
            if t0 == "Socket" && t.at(1) == "Flowhash" {
                self.pending_clues.mac = true;
            }
            if has("Log") && has("ID") || has("Rexmit") || has("R-MBUF") {
                self.pending_clues.freebsd = true;
            }
            if has("TCP-State") {
                self.pending_clues.openbsd = true;
            }
            let lay = InetLayout {
                kind,
                state,
                user_inode: has("Inode") || has("inode"),
                no_queues: has("Rexmit"),
                addr_width,
            };
            let format = match kind {
                InetKind::Bsd => Format::BsdNetstat,
                _ => Format::NetstatLinux,
            };
            self.section = Section::Inet(lay);
            self.table_header(self.forced_or(format), key_of(t), sink);
            return true;
        }
        // Windows header: `Proto  Local Address  Foreign Address  State  [PID]` (any language).
        if pi == 0 && t.len() >= 3 {
            self.section = Section::Inet(InetLayout {
                kind: InetKind::Windows,
                ..InetLayout::UNKNOWN
            });
            self.pending_clues.windows = true;
            self.table_header(self.forced_or(Format::WindowsNetstat), key_of(t), sink);
            return true;
        }
        false
    }

    fn ss_summary_line(&mut self, t: &Toks<'_>) -> bool {
        let Some(s) = &mut self.snap else {
            return false;
        };
        s.last_line = self.line_no;
        let sum = s.ss_summary.get_or_insert_with(SsSummary::default);
        let t0 = t.at(0);
        if t0 == "TCP:" {
            sum.tcp_total = parse_u64(t.at(1));
            // `(estab 4, closed 2, orphaned 0, synrecv 0, timewait 1/0), ports 0`
            let rest: String = t.line.replace(['(', ')', ','], " ");
            let words: Vec<&str> = rest.split_whitespace().collect();
            for w in words.windows(2) {
                let v = parse_u64(w[1].split('/').next().unwrap_or(""));
                match w[0] {
                    "estab" => sum.estab = v,
                    "closed" => sum.closed = v,
                    "orphaned" => sum.orphaned = v,
                    "synrecv" => sum.synrecv = v,
                    "timewait" => sum.timewait = v,
                    "ports" => sum.ports = v,
                    _ => {}
                }
            }
            return true;
        }
        if t0 == "Transport" {
            return true;
        }
        if matches!(t0, "RAW" | "UDP" | "TCP" | "INET" | "FRAG" | "*") && t.len() >= 2 {
            let num = |k: usize| parse_u64(t.at(k));
            sum.transports.push(SsTransport {
                name: t0.to_string(),
                total: num(1),
                ipv4: num(2),
                ipv6: num(3),
            });
            return true;
        }
        false
    }
}

/// Reads one line as a row of `section` (no parser state touched; the pipeline workers use
/// this too). `None` for sections without rows of their own.
pub(crate) fn read_row(
    section: &Section,
    ctx: &SsContext,
    opts: &ParseOptions,
    t: &Toks<'_>,
    sock: &mut Socket,
    facts: &mut RowFacts,
) -> Option<(Row, Format)> {
    let res = Resolver {
        services: opts.services.as_deref(),
    };
    let forced_or = |f: Format| opts.format.unwrap_or(f);
    Some(match section {
        Section::None | Section::SsSummary | Section::Other => return None,
        Section::Inet(lay) => {
            let row = inet_row(t, lay, &res, sock, facts);
            let f = match facts.kind.unwrap_or(lay.kind) {
                InetKind::Linux | InetKind::Unknown => Format::NetstatLinux,
                InetKind::Bsd => Format::BsdNetstat,
                InetKind::Windows => Format::WindowsNetstat,
            };
            (row, forced_or(f))
        }
        Section::Ss(lay) => (ss_row(t, lay, ctx, &res, sock, facts), Format::Ss),
        Section::Proc { tcp } => {
            let o = ProcOpts {
                big_endian: opts.proc_big_endian,
                hz: opts.clock_ticks_per_sec,
            };
            let row = match proc_row(t, &o, sock) {
                Row::Tcp(_) if !tcp => Row::Other,
                r => r,
            };
            (row, Format::ProcNetTcp)
        }
        Section::Solaris { tcp } => (solaris_row(t, *tcp, &res, sock), Format::SolarisNetstat),
        Section::PowerShell(lay) => (ps_row(t, lay, sock, facts), Format::PowerShell),
    })
}

/// For a table whose rows [`fast_linux_row`] reads exactly as [`inet_row`] would: whether its
/// header has User/Inode columns. `None` for other tables.
#[inline]
pub(crate) fn fast_user_inode(section: &Section) -> Option<bool> {
    match section {
        Section::Inet(l)
            if matches!(l.kind, InetKind::Linux | InetKind::Unknown)
                && l.state != StateCol::Absent
                && !l.no_queues =>
        {
            Some(l.user_inode)
        }
        _ => None,
    }
}

/// A line a pipeline worker already read (see [`Parser::fast_line`]).
#[derive(Clone, Copy)]
pub(crate) enum Pre {
    /// A TCP row with a known state; the socket is the worker's.
    Tcp {
        state: TcpState,
        format: Format,
        facts: RowFacts,
        fp: u64,
        t0_proto: bool,
    },
    /// A row of another protocol.
    Other { format: Format, facts: RowFacts },
}

fn n_eq(t: &Toks<'_>, n: usize) -> bool {
    t.len() == n
}

/// Whether a line starting with `t0` may be a title above a table (`Active Internet
/// connections`, `Kernel IP routing table`, `Internet:`, `IPv4`, ...), in the languages seen:
/// net-tools' own translations (po/de `Aktive`, po/fr `Connexions`, po/es `Conexiones`, po/it
/// `Connessioni`, po/pt_BR `Conexões Internet Ativas`, po/cs `Aktivní Internetová spojení`).
fn title_word(t0: &str) -> bool {
    matches!(
        t0,
        "Active"
            | "Aktive"
            | "Connexions"
            | "Conexiones"
            | "Connessioni"
            | "Conexões"
            | "Aktivní"
            | "Sockets"
            | "Kernel"
            | "Registered"
            | "Routing"
            | "Internet:"
            | "Internet6:"
            | "IPv4"
            | "IPv6"
    ) || t0.starts_with("Kernel-")
}

fn n_tokens_ok(t: &Toks<'_>) -> bool {
    t.len() <= 12
}

fn merge_clues(a: &mut OsClues, b: OsClues) {
    a.mac |= b.mac;
    a.v4_suffix |= b.v4_suffix;
    a.bsd_unix_table |= b.bsd_unix_table;
    a.freebsd |= b.freebsd;
    a.openbsd |= b.openbsd;
    a.aix |= b.aix;
    a.hpux |= b.hpux;
    a.windows |= b.windows;
}
