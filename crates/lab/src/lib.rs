//! The lab: reproduces the classic TCP failures in throwaway network namespaces (a real MariaDB
//! included) and shows what tcpdoctor concludes on each side while the problem is live.
//!
//! * [`scenario`]: the catalogue (names, workloads, probes, expected findings: a contract).
//! * [`run::run`]: one run: a client and a server namespace joined by a veth pair
//!   (10.213.0.1/30 and 10.213.0.2/30, existing only inside them), workers started with
//!   `ip netns exec NS tcpdoctor lab __worker SPEC`, diagnosis of both sides by the tcpdoctor
//!   binary itself (`tcpdoctor -N NS --json [--interval 2s]`), and cleanup after success,
//!   failure or SIGINT/SIGTERM ([`signals`]).
//! * [`report`]: the part of the diagnosis JSON the lab relies on; [`check`]: `--check`.
//! * [`state`] and [`clean`]: the state file and `lab clean` for leftovers of crashed runs.
//! * [`worker`]: the workloads; [`mariadb`]: the MariaDB server.
//! * [`text`]: the human output.

pub mod check;
pub mod clean;
pub mod cmd;
mod error;
pub mod mariadb;
pub mod procs;
pub mod report;
pub mod run;
pub mod scenario;
pub mod signals;
pub mod state;
pub mod text;
pub mod worker;

pub use error::LabError;
pub use run::{is_root, run, RunOptions, RunOutcome};
pub use scenario::{find, scenarios, Scenario, Side};
pub use state::{StateFile, DEFAULT_STATE};
