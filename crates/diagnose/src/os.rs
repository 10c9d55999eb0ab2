//! Where the sockets came from: a live Linux host, or text pasted from Linux, Windows, macOS,
//! a BSD or Solaris. Decides the TIME_WAIT length, the default ephemeral range and which
//! remedies make sense (tcp-facts 1.1, 12, 13).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The operating system the sockets belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceOs {
    /// Linux.
    Linux,
    /// Windows (Vista/Server 2008 or later unless the text says otherwise).
    Windows,
    /// macOS (xnu).
    Macos,
    /// FreeBSD.
    Freebsd,
    /// Another BSD (OpenBSD, NetBSD, DragonFly).
    Bsd,
    /// Solaris / illumos.
    Solaris,
    /// Not known.
    Unknown,
}

/// An unknown OS name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown OS '{0}'; use one of: linux, windows, macos, freebsd, bsd, solaris, unknown")]
pub struct UnknownOs(pub String);

impl FromStr for SourceOs {
    type Err = UnknownOs;
    fn from_str(s: &str) -> Result<SourceOs, UnknownOs> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "linux" => SourceOs::Linux,
            "windows" | "win" => SourceOs::Windows,
            "macos" | "darwin" | "osx" | "mac" => SourceOs::Macos,
            "freebsd" => SourceOs::Freebsd,
            "bsd" | "openbsd" | "netbsd" | "dragonfly" => SourceOs::Bsd,
            "solaris" | "illumos" | "sunos" => SourceOs::Solaris,
            "unknown" | "" => SourceOs::Unknown,
            _ => return Err(UnknownOs(s.to_string())),
        })
    }
}

impl fmt::Display for SourceOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceOs::Linux => "Linux",
            SourceOs::Windows => "Windows",
            SourceOs::Macos => "macOS",
            SourceOs::Freebsd => "FreeBSD",
            SourceOs::Bsd => "BSD",
            SourceOs::Solaris => "Solaris",
            SourceOs::Unknown => "an unknown OS",
        })
    }
}

/// The TIME_WAIT length assumed for an OS, with where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWaitLen {
    /// Seconds.
    pub secs: u64,
    /// Whether this is fixed (Linux) or a default that settings can change.
    pub fixed: bool,
    /// Where the number comes from, as a short phrase with the fact-sheet section.
    pub source: &'static str,
}

impl SourceOs {
    /// TIME_WAIT length: Linux fixed 60 s (1.1); Windows 240 s by Microsoft's current default
    /// (12.2, TcpTimedWaitDelay can set 30-300); macOS 2 x MSL = 30 s (13.1); FreeBSD 60 s
    /// (13.2). Other systems: 60 s assumed, said so.
    pub fn time_wait(self) -> TimeWaitLen {
        match self {
            SourceOs::Linux => TimeWaitLen {
                secs: 60,
                fixed: true,
                source: "fixed in the kernel as TCP_TIMEWAIT_LEN, tcp-facts 1.1",
            },
            SourceOs::Windows => TimeWaitLen {
                secs: 240,
                fixed: false,
                source: "the Windows default of 4 minutes unless TcpTimedWaitDelay is set, tcp-facts 12.1-12.2",
            },
            SourceOs::Macos => TimeWaitLen {
                secs: 30,
                fixed: false,
                source: "macOS: 2 x net.inet.tcp.msl = 2 x 15 s, tcp-facts 13.1",
            },
            SourceOs::Freebsd => TimeWaitLen {
                secs: 60,
                fixed: false,
                source: "FreeBSD: 2 x net.inet.tcp.msl = 2 x 30 s, tcp-facts 13.2",
            },
            SourceOs::Bsd | SourceOs::Solaris | SourceOs::Unknown => TimeWaitLen {
                secs: 60,
                fixed: false,
                source: "assumed 60 s: this OS's TIME_WAIT length is not known here",
            },
        }
    }

    /// Default ephemeral range: Linux 32768-60999 (5.1); Windows since Vista 49152-65535
    /// (12.4); others: the IANA range 49152-65535, an assumption (not in the fact sheet).
    pub fn default_port_range(self) -> (u16, u16, &'static str) {
        match self {
            SourceOs::Linux => (32768, 60999, "the Linux default, tcp-facts 5.1"),
            SourceOs::Windows => (
                49152,
                65535,
                "the Windows Vista/2008+ default, tcp-facts 12.4",
            ),
            _ => (
                49152,
                65535,
                "the IANA dynamic range, assumed: not verified for this OS",
            ),
        }
    }
}
