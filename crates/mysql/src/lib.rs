//! MySQL's (or MariaDB's) own view of its connections for `tcpdoctor --mysql URL`.
//!
//! * [`MysqlTarget`]: the parsed `mysql://user@host:port` URL. A URL that carries a password is
//!   refused ([`UrlError::Password`]): the command line is visible to every user in the process
//!   list.
//! * [`password_from_env`] ([`PASSWORD_ENV`]: `MYSQL_PWD`, then `TCPDOCTOR_MYSQL_PASSWORD`) and
//!   [`prompt_password`] (on a terminal, echo off).
//! * [`MysqlReader`]: one connection (connect and I/O timeouts bounded by [`ReadOptions`]) that
//!   reads a [`MysqlStatus`] as often as asked: `Threads_connected`, `Max_used_connections`,
//!   `Aborted_clients`, `max_connections`, `wait_timeout` (global and session), and the Sleep
//!   threads of `information_schema.PROCESSLIST` per client host (tcp-facts 14.3-14.7).
//! * [`ReadError`]: connection refused, access denied, timeout, ...; [`ReadError::gap`] turns
//!   it into the [`Gap`] the report shows, so a failed reading never fails the diagnosis.
//!
//! The `mysql` dependency stays here, out of the pure crates.

use mysql::prelude::Queryable;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tcpdoctor_model::{processlist_host, Gap, GapKind, MysqlHostSleep, MysqlStatus};

/// Environment variables read for the password, in this order (`MYSQL_PWD` is the one the
/// `mysql` client itself reads).
pub const PASSWORD_ENV: [&str; 2] = ["MYSQL_PWD", "TCPDOCTOR_MYSQL_PASSWORD"];

/// Processlist rows read at most (the processlist cannot be longer than `max_connections`
/// + 1, at most 100,001 on MySQL and MariaDB).
pub const MAX_PROCESSLIST_ROWS: u64 = 200_000;

/// A bad `--mysql` URL. Messages never repeat the URL (it may hold a password).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    /// Not `mysql://` or `mariadb://`.
    #[error("--mysql wants a URL like mysql://USER@HOST:3306")]
    Scheme,
    /// The URL carries a password.
    #[error(
        "--mysql: remove the password from the URL (anyone can read a command line in the process \
         list); give it in the environment variable MYSQL_PWD or TCPDOCTOR_MYSQL_PASSWORD, or let \
         tcpdoctor prompt for it on a terminal"
    )]
    Password,
    /// No user.
    #[error("--mysql: name the user, as in mysql://USER@HOST:3306")]
    NoUser,
    /// No host.
    #[error("--mysql: name the host, as in mysql://USER@HOST:3306")]
    NoHost,
    /// A port that is not a number from 1 to 65535.
    #[error("--mysql: the port must be a number from 1 to 65535")]
    Port,
}

/// Where and as whom to read: `mysql://user@host:port` (port 3306 when left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlTarget {
    /// The MySQL user.
    pub user: String,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl MysqlTarget {
    /// Parses `mysql://user@host[:port][/db][?opts]` (also `mariadb://`); `[v6]` hosts allowed.
    /// Refuses a password (`user:pw@`, `?password=`).
    pub fn parse(url: &str) -> Result<MysqlTarget, UrlError> {
        let url = url.trim();
        let rest = url
            .strip_prefix("mysql://")
            .or_else(|| url.strip_prefix("mariadb://"))
            .ok_or(UrlError::Scheme)?;
        let (auth_host, query) = match rest.split_once('?') {
            Some((a, q)) => (a, q),
            None => (rest, ""),
        };
        if query
            .split('&')
            .any(|kv| kv.to_ascii_lowercase().starts_with("password") || kv.starts_with("pass="))
        {
            return Err(UrlError::Password);
        }
        let auth_host = auth_host.split('/').next().unwrap_or("");
        let (userinfo, hostport) = match auth_host.rsplit_once('@') {
            Some((u, h)) => (u, h),
            None => {
                // `user:pw` without host would land here too; a ':' in a host-less URL is
                // either a port or a password: refuse nothing, but ask for the user.
                return Err(UrlError::NoUser);
            }
        };
        if userinfo.contains(':') {
            return Err(UrlError::Password);
        }
        let user = percent_decode(userinfo);
        if user.is_empty() {
            return Err(UrlError::NoUser);
        }
        let (host, port) = if let Some(r) = hostport.strip_prefix('[') {
            let (h, after) = r.split_once(']').ok_or(UrlError::NoHost)?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::NoHost);
        }
        let port = match port {
            None => 3306,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(UrlError::Port),
            },
        };
        Ok(MysqlTarget { user, host, port })
    }

    /// `host:port` (`[v6]:port`), for messages and [`MysqlStatus::server`].
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The password from [`PASSWORD_ENV`], the first one set (an empty value counts as set).
pub fn password_from_env() -> Option<String> {
    PASSWORD_ENV.iter().find_map(|k| std::env::var(k).ok())
}

/// Restores the terminal's modes on drop (echo back on, also on an early return).
struct EchoGuard<'a> {
    tty: &'a std::fs::File,
    saved: rustix::termios::Termios,
}

impl Drop for EchoGuard<'_> {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            self.tty,
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

/// Asks for the password on the controlling terminal (`/dev/tty`) with echo off. `Ok(None)`
/// when standard input is not a terminal or there is no controlling terminal (scripts, cron):
/// then no password is sent.
pub fn prompt_password(prompt: &str) -> std::io::Result<Option<String>> {
    if !rustix::termios::isatty(std::io::stdin()) {
        return Ok(None);
    }
    let Ok(tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        return Ok(None);
    };
    let saved = rustix::termios::tcgetattr(&tty)?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
    quiet
        .local_modes
        .insert(rustix::termios::LocalModes::ECHONL);
    (&tty).write_all(prompt.as_bytes())?;
    (&tty).flush()?;
    rustix::termios::tcsetattr(&tty, rustix::termios::OptionalActions::Now, &quiet)?;
    let _guard = EchoGuard { tty: &tty, saved };
    let mut line = String::new();
    std::io::BufReader::new(&tty)
        .take_line(&mut line)
        .map(|_| Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

/// `read_line` bounded to 4 KiB.
trait TakeLine {
    fn take_line(&mut self, out: &mut String) -> std::io::Result<usize>;
}

impl<R: BufRead> TakeLine for R {
    fn take_line(&mut self, out: &mut String) -> std::io::Result<usize> {
        use std::io::Read;
        self.take(4096).read_line(out)
    }
}

/// Timeouts of one reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Read and write timeout of every exchange (the handshake included).
    pub io_timeout: Duration,
}

impl Default for ReadOptions {
    /// 5 s each.
    fn default() -> ReadOptions {
        ReadOptions {
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(5),
        }
    }
}

/// Why MySQL's view could not be read. Messages name the server and the user, never the
/// password.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Nothing listens there (RST to the SYN).
    #[error("MySQL at {server}: connection refused (is the server running and listening on that address and port?)")]
    Refused {
        /// `host:port`.
        server: String,
    },
    /// The server rejected the user or the password.
    #[error("MySQL at {server}: access denied for user '{user}': {message}")]
    AccessDenied {
        /// `host:port`.
        server: String,
        /// The user.
        user: String,
        /// The server's message.
        message: String,
    },
    /// No answer in time.
    #[error("MySQL at {server}: no answer within {after:?}")]
    Timeout {
        /// `host:port`.
        server: String,
        /// The limit that ran out.
        after: Duration,
    },
    /// Another network error (no route, name not found, reset).
    #[error("MySQL at {server}: {source}")]
    Network {
        /// `host:port`.
        server: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The server answered with an error (too many connections, a failed query).
    #[error("MySQL at {server}: error {code}: {message}")]
    Server {
        /// `host:port`.
        server: String,
        /// MySQL error code (1040 = too many connections).
        code: u16,
        /// The server's message.
        message: String,
    },
    /// Anything else the driver reported (protocol, unexpected values).
    #[error("MySQL at {server}: {message}")]
    Other {
        /// `host:port`.
        server: String,
        /// What went wrong.
        message: String,
    },
}

impl ReadError {
    fn from_io(server: String, opts: &ReadOptions, io: std::io::Error) -> ReadError {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => ReadError::Refused { server },
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ReadError::Timeout {
                server,
                after: opts.connect_timeout.max(opts.io_timeout),
            },
            _ => ReadError::Network { server, source: io },
        }
    }

    fn from_mysql(t: &MysqlTarget, opts: &ReadOptions, e: mysql::Error) -> ReadError {
        let server = t.server();
        match e {
            mysql::Error::IoError(io) => ReadError::from_io(server, opts, io),
            mysql::Error::CodecError(c) => {
                use std::error::Error as _;
                match c.source().and_then(|x| x.downcast_ref::<std::io::Error>()) {
                    Some(io) => ReadError::from_io(
                        server,
                        opts,
                        std::io::Error::new(io.kind(), io.to_string()),
                    ),
                    None => ReadError::Other {
                        server,
                        message: c.to_string(),
                    },
                }
            }
            mysql::Error::DriverError(mysql::DriverError::CouldNotConnect(Some((
                _,
                desc,
                kind,
            )))) => ReadError::from_io(server, opts, std::io::Error::new(kind, desc)),
            mysql::Error::DriverError(mysql::DriverError::ConnectTimeout) => ReadError::Timeout {
                server,
                after: opts.connect_timeout,
            },
            mysql::Error::MySqlError(me) if me.code == 1045 || me.code == 1044 => {
                ReadError::AccessDenied {
                    server,
                    user: t.user.clone(),
                    message: me.message,
                }
            }
            mysql::Error::MySqlError(me) => ReadError::Server {
                server,
                code: me.code,
                message: me.message,
            },
            other => ReadError::Other {
                server,
                message: other.to_string(),
            },
        }
    }

    /// The gap the report shows instead of MySQL's view, with what would help.
    pub fn gap(&self) -> Gap {
        let (kind, hint) = match self {
            ReadError::Refused { .. } => (
                GapKind::Unavailable,
                "check the address and port (with -N, the server must be reachable from inside that namespace)",
            ),
            ReadError::AccessDenied { .. } => (
                GapKind::Permission,
                "set the password in MYSQL_PWD or TCPDOCTOR_MYSQL_PASSWORD (or type it at the prompt); the account needs no privilege, PROCESS lets it see every client's threads",
            ),
            ReadError::Timeout { .. } => (
                GapKind::Unavailable,
                "check that the server is up and that no firewall drops the connection",
            ),
            ReadError::Network { .. } => (GapKind::Unavailable, "check the host name and the route to it"),
            ReadError::Server { code: 1040, .. } => (
                GapKind::Unavailable,
                "the server is at max_connections: read it as an account with CONNECTION_ADMIN/SUPER, which may use the extra admin connection (tcp-facts 14.4)",
            ),
            ReadError::Server { .. } | ReadError::Other { .. } => {
                (GapKind::Unreadable, "run again with -v, or read the server with the mysql client")
            }
        };
        Gap::new(kind, format!("{self}; the report has no MySQL section")).with_hint(hint)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// One open connection to the server, read as often as needed.
pub struct MysqlReader {
    conn: mysql::Conn,
    target: MysqlTarget,
    opts: ReadOptions,
}

impl std::fmt::Debug for MysqlReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlReader")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl MysqlReader {
    /// Connects over TCP (never through a unix socket, even for `localhost`), with the
    /// timeouts of `opts`.
    pub fn connect(
        target: &MysqlTarget,
        password: Option<&str>,
        opts: &ReadOptions,
    ) -> Result<MysqlReader, ReadError> {
        let b = mysql::OptsBuilder::new()
            .ip_or_hostname(Some(target.host.clone()))
            .tcp_port(target.port)
            .user(Some(target.user.clone()))
            .pass(password.map(str::to_string))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(opts.connect_timeout))
            .read_timeout(Some(opts.io_timeout))
            .write_timeout(Some(opts.io_timeout));
        let conn = mysql::Conn::new(b).map_err(|e| ReadError::from_mysql(target, opts, e))?;
        Ok(MysqlReader {
            conn,
            target: target.clone(),
            opts: *opts,
        })
    }

    /// The server as `host:port`.
    pub fn server(&self) -> String {
        self.target.server()
    }

    fn err(&self, e: mysql::Error) -> ReadError {
        ReadError::from_mysql(&self.target, &self.opts, e)
    }

    /// Reads the server's figures now.
    pub fn read(&mut self) -> Result<MysqlStatus, ReadError> {
        let taken_at_ms = now_ms();
        let rows: Vec<(String, String)> = self
            .conn
            .query(
                "SHOW GLOBAL STATUS WHERE Variable_name IN \
                 ('Threads_connected','Max_used_connections','Aborted_clients')",
            )
            .map_err(|e| self.err(e))?;
        let status = |k: &str| -> Result<u64, ReadError> {
            rows.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .and_then(|(_, v)| v.trim().parse::<u64>().ok())
                .ok_or_else(|| ReadError::Other {
                    server: self.target.server(),
                    message: format!("SHOW GLOBAL STATUS gave no number for {k}"),
                })
        };
        let threads_connected = status("Threads_connected")?;
        let max_used_connections = status("Max_used_connections")?;
        let aborted_clients = status("Aborted_clients")?;
        type Vars = (Option<u64>, Option<u64>, Option<u64>, Option<String>);
        let vars: Option<Vars> = self
            .conn
            .query_first(
                "SELECT @@GLOBAL.max_connections, @@GLOBAL.wait_timeout, \
                 @@SESSION.wait_timeout, VERSION()",
            )
            .map_err(|e| self.err(e))?;
        let (max_connections, wait_timeout, wait_session, version) =
            vars.unwrap_or((None, None, None, None));
        let (Some(max_connections), Some(wait_timeout)) = (max_connections, wait_timeout) else {
            return Err(ReadError::Other {
                server: self.target.server(),
                message: "max_connections or wait_timeout could not be read".into(),
            });
        };
        let process: Option<u64> = self
            .conn
            .query_first(
                "SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES \
                 WHERE PRIVILEGE_TYPE = 'PROCESS'",
            )
            .map_err(|e| self.err(e))?;
        let sleepers: Vec<(Option<String>, Option<u64>)> = self
            .conn
            .query(format!(
                "SELECT HOST, TIME FROM information_schema.PROCESSLIST \
                 WHERE COMMAND = 'Sleep' AND ID <> CONNECTION_ID() LIMIT {MAX_PROCESSLIST_ROWS}"
            ))
            .map_err(|e| self.err(e))?;
        Ok(MysqlStatus {
            server: self.target.server(),
            version,
            taken_at_ms,
            threads_connected,
            max_used_connections,
            max_connections,
            aborted_clients,
            wait_timeout,
            wait_timeout_session: wait_session,
            processlist_complete: process.unwrap_or(0) > 0,
            sleep_by_host: per_host(
                sleepers
                    .into_iter()
                    .map(|(h, t)| (h.unwrap_or_default(), t.unwrap_or(0))),
            ),
        })
    }
}

/// Groups processlist Sleep rows (`HOST`, `TIME`) per host without the port, most threads
/// first (ties by host name).
pub fn per_host(rows: impl IntoIterator<Item = (String, u64)>) -> Vec<MysqlHostSleep> {
    let mut m: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for (raw, time) in rows {
        let e = m.entry(processlist_host(&raw)).or_default();
        e.0 += 1;
        e.1 = e.1.max(time);
        e.2 = e.2.saturating_add(time);
    }
    let mut v: Vec<MysqlHostSleep> = m
        .into_iter()
        .map(|(host, (count, max, sum))| MysqlHostSleep {
            host,
            count,
            max_time_s: max,
            avg_time_s: sum as f64 / count.max(1) as f64,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.host.cmp(&b.host)));
    v
}

/// Connects, reads once and disconnects.
pub fn read_status(
    target: &MysqlTarget,
    password: Option<&str>,
    opts: &ReadOptions,
) -> Result<MysqlStatus, ReadError> {
    MysqlReader::connect(target, password, opts)?.read()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = MysqlTarget::parse("mysql://lab@10.0.0.1:3306").unwrap();
        assert_eq!(
            t,
            MysqlTarget {
                user: "lab".into(),
                host: "10.0.0.1".into(),
                port: 3306
            }
        );
        assert_eq!(t.server(), "10.0.0.1:3306");
        let t = MysqlTarget::parse("mariadb://app%40x@[fd00::1]/db?ssl=0").unwrap();
        assert_eq!(
            (t.user.as_str(), t.host.as_str(), t.port),
            ("app@x", "fd00::1", 3306)
        );
        assert_eq!(t.server(), "[fd00::1]:3306");
        assert_eq!(
            MysqlTarget::parse("mysql://lab:secret@h:3306"),
            Err(UrlError::Password)
        );
        assert_eq!(
            MysqlTarget::parse("mysql://lab@h?password=secret"),
            Err(UrlError::Password)
        );
        assert_eq!(
            MysqlTarget::parse("mysql://lab:@h"),
            Err(UrlError::Password)
        );
        assert_eq!(MysqlTarget::parse("postgres://a@h"), Err(UrlError::Scheme));
        assert_eq!(MysqlTarget::parse("mysql://h:3306"), Err(UrlError::NoUser));
        assert_eq!(MysqlTarget::parse("mysql://@h"), Err(UrlError::NoUser));
        assert_eq!(MysqlTarget::parse("mysql://a@"), Err(UrlError::NoHost));
        assert_eq!(MysqlTarget::parse("mysql://a@h:0"), Err(UrlError::Port));
        assert_eq!(MysqlTarget::parse("mysql://a@h:99999"), Err(UrlError::Port));
        // The message never repeats the URL.
        let msg = UrlError::Password.to_string();
        assert!(
            msg.contains("MYSQL_PWD") && !msg.contains("secret"),
            "{msg}"
        );
    }

    #[test]
    fn sleep_rows_per_host() {
        let v = per_host([
            ("10.0.0.2:40001".to_string(), 5),
            ("10.0.0.2:40002".to_string(), 15),
            ("10.0.0.3:1".to_string(), 1),
            ("localhost".to_string(), 7),
            ("10.0.0.3:2".to_string(), 3),
            ("10.0.0.2:40003".to_string(), 10),
        ]);
        let got: Vec<_> = v
            .iter()
            .map(|h| (h.host.as_str(), h.count, h.max_time_s, h.avg_time_s))
            .collect();
        assert_eq!(
            got,
            vec![
                ("10.0.0.2", 3, 15, 10.0),
                ("10.0.0.3", 2, 3, 2.0),
                ("localhost", 1, 7, 7.0)
            ]
        );
    }

    #[test]
    fn refused_is_a_gap_not_a_panic() {
        // A port on loopback where nothing listens (bound then dropped).
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let t = MysqlTarget {
            user: "u".into(),
            host: "127.0.0.1".into(),
            port,
        };
        let e = read_status(&t, Some("pw-never-shown"), &ReadOptions::default()).unwrap_err();
        assert!(matches!(e, ReadError::Refused { .. }), "{e:?}");
        let g = e.gap();
        assert_eq!(g.kind, GapKind::Unavailable);
        assert!(g.message.contains("connection refused"), "{}", g.message);
        assert!(!format!("{g:?}").contains("pw-never-shown"));
    }

    #[test]
    fn silent_server_times_out_within_bounds() {
        // Accepts but never sends the handshake: the read timeout must end it.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = MysqlTarget {
            user: "u".into(),
            host: "127.0.0.1".into(),
            port,
        };
        let opts = ReadOptions {
            connect_timeout: Duration::from_millis(500),
            io_timeout: Duration::from_millis(500),
        };
        let start = std::time::Instant::now();
        let e = read_status(&t, None, &opts).unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert!(matches!(e, ReadError::Timeout { .. }), "{e:?}");
        drop(l);
    }
}
