//! Running commands with a time limit (and giving up on SIGINT/SIGTERM).

use crate::error::LabError;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What a finished command printed.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A printable command line.
pub fn describe(cmd: &Command) -> String {
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
        if let Some(r) = r {
            let _ = r.take(64 << 20).read_to_end(&mut buf);
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// SIGTERM, SIGKILL after `grace`, reap. For children of this process only.
pub fn terminate(child: &mut Child, grace: Duration) {
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
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `cmd` with stdin closed until it exits or `limit` passes (then it is killed by pid).
/// When `interruptible`, SIGINT/SIGTERM to the lab also stops it ([`LabError::Interrupted`]).
pub fn run(cmd: &mut Command, limit: Duration, interruptible: bool) -> Result<Output, LabError> {
    let what = describe(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::io(format!("starting `{what}`"), e))?;
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if interruptible && crate::signals::interrupted() => {
                terminate(&mut child, Duration::from_millis(500));
                return Err(LabError::Interrupted);
            }
            Ok(None) if start.elapsed() > limit => {
                terminate(&mut child, Duration::from_millis(500));
                let e = collect(&err, Duration::from_millis(300));
                return Err(LabError::Timeout {
                    what,
                    limit,
                    detail: format!("; stderr: {}", e.trim()),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                terminate(&mut child, Duration::from_millis(500));
                return Err(LabError::io(format!("waiting for `{what}`"), e));
            }
        }
    };
    let grace = Duration::from_secs(2);
    Ok(Output {
        status,
        stdout: collect(&out, grace),
        stderr: collect(&err, grace),
    })
}

/// The collected output, waiting at most `limit`: a grandchild may still hold the pipe open,
/// and then the output says so instead of coming back empty.
fn collect(rx: &std::sync::mpsc::Receiver<String>, limit: Duration) -> String {
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| "<output still open: not collected>".to_string())
}

/// Like [`run`], and a non-zero exit is an error carrying stderr. Not interruptible (used for
/// setup and cleanup steps that must finish).
pub fn run_ok(cmd: &mut Command, limit: Duration) -> Result<Output, LabError> {
    let what = describe(cmd);
    let o = run(cmd, limit, false)?;
    if o.status.success() {
        Ok(o)
    } else {
        Err(LabError::Command {
            cmd: what,
            status: o.status.to_string(),
            stderr: o.stderr.trim().to_string(),
        })
    }
}

/// `ip ARGS...` (limit 20 s), checked.
pub fn ip(args: &[&str]) -> Result<Output, LabError> {
    let mut c = Command::new("ip");
    c.args(args);
    run_ok(&mut c, Duration::from_secs(20))
}

/// Sleeps up to `d`, waking early (with an error) on SIGINT/SIGTERM.
pub fn sleep(d: Duration) -> Result<(), LabError> {
    let end = Instant::now() + d;
    loop {
        if crate::signals::interrupted() {
            return Err(LabError::Interrupted);
        }
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    }
}
