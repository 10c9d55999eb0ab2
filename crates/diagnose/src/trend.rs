//! [`Trend`]: what `connection-growth` needs from a run of scans, kept while the scans stream
//! by, so that a long run (a log of thousands of `netstat` snapshots) needs neither all its
//! observations in memory nor a series as long as the run in a report.
//!
//! A process or peer grows when its ESTABLISHED or CLOSE_WAIT count never decreases from the
//! first scan to the last and grows by at least max(20, 20 % of the first count) (the rule in
//! the catalogue). Only what existed at the first scan can grow (a process started since then
//! ramps up from zero, which is not a leak), so the first observation fixes which series are
//! followed: each of its processes (pid and name) and peers, in both states. For each series
//! the trend keeps the first and the latest count and whether it ever decreased (all exact, over
//! every scan), and the counts at evenly spaced scans for the evidence: every scan while there
//! are at most [`MAX_POINTS`], then every 2nd, 4th... (the spacing doubles when the points run
//! out, and the latest count is always shown as well). A series that decreased can no longer
//! grow and is dropped.

use crate::observe::Observation;
use std::net::IpAddr;
use tcpdoctor_model::TcpState;

/// Counts kept per series for the evidence, before the spacing doubles.
pub const MAX_POINTS: usize = 32;

/// The two states `connection-growth` follows.
pub(crate) const STATES: [TcpState; 2] = [TcpState::Established, TcpState::CloseWait];

/// Who a series belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A process: pid and its name at the first scan (a reused pid with another name is
    /// another process).
    Process(u32, String),
    /// A peer address.
    Peer(IpAddr),
}

/// One followed count.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// The count at the first scan.
    pub first: u64,
    /// The count at the latest scan.
    pub last: u64,
    /// Counts at the kept scans; empty while every kept count equals `first`.
    points: Vec<u64>,
}

/// A followed process or peer, its two series (ESTABLISHED, CLOSE_WAIT), and whether it was
/// there at the latest scan.
#[derive(Debug, Clone)]
pub(crate) struct Followed {
    pub owner: Owner,
    /// `None` once the count decreased.
    pub series: [Option<Series>; 2],
    pub present: bool,
}

/// The growth-relevant history of a run of scans; feed every observation, oldest first, with
/// [`Trend::observe`].
#[derive(Debug, Clone, Default)]
pub struct Trend {
    scans: usize,
    /// Scans kept as points are those whose index is a multiple of this.
    stride: usize,
    /// Points kept so far (the same for every series).
    kept: usize,
    followed: Vec<Followed>,
}

impl Trend {
    /// An empty trend.
    pub fn new() -> Trend {
        Trend::default()
    }

    /// A trend of `scans` scans that follows nothing: for a diagnosis of one scan, where
    /// nothing can grow.
    pub(crate) fn unfollowed(scans: usize) -> Trend {
        Trend {
            scans,
            stride: 1,
            kept: scans,
            followed: Vec::new(),
        }
    }

    /// Number of observations fed.
    pub fn scans(&self) -> usize {
        self.scans
    }

    /// Series still followed (processes and peers of the first scan in a state that has not
    /// decreased).
    #[cfg(test)]
    fn followed(&self) -> usize {
        self.followed
            .iter()
            .map(|f| f.series.iter().flatten().count())
            .sum()
    }

    /// Takes the next scan.
    pub fn observe(&mut self, o: &Observation) {
        let index = self.scans;
        self.scans += 1;
        if index == 0 {
            self.stride = 1;
            self.kept = 1;
            for (pid, p) in &o.processes {
                let counts = STATES.map(|s| p.states.get(s));
                self.followed.push(Followed::new(
                    Owner::Process(*pid, p.process.comm.clone()),
                    counts,
                ));
            }
            for (ip, p) in &o.peers {
                self.followed.push(Followed::new(
                    Owner::Peer(*ip),
                    [p.established, p.close_wait],
                ));
            }
            return;
        }
        // Is this scan a point? When the points are full, every second one goes and the
        // spacing doubles.
        let mut point = index % self.stride == 0;
        if point && self.kept == MAX_POINTS {
            for f in &mut self.followed {
                for s in f.series.iter_mut().flatten() {
                    if !s.points.is_empty() {
                        let mut i = 0;
                        s.points.retain(|_| {
                            i += 1;
                            i % 2 == 1
                        });
                    }
                }
            }
            self.kept = self.kept.div_ceil(2);
            self.stride *= 2;
            point = index % self.stride == 0;
        }
        let kept = self.kept;
        for f in &mut self.followed {
            let counts = match &f.owner {
                Owner::Process(pid, comm) => o
                    .processes
                    .get(pid)
                    .filter(|q| q.process.comm == *comm)
                    .map(|q| STATES.map(|s| q.states.get(s))),
                Owner::Peer(ip) => o.peers.get(ip).map(|p| [p.established, p.close_wait]),
            };
            f.present = counts.is_some();
            let counts = counts.unwrap_or([0, 0]);
            for (slot, v) in f.series.iter_mut().zip(counts) {
                let Some(s) = slot else { continue };
                if v < s.last {
                    *slot = None;
                    continue;
                }
                s.last = v;
                if point {
                    if s.points.is_empty() && v != s.first {
                        s.points = vec![s.first; kept];
                    }
                    if !s.points.is_empty() {
                        s.points.push(v);
                    }
                }
            }
        }
        if point {
            self.kept += 1;
        }
        if index % 64 == 0 {
            self.followed
                .retain(|f| f.series.iter().any(Option::is_some));
        }
    }

    /// Every followed process or peer still present at the latest scan, with its series.
    pub(crate) fn present(&self) -> impl Iterator<Item = &Followed> {
        self.followed.iter().filter(|f| f.present)
    }

    /// The counts shown for a series: one per kept scan, and the latest when it is not one.
    pub(crate) fn shown(&self, s: &Series) -> Vec<u64> {
        let mut v = if s.points.is_empty() {
            vec![s.first; self.kept]
        } else {
            s.points.clone()
        };
        if self.scans > 0 && (self.scans - 1) % self.stride.max(1) != 0 {
            v.push(s.last);
        }
        v
    }

    /// Scans between two shown counts (1 while every scan is shown).
    pub fn spacing(&self) -> usize {
        self.stride.max(1)
    }
}

impl Followed {
    fn new(owner: Owner, counts: [u64; 2]) -> Followed {
        Followed {
            owner,
            series: counts.map(|c| {
                Some(Series {
                    first: c,
                    last: c,
                    points: Vec::new(),
                })
            }),
            present: true,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tcpdoctor_model::{ScanInfo, Socket, SocketSink, SourceKind};

    /// An observation with `n` ESTABLISHED sockets from one peer.
    fn obs(n: u64) -> Observation {
        let mut o = Observation::new(&ScanInfo::new(SourceKind::Text), Default::default());
        for i in 0..n {
            let local = format!("10.0.0.1:{}", 40000 + i).parse().unwrap();
            let s = Socket::new(
                TcpState::Established,
                local,
                "10.0.0.2:3306".parse().unwrap(),
            );
            o.socket(&s);
        }
        o
    }

    fn shown_peer(t: &Trend) -> Vec<u64> {
        let f = t.present().next().unwrap();
        t.shown(f.series[0].as_ref().unwrap())
    }

    #[test]
    fn every_scan_is_shown_up_to_the_limit_then_the_spacing_doubles() {
        // Scan i has i + 1 sockets.
        let m = MAX_POINTS as u64;
        let mut t = Trend::new();
        for i in 0..m {
            t.observe(&obs(i + 1));
        }
        assert_eq!(shown_peer(&t), (1..=m).collect::<Vec<_>>());
        assert_eq!(t.spacing(), 1);
        // Scan 32 halves the points: scans 0, 2, ..., 30, and 32 itself.
        t.observe(&obs(m + 1));
        let want: Vec<u64> = (0..=m).step_by(2).map(|i| i + 1).collect();
        assert_eq!(shown_peer(&t), want);
        assert_eq!(t.spacing(), 2);
        // Scan 33 is not a point: shown as the latest.
        t.observe(&obs(m + 2));
        let mut want2 = want.clone();
        want2.push(m + 2);
        assert_eq!(shown_peer(&t), want2);
        // 1000 scans: at most MAX_POINTS + 1 shown, evenly spaced, first and last exact.
        for i in m + 2..1000 {
            t.observe(&obs(i + 1));
        }
        let v = shown_peer(&t);
        assert_eq!(t.scans(), 1000);
        assert_eq!(t.spacing(), 32);
        // Scans 0, 32, ..., 992 (32 points) and the last (999).
        let mut want3: Vec<u64> = (0..1000).step_by(32).map(|i| i + 1).collect();
        want3.push(1000);
        assert_eq!(v, want3);
    }

    #[test]
    fn a_series_that_decreases_is_dropped_and_a_constant_one_costs_no_points() {
        let mut t = Trend::new();
        for n in [5, 5, 5] {
            t.observe(&obs(n));
        }
        // ESTABLISHED and CLOSE_WAIT of the peer and of no process.
        assert_eq!(t.followed(), 2);
        assert!(t
            .followed
            .iter()
            .all(|f| f.series.iter().flatten().all(|s| s.points.is_empty())));
        assert_eq!(shown_peer(&t), vec![5, 5, 5]);
        t.observe(&obs(4));
        assert_eq!(
            t.followed(),
            1,
            "ESTABLISHED went down; CLOSE_WAIT stays at 0"
        );
        // Gone at the last scan: not present.
        t.observe(&obs(0));
        assert_eq!(t.present().count(), 0);
    }
}
