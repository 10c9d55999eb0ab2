//! The workloads. Each runs as a child process of the `tcpdoctor` binary (`tcpdoctor lab
//! __worker SPEC`, started inside a namespace with `ip netns exec`), so the lab needs no other
//! program. A worker talks to the lab with JSON lines on stdout ([`Event`]) and stops when its
//! stdin closes (the lab ended, normally or not), when its parent dies (`PR_SET_PDEATHSIG`),
//! or at its lifetime limit. Every loop is bounded in count and time.

use crate::error::LabError;
use crate::scenario::{ClientMode, ServerMode};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Environment variable carrying the MySQL password to a worker (never on the command line).
pub const PASSWORD_ENV: &str = "TCPDOCTOR_LAB_MYSQL_PASSWORD";

/// What a worker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "role", content = "mode")]
pub enum Role {
    /// The lab's own server.
    Server(ServerMode),
    /// A client.
    Client(ClientMode),
}

/// A worker's instructions (passed as one JSON argument).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerSpec {
    /// What to do.
    pub role: Role,
    /// The server address (to listen on or connect to).
    pub addr: String,
    /// The server port.
    pub port: u16,
    /// New connections or requests per second (clients).
    pub rate: u32,
    /// Workload length in milliseconds (clients).
    pub duration_ms: u64,
    /// Listen backlog (server).
    pub backlog: i32,
    /// MySQL user (password in [`PASSWORD_ENV`]).
    #[serde(default)]
    pub mysql_user: Option<String>,
    /// Keep running after the lab exits (`--keep`), until `max_life_s`.
    #[serde(default)]
    pub detached: bool,
    /// Hard limit on the worker's life, seconds.
    pub max_life_s: u64,
}

/// What a worker counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Connection attempts (clients) or requests (pooled MySQL).
    pub attempts: u64,
    /// Connections established (clients) or accepted (server).
    pub connected: u64,
    /// Requests answered (server) or queries done (clients).
    pub requests: u64,
    /// connect() failures with EADDRNOTAVAIL (no free local port).
    pub failed_addrnotavail: u64,
    /// Refused connections.
    pub failed_refused: u64,
    /// Timeouts.
    pub failed_timeout: u64,
    /// Other failures.
    pub failed_other: u64,
    /// Connections this side closed (first or after the peer).
    pub closed: u64,
    /// Connections held open at the end of the workload.
    pub held: u64,
    /// The first "other" error, for the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// How long the workload ran, milliseconds.
    pub elapsed_ms: u64,
}

impl Stats {
    /// All failures.
    pub fn failed(&self) -> u64 {
        self.failed_addrnotavail + self.failed_refused + self.failed_timeout + self.failed_other
    }

    fn fail(&mut self, e: &std::io::Error) {
        match e.raw_os_error() {
            Some(EADDRNOTAVAIL) => self.failed_addrnotavail += 1,
            _ if e.kind() == std::io::ErrorKind::ConnectionRefused => self.failed_refused += 1,
            _ if matches!(
                e.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) =>
            {
                self.failed_timeout += 1
            }
            _ => {
                self.failed_other += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(e.to_string());
                }
            }
        }
    }

    fn fail_mysql(&mut self, e: &mysql::Error) {
        match e {
            mysql::Error::IoError(io) => self.fail(io),
            other => {
                self.failed_other += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(other.to_string());
                }
            }
        }
    }
}

/// `EADDRNOTAVAIL` on Linux.
const EADDRNOTAVAIL: i32 = 99;

/// A line a worker prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// The server listens / the client starts.
    Ready,
    /// The client's workload is over (it now holds what it holds until stopped).
    Done {
        /// Counts.
        stats: Stats,
    },
    /// The worker exits.
    Exit {
        /// Counts.
        stats: Stats,
    },
    /// The worker failed.
    Error {
        /// Why.
        message: String,
    },
}

fn emit(out: &mut dyn Write, ev: &Event) -> Result<(), LabError> {
    let line = serde_json::to_string(ev).map_err(|e| LabError::Protocol(e.to_string()))?;
    writeln!(out, "{line}")
        .and_then(|_| out.flush())
        .map_err(|e| LabError::io("writing to the lab", e))
}

/// Runs a worker to the end. Its events go to `out`.
pub fn run_worker(spec: &WorkerSpec, out: &mut dyn Write) -> Result<(), LabError> {
    let stop = Arc::new(AtomicBool::new(false));
    if !spec.detached {
        let _ =
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
        let s = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            let mut stdin = std::io::stdin();
            // Bounded by the worker's life: the process exits at its limit.
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
            s.store(true, Ordering::Relaxed);
        });
    }
    let life = Instant::now() + Duration::from_secs(spec.max_life_s.clamp(1, 3600));
    let r = match spec.role {
        Role::Server(m) => server(spec, m, &stop, life, out),
        Role::Client(m) => client(spec, m, &stop, life, out),
    };
    if let Err(e) = &r {
        let _ = emit(
            out,
            &Event::Error {
                message: e.to_string(),
            },
        );
    }
    r
}

fn addr(spec: &WorkerSpec) -> Result<SocketAddr, LabError> {
    format!("{}:{}", spec.addr, spec.port)
        .parse()
        .map_err(|e| LabError::Invalid(format!("bad address {}:{}: {e}", spec.addr, spec.port)))
}

fn done(stop: &AtomicBool, life: Instant) -> bool {
    stop.load(Ordering::Relaxed) || Instant::now() >= life
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    answered: AtomicU64,
    closed: AtomicU64,
    active: AtomicU64,
    other: AtomicU64,
}

const REQUEST: &[u8] = b"GET\n";
const REPLY: &[u8] = b"OK\n";

/// Reads the request and answers it.
fn answer(s: &mut TcpStream) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut req = [0u8; 4];
    s.read_exact(&mut req)?;
    s.write_all(REPLY)
}

/// Reads until the peer's FIN (bounded: 10 s, 1 MiB).
fn read_to_eof(s: &mut TcpStream, limit: Duration) -> std::io::Result<()> {
    s.set_read_timeout(Some(limit))?;
    let mut buf = [0u8; 256];
    let mut total = 0usize;
    loop {
        let n = s.read(&mut buf)?;
        total += n;
        if n == 0 || total > 1 << 20 {
            return Ok(());
        }
    }
}

fn server(
    spec: &WorkerSpec,
    mode: ServerMode,
    stop: &AtomicBool,
    life: Instant,
    out: &mut dyn Write,
) -> Result<(), LabError> {
    use socket2::{Domain, Socket, Type};
    let a = addr(spec)?;
    let sock = Socket::new(Domain::for_address(a), Type::STREAM, None)
        .map_err(|e| LabError::io("socket", e))?;
    sock.set_reuse_address(true)
        .map_err(|e| LabError::io("SO_REUSEADDR", e))?;
    sock.bind(&a.into())
        .map_err(|e| LabError::io(format!("bind {a}"), e))?;
    sock.listen(spec.backlog)
        .map_err(|e| LabError::io("listen", e))?;
    sock.set_nonblocking(true)
        .map_err(|e| LabError::io("O_NONBLOCK", e))?;
    let listener: std::net::TcpListener = sock.into();
    emit(out, &Event::Ready)?;
    let start = Instant::now();
    let c = Arc::new(Counters::default());
    let mut held: Vec<TcpStream> = Vec::new();
    while !done(stop, life) {
        if mode == ServerMode::NeverAccept {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let mut s = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            Err(_) => {
                c.other.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
        };
        c.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = s.set_nonblocking(false);
        match mode {
            ServerMode::Hold => {
                if answer(&mut s).is_ok() {
                    c.answered.fetch_add(1, Ordering::Relaxed);
                }
                // Never closed: after the client's FIN this socket sits in CLOSE_WAIT.
                held.push(s);
            }
            ServerMode::CloseFirst | ServerMode::WaitClient => {
                let c2 = c.clone();
                let job = move |mut s: TcpStream| {
                    if answer(&mut s).is_ok() {
                        c2.answered.fetch_add(1, Ordering::Relaxed);
                    }
                    if mode == ServerMode::WaitClient {
                        // Let the client send the first FIN.
                        let _ = read_to_eof(&mut s, Duration::from_secs(10));
                    }
                    drop(s);
                    c2.closed.fetch_add(1, Ordering::Relaxed);
                    c2.active.fetch_sub(1, Ordering::Relaxed);
                };
                c.active.fetch_add(1, Ordering::Relaxed);
                if c.active.load(Ordering::Relaxed) > 512 {
                    job(s);
                } else {
                    std::thread::spawn(move || job(s));
                }
            }
            ServerMode::NeverAccept | ServerMode::Mariadb => {}
        }
    }
    let stats = Stats {
        connected: c.accepted.load(Ordering::Relaxed),
        requests: c.answered.load(Ordering::Relaxed),
        closed: c.closed.load(Ordering::Relaxed),
        held: held.len() as u64,
        failed_other: c.other.load(Ordering::Relaxed),
        elapsed_ms: start.elapsed().as_millis() as u64,
        ..Stats::default()
    };
    emit(out, &Event::Exit { stats })
}

/// What a client keeps open.
enum Held {
    Tcp(#[allow(dead_code)] TcpStream),
    Raw(#[allow(dead_code)] socket2::Socket),
    Mysql(#[allow(dead_code)] Box<mysql::Conn>),
}

fn mysql_opts(spec: &WorkerSpec, pool: Option<mysql::PoolOpts>) -> mysql::Opts {
    let pass = std::env::var(PASSWORD_ENV).ok();
    let mut b = mysql::OptsBuilder::new()
        .ip_or_hostname(Some(spec.addr.clone()))
        .tcp_port(spec.port)
        .user(spec.mysql_user.clone())
        .pass(pass)
        .prefer_socket(false)
        .tcp_connect_timeout(Some(Duration::from_secs(2)))
        .read_timeout(Some(Duration::from_secs(5)))
        .write_timeout(Some(Duration::from_secs(5)));
    if let Some(p) = pool {
        b = b.pool_opts(p);
    }
    b.into()
}

fn client(
    spec: &WorkerSpec,
    mode: ClientMode,
    stop: &AtomicBool,
    life: Instant,
    out: &mut dyn Write,
) -> Result<(), LabError> {
    let a = addr(spec)?;
    let rate = f64::from(spec.rate.clamp(1, 100_000));
    let max = ((rate * spec.duration_ms as f64 / 1000.0).ceil() as u64).clamp(1, 1_000_000);
    let mut st = Stats::default();
    let mut held: Vec<Held> = Vec::new();
    let pool = if mode == ClientMode::MysqlPooled {
        let c = mysql::PoolConstraints::new(2, 4)
            .ok_or_else(|| LabError::Invalid("bad pool constraints".into()))?;
        let opts = mysql_opts(spec, Some(mysql::PoolOpts::default().with_constraints(c)));
        Some(mysql::Pool::new(opts).map_err(|e| LabError::Mysql(e.to_string()))?)
    } else {
        None
    };
    let opts = mysql_opts(spec, None);
    emit(out, &Event::Ready)?;
    let start = Instant::now();
    let deadline = start + Duration::from_millis(spec.duration_ms) + Duration::from_secs(5);
    for i in 0..max {
        if done(stop, life) || Instant::now() >= deadline {
            break;
        }
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        st.attempts += 1;
        match mode {
            ClientMode::WaitServer | ClientMode::CloseFirst | ClientMode::Leak => {
                let mut s = match TcpStream::connect_timeout(&a, Duration::from_secs(2)) {
                    Ok(s) => s,
                    Err(e) => {
                        st.fail(&e);
                        continue;
                    }
                };
                st.connected += 1;
                let r = s.write_all(REQUEST).and_then(|_| {
                    s.set_read_timeout(Some(Duration::from_secs(3)))?;
                    let mut reply = [0u8; 3];
                    s.read_exact(&mut reply)
                });
                match r {
                    Ok(()) => st.requests += 1,
                    Err(e) => st.fail(&e),
                }
                match mode {
                    ClientMode::WaitServer => {
                        // The server closes first; close after its FIN.
                        let _ = read_to_eof(&mut s, Duration::from_secs(3));
                        st.closed += 1;
                    }
                    ClientMode::CloseFirst => st.closed += 1,
                    _ => held.push(Held::Tcp(s)),
                }
            }
            ClientMode::SynOnly => {
                use socket2::{Domain, Socket, Type};
                let s = Socket::new(Domain::for_address(a), Type::STREAM, None)
                    .and_then(|s| s.set_nonblocking(true).map(|_| s));
                match s {
                    Ok(s) => match s.connect(&a.into()) {
                        Ok(()) => {
                            st.connected += 1;
                            held.push(Held::Raw(s));
                        }
                        Err(e) if e.raw_os_error() == Some(115) => held.push(Held::Raw(s)), // EINPROGRESS
                        Err(e) => st.fail(&e),
                    },
                    Err(e) => st.fail(&e),
                }
            }
            ClientMode::MysqlShort | ClientMode::MysqlNoClose => {
                use mysql::prelude::Queryable;
                match mysql::Conn::new(opts.clone()) {
                    Ok(mut c) => {
                        st.connected += 1;
                        match c.query_drop("SELECT 1") {
                            Ok(()) => st.requests += 1,
                            Err(e) => st.fail_mysql(&e),
                        }
                        if mode == ClientMode::MysqlShort {
                            drop(c); // COM_QUIT, then close
                            st.closed += 1;
                        } else {
                            held.push(Held::Mysql(Box::new(c)));
                        }
                    }
                    Err(e) => st.fail_mysql(&e),
                }
            }
            ClientMode::MysqlPooled => {
                use mysql::prelude::Queryable;
                if let Some(p) = &pool {
                    match p.get_conn() {
                        Ok(mut c) => match c.query_drop("SELECT 1") {
                            Ok(()) => st.requests += 1,
                            Err(e) => st.fail_mysql(&e),
                        },
                        Err(e) => st.fail_mysql(&e),
                    }
                }
            }
        }
    }
    st.elapsed_ms = start.elapsed().as_millis() as u64;
    if mode == ClientMode::SynOnly {
        // Handshakes that completed by now (the listener's accept queue took them).
        std::thread::sleep(Duration::from_millis(200));
        st.connected = held
            .iter()
            .filter(|h| matches!(h, Held::Raw(s) if s.peer_addr().is_ok()))
            .count() as u64;
    }
    if mode == ClientMode::MysqlPooled {
        st.connected = 0; // connections are the pool's, not one per request
    }
    st.held = held.len() as u64;
    emit(out, &Event::Done { stats: st.clone() })?;
    while !done(stop, life) {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(held);
    drop(pool);
    emit(out, &Event::Exit { stats: st })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips_as_json() {
        let s = WorkerSpec {
            role: Role::Client(ClientMode::CloseFirst),
            addr: "127.0.0.1".into(),
            port: 1,
            rate: 10,
            duration_ms: 100,
            backlog: 4,
            mysql_user: None,
            detached: false,
            max_life_s: 5,
        };
        let j = serde_json::to_string(&s).unwrap();
        assert!(
            j.contains(r#""role":{"role":"client","mode":"close-first"}"#),
            "{j}"
        );
        assert_eq!(serde_json::from_str::<WorkerSpec>(&j).unwrap(), s);
    }

    #[test]
    fn events_are_json_lines() {
        let mut v = Vec::new();
        emit(
            &mut v,
            &Event::Done {
                stats: Stats {
                    attempts: 3,
                    ..Stats::default()
                },
            },
        )
        .unwrap();
        let line = String::from_utf8(v).unwrap();
        assert!(
            line.starts_with(r#"{"event":"done","stats":{"attempts":3,"#),
            "{line}"
        );
        assert!(line.ends_with('\n'));
        let back: Event = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(
            back,
            Event::Done {
                stats: Stats {
                    attempts: 3,
                    ..Stats::default()
                }
            }
        );
    }

    #[test]
    fn failure_classes() {
        let mut s = Stats::default();
        s.fail(&std::io::Error::from_raw_os_error(EADDRNOTAVAIL));
        s.fail(&std::io::Error::from_raw_os_error(111));
        s.fail(&std::io::Error::from(std::io::ErrorKind::TimedOut));
        s.fail(&std::io::Error::other("boom"));
        assert_eq!(
            (
                s.failed_addrnotavail,
                s.failed_refused,
                s.failed_timeout,
                s.failed_other
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(s.failed(), 4);
        assert_eq!(s.first_error.as_deref(), Some("boom"));
    }

    /// A loopback run of the lab's own server and client (no namespace needed): the client
    /// closes first, the server waits for its FIN.
    #[test]
    fn loopback_client_close_first() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let spec = |role| WorkerSpec {
            role,
            addr: "127.0.0.1".into(),
            port,
            rate: 200,
            duration_ms: 100,
            backlog: 128,
            mysql_user: None,
            detached: true,
            max_life_s: 3,
        };
        let srv = spec(Role::Server(ServerMode::WaitClient));
        let h = std::thread::spawn(move || {
            let mut out = Vec::new();
            run_worker(&srv, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        });
        std::thread::sleep(Duration::from_millis(200));
        let mut cli = spec(Role::Client(ClientMode::CloseFirst));
        cli.max_life_s = 1;
        let mut out = Vec::new();
        run_worker(&cli, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<Event> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0], Event::Ready);
        let Event::Done { stats } = &lines[1] else {
            panic!("{text}")
        };
        assert_eq!(stats.attempts, 20);
        assert_eq!(stats.connected, 20);
        assert_eq!(stats.requests, 20);
        assert_eq!(stats.closed, 20);
        assert_eq!(stats.failed(), 0);
        let srv_out = h.join().unwrap();
        let last: Event = serde_json::from_str(srv_out.lines().last().unwrap()).unwrap();
        let Event::Exit { stats } = last else {
            panic!("{srv_out}")
        };
        assert_eq!(stats.connected, 20);
        assert_eq!(stats.requests, 20);
    }
}
