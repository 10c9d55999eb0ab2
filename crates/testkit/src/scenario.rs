//! [`Scenario`]: the `tcpdoctor-scenario` binary running inside a [`Netns`], ready.

use crate::cmd::terminate;
use crate::proc_tcp::{counts_of_pid, rows_of_pid, KernelCounts, ProcTcpRow};
use crate::report::ReadyReport;
use crate::{bins, KitError, Netns};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Default time allowed for a scenario to print its ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `tcpdoctor-scenario` inside a namespace, past its ready line.
///
/// It borrows the [`Netns`], so it always ends before the namespace is deleted. Drop sends
/// SIGTERM to its pid, SIGKILL after 2 s, and reaps it (the scenario in turn stops its
/// `--close-wait-hold` child; that child also has `PR_SET_PDEATHSIG`).
#[derive(Debug)]
pub struct Scenario<'ns> {
    ns: &'ns Netns,
    child: Child,
    report: ReadyReport,
    stderr: Arc<Mutex<String>>,
}

fn drain_stderr(r: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut br = BufReader::new(r);
        let mut line = String::new();
        // Bounded: at most 10,000 lines are kept.
        for _ in 0..10_000 {
            line.clear();
            match br.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => into
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push_str(&line),
            }
        }
    });
}

impl<'ns> Scenario<'ns> {
    /// Starts the scenario binary (found by [`bins::scenario_bin`]) inside `ns` with `args`
    /// (see `tcpdoctor-scenario --help`) and waits up to [`READY_TIMEOUT`] for its ready line.
    pub fn start(ns: &'ns Netns, args: &[&str]) -> Result<Scenario<'ns>, KitError> {
        let bin = bins::scenario_bin()?;
        Self::start_with(ns, &bin, args, READY_TIMEOUT)
    }

    /// Like [`Scenario::start`] with an explicit binary and ready timeout.
    pub fn start_with(
        ns: &'ns Netns,
        bin: &Path,
        args: &[&str],
        ready_timeout: Duration,
    ) -> Result<Scenario<'ns>, KitError> {
        let mut cmd = ns.command(bin);
        cmd.arg("--die-with-parent").args(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| KitError::Io {
            what: format!("spawning {} in {}", bin.display(), ns.name()),
            source: e,
        })?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(e) = child.stderr.take() {
            drain_stderr(e, Arc::clone(&stderr));
        }
        let (tx, rx) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut br = BufReader::new(out);
                let mut line = String::new();
                let first = br.read_line(&mut line).map(|_| line);
                let _ = tx.send(first);
                // Keep draining so the child never blocks on a full pipe (bounded).
                let mut sink = [0u8; 4096];
                for _ in 0..100_000 {
                    match br.read(&mut sink) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            });
        }
        let stderr_now = |stderr: &Arc<Mutex<String>>| {
            // Give the stderr reader a moment to collect the last words.
            std::thread::sleep(Duration::from_millis(100));
            stderr
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .trim()
                .to_string()
        };
        let fail = |mut child: Child, what: String| {
            terminate(&mut child, Duration::from_secs(2));
            let status = child.try_wait().ok().flatten();
            KitError::Scenario {
                what: match status {
                    Some(st) => format!("{what} (exit: {st})"),
                    None => what,
                },
                stderr: stderr_now(&stderr),
            }
        };
        let line = match rx.recv_timeout(ready_timeout) {
            Ok(Ok(line)) if !line.trim().is_empty() => line,
            Ok(Ok(_)) => return Err(fail(child, "exited before its ready line".into())),
            Ok(Err(e)) => return Err(fail(child, format!("stdout unreadable: {e}"))),
            Err(_) => return Err(fail(child, format!("not ready within {ready_timeout:?}"))),
        };
        let report: ReadyReport = match serde_json::from_str(line.trim()) {
            Ok(r) => r,
            Err(e) => {
                return Err(fail(
                    child,
                    format!("ready line is not a report ({e}): {}", line.trim()),
                ))
            }
        };
        if report.pid != child.id() {
            let what = format!(
                "reported pid {} but the child is {}",
                report.pid,
                child.id()
            );
            return Err(fail(child, what));
        }
        Ok(Scenario {
            ns,
            child,
            report,
            stderr,
        })
    }

    /// The scenario's pid (the process holding the sockets).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The ready report.
    pub fn report(&self) -> &ReadyReport {
        &self.report
    }

    /// The namespace it runs in.
    pub fn netns(&self) -> &'ns Netns {
        self.ns
    }

    /// What the scenario wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The kernel's per-state counts of the namespace now (`/proc/<pid>/net/tcp{,6}`).
    pub fn kernel_counts(&self) -> Result<KernelCounts, KitError> {
        counts_of_pid(self.pid())
    }

    /// The kernel's socket rows of the namespace now.
    pub fn kernel_rows(&self) -> Result<Vec<ProcTcpRow>, KitError> {
        rows_of_pid(self.pid())
    }

    /// Waits (bounded by `limit`) until the namespace's counts satisfy `pred`; returns the last
    /// counts read and whether `pred` held.
    pub fn wait_counts(
        &self,
        limit: Duration,
        pred: impl Fn(&KernelCounts) -> bool,
    ) -> Result<(KernelCounts, bool), KitError> {
        let start = Instant::now();
        loop {
            let k = self.kernel_counts()?;
            if pred(&k) {
                return Ok((k, true));
            }
            if start.elapsed() > limit {
                return Ok((k, false));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it with SIGTERM and returns its exit status (0 = it released everything cleanly);
    /// SIGKILL after 5 s, which then shows as a signal exit.
    pub fn stop(mut self) -> Result<ExitStatus, KitError> {
        terminate(&mut self.child, Duration::from_secs(5));
        self.child.wait().map_err(|e| KitError::Io {
            what: "waiting for the scenario".into(),
            source: e,
        })
    }
}

impl Drop for Scenario<'_> {
    fn drop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(2));
    }
}

impl Netns {
    /// [`Scenario::start`] in this namespace.
    pub fn scenario(&self, args: &[&str]) -> Result<Scenario<'_>, KitError> {
        Scenario::start(self, args)
    }
}
