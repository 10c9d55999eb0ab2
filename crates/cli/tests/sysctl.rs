//! `tcpdoctor sysctl` on the real kernel, always inside throwaway namespaces (`-N`): the audit,
//! `--emit` (applied with the real `sysctl -p` in another namespace), `--apply` (dry run, backup,
//! write) and `--rollback` (exact restore), and the refusals (tcp_tw_recycle since 4.12,
//! lowering tcp_max_tw_buckets, non-network keys, a backup of another namespace).
//!
//! Every write in these tests goes through `-N` into a namespace the test created; the host's
//! values are read before and after and must not change.
//!
//! Needs root (namespaces); without it every test says so and returns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use tcpdoctor_testkit::{require_root, Netns};

mod common;

const KEYS: &[&str] = &[
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.ip_local_port_range",
    "net.core.somaxconn",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_max_tw_buckets",
];

fn tcpdoctor(args: &[&str]) -> (i32, String, String) {
    assert!(
        args.contains(&"-N"),
        "sysctl tests must always name a namespace: {args:?}"
    );
    common::tcpdoctor(args)
}

/// A temporary backup directory, removed on drop.
struct TmpDir(PathBuf);

impl TmpDir {
    fn new() -> TmpDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "tdt-sysctl-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        TmpDir(p)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = match std::fs::read_dir(&self.0) {
            Ok(rd) => rd
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect(),
            Err(_) => Vec::new(),
        };
        v.sort();
        v
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn norm(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The namespace's values, read by the real `sysctl` inside it.
fn ns_values(ns: &Netns) -> Vec<String> {
    KEYS.iter()
        .map(|k| norm(&ns.sysctl_get(k).unwrap()))
        .collect()
}

/// The host's values, straight from /proc/sys (this test thread is in the host namespace).
fn host_values() -> Vec<String> {
    KEYS.iter()
        .map(|k| {
            let p = Path::new("/proc/sys").join(k.replace('.', "/"));
            norm(&std::fs::read_to_string(p).unwrap())
        })
        .collect()
}

#[test]
fn apply_with_backup_then_rollback_restores_every_value_exactly() {
    if !require_root("apply_with_backup_then_rollback_restores_every_value_exactly") {
        return;
    }
    let host_before = host_values();
    let ns = Netns::new("tds-apply").unwrap();
    let dir = TmpDir::new();
    let before = ns_values(&ns);
    let tw_buckets = before[4].parse::<u64>().unwrap();
    let bigger = (tw_buckets + 1000).to_string();
    let sets = [
        "net.ipv4.tcp_fin_timeout=33",
        "net.ipv4.ip_local_port_range=20000 30000",
        "net.core.somaxconn=1000",
        "net.ipv4.tcp_keepalive_time=600",
    ];
    let mut args = vec!["-N", ns.name(), "sysctl", "--apply"];
    for s in &sets {
        args.extend(["--set", s]);
    }
    let tw_set = format!("net.ipv4.tcp_max_tw_buckets={bigger}");
    args.extend(["--set", &tw_set, "--yes", "--backup-dir", dir.path()]);
    let (code, out, err) = tcpdoctor(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("Wrote in network namespace {}:", ns.name())),
        "{out}"
    );
    assert_eq!(
        ns_values(&ns),
        vec!["33", "20000 30000", "1000", "600", bigger.as_str()]
    );
    assert_eq!(host_values(), host_before, "the host was written to");

    // The backup: one file named after the namespace, with every old and new value.
    let files = dir.files();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = &files[0];
    assert!(
        name.starts_with(&format!("sysctl-backup-netns-{}-", ns.name())) && name.ends_with(".json"),
        "{name}"
    );
    let b: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.0.join(name)).unwrap()).unwrap();
    assert_eq!(b["kind"], "tcpdoctor-sysctl-backup");
    assert_eq!(b["schema_version"], 1);
    assert_eq!(b["netns"], ns.name());
    assert!(b["time_ms"].as_u64().unwrap() > 1_600_000_000_000);
    let saved: Vec<(String, String, String)> = b["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap().to_string(),
                s["old"].as_str().unwrap().to_string(),
                s["new"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        (KEYS[0], &before[0], "33"),
        (KEYS[1], &before[1], "20000 30000"),
        (KEYS[2], &before[2], "1000"),
        (KEYS[3], &before[3], "600"),
        (KEYS[4], &before[4], bigger.as_str()),
    ]
    .iter()
    .map(|(k, o, n)| (k.to_string(), o.to_string(), n.to_string()))
    .collect();
    assert_eq!(saved, want);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.0.join(name)).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // Rollback dry run: nothing changes.
    let (code, out, err) = tcpdoctor(&[
        "-N",
        ns.name(),
        "sysctl",
        "--rollback",
        "--backup-dir",
        dir.path(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("dry run"), "{out}");
    assert_eq!(ns_values(&ns)[0], "33");

    // Rollback: the newest backup of this namespace, restored exactly, then marked restored.
    let (code, out, err) = tcpdoctor(&[
        "-N",
        ns.name(),
        "sysctl",
        "--rollback",
        "--yes",
        "--json",
        "--backup-dir",
        dir.path(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["report"], "sysctl-rollback");
    assert_eq!(r["dry_run"], false);
    assert_eq!(r["changes"].as_array().unwrap().len(), 5);
    assert_eq!(ns_values(&ns), before);
    assert_eq!(host_values(), host_before);
    assert_eq!(dir.files(), vec![format!("{name}.restored")]);
    // Nothing left to roll back for this namespace.
    let (code, _, err) = tcpdoctor(&[
        "-N",
        ns.name(),
        "sysctl",
        "--rollback",
        "--yes",
        "--backup-dir",
        dir.path(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no backup of network namespace"), "{err}");
}

#[test]
fn dry_run_writes_nothing_and_recommendations_come_from_the_diagnosis() {
    if !require_root("dry_run_writes_nothing_and_recommendations_come_from_the_diagnosis") {
        return;
    }
    let host_before = host_values();
    let ns = Netns::new("tds-dry").unwrap();
    // A tiny range: the diagnosis flags it (sysctl-port-range-small), the audit recommends.
    ns.sysctl("net.ipv4.ip_local_port_range", "40000 40299")
        .unwrap();
    let dir = TmpDir::new();
    let before = ns_values(&ns);

    let (code, out, err) = tcpdoctor(&["-N", ns.name(), "sysctl", "--json", "--interval", "0"]);
    assert_eq!(code, 0, "{err}");
    let a: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(a["schema_version"], 1);
    assert_eq!(a["report"], "sysctl");
    assert_eq!(a["scan"]["netns"], ns.name());
    let row = a["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "net.ipv4.ip_local_port_range")
        .unwrap()
        .clone();
    assert_eq!(row["value"], "40000 40299");
    assert_eq!(row["verdict"], "change");
    assert_eq!(row["findings"][0], "sysctl-port-range-small");
    let rec = row["recommended"].as_str().unwrap().to_string();
    // tcp_tw_recycle is listed, and absent on this kernel.
    let recycle = a["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "net.ipv4.tcp_tw_recycle")
        .unwrap();
    assert_eq!(recycle["verdict"], "absent");

    // --apply without --yes: the plan, nothing written, no backup.
    let (code, out, err) = tcpdoctor(&[
        "-N",
        ns.name(),
        "sysctl",
        "--apply",
        "--interval",
        "0",
        "--backup-dir",
        dir.path(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("dry run, nothing written"), "{out}");
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("net.ipv4.ip_local_port_range"))
        .unwrap();
    assert!(
        line.contains("40000 40299") && line.contains(&rec),
        "{line}"
    );
    assert_eq!(ns_values(&ns), before);
    assert!(dir.files().is_empty());
    // The same as JSON.
    let (_, out, _) = tcpdoctor(&[
        "-N",
        ns.name(),
        "sysctl",
        "--apply",
        "--json",
        "--interval",
        "0",
        "--set",
        "net.ipv4.tcp_fin_timeout=33",
    ]);
    let p: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(p["report"], "sysctl-apply");
    assert_eq!(p["dry_run"], true);
    assert_eq!(p["backup"], Value::Null);
    assert_eq!(p["changes"][0]["key"], "net.ipv4.tcp_fin_timeout");
    assert_eq!(p["changes"][0]["new"], "33");
    assert_eq!(ns_values(&ns), before);

    // With --yes the recommendation is written, and rolled back.
    let (code, out, err) = tcpdoctor(&[
        "-N",
        ns.name(),
        "sysctl",
        "--apply",
        "--yes",
        "--interval",
        "0",
        "--backup-dir",
        dir.path(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        norm(&ns.sysctl_get("net.ipv4.ip_local_port_range").unwrap()),
        rec
    );
    let (code, _, err) = tcpdoctor(&[
        "-N",
        ns.name(),
        "sysctl",
        "--rollback",
        "--yes",
        "--backup-dir",
        dir.path(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(ns_values(&ns), before);
    assert_eq!(host_values(), host_before);
}

#[test]
fn refusals_explain_and_write_nothing() {
    if !require_root("refusals_explain_and_write_nothing") {
        return;
    }
    let host_before = host_values();
    let ns = Netns::new("tds-ref").unwrap();
    let other = Netns::new("tds-oth").unwrap();
    let dir = TmpDir::new();
    let before = ns_values(&ns);
    let refused = |sets: &[&str]| -> String {
        let mut args = vec!["-N", ns.name(), "sysctl", "--apply"];
        for s in sets {
            args.extend(["--set", s]);
        }
        args.extend(["--yes", "--backup-dir", dir.path()]);
        let (code, out, err) = tcpdoctor(&args);
        assert_eq!(code, 2, "{sets:?} was not refused: {out}{err}");
        assert!(out.is_empty(), "{out}");
        assert_eq!(ns_values(&ns), before, "{sets:?} wrote something");
        assert!(dir.files().is_empty(), "{sets:?} left a backup");
        err
    };
    // Gone since 4.12: the sentence says why; a valid key in the same run is not written.
    let e = refused(&["net.ipv4.tcp_fin_timeout=33", "net.ipv4.tcp_tw_recycle=1"]);
    assert!(
        e.starts_with("tcpdoctor: net.ipv4.tcp_tw_recycle does not exist on this kernel ("),
        "{e}"
    );
    assert!(e.contains("removed in Linux 4.12"), "{e}");
    assert!(e.contains("behind NAT"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    // Lowering the TIME_WAIT cap.
    let e = refused(&["net.ipv4.tcp_max_tw_buckets=100"]);
    assert!(
        e.contains("Refusing to lower net.ipv4.tcp_max_tw_buckets"),
        "{e}"
    );
    // A key no kernel has, and a setting that is not the namespace's own.
    let e = refused(&["net.ipv4.no_such_setting=1"]);
    assert!(e.contains("net.ipv4.no_such_setting does not exist"), "{e}");
    let e = refused(&["kernel.pid_max=100000"]);
    assert!(e.contains("only network settings"), "{e}");
    let e = refused(&["net.ipv4.tcp_max_orphans=1000"]);
    assert!(e.contains("not a per-namespace setting"), "{e}");
    let e = refused(&["net.ipv4.ip_local_port_range=30000 20000"]);
    assert!(e.contains("LOW HIGH"), "{e}");

    // A backup of one namespace is not restored into another.
    let (code, _, err) = tcpdoctor(&[
        "-N",
        other.name(),
        "sysctl",
        "--apply",
        "--set",
        "net.ipv4.tcp_fin_timeout=44",
        "--yes",
        "--backup-dir",
        dir.path(),
    ]);
    assert_eq!(code, 0, "{err}");
    let file = dir.0.join(&dir.files()[0]);
    let (code, _, err) = tcpdoctor(&[
        "-N",
        ns.name(),
        "sysctl",
        "--rollback",
        file.to_str().unwrap(),
        "--yes",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("run it with -N {}", other.name())),
        "{err}"
    );
    assert_eq!(ns_values(&ns), before);
    // And the default rollback of `ns` does not pick the other namespace's backup.
    let (code, _, err) = tcpdoctor(&[
        "-N",
        ns.name(),
        "sysctl",
        "--rollback",
        "--backup-dir",
        dir.path(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no backup of network namespace"), "{err}");
    assert_eq!(host_values(), host_before);
}

#[test]
fn emit_is_a_sysctl_d_file_that_sysctl_itself_applies() {
    if !require_root("emit_is_a_sysctl_d_file_that_sysctl_itself_applies") {
        return;
    }
    let ns = Netns::new("tds-emit").unwrap();
    ns.sysctl("net.ipv4.ip_local_port_range", "40000 40299")
        .unwrap();
    let (code, out, err) = tcpdoctor(&["-N", ns.name(), "sysctl", "--emit", "--interval", "0"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("# /etc/sysctl.d/60-tcpdoctor.conf"),
        "{out}"
    );
    let mut settings = Vec::new();
    for line in out.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (k, v) = t
            .split_once(" = ")
            .unwrap_or_else(|| panic!("not `key = value`: {line:?}"));
        assert!(
            k.starts_with("net.")
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_'),
            "{k}"
        );
        assert!(!v.trim().is_empty(), "{line}");
        settings.push((k.to_string(), v.to_string()));
    }
    let range = settings
        .iter()
        .find(|(k, _)| k == "net.ipv4.ip_local_port_range")
        .expect("the narrow range is changed")
        .1
        .clone();
    assert_ne!(range, "40000 40299");
    assert!(!out.contains("\nnet.ipv4.tcp_tw_recycle"), "{out}");
    // The real sysctl(8) reads the file, in another throwaway namespace.
    let target = Netns::new("tds-emit2").unwrap();
    let dir = TmpDir::new();
    std::fs::create_dir_all(&dir.0).unwrap();
    let file = dir.0.join("60-tcpdoctor.conf");
    std::fs::write(&file, &out).unwrap();
    let res = target
        .exec(&["sysctl", "-p", file.to_str().unwrap()])
        .unwrap();
    assert_eq!(res.stdout.lines().count(), settings.len(), "{}", res.stdout);
    for (k, v) in &settings {
        assert_eq!(&norm(&target.sysctl_get(k).unwrap()), v, "{k}");
    }
}
