//! Running a command to completion with a time limit, capturing its output: the lab's runner
//! (`tcpdoctor_lab::cmd`, which the binary uses too), with the kit's error type.

use crate::KitError;
use std::process::{Command, ExitStatus};
use std::time::Duration;
use tcpdoctor_lab::LabError;

pub(crate) use tcpdoctor_lab::cmd::{describe, terminate};

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

/// Runs `cmd` (stdin closed) until it exits or `limit` passes; on timeout the child is killed
/// (by pid) and a [`KitError::Timeout`] returned. The exit status is not checked: see
/// [`CmdOutput::ok`].
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Result<CmdOutput, KitError> {
    match tcpdoctor_lab::cmd::run(cmd, limit, false) {
        Ok(o) => Ok(CmdOutput {
            status: o.status,
            stdout: o.stdout,
            stderr: o.stderr,
        }),
        Err(LabError::Timeout {
            what,
            limit,
            detail,
        }) => Err(KitError::Timeout {
            what,
            limit,
            detail,
        }),
        Err(LabError::Io { what, source }) => Err(KitError::Io { what, source }),
        // Not interruptible, so nothing else comes back; kept as an I/O error if it ever does.
        Err(other) => Err(KitError::Io {
            what: format!("running `{}`", describe(cmd)),
            source: std::io::Error::other(other.to_string()),
        }),
    }
}
