//! Writes a big, realistic Linux `netstat -tan` (or `-tanp`) listing to standard output, for
//! the speed benchmark (`scripts/bench-analyze`).
//!
//! `gen_netstat SIZE_MB [--tanp] [--seed=N]`
//!
//! The mix is what a busy front end shows: a few dozen listeners first (kernel order: IPv4
//! then IPv6), then connections, mostly ESTABLISHED and TIME_WAIT, some CLOSE_WAIT, FIN_WAIT2,
//! SYN_SENT, SYN_RECV, LAST_ACK, FIN_WAIT1 and CLOSING; 75 % IPv4, 15 % IPv4-mapped IPv6
//! (`::ffff:a.b.c.d`, a dual-stack server), 10 % native IPv6; server ports 443/80/8080/3306/
//! 6379/5432 and ephemeral client ports; mostly empty queues. Every row is distinct (no
//! copy-paste duplicates). With `--tanp` the `PID/Program name` column is filled as root
//! sees it (`-` for TIME_WAIT). Columns are net-tools' own (`%-5s %6d %6d %-23s %-23s %-11s`
//! plus `%-20s` for the program, netstat.c `tcp_do_one`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::io::Write;

/// xorshift64*: fast and deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const STATES: &[(&str, u64)] = &[
    ("ESTABLISHED", 520),
    ("TIME_WAIT", 330),
    ("CLOSE_WAIT", 50),
    ("FIN_WAIT2", 35),
    ("SYN_SENT", 20),
    ("SYN_RECV", 15),
    ("LAST_ACK", 12),
    ("FIN_WAIT1", 12),
    ("CLOSING", 6),
];

const SERVER_PORTS: &[u16] = &[443, 80, 8080, 3306, 6379, 5432];
const PROGRAMS: &[&str] = &[
    "nginx: worker",
    "java",
    "mysqld",
    "redis-server",
    "haproxy",
    "node",
    "python3",
];

/// `host:port` with the host cut so that both fit 22 characters.
fn cut22(ep: &str) -> String {
    match ep.rsplit_once(':') {
        Some((h, p)) if h.len() + p.len() > 22 => format!("{}:{p}", &h[..22 - p.len()]),
        _ => ep.to_string(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let size_mb: u64 = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(1024);
    let tanp = args.iter().any(|a| a == "--tanp");
    let seed = args
        .iter()
        .find_map(|a| a.strip_prefix("--seed="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_u64);
    let limit = size_mb * 1024 * 1024;
    let mut rng = Rng(seed | 1);
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out.lock());
    let mut written = 0u64;
    let mut buf = String::with_capacity(1 << 16);
    buf.push_str("Active Internet connections (servers and established)\n");
    if tanp {
        buf.push_str("Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name    \n");
    } else {
        buf.push_str(
            "Proto Recv-Q Send-Q Local Address           Foreign Address         State      \n",
        );
    }
    let total_w: u64 = STATES.iter().map(|s| s.1).sum();
    let prog = |rng: &mut Rng, buf: &mut String, tw: bool| {
        if tanp {
            let p = if tw {
                "-".to_string()
            } else {
                let k = rng.below(PROGRAMS.len() as u64) as usize;
                let name: String = PROGRAMS[k].chars().take(14).collect();
                format!("{}/{}", 800 + k * 137, name)
            };
            let _ = write!(buf, " {p:<20}");
        }
    };
    // Listeners: IPv4 then IPv6 (kernel order).
    for (k, p) in SERVER_PORTS.iter().enumerate() {
        let _ = write!(
            buf,
            "{:<5} {:>6} {:>6} {:<23} {:<23} {:<11}",
            "tcp",
            0,
            if k == 0 { 511 } else { 128 },
            format!("0.0.0.0:{p}"),
            "0.0.0.0:*",
            "LISTEN"
        );
        prog(&mut rng, &mut buf, false);
        buf.push('\n');
    }
    for p in SERVER_PORTS.iter().take(3) {
        let _ = write!(
            buf,
            "{:<5} {:>6} {:>6} {:<23} {:<23} {:<11}",
            "tcp6",
            0,
            128,
            format!(":::{p}"),
            ":::*",
            "LISTEN"
        );
        prog(&mut rng, &mut buf, false);
        buf.push('\n');
    }
    let mut rows = 0u64;
    while written + buf.len() as u64 <= limit {
        if buf.len() > (1 << 16) - 256 {
            written += buf.len() as u64;
            if out.write_all(buf.as_bytes()).is_err() {
                std::process::exit(1);
            }
            buf.clear();
        }
        rows += 1;
        let mut w = rng.below(total_w);
        let mut state = STATES[0].0;
        for (s, sw) in STATES {
            if w < *sw {
                state = s;
                break;
            }
            w -= sw;
        }
        let fam = rng.below(100);
        let server = SERVER_PORTS[rng.below(SERVER_PORTS.len() as u64) as usize];
        let eph = 32768 + rng.below(28232) as u16;
        // Inbound (we are the server) or outbound (we are the client).
        let inbound = rng.below(100) < 70;
        let (lport, rport) = if inbound {
            (server, eph)
        } else {
            (eph, server)
        };
        let (proto, local, remote) = if fam < 75 {
            let l = format!(
                "10.{}.{}.{}",
                rng.below(4),
                rng.below(256),
                1 + rng.below(254)
            );
            let r = format!(
                "{}.{}.{}.{}",
                1 + rng.below(223),
                rng.below(256),
                rng.below(256),
                1 + rng.below(254)
            );
            ("tcp", format!("{l}:{lport}"), format!("{r}:{rport}"))
        } else if fam < 90 {
            let l = format!("10.0.{}.{}", rng.below(4), 1 + rng.below(254));
            let r = format!(
                "172.{}.{}.{}",
                16 + rng.below(16),
                rng.below(256),
                1 + rng.below(254)
            );
            (
                "tcp6",
                format!("::ffff:{l}:{lport}"),
                format!("::ffff:{r}:{rport}"),
            )
        } else {
            let l = format!("2001:db8::{:x}", 1 + rng.below(0xfff));
            let r = format!(
                "2001:db8:{:x}::{:x}",
                rng.below(0xffff),
                1 + rng.below(0xfff)
            );
            ("tcp6", format!("{l}:{lport}"), format!("{r}:{rport}"))
        };
        // net-tools cuts the host so that host:port fits 22 characters (netstat.c
        // tcp_do_one); long IPv6 peers print cut short, as in real listings.
        let (local, remote) = (cut22(&local), cut22(&remote));
        let (rq, sq) = match rng.below(100) {
            0..=89 => (0, 0),
            90..=95 => (0, rng.below(65_536)),
            _ => (rng.below(4096), 0),
        };
        let _ = write!(
            buf,
            "{proto:<5} {rq:>6} {sq:>6} {local:<23} {remote:<23} {state:<11}"
        );
        prog(&mut rng, &mut buf, state == "TIME_WAIT");
        buf.push('\n');
    }
    written += buf.len() as u64;
    if out.write_all(buf.as_bytes()).is_err() || out.flush().is_err() {
        std::process::exit(1);
    }
    eprintln!("{rows} connection rows, {written} bytes");
}
