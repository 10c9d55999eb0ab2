//! The lab's error type.

use std::time::Duration;

/// Everything that can go wrong in the lab. Messages are complete sentences for the user.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// Not running as root.
    #[error("the lab needs root: it creates network namespaces and veth interfaces, sets sysctls inside them and starts servers there (run it with sudo)")]
    NotRoot,
    /// No such scenario.
    #[error("no scenario named '{0}' (see `tcpdoctor lab list`)")]
    UnknownScenario(String),
    /// MariaDB is not installed.
    #[error("this scenario needs a MariaDB server, and {0} was not found; install it with `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y mariadb-server`")]
    MariadbMissing(String),
    /// A command failed.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// Exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A command or wait took too long.
    #[error("{what} did not finish within {limit:?}{detail}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// The limit.
        limit: Duration,
        /// More information.
        detail: String,
    },
    /// An I/O error with what was being done.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A worker or the diagnosis printed something unexpected.
    #[error("{0}")]
    Protocol(String),
    /// MySQL client error.
    #[error("MySQL: {0}")]
    Mysql(String),
    /// SIGINT or SIGTERM arrived.
    #[error("interrupted; everything the lab started was removed")]
    Interrupted,
    /// Invalid option.
    #[error("{0}")]
    Invalid(String),
}

impl LabError {
    /// An [`LabError::Io`] with context.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> LabError {
        LabError::Io {
            what: what.into(),
            source,
        }
    }
}
