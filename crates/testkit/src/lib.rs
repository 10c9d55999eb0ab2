//! tcpdoctor's test kit: throwaway network namespaces and exact TCP socket scenarios on the real
//! kernel, for integration tests (not published).
//!
//! - [`Netns`]: an RAII network namespace (`ip netns add <prefix>-<pid>-<n>`, `lo` up); commands
//!   run inside it; `sysctl`s set inside it; veth pairs between two of them. Dropping it kills
//!   every process it started (by pid: SIGTERM, then SIGKILL after a grace) and deletes it, also
//!   when the test panics.
//! - [`Scenario`]: runs the `tcpdoctor-scenario` binary inside a [`Netns`], waits for its JSON
//!   [`ReadyReport`], and kills it by pid on drop.
//! - [`bins`]: where the scenario binary and other workspace binaries are on disk.
//! - [`proc_tcp`]: the kernel's own per-state view of a namespace (`/proc/<pid>/net/tcp{,6}`).
//!
//! Every wait is bounded in time; every command has a timeout. Tests that need root call
//! [`require_root`] first and return when it says so.
//!
//! A test in `crates/cli/tests` (add `tcpdoctor-testkit` and `serde_json` as dev-dependencies):
//!
//! ```no_run
//! use tcpdoctor_testkit::{require_root, run_with_timeout, Netns};
//! use std::time::Duration;
//!
//! if !require_root("summary_counts_states") { return; }
//! let ns = Netns::new("td-summary").unwrap();
//! let sc = ns.scenario(&["--listen", "3", "--est", "5", "--cw", "2", "--tw", "4"]).unwrap();
//! // In the cli crate: env!("CARGO_BIN_EXE_tcpdoctor").
//! let tcpdoctor = tcpdoctor_testkit::bins::workspace_bin("tcpdoctor").unwrap();
//! let mut cmd = std::process::Command::new(tcpdoctor);
//! cmd.args(["summary", "--json", "-N", ns.name()]);
//! let out = run_with_timeout(&mut cmd, Duration::from_secs(30)).unwrap().ok("tcpdoctor").unwrap();
//! let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
//! // The same 11-key shape as the report's kernel counts.
//! assert_eq!(v["states"], serde_json::to_value(sc.report().kernel.all).unwrap());
//! assert_eq!(v["total"], 21);
//! ```

pub mod bins;
mod cmd;
mod netns;
pub mod proc_tcp;
pub mod report;
mod scenario;

pub use cmd::{run_with_timeout, CmdOutput};
pub use netns::{is_running, Netns, Veth};
pub use report::{ReadyReport, TwSide};
pub use scenario::{Scenario, READY_TIMEOUT};

use std::time::Duration;

/// Everything that can go wrong in the kit.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// An I/O error, with what was being done.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A command exited with a failure status.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// Its exit status.
        status: String,
        /// Its standard error (trimmed).
        stderr: String,
    },
    /// A command or a wait took longer than allowed.
    #[error("`{what}` did not finish within {limit:?}{detail}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// The limit.
        limit: Duration,
        /// Extra detail (e.g. the child's stderr), starting with a separator, or empty.
        detail: String,
    },
    /// The scenario process failed before it was ready.
    #[error("scenario {what}; its stderr: {stderr}")]
    Scenario {
        /// What happened.
        what: String,
        /// The child's standard error.
        stderr: String,
    },
    /// A `/proc` file was not in the expected format.
    #[error("{path} line {line}: cannot parse {what}")]
    ProcFormat {
        /// The file.
        path: String,
        /// 1-based line number (0: not line-specific).
        line: usize,
        /// The field.
        what: String,
    },
    /// A binary could not be found or built.
    #[error("binary {name}: {detail}")]
    Binary {
        /// The binary's name.
        name: String,
        /// Why.
        detail: String,
    },
    /// A bad argument given to the kit.
    #[error("invalid argument: {0}")]
    Invalid(String),
}

/// Whether the current process is root (effective uid 0).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// For tests that need root (namespaces): returns `true` when the caller may go on. When not
/// root it writes one line saying the test is skipped and why to stderr and returns `false`;
/// with `TCPDOCTOR_REQUIRE_ROOT=1` in the environment (CI) it panics instead, so a CI run that
/// lost its root cannot pass by skipping everything.
///
/// ```no_run
/// if !tcpdoctor_testkit::require_root("listeners_are_counted") { return; }
/// ```
#[allow(clippy::print_stderr)]
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    let msg = format!(
        "SKIPPED {test}: needs root (it creates network namespaces with `ip netns add`); \
         run the test suite as root, e.g. `sudo -E cargo test`"
    );
    if std::env::var_os("TCPDOCTOR_REQUIRE_ROOT").is_some_and(|v| v == "1") {
        panic!("{msg} (TCPDOCTOR_REQUIRE_ROOT=1)");
    }
    eprintln!("{msg}");
    false
}
