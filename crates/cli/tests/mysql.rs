//! `tcpdoctor --mysql` against a real MariaDB (the lab's starter) in a throwaway server
//! namespace, with a client namespace whose worker (the lab's `mysql-no-close` workload) opens
//! connections and never closes them. Needs root and `mariadb-server` (skipped with a message
//! otherwise; `scripts/test` installs it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr,
    clippy::print_stdout
)]

use mysql::prelude::Queryable;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tcpdoctor_lab::is_root;
use tcpdoctor_lab::mariadb::{binaries, Mariadb, LAB_USER};
use tcpdoctor_lab::scenario::ClientMode;
use tcpdoctor_lab::worker::{Role, WorkerSpec, PASSWORD_ENV as WORKER_PASSWORD_ENV};
use tcpdoctor_testkit::Netns;

const EXE: &str = env!("CARGO_BIN_EXE_tcpdoctor");
const SERVER_IP: &str = "10.214.7.1";
const CLIENT_IP: &str = "10.214.7.2";

/// The server's root account through its unix socket (the test's own view, not tcpdoctor's).
fn root(db: &Mariadb) -> mysql::Conn {
    let o = mysql::OptsBuilder::new()
        .socket(Some(
            db.dir().join("mysqld.sock").to_string_lossy().into_owned(),
        ))
        .user(Some("root"))
        .read_timeout(Some(Duration::from_secs(5)))
        .write_timeout(Some(Duration::from_secs(5)));
    mysql::Conn::new(o).unwrap()
}

/// Sleep threads of the lab user from the client address, per the server.
fn sleepers(c: &mut mysql::Conn) -> u64 {
    c.query_first::<u64, _>(format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Sleep' \
         AND USER = '{LAB_USER}' AND HOST LIKE '{CLIENT_IP}:%'"
    ))
    .unwrap()
    .unwrap_or(0)
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    argv_seen: Vec<String>,
}

/// Runs tcpdoctor with `env` (name, value) and records its argv as `ps` shows it
/// (`/proc/<pid>/cmdline`) while it runs. Bounded to 60 s.
fn tcpdoctor(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = Command::new(EXE);
    c.args(args)
        .env_remove("MYSQL_PWD")
        .env_remove("TCPDOCTOR_MYSQL_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let pid = child.id();
    let start = Instant::now();
    let mut argv_seen = Vec::new();
    // Drain the pipes in threads so a big report never blocks the child.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut so, &mut s).unwrap();
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut se, &mut s).unwrap();
        s
    });
    let status = loop {
        if let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if !raw.is_empty() {
                argv_seen.push(String::from_utf8_lossy(&raw).replace('\0', " "));
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        code: status.code(),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
        argv_seen,
    }
}

fn finding<'a>(v: &'a serde_json::Value, id: &str) -> Option<&'a serde_json::Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
}

fn metric(f: &serde_json::Value, name: &str) -> serde_json::Value {
    f["evidence"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no metric {name} in {f:#}"))["value"]
        .clone()
}

#[test]
fn a_password_in_the_url_is_refused_without_repeating_it() {
    let r = tcpdoctor(
        &[
            "--mysql",
            "mysql://lab:s3cret-in-url@127.0.0.1:9",
            "--interval",
            "0",
        ],
        &[],
    );
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("remove the password from the URL") && r.stderr.contains("MYSQL_PWD"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("s3cret-in-url"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}

#[test]
fn mysql_view_joins_the_tcp_view_on_a_real_mariadb() {
    if !is_root() {
        eprintln!("SKIPPED mysql_view_joins_the_tcp_view_on_a_real_mariadb: needs root (network namespaces)");
        return;
    }
    if let Err(e) = binaries() {
        eprintln!("SKIPPED mysql_view_joins_the_tcp_view_on_a_real_mariadb: {e} (apt-get install -y mariadb-server)");
        return;
    }
    let server = Netns::new("td-mysql-s").unwrap();
    let client = Netns::new("td-mysql-c").unwrap();
    Netns::veth_pair(
        &server,
        &client,
        &format!("{SERVER_IP}/30"),
        &format!("{CLIENT_IP}/30"),
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("tcpdoctor-mysql-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Dropped first (declared last): stopped by pid, datadir removed, then the namespaces go.
    let db = Mariadb::start(server.name(), SERVER_IP, 3306, &dir, 600, false).unwrap();
    let pw = db.password.clone();
    let mut rootc = root(&db);

    // The leaking client: 20 new connections/s for 6 s, none ever closed.
    let spec = WorkerSpec {
        role: Role::Client(ClientMode::MysqlNoClose),
        addr: SERVER_IP.into(),
        port: 3306,
        rate: 20,
        duration_ms: 6000,
        backlog: 0,
        mysql_user: Some(LAB_USER.into()),
        detached: false,
        max_life_s: 120,
    };
    let mut w = client.command(EXE);
    w.args(["lab", "__worker", &serde_json::to_string(&spec).unwrap()])
        .env(WORKER_PASSWORD_ENV, &pw)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let worker = client.spawn(w).unwrap();
    wait_for("10 Sleep threads", Duration::from_secs(15), || {
        sleepers(&mut rootc) >= 10
    });

    // 1. Growing: two readings 2 s apart while the client keeps opening.
    let url = format!("mysql://{LAB_USER}@{SERVER_IP}:3306");
    let r = tcpdoctor(
        &[
            "-N",
            server.name(),
            "--mysql",
            &url,
            "--interval",
            "2s",
            "--json",
            "--fail-on",
            "never",
        ],
        &[("MYSQL_PWD", &pw)],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(!r.argv_seen.is_empty(), "tcpdoctor's argv was never seen");
    for a in &r.argv_seen {
        assert!(!a.contains(&pw), "password in the process list: {a}");
    }
    assert!(!r.stdout.contains(&pw), "password in the report");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let f = finding(&v, "mysql-connection-leak").unwrap_or_else(|| panic!("{:#}", v));
    assert_eq!(f["severity"], "warning", "{f:#}");
    assert_eq!(metric(f, "top_host"), CLIENT_IP);
    let m = &v["mysql"];
    let h = &m["hosts"][0];
    assert_eq!(h["host"], CLIENT_IP, "{m:#}");
    assert_eq!(h["growing"], true);
    let (now, before) = (
        h["sleep"].as_i64().unwrap(),
        h["sleep_before"].as_i64().unwrap(),
    );
    assert_eq!(metric(f, "top_host_growth").as_i64().unwrap(), now - before);
    // 20/s over the 2 s interval: about 40; the rule's floor is 10.
    assert!(now - before >= 20, "growth {before} -> {now}");
    assert_eq!(m["status"]["max_connections"], 2000);
    assert_eq!(m["status"]["wait_timeout"], 600);
    assert_eq!(m["status"]["server"], format!("{SERVER_IP}:3306"));
    // The lab user has no PROCESS privilege: its own threads only, and the report says so.
    assert_eq!(m["status"]["processlist_complete"], false);
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("PROCESS privilege")),
        "{:#}",
        v["notes"]
    );
    // Joined with the TCP view of the server namespace: those connections are ESTABLISHED
    // sockets from the client address on :3306.
    assert!(
        h["tcp_established"].as_u64().unwrap() >= before as u64,
        "{h:#}"
    );
    assert!(
        m["tcp_established_on_port"].as_u64().unwrap() >= now as u64,
        "{m:#}"
    );
    assert_eq!(v["snapshots"], 2);

    // 2. Near max_connections: the worker is done (120 held); lower the limit to 125.
    wait_for("120 Sleep threads", Duration::from_secs(20), || {
        sleepers(&mut rootc) == 120
    });
    rootc
        .query_drop("SET GLOBAL max_connections = 125")
        .unwrap();
    let r = tcpdoctor(
        &[
            "-N",
            server.name(),
            "--mysql",
            &url,
            "--interval",
            "0",
            "--json",
        ],
        &[("TCPDOCTOR_MYSQL_PASSWORD", &pw)],
    );
    // --fail-on warning (the default): a critical finding exits 1.
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let f = finding(&v, "mysql-connection-leak").unwrap_or_else(|| panic!("{:#}", v));
    assert_eq!(f["severity"], "critical", "{f:#}");
    assert_eq!(metric(f, "sleep_threads"), 120);
    assert_eq!(metric(f, "max_connections"), 125);
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .starts_with("120 idle (Sleep) connections hold 96% of max_connections 125"),
        "{}",
        f["summary"]
    );
    assert_eq!(f["evidence"]["groups"][0]["key"], CLIENT_IP);
    assert_eq!(f["evidence"]["groups"][0]["count"], 120);
    assert_eq!(v["mysql"]["hosts"][0]["sleep"], 120);
    assert!(v["mysql"].get("interval_s").is_none());
    // The worker's 120 plus this reading's own connection (and the test's root one).
    let tc = v["mysql"]["status"]["threads_connected"].as_u64().unwrap();
    assert!((121..=123).contains(&tc), "threads_connected {tc}");

    // 3. A wrong password: a gap, and the rest of the report. With the counters read twice
    // (1 s apart, the default): tcpdoctor's own MySQL connection is made before the first
    // reading, so the quiet namespace shows no new outgoing connection.
    let r = tcpdoctor(
        &[
            "-N",
            server.name(),
            "--mysql",
            &url,
            "--json",
            "--fail-on",
            "never",
        ],
        &[("MYSQL_PWD", "wrong-password")],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        v["rates"]["active_opens_per_s"].as_f64(),
        Some(0.0),
        "{:#}",
        v["rates"]
    );
    assert!(v.get("mysql").is_none(), "{:#}", v["mysql"]);
    assert!(finding(&v, "mysql-connection-leak").is_none());
    let gap = v["scan"]["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["message"].as_str().unwrap().contains("MySQL at"))
        .unwrap_or_else(|| panic!("no MySQL gap: {:#}", v["scan"]));
    assert_eq!(gap["kind"], "permission", "{gap:#}");
    assert!(
        gap["message"]
            .as_str()
            .unwrap()
            .contains(&format!("access denied for user '{LAB_USER}'")),
        "{gap:#}"
    );
    assert!(!r.stdout.contains("wrong-password"));
    // The TCP view is all there: the 120 leaked connections on :3306.
    assert!(
        v["states"]["ESTABLISHED"].as_u64().unwrap() >= 120,
        "{:#}",
        v["states"]
    );
    assert_eq!(v["report"], "diagnosis");

    // 4. Nothing listening: refused, a gap, bounded in time.
    let start = Instant::now();
    let r = tcpdoctor(
        &[
            "-N",
            server.name(),
            "--mysql",
            &format!("mysql://{LAB_USER}@{SERVER_IP}:3307"),
            "--interval",
            "0",
            "--json",
            "--fail-on",
            "never",
        ],
        &[("MYSQL_PWD", &pw)],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(start.elapsed() < Duration::from_secs(15));
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        v["scan"]["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["message"]
                .as_str()
                .unwrap()
                .contains("connection refused")),
        "{:#}",
        v["scan"]
    );

    // 5. The password typed at the prompt on a real terminal (tmux), with echo off.
    prompt_on_a_terminal(server.name(), &url, &pw, &dir);

    client.kill(worker);
    drop(rootc);
    drop(db);
    assert!(!dir.exists(), "datadir left behind");
}

/// A private tmux server (its own socket name), killed on drop even when the test fails.
struct Tmux(String);

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.0])
            .args(args)
            .output()
            .unwrap()
    }
    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "td"]).stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .output();
    }
}

/// `tcpdoctor -N NS --mysql URL` in a tmux terminal without a password in the environment: it
/// asks on the terminal, the typed password is not echoed, and MySQL's view is read with it.
fn prompt_on_a_terminal(ns: &str, url: &str, pw: &str, dir: &std::path::Path) {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED the terminal prompt: no tmux (apt-get install -y tmux)");
        return;
    }
    std::fs::create_dir_all(dir).unwrap();
    let out = dir.join("prompt.json");
    let done = dir.join("prompt.done");
    let tmux = Tmux(format!("tcpdoctor-test-{}", std::process::id()));
    let shell = format!(
        "env -u MYSQL_PWD -u TCPDOCTOR_MYSQL_PASSWORD {EXE} -N {ns} --mysql {url} --interval 0 \
         --json --fail-on never > {} 2>&1; echo $? > {}; sleep 30",
        out.display(),
        done.display()
    );
    let r = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "td",
        "-x",
        "160",
        "-y",
        "40",
        &shell,
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let prompt = format!("MySQL password for {LAB_USER}@{SERVER_IP}:3306:");
    wait_for("the password prompt", Duration::from_secs(15), || {
        tmux.screen().contains(&prompt)
    });
    let r = tmux.cmd(&["send-keys", "-t", "td", "-l", pw]);
    assert!(r.status.success());
    let r = tmux.cmd(&["send-keys", "-t", "td", "Enter"]);
    assert!(r.status.success());
    wait_for("tcpdoctor to finish", Duration::from_secs(30), || {
        done.exists()
    });
    let screen = tmux.screen();
    assert!(!screen.contains(pw), "the password was echoed:\n{screen}");
    assert_eq!(std::fs::read_to_string(&done).unwrap().trim(), "0");
    let text = std::fs::read_to_string(&out).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(
        v["mysql"]["status"]["server"],
        format!("{SERVER_IP}:3306"),
        "{:#}",
        v["scan"]
    );
    assert!(
        v["mysql"]["hosts"][0]["sleep"].as_u64().unwrap() >= 120,
        "{:#}",
        v["mysql"]
    );
    assert!(!text.contains(pw));
}
