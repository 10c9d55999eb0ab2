//! Running a command to completion with a time limit, capturing its output.

use crate::KitError;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What a finished command printed.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
}

impl CmdOutput {
    /// `Ok(self)` when the command exited 0, else a [`KitError::Command`].
    pub fn ok(self, cmd: &str) -> Result<CmdOutput, KitError> {
        if self.status.success() {
            Ok(self)
        } else {
            Err(KitError::Command {
                cmd: cmd.to_string(),
                status: self.status.to_string(),
                stderr: self.stderr.trim().to_string(),
            })
        }
    }
}

/// A printable form of a command line.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn reader(r: Option<impl Read + Send + 'static>) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            // Bounded: 64 MiB is far beyond any command the kit runs.
            let _ = r.by_ref().take(64 << 20).read_to_end(&mut buf);
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// The collected output, waiting at most `limit` (a grandchild may still hold the pipe open).
fn collect(rx: &std::sync::mpsc::Receiver<String>, limit: Duration) -> String {
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| "<output still open: not collected>".to_string())
}

/// Kills a child by pid: SIGTERM, then SIGKILL after `grace`; reaps it. Never fails.
pub(crate) fn terminate(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    if let Some(pid) = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    let start = Instant::now();
    while start.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill(); // SIGKILL to this pid
    let _ = child.wait();
}

/// Runs `cmd` (stdin closed) until it exits or `limit` passes; on timeout the child is killed
/// (by pid) and a [`KitError::Timeout`] returned. The exit status is not checked: see
/// [`CmdOutput::ok`].
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Result<CmdOutput, KitError> {
    let what = describe(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| KitError::Io {
            what: format!("spawning `{what}`"),
            source: e,
        })?;
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() > limit => {
                terminate(&mut child, Duration::from_millis(500));
                let stderr = collect(&err, Duration::from_millis(200));
                return Err(KitError::Timeout {
                    what,
                    limit,
                    detail: format!("; stderr: {}", stderr.trim()),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => {
                terminate(&mut child, Duration::from_millis(500));
                return Err(KitError::Io {
                    what: format!("waiting for `{what}`"),
                    source: e,
                });
            }
        }
    };
    let grace = Duration::from_secs(2);
    Ok(CmdOutput {
        status,
        stdout: collect(&out, grace),
        stderr: collect(&err, grace),
    })
}
