//! Snapshots: what a source saw, where and when, and what it could not see.

use crate::{Socket, StateCounts};
use serde::{Deserialize, Serialize};

/// Which source produced a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// netlink `SOCK_DIAG_BY_FAMILY` dumps (the default on Linux).
    Netlink,
    /// `/proc/net/tcp` and `/proc/net/tcp6`.
    Proc,
    /// Text pasted from `netstat`, `ss` or similar (see `ScanInfo::format`).
    Text,
    /// A file of saved sockets (tests and replays).
    File,
}

/// What kind of thing could not be seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GapKind {
    /// Missing privileges (other users' `/proc/<pid>/fd`, `setns`, ...).
    Permission,
    /// Things that disappeared while being read (processes that exited mid-scan).
    Vanished,
    /// A source or kernel interface that is not available here.
    Unavailable,
    /// Data the kernel or the input cut short or dropped.
    Truncated,
    /// Input that could not be read (unparsable rows, unknown formats).
    Unreadable,
    /// Information the source cannot provide at all (text has no timers or sysctls).
    NotProvided,
}

/// One thing a scan could not fill in, with why and what would help.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Gap {
    /// The kind of gap.
    pub kind: GapKind,
    /// What could not be seen and why, as one sentence.
    pub message: String,
    /// What would fill it (e.g. "run as root"), when something would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Gap {
    /// A gap without a hint.
    pub fn new(kind: GapKind, message: impl Into<String>) -> Gap {
        Gap {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Gap {
        self.hint = Some(hint.into());
        self
    }
}

/// Provenance of one scan: when and where it was taken, by which source, and its gaps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanInfo {
    /// Which source.
    pub source: SourceKind,
    /// For text sources, the detected or forced format (`ss`, `netstat-linux`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Wall-clock time of the scan in milliseconds since the Unix epoch (0 when unknown).
    pub taken_at_ms: u64,
    /// Host name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Named network namespace (`-N`), `None` for the caller's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// Kernel release (`uname -r`) when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// Whether owning processes were looked up.
    #[serde(default)]
    pub owners_resolved: bool,
    /// What could not be seen.
    #[serde(default)]
    pub gaps: Vec<Gap>,
}

impl ScanInfo {
    /// Provenance for a source, with nothing else filled in.
    pub fn new(source: SourceKind) -> ScanInfo {
        ScanInfo {
            source,
            format: None,
            taken_at_ms: 0,
            host: None,
            netns: None,
            kernel: None,
            owners_resolved: false,
            gaps: Vec::new(),
        }
    }

    /// Records a gap.
    pub fn gap(&mut self, gap: Gap) {
        self.gaps.push(gap);
    }
}

/// A TCP row whose state word nobody knows (pasted text only). It is counted and listed,
/// never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownRow {
    /// 1-based line number in the input.
    pub line: usize,
    /// The state word as printed (empty when the output has no state column).
    pub raw_state: String,
    /// The row as printed.
    pub text: String,
}

/// A collected scan: provenance plus every socket. Streaming consumers use
/// [`SocketSink`](crate::SocketSink) instead and never build one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Provenance and gaps.
    pub info: ScanInfo,
    /// The sockets.
    pub sockets: Vec<Socket>,
    /// Rows of pasted text that are TCP but carry no known state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_rows: Vec<UnknownRow>,
}

impl Snapshot {
    /// An empty snapshot for a source.
    pub fn new(info: ScanInfo) -> Snapshot {
        Snapshot {
            info,
            sockets: Vec::new(),
            unknown_rows: Vec::new(),
        }
    }

    /// Per-state counts of the sockets.
    pub fn state_counts(&self) -> StateCounts {
        let mut c = StateCounts::default();
        for s in &self.sockets {
            c.add(s.state);
        }
        c
    }
}
