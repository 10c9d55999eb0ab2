//! Helpers shared by the integration tests of the `tcpdoctor` binary.

use std::process::Command;
use std::time::Duration;
use tcpdoctor_testkit::run_with_timeout;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_tcpdoctor");

/// Runs `tcpdoctor ARGS` without colour, at most 60 s: (exit status, stdout, stderr).
pub fn tcpdoctor(args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("NO_COLOR", "1");
    let out = run_with_timeout(&mut cmd, Duration::from_secs(60)).expect("tcpdoctor runs");
    (out.status.code().unwrap_or(-1), out.stdout, out.stderr)
}
