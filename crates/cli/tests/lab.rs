//! End-to-end tests of `tcpdoctor lab` on the real kernel, in throwaway namespaces created by
//! the lab itself. Need root (skipped with a message otherwise) and MariaDB
//! (`apt-get install -y mariadb-server`) for the mysql-* scenarios.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr,
    clippy::print_stdout
)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tcpdoctor_lab::is_root;

const EXE: &str = env!("CARGO_BIN_EXE_tcpdoctor");

/// The two tests that look for leftovers of any lab run must not run at the same time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn skip(name: &str) -> bool {
    if is_root() {
        return false;
    }
    eprintln!("SKIPPED {name}: the lab needs root (network namespaces, veth, sysctls)");
    true
}

fn lab_namespaces() -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("tcpdoctor-lab-"))
        .map(str::to_string)
        .collect()
}

/// Processes of the lab still running: workers, and mariadbd with a lab datadir.
fn lab_processes() -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
        if !zombie
            && (cmd.contains("lab __worker")
                || (cmd.contains("mariadbd") && cmd.contains("tcpdoctor-lab-")))
        {
            v.push(format!("{pid}: {cmd}"));
        }
    }
    v
}

fn run_lab(args: &[&str], limit: Duration) -> (Option<i32>, String, Duration) {
    let start = Instant::now();
    let mut child = Command::new(EXE)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text, start.elapsed())
}

const SCENARIOS: [&str; 9] = [
    "server-close-storm",
    "client-close-storm",
    "port-exhaustion",
    "close-wait-leak",
    "connection-leak",
    "accept-queue-overflow",
    "mysql-short-connections",
    "mysql-no-close",
    "mysql-pooled",
];

#[test]
fn list_names_every_scenario() {
    let (code, text, _) = run_lab(&["lab", "list"], Duration::from_secs(10));
    assert_eq!(code, Some(0), "{text}");
    for s in SCENARIOS {
        assert!(
            text.lines().any(|l| l.starts_with(s)),
            "{s} missing from:\n{text}"
        );
    }
    assert!(
        text.contains("expects: client: -; server: close-wait-leak"),
        "{text}"
    );
}

#[test]
fn not_root_is_refused_with_one_sentence() {
    if !is_root() {
        let (code, text, _) = run_lab(
            &["lab", "run", "server-close-storm"],
            Duration::from_secs(10),
        );
        assert_eq!(code, Some(2));
        assert!(text.contains("the lab needs root"), "{text}");
        return;
    }
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            EXE,
            "lab",
            "run",
            "server-close-storm",
        ])
        .output();
    let Ok(out) = out else {
        eprintln!("SKIPPED not_root_is_refused_with_one_sentence: no setpriv");
        return;
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("tcpdoctor: the lab needs root: it creates network namespaces"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn unknown_scenario_is_an_error() {
    let (code, text, _) = run_lab(&["lab", "run", "no-such-thing"], Duration::from_secs(10));
    assert_eq!(code, Some(2));
    assert!(text.contains("no scenario named 'no-such-thing'"), "{text}");
}

/// Every scenario with --check, one after the other, each within ~30 s; then nothing of the lab
/// is left. Also the crash path: a run killed with SIGKILL leaves its namespaces, which
/// `lab clean` removes.
#[test]
fn every_scenario_checks_and_leaves_nothing() {
    if skip("every_scenario_checks_and_leaves_nothing") {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    assert!(
        Command::new("sh").args(["-c", "command -v mariadbd || command -v mysqld"]).output().unwrap().status.success(),
        "MariaDB is not installed: apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y mariadb-server"
    );
    let mut failures = Vec::new();
    let mut timings = Vec::new();
    for s in SCENARIOS {
        let (code, text, took) = run_lab(&["lab", "run", s, "--check"], Duration::from_secs(45));
        timings.push(format!("{s}: {:.1} s", took.as_secs_f64()));
        eprintln!(
            "==== {s} ({:.1} s, exit {code:?})\n{text}",
            took.as_secs_f64()
        );
        if code != Some(0) {
            failures.push(format!("{s}: exit {code:?}"));
        }
        if took > Duration::from_secs(35) {
            failures.push(format!("{s}: took {:.1} s", took.as_secs_f64()));
        }
        let ns = lab_namespaces();
        if !ns.is_empty() {
            failures.push(format!("{s}: namespaces left: {ns:?}"));
        }
        let ps = lab_processes();
        if !ps.is_empty() {
            failures.push(format!("{s}: processes left: {ps:?}"));
        }
    }
    eprintln!("timings:\n  {}", timings.join("\n  "));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn crashed_run_is_cleaned_by_lab_clean() {
    if skip("crashed_run_is_cleaned_by_lab_clean") {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut child = Command::new(EXE)
        .args(["lab", "run", "close-wait-leak", "--duration", "20"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mine = |n: &String| n.starts_with(&format!("tcpdoctor-lab-{pid}-"));
    let start = Instant::now();
    while lab_namespaces().iter().filter(|n| mine(n)).count() < 2
        && start.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL: no cleanup possible
    child.wait().unwrap();
    assert_eq!(
        lab_namespaces().iter().filter(|n| mine(n)).count(),
        2,
        "the crash should leave both namespaces"
    );
    let (code, text, _) = run_lab(&["lab", "clean"], Duration::from_secs(60));
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("deleted namespace tcpdoctor-lab-{pid}-client")),
        "{text}"
    );
    assert!(
        text.contains(&format!("deleted namespace tcpdoctor-lab-{pid}-server")),
        "{text}"
    );
    assert!(lab_namespaces().iter().all(|n| !mine(n)));
    // The workers died with their parent (PR_SET_PDEATHSIG) or were killed by clean.
    let start = Instant::now();
    while !lab_processes().is_empty() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(lab_processes(), Vec::<String>::new());
    // A second clean has nothing left to do.
    let (code, text, _) = run_lab(&["lab", "clean"], Duration::from_secs(30));
    assert_eq!(code, Some(0));
    assert!(!text.contains(&format!("tcpdoctor-lab-{pid}-")), "{text}");
}
