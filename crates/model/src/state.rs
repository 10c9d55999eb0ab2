//! TCP states (the 11 Linux states), sets of them (as the kernel's `idiag_states` bitmask) and
//! per-state counts.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// One of the 11 TCP states Linux reports, numbered as in `include/net/tcp_states.h`
/// (tcp-facts 8.4). The internal `NEW_SYN_RECV` (12) is reported as [`TcpState::SynRecv`] and
/// `BOUND_INACTIVE` (13) is never dumped by tcpdoctor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(u8)]
pub enum TcpState {
    /// `ESTABLISHED` (1)
    Established = 1,
    /// `SYN_SENT` (2)
    SynSent = 2,
    /// `SYN_RECV` (3), including request mini-sockets (tcp-facts 7.2)
    SynRecv = 3,
    /// `FIN_WAIT1` (4)
    FinWait1 = 4,
    /// `FIN_WAIT2` (5), including FIN_WAIT2 timewait mini-sockets (tcp-facts 1.7)
    FinWait2 = 5,
    /// `TIME_WAIT` (6)
    TimeWait = 6,
    /// `CLOSE` (7)
    Close = 7,
    /// `CLOSE_WAIT` (8)
    CloseWait = 8,
    /// `LAST_ACK` (9)
    LastAck = 9,
    /// `LISTEN` (10)
    Listen = 10,
    /// `CLOSING` (11)
    Closing = 11,
}

/// A state word that no spelling table knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown TCP state '{0}'; use a Linux name (ESTABLISHED, TIME_WAIT, ...), an ss name \
     (estab, time-wait, ...) or an ss group (all, connected, synchronized, bucket, big)"
)]
pub struct UnknownStateError(pub String);

impl TcpState {
    /// All 11 states in kernel order.
    pub const ALL: [TcpState; 11] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
    ];

    /// The state for a kernel state number (`idiag_state`, `/proc/net/tcp` `st`).
    /// `NEW_SYN_RECV` (12) maps to `SYN_RECV`, as `ss` and `/proc` show it.
    pub fn from_kernel(n: u8) -> Option<TcpState> {
        match n {
            1..=11 => Some(Self::ALL[usize::from(n - 1)]),
            12 => Some(TcpState::SynRecv),
            _ => None,
        }
    }

    /// The kernel's number for this state.
    pub fn kernel_number(self) -> u8 {
        self as u8
    }

    /// Index 0..11 for array-indexed counters.
    pub fn index(self) -> usize {
        usize::from(self as u8 - 1)
    }

    /// The Linux name used in JSON and by net-tools `netstat` (`TIME_WAIT`, `FIN_WAIT1`).
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
        }
    }

    /// The name `ss` prints in its State column (`ESTAB`, `TIME-WAIT`, `UNCONN`).
    pub fn ss_name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTAB",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynRecv => "SYN-RECV",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::TimeWait => "TIME-WAIT",
            TcpState::Close => "UNCONN",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::LastAck => "LAST-ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
        }
    }

    /// Parses one state name in any common spelling: Linux/netstat (`TIME_WAIT`, `FIN_WAIT1`),
    /// ss (`time-wait`, `estab`, `fin-wait-1`, `unconn`, `listening`), BSD/Windows
    /// (`SYN_RCVD`, `SYN_RECEIVED`, `FIN_WAIT_1`, `LISTENING`, `CLOSED`). Case-insensitive;
    /// `-` and `_` are interchangeable. Groups are not accepted here: see [`StateSet::parse`].
    pub fn parse(word: &str) -> Option<TcpState> {
        let mut buf = [0u8; 16];
        let w = word.trim().as_bytes();
        if w.is_empty() || w.len() > buf.len() {
            return None;
        }
        let mut n = 0;
        for &b in w {
            if b == b'-' || b == b'_' {
                continue;
            }
            buf[n] = b.to_ascii_uppercase();
            n += 1;
        }
        Some(match &buf[..n] {
            b"ESTABLISHED" | b"ESTAB" => TcpState::Established,
            b"SYNSENT" => TcpState::SynSent,
            b"SYNRECV" | b"SYNRCVD" | b"SYNRECEIVED" => TcpState::SynRecv,
            b"FINWAIT1" => TcpState::FinWait1,
            b"FINWAIT2" => TcpState::FinWait2,
            b"TIMEWAIT" => TcpState::TimeWait,
            b"CLOSE" | b"CLOSED" | b"UNCONN" => TcpState::Close,
            b"CLOSEWAIT" => TcpState::CloseWait,
            b"LASTACK" => TcpState::LastAck,
            b"LISTEN" | b"LISTENING" => TcpState::Listen,
            b"CLOSING" => TcpState::Closing,
            _ => return None,
        })
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of states, laid out exactly as the kernel's `idiag_states` bitmask (`1 << state`,
/// tcp-facts 9.4), so it can be handed to the kernel as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StateSet(u32);

impl StateSet {
    /// Every state (ss `all`: bits 1..=11; no `NEW_SYN_RECV` bit, requests still come with
    /// `SYN_RECV`).
    pub const ALL: StateSet = StateSet(0xFFE);
    /// The empty set.
    pub const EMPTY: StateSet = StateSet(0);

    /// A set with one state.
    pub const fn one(s: TcpState) -> StateSet {
        StateSet(1 << s as u32)
    }

    /// The kernel bitmask (`idiag_states`).
    pub fn bits(self) -> u32 {
        self.0
    }

    /// A set from a kernel bitmask; bits outside the 11 states are dropped.
    pub fn from_bits(bits: u32) -> StateSet {
        StateSet(bits & Self::ALL.0)
    }

    /// Adds a state.
    pub fn insert(&mut self, s: TcpState) {
        self.0 |= 1 << s as u32;
    }

    /// Whether the set holds `s`.
    pub fn contains(self, s: TcpState) -> bool {
        self.0 & (1 << s as u32) != 0
    }

    /// Union of two sets.
    pub fn union(self, other: StateSet) -> StateSet {
        StateSet(self.0 | other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether the set holds every state.
    pub fn is_all(self) -> bool {
        self.0 & Self::ALL.0 == Self::ALL.0
    }

    /// The states in the set, in kernel order.
    pub fn iter(self) -> impl Iterator<Item = TcpState> {
        TcpState::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Parses one state name (see [`TcpState::parse`]) or one of ss's groups, with ss's own
    /// definitions (iproute2 `ss.c`):
    /// `all`; `connected` = all but LISTEN and CLOSE; `synchronized` = connected but SYN_SENT;
    /// `bucket` = SYN_RECV and TIME_WAIT (the mini-sockets); `big` = all but bucket.
    pub fn parse(word: &str) -> Result<StateSet, UnknownStateError> {
        let w = word.trim().to_ascii_lowercase();
        let minus = |s: &[TcpState]| {
            let mut set = Self::ALL.0;
            for x in s {
                set &= !(1 << *x as u32);
            }
            StateSet(set)
        };
        Ok(match w.as_str() {
            "all" => Self::ALL,
            "connected" => minus(&[TcpState::Listen, TcpState::Close]),
            "synchronized" => minus(&[TcpState::Listen, TcpState::Close, TcpState::SynSent]),
            "bucket" => StateSet::one(TcpState::SynRecv).union(StateSet::one(TcpState::TimeWait)),
            "big" => minus(&[TcpState::SynRecv, TcpState::TimeWait]),
            _ => match TcpState::parse(&w) {
                Some(s) => StateSet::one(s),
                None => return Err(UnknownStateError(word.trim().to_string())),
            },
        })
    }

    /// Parses a comma-separated list of names and groups (`time-wait,close-wait`).
    pub fn parse_list(list: &str) -> Result<StateSet, UnknownStateError> {
        let mut set = StateSet::EMPTY;
        for part in list.split(',').filter(|p| !p.trim().is_empty()) {
            set = set.union(StateSet::parse(part)?);
        }
        if set.is_empty() {
            return Err(UnknownStateError(list.to_string()));
        }
        Ok(set)
    }
}

/// Socket counts per state. Serialises as a map with all 11 Linux state names as keys, zeros
/// included, in kernel order; that shape is the `states` field of every JSON report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateCounts {
    counts: [u64; 11],
}

impl StateCounts {
    /// Adds one socket in state `s`.
    #[inline]
    pub fn add(&mut self, s: TcpState) {
        self.counts[s.index()] += 1;
    }

    /// Adds `n` sockets in state `s`.
    pub fn add_n(&mut self, s: TcpState, n: u64) {
        self.counts[s.index()] += n;
    }

    /// The count for one state.
    pub fn get(&self, s: TcpState) -> u64 {
        self.counts[s.index()]
    }

    /// Sum over all states.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds another set of counts to this one.
    pub fn merge(&mut self, other: &StateCounts) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
    }

    /// `(state, count)` pairs in kernel order, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (TcpState, u64)> + '_ {
        TcpState::ALL.iter().map(move |s| (*s, self.get(*s)))
    }
}

impl Serialize for StateCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(11))?;
        for (s, n) in self.iter() {
            map.serialize_entry(s.name(), &n)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for StateCounts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<String, u64>::deserialize(deserializer)?;
        let mut c = StateCounts::default();
        for (k, v) in map {
            let s = TcpState::parse(&k)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown state {k}")))?;
            c.add_n(s, v);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_numbers_round_trip() {
        for s in TcpState::ALL {
            assert_eq!(TcpState::from_kernel(s.kernel_number()), Some(s));
        }
        assert_eq!(TcpState::from_kernel(12), Some(TcpState::SynRecv));
        assert_eq!(TcpState::from_kernel(0), None);
        assert_eq!(TcpState::from_kernel(13), None);
    }

    #[test]
    fn spellings() {
        for (w, s) in [
            ("time-wait", TcpState::TimeWait),
            ("TIME_WAIT", TcpState::TimeWait),
            ("TIME-WAIT", TcpState::TimeWait),
            ("estab", TcpState::Established),
            ("ESTABLISHED", TcpState::Established),
            ("fin-wait-1", TcpState::FinWait1),
            ("FIN_WAIT_2", TcpState::FinWait2),
            ("FIN_WAIT2", TcpState::FinWait2),
            ("SYN_RCVD", TcpState::SynRecv),
            ("SYN_RECEIVED", TcpState::SynRecv),
            ("listening", TcpState::Listen),
            ("closed", TcpState::Close),
            ("UNCONN", TcpState::Close),
            ("close-wait", TcpState::CloseWait),
            ("last-ack", TcpState::LastAck),
        ] {
            assert_eq!(TcpState::parse(w), Some(s), "{w}");
        }
        assert_eq!(TcpState::parse("established-ish"), None);
        assert_eq!(TcpState::parse(""), None);
    }

    #[test]
    fn ss_groups_match_ss_c() {
        let connected = StateSet::parse("connected").unwrap();
        assert!(!connected.contains(TcpState::Listen));
        assert!(!connected.contains(TcpState::Close));
        assert!(connected.contains(TcpState::TimeWait));
        assert!(connected.contains(TcpState::SynSent));
        let sync = StateSet::parse("synchronized").unwrap();
        assert!(!sync.contains(TcpState::SynSent));
        assert_eq!(
            StateSet::parse("bucket").unwrap().bits(),
            (1 << 3) | (1 << 6)
        );
        assert_eq!(StateSet::parse("big").unwrap().iter().count(), 9);
        assert_eq!(StateSet::parse("all").unwrap().bits(), 0xFFE);
        assert_eq!(StateSet::parse("time-wait").unwrap().bits(), 0x40);
        assert_eq!(StateSet::parse("close-wait").unwrap().bits(), 0x100);
        assert_eq!(StateSet::parse("listen").unwrap().bits(), 0x400);
        assert!(StateSet::parse("bogus").is_err());
        assert_eq!(
            StateSet::parse_list("time-wait,CLOSE_WAIT").unwrap().bits(),
            0x140
        );
        assert!(StateSet::parse_list(",").is_err());
    }

    #[test]
    fn counts_serialise_all_eleven_keys_in_order() {
        let mut c = StateCounts::default();
        c.add(TcpState::TimeWait);
        c.add(TcpState::TimeWait);
        let v = serde_json::to_string(&c).unwrap();
        assert_eq!(
            v,
            r#"{"ESTABLISHED":0,"SYN_SENT":0,"SYN_RECV":0,"FIN_WAIT1":0,"FIN_WAIT2":0,"TIME_WAIT":2,"CLOSE":0,"CLOSE_WAIT":0,"LAST_ACK":0,"LISTEN":0,"CLOSING":0}"#
        );
        let back: StateCounts = serde_json::from_str(&v).unwrap();
        assert_eq!(back, c);
        assert_eq!(c.total(), 2);
    }
}
