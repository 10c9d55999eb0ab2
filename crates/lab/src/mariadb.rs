//! A real MariaDB server inside the lab's server namespace: its own temporary datadir
//! (`mariadb-install-db`), listening on the namespace address only, a unix socket in the
//! temporary directory (which the lab uses for MySQL's own view), a short `wait_timeout`, a lab
//! user with a random password; stopped by pid and its directory removed at the end.

use crate::cmd::{run_ok, terminate};
use crate::error::LabError;
use crate::procs::ProcRecord;
use mysql::prelude::Queryable;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The lab's MySQL user.
pub const LAB_USER: &str = "lab";

fn find_in_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs = path
        .split(':')
        .map(PathBuf::from)
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"].map(PathBuf::from));
    for d in dirs {
        for n in names {
            let p = d.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// `mariadbd` (or `mysqld`) and `mariadb-install-db` (or `mysql_install_db`).
pub fn binaries() -> Result<(PathBuf, PathBuf), LabError> {
    let server = find_in_path(&["mariadbd", "mysqld"])
        .ok_or_else(|| LabError::MariadbMissing("mariadbd".into()))?;
    let install = find_in_path(&["mariadb-install-db", "mysql_install_db"])
        .ok_or_else(|| LabError::MariadbMissing("mariadb-install-db".into()))?;
    Ok((server, install))
}

/// MySQL's own view of its connections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MysqlView {
    /// `Threads_connected`, without the lab's own monitoring connection.
    pub threads_connected: u64,
    /// `Max_used_connections`.
    pub max_used_connections: u64,
    /// `Aborted_clients`.
    pub aborted_clients: u64,
    /// `Connections` (attempts since start).
    pub connections: u64,
    /// Sleep threads of the lab user (processlist).
    pub sleep_threads: u64,
    /// `wait_timeout`, seconds.
    pub wait_timeout: u64,
}

/// A running MariaDB.
#[derive(Debug)]
pub struct Mariadb {
    /// Its process.
    pub proc: ProcRecord,
    child: Option<Child>,
    dir: PathBuf,
    socket: PathBuf,
    /// The lab user's password.
    pub password: String,
}

const COMMON: &[&str] = &[
    "--innodb-log-file-size=8M",
    "--innodb-buffer-pool-size=32M",
    "--skip-name-resolve",
];

fn random_password() -> String {
    let mut b = [0u8; 12];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut s: String = b.iter().map(|x| format!("{x:02x}")).collect();
    s.push_str(&format!("{:x}", t & 0xffff));
    s
}

impl Mariadb {
    /// Initialises `dir` and starts the server inside namespace `ns` on `addr:port`.
    /// `detached` (`--keep`): the server is not tied to the lab's life.
    pub fn start(
        ns: &str,
        addr: &str,
        port: u16,
        dir: &Path,
        wait_timeout_s: u64,
        detached: bool,
    ) -> Result<Mariadb, LabError> {
        let (server, install) = binaries()?;
        let data = dir.join("data");
        std::fs::create_dir_all(&data)
            .map_err(|e| LabError::io(format!("creating {}", data.display()), e))?;
        let mut c = Command::new(&install);
        c.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args([
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .args(COMMON);
        run_ok(&mut c, Duration::from_secs(120))?;
        let socket = dir.join("mysqld.sock");
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]);
        if !detached {
            c.args(["setpriv", "--pdeathsig", "KILL"]);
        }
        c.arg(&server)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", dir.join("error.log").display()))
            .arg(format!("--bind-address={addr}"))
            .arg(format!("--port={port}"))
            .arg(format!("--wait-timeout={wait_timeout_s}"))
            .args([
                "--user=root",
                "--max-connections=2000",
                "--skip-log-bin",
                "--performance-schema=OFF",
            ])
            .args(COMMON)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c
            .spawn()
            .map_err(|e| LabError::io("starting mariadbd", e))?;
        let proc = match ProcRecord::of(child.id(), "mariadbd") {
            Some(p) => p,
            None => {
                let _ = child.wait();
                return Err(LabError::Protocol("mariadbd exited at once".into()));
            }
        };
        let mut db = Mariadb {
            proc,
            child: Some(child),
            dir: dir.to_path_buf(),
            socket,
            password: random_password(),
        };
        let start = Instant::now();
        loop {
            if crate::signals::interrupted() {
                return Err(LabError::Interrupted);
            }
            if let Some(ch) = db.child.as_mut() {
                if let Ok(Some(st)) = ch.try_wait() {
                    return Err(LabError::Protocol(format!(
                        "mariadbd exited ({st}); its log: {}",
                        db.log_tail()
                    )));
                }
            }
            if db.root().is_ok() {
                break;
            }
            if start.elapsed() > Duration::from_secs(30) {
                return Err(LabError::Timeout {
                    what: "MariaDB startup".into(),
                    limit: Duration::from_secs(30),
                    detail: format!("; its log: {}", db.log_tail()),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut root = db.root()?;
        let pw = db.password.clone();
        root.query_drop(format!("CREATE USER '{LAB_USER}'@'%' IDENTIFIED BY '{pw}'"))
            .map_err(|e| LabError::Mysql(e.to_string()))?;
        Ok(db)
    }

    /// The datadir's parent (removed by [`Mariadb::stop`]).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn log_tail(&self) -> String {
        let t = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
        let lines: Vec<&str> = t.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }

    fn root(&self) -> Result<mysql::Conn, LabError> {
        let o = mysql::OptsBuilder::new()
            .socket(Some(self.socket.to_string_lossy().into_owned()))
            .user(Some("root"))
            .read_timeout(Some(Duration::from_secs(5)))
            .write_timeout(Some(Duration::from_secs(5)));
        mysql::Conn::new(o).map_err(|e| LabError::Mysql(e.to_string()))
    }

    /// MySQL's own view (through the unix socket, as root).
    pub fn view(&self) -> Result<MysqlView, LabError> {
        let mut c = self.root()?;
        let rows: Vec<(String, String)> = c
            .query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_connected','Max_used_connections','Aborted_clients','Connections')")
            .map_err(|e| LabError::Mysql(e.to_string()))?;
        let get = |k: &str| {
            rows.iter()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let sleep: Option<u64> = c
            .query_first(format!(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Sleep' AND USER = '{LAB_USER}'"
            ))
            .map_err(|e| LabError::Mysql(e.to_string()))?;
        let wt: Option<u64> = c
            .query_first("SELECT @@GLOBAL.wait_timeout")
            .map_err(|e| LabError::Mysql(e.to_string()))?;
        Ok(MysqlView {
            threads_connected: get("Threads_connected").saturating_sub(1),
            max_used_connections: get("Max_used_connections"),
            aborted_clients: get("Aborted_clients"),
            connections: get("Connections"),
            sleep_threads: sleep.unwrap_or(0),
            wait_timeout: wt.unwrap_or(0),
        })
    }

    /// Kills (`KILL CONNECTION`) every Sleep thread of the lab user; the server closes those
    /// connections with a FIN. Returns how many.
    pub fn kill_idle(&self) -> Result<u64, LabError> {
        let mut c = self.root()?;
        let ids: Vec<u64> = c
            .query(format!(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Sleep' AND USER = '{LAB_USER}'"
            ))
            .map_err(|e| LabError::Mysql(e.to_string()))?;
        let mut n = 0;
        for id in ids.iter().take(100_000) {
            if c.query_drop(format!("KILL CONNECTION {id}")).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Leaves the server running (`--keep`): `tcpdoctor lab clean` stops it.
    pub fn detach(mut self) {
        self.child = None;
        self.dir = PathBuf::new();
    }

    /// Stops the server by pid (SIGTERM, SIGKILL after 10 s) and removes its directory.
    pub fn stop(&mut self) {
        if let Some(mut ch) = self.child.take() {
            terminate(&mut ch, Duration::from_secs(10));
        }
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
            self.dir = PathBuf::new();
        }
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        self.stop();
    }
}
