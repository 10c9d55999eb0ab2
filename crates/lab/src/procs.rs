//! Processes the lab started: identity (pid + start time) and killing by pid.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// A process the lab started, identified by pid and start time so that a recycled pid is never
/// mistaken for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcRecord {
    /// Process id.
    pub pid: u32,
    /// Start time in clock ticks since boot (field 22 of `/proc/PID/stat`).
    pub start_time: u64,
    /// What it is (`client worker`, `mariadbd`).
    pub what: String,
}

impl ProcRecord {
    /// Records a running process; `None` when it is already gone.
    pub fn of(pid: u32, what: &str) -> Option<ProcRecord> {
        Some(ProcRecord {
            pid,
            start_time: start_time(pid)?,
            what: what.to_string(),
        })
    }

    /// Whether `pid` still is this process (same start time, not a zombie).
    pub fn is_alive(&self) -> bool {
        is_running(self.pid) && start_time(self.pid) == Some(self.start_time)
    }
}

/// The state letter and start time from the text of `/proc/PID/stat`.
pub fn parse_stat(stat: &str) -> Option<(char, u64)> {
    // The command name is in parentheses and may contain anything: split at the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // rest starts at field 3 (state); start time is field 22.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

fn stat(pid: u32) -> Option<(char, u64)> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Start time of `pid` in clock ticks since boot.
pub fn start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|(_, t)| t)
}

/// Whether `pid` exists and is not a zombie.
pub fn is_running(pid: u32) -> bool {
    matches!(stat(pid), Some((s, _)) if s != 'Z' && s != 'X')
}

/// The command line of `pid`, arguments joined by spaces.
pub fn cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let parts: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    Some(parts.join(" "))
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    if let Some(p) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(p, sig);
    }
}

/// Stops a recorded process if (and only if) its pid still is that process: SIGTERM, then
/// SIGKILL after `grace`. Returns whether it was running.
pub fn kill_verified(rec: &ProcRecord, grace: Duration) -> bool {
    if !rec.is_alive() {
        return false;
    }
    signal(rec.pid, rustix::process::Signal::TERM);
    let start = Instant::now();
    while rec.is_alive() && start.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(10));
    }
    if rec.is_alive() {
        signal(rec.pid, rustix::process::Signal::KILL);
        let start = Instant::now();
        while rec.is_alive() && start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_names() {
        let s =
            "4242 (a) b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_stat(s), Some(('S', 987654)));
        assert_eq!(parse_stat("4242 (x) Z"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_process_is_recorded_and_alive() {
        let me = std::process::id();
        let r = ProcRecord::of(me, "test").unwrap();
        assert!(r.is_alive());
        assert!(cmdline(me).is_some());
        let recycled = ProcRecord {
            start_time: r.start_time + 1,
            ..r.clone()
        };
        assert!(!recycled.is_alive());
        // Never signals a pid whose start time differs.
        assert!(!kill_verified(&recycled, Duration::from_millis(10)));
    }

    #[test]
    fn kills_a_child_by_pid() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let r = ProcRecord::of(child.id(), "sleep").unwrap();
        assert!(r.is_alive());
        // Reap in the background so the zombie disappears.
        let h = std::thread::spawn(move || child.wait().unwrap());
        assert!(kill_verified(&r, Duration::from_secs(2)));
        assert!(!h.join().unwrap().success());
        assert!(!r.is_alive());
    }
}
