//! [`Netns`]: a throwaway network namespace that cleans up after itself.

use crate::cmd::{describe, run_with_timeout, terminate, CmdOutput};
use crate::KitError;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Time limit of the `ip` and `sysctl` commands the kit runs itself.
const IP_TIMEOUT: Duration = Duration::from_secs(20);
/// Grace between SIGTERM and SIGKILL when cleaning up.
const GRACE: Duration = Duration::from_secs(2);

/// A network namespace created with `ip netns add`, deleted on drop.
///
/// Its name is `<prefix>-<pid>-<n>`: unique across the parallel tests of one process (`n` is a
/// process-wide counter) and across processes (`pid`). A fresh namespace has only `lo`, which
/// `new` brings up; it has its own sysctls (`net.ipv4.*` mostly per namespace) and its own
/// TcpExt counters, so tests can narrow `ip_local_port_range` or read counters without touching
/// the host.
///
/// Drop (also during a panic's unwinding): every child started through [`Netns::spawn`] (and
/// every [`Scenario`](crate::Scenario), which borrows the namespace and therefore ends first) is
/// sent SIGTERM by pid, then SIGKILL after a 2 s grace, and reaped; any process still inside the
/// namespace (`ip netns pids`: only what this namespace's own children started) is killed the
/// same way; then `ip netns del`.
#[derive(Debug)]
pub struct Netns {
    name: String,
    children: Mutex<Vec<Child>>,
    deleted: bool,
}

/// A veth pair joining two namespaces (see [`Netns::veth_pair`]). It goes away with either
/// namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Veth {
    /// Interface name inside the first namespace.
    pub a_if: String,
    /// Interface name inside the second namespace.
    pub b_if: String,
    /// The address (with prefix length) given to `a_if`.
    pub a_cidr: String,
    /// The address (with prefix length) given to `b_if`.
    pub b_cidr: String,
}

impl Veth {
    /// `a_cidr` without its prefix length (`10.1.0.1/24` gives `10.1.0.1`).
    pub fn a_ip(&self) -> &str {
        self.a_cidr.split('/').next().unwrap_or(&self.a_cidr)
    }

    /// `b_cidr` without its prefix length.
    pub fn b_ip(&self) -> &str {
        self.b_cidr.split('/').next().unwrap_or(&self.b_cidr)
    }
}

fn ip(args: &[&str]) -> Result<CmdOutput, KitError> {
    let mut c = Command::new("ip");
    c.args(args);
    let d = describe(&c);
    run_with_timeout(&mut c, IP_TIMEOUT)?.ok(&d)
}

fn valid_prefix(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 40
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !p.starts_with('.')
}

/// Sends SIGTERM to a pid we do not own as a `Child`, waits up to the grace for it to go, then
/// SIGKILL. Used only for processes inside a namespace this kit created.
fn kill_pid(pid: u32) {
    let Some(p) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    let alive = || is_running(pid);
    let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
    let start = Instant::now();
    while alive() && start.elapsed() < GRACE {
        std::thread::sleep(Duration::from_millis(10));
    }
    if alive() {
        let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
    }
}

/// Whether `pid` is a live process (exists and is not a zombie).
pub fn is_running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the last ')' (the command name may contain anything).
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

impl Netns {
    /// Creates `<prefix>-<pid>-<n>` and brings its `lo` up. `prefix`: 1-40 characters of
    /// `[A-Za-z0-9_.-]`. Needs root.
    pub fn new(prefix: &str) -> Result<Netns, KitError> {
        if !valid_prefix(prefix) {
            return Err(KitError::Invalid(format!(
                "namespace prefix '{prefix}': use 1-40 characters of A-Z a-z 0-9 _ . -"
            )));
        }
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}-{}-{n}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = Netns {
            name,
            children: Mutex::new(Vec::new()),
            deleted: false,
        };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name (as `ip netns list` and `tcpdoctor -N` know it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/<name>`, the bind mount that keeps it alive.
    pub fn path(&self) -> PathBuf {
        Self::path_of(&self.name)
    }

    /// `/run/netns/<name>` for any name.
    pub fn path_of(name: &str) -> PathBuf {
        Path::new("/run/netns").join(name)
    }

    /// Whether a namespace of that name exists (`/run/netns/<name>`).
    pub fn exists(name: &str) -> bool {
        Self::path_of(name).exists()
    }

    /// A `Command` for `ip netns exec <name> <program>`: add arguments and stdio, then run it
    /// with [`run_with_timeout`](crate::run_with_timeout) or hand it to [`Netns::spawn`].
    /// (`ip netns exec` execs the program, so the child's pid is the program's pid.)
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Runs `argv` inside the namespace to completion (limit 60 s) and returns its output; a
    /// non-zero exit is an error that carries its stderr.
    pub fn exec(&self, argv: &[&str]) -> Result<CmdOutput, KitError> {
        self.exec_timeout(argv, Duration::from_secs(60))?
            .ok(&argv.join(" "))
    }

    /// Runs `argv` inside the namespace with a time limit; the exit status is not checked.
    pub fn exec_timeout(&self, argv: &[&str], limit: Duration) -> Result<CmdOutput, KitError> {
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| KitError::Invalid("empty argv".into()))?;
        let mut c = self.command(prog);
        c.args(args);
        run_with_timeout(&mut c, limit)
    }

    /// Starts `cmd` (normally from [`Netns::command`]) and keeps it: it is killed by pid on drop
    /// (or by [`Netns::kill`]). Returns its pid.
    pub fn spawn(&self, mut cmd: Command) -> Result<u32, KitError> {
        let d = describe(&cmd);
        let child = cmd.spawn().map_err(|e| KitError::Io {
            what: format!("spawning `{d}`"),
            source: e,
        })?;
        let pid = child.id();
        self.lock_children().push(child);
        Ok(pid)
    }

    /// Stops one child started by [`Netns::spawn`] (SIGTERM, SIGKILL after 2 s) and returns
    /// its exit status; `None` when `pid` is not one of them.
    pub fn kill(&self, pid: u32) -> Option<std::process::ExitStatus> {
        let mut kids = self.lock_children();
        let i = kids.iter().position(|c| c.id() == pid)?;
        let mut c = kids.swap_remove(i);
        drop(kids);
        terminate(&mut c, GRACE);
        c.try_wait().ok().flatten()
    }

    fn lock_children(&self) -> std::sync::MutexGuard<'_, Vec<Child>> {
        self.children
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets a sysctl inside the namespace (`sysctl -qw key=value`), e.g.
    /// `ns.sysctl("net.ipv4.ip_local_port_range", "40000 40099")`.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), KitError> {
        self.exec(&["sysctl", "-qw", &format!("{key}={value}")])
            .map(|_| ())
    }

    /// Reads a sysctl inside the namespace (`sysctl -n key`), trimmed.
    pub fn sysctl_get(&self, key: &str) -> Result<String, KitError> {
        Ok(self.exec(&["sysctl", "-n", key])?.stdout.trim().to_string())
    }

    /// Adds an address to an interface inside the namespace (`ip addr add CIDR dev DEV`; IPv6
    /// addresses get `nodad` so they are usable at once).
    pub fn add_addr(&self, dev: &str, cidr: &str) -> Result<(), KitError> {
        let mut args = vec!["-n", &self.name, "addr", "add", cidr, "dev", dev];
        if cidr.contains(':') {
            args.push("nodad");
        }
        ip(&args).map(|_| ())
    }

    /// Joins two namespaces with a veth pair, gives each end its address (`a_cidr` in `a`,
    /// `b_cidr` in `b`, e.g. `10.200.0.1/24` and `10.200.0.2/24`: they exist only inside these
    /// namespaces) and brings both up. The interfaces are created directly inside the
    /// namespaces, never in the caller's.
    pub fn veth_pair(a: &Netns, b: &Netns, a_cidr: &str, b_cidr: &str) -> Result<Veth, KitError> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let (a_if, b_if) = (format!("tkv{n}a"), format!("tkv{n}b"));
        ip(&[
            "link", "add", &a_if, "netns", &a.name, "type", "veth", "peer", "name", &b_if, "netns",
            &b.name,
        ])?;
        a.add_addr(&a_if, a_cidr)?;
        b.add_addr(&b_if, b_cidr)?;
        ip(&["-n", &a.name, "link", "set", &a_if, "up"])?;
        ip(&["-n", &b.name, "link", "set", &b_if, "up"])?;
        Ok(Veth {
            a_if,
            b_if,
            a_cidr: a_cidr.to_string(),
            b_cidr: b_cidr.to_string(),
        })
    }

    /// Pids of the processes living in the namespace (`ip netns pids`).
    pub fn pids(&self) -> Result<Vec<u32>, KitError> {
        Self::pids_of(&self.name)
    }

    fn pids_of(name: &str) -> Result<Vec<u32>, KitError> {
        let out = ip(&["netns", "pids", name])?;
        Ok(out
            .stdout
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect())
    }

    /// Kills every process it started and everything left inside, then deletes the namespace;
    /// what `drop` does, with the error of `ip netns del` returned.
    pub fn delete(mut self) -> Result<(), KitError> {
        self.cleanup()
    }

    fn cleanup(&mut self) -> Result<(), KitError> {
        if self.deleted {
            return Ok(());
        }
        self.deleted = true;
        let mut kids = std::mem::take(&mut *self.lock_children());
        for c in &mut kids {
            terminate(c, GRACE);
        }
        Self::remove(&self.name)
    }

    /// Kills what lives in namespace `name` and deletes it.
    fn remove(name: &str) -> Result<(), KitError> {
        if let Ok(pids) = Self::pids_of(name) {
            for pid in pids.into_iter().filter(|p| *p != std::process::id()) {
                kill_pid(pid);
            }
        }
        ip(&["netns", "del", name]).map(|_| ())
    }

    /// Deletes leftovers of crashed runs: namespaces named `<prefix>-<pid>-<n>` whose `<pid>` is
    /// no longer a running process (processes inside are killed first). Returns the names
    /// removed. Namespaces of live processes (parallel test binaries) are left alone.
    pub fn clean_stale(prefix: &str) -> Result<Vec<String>, KitError> {
        let mut removed = Vec::new();
        let dir = match std::fs::read_dir("/run/netns") {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => {
                return Err(KitError::Io {
                    what: "reading /run/netns".into(),
                    source: e,
                })
            }
        };
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('-')) else {
                continue;
            };
            let Some((pid, n)) = rest.split_once('-') else {
                continue;
            };
            let (Ok(pid), Ok(_)) = (pid.parse::<u32>(), n.parse::<u64>()) else {
                continue;
            };
            if !Path::new("/proc").join(pid.to_string()).exists() {
                Self::remove(&name)?;
                removed.push(name);
            }
        }
        Ok(removed)
    }
}

impl Drop for Netns {
    #[allow(clippy::print_stderr)]
    fn drop(&mut self) {
        if let Err(e) = self.cleanup() {
            // Nothing to return an error to; say it where the test output shows it.
            eprintln!(
                "tcpdoctor-testkit: cleaning up namespace {}: {e}",
                self.name
            );
        }
    }
}
