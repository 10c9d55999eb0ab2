//! `tcpdoctor sysctl`: the kernel audit (live diagnosis -> [`audit`]), `--emit` (a commented
//! `/etc/sysctl.d/` file), `--apply` (backup, then write) and `--rollback` (restore a backup).
//!
//! Safety rules, in order: only `net.*` keys (the ones a network namespace owns; with `-N` a
//! write never reaches the host); every value goes through [`validate_write`] (absent keys such
//! as `tcp_tw_recycle` since 4.12 and dangerous values are refused with the reason, exit 2);
//! read-only keys are refused before anything is written; nothing is written without `--yes`
//! (the plan is printed instead), nor by a non-root user, nor before the previous value of every
//! key to be touched is saved in a backup file; a write that fails half-way puts back what was
//! already written.
//!
//! Backup file (JSON, mode 0600, in `--backup-dir`, named
//! `sysctl-backup-<netns|host>-<UTC time>.json`):
//! `{"schema_version":1,"kind":"tcpdoctor-sysctl-backup","netns":NAME|null,"host":..,
//! "kernel_release":..,"time_ms":..,"time":..,"settings":[{"key":..,"old":..,"new":..}]}`.
//! A restored backup is renamed to `<file>.restored`, so the next `--rollback` without a FILE
//! goes one step further back.

use crate::cli::{DiagnoseArgs, FailOn, Global, SysctlArgs};
use crate::cmd::diagnose::collect;
use crate::{out, UserError};
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};
use tcpdoctor_diagnose::{audit, emit_sysctl_d, validate_write, Refusal, Verdict};
use tcpdoctor_model::{KernelContext, SCHEMA_VERSION};
use tcpdoctor_render::fmt::{utc, Paint};
use tcpdoctor_render::sysctl::{render_json, render_plan, render_text, PlanItem};
use tcpdoctor_sources::kernel;

const BACKUP_KIND: &str = "tcpdoctor-sysctl-backup";
const BACKUP_PREFIX: &str = "sysctl-backup-";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn norm(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn diag_args(a: &SysctlArgs) -> DiagnoseArgs {
    DiagnoseArgs {
        interval: a.interval,
        fail_on: FailOn::Never,
        verbose: false,
        // Owners name processes; no remedy with a sysctl command depends on them.
        no_owners: true,
    }
}

/// The kernel context of the `-N` namespace (or the host).
fn context(g: &Global) -> Result<KernelContext> {
    let _ns = super::enter_netns(g)?;
    Ok(kernel::read_context().0)
}

/// Runs `tcpdoctor sysctl`.
pub fn run(g: &Global, a: &SysctlArgs) -> Result<ExitCode> {
    if let Some(file) = &a.rollback {
        return rollback(g, a, file.as_deref());
    }
    if a.apply {
        return apply(g, a);
    }
    let c = collect(g, &diag_args(a))?;
    let k = context(g)?;
    let mut rows = audit(&k, Some(&c.report));
    if g.netns.is_some() {
        let host_only = host_wide(
            rows.iter()
                .filter(|r| r.verdict == Verdict::Absent)
                .map(|r| r.key.as_str()),
        );
        for r in &mut rows {
            if let Some((_, hv)) = host_only.iter().find(|h| h.0 == r.key) {
                r.reason = host_wide_sentence(&r.key, hv);
            }
        }
    }
    let release = k.kernel_release.as_deref();
    if a.emit {
        let mut origin = format!("host {}", kernel::hostname().unwrap_or_else(|| "?".into()));
        if let Some(ns) = &g.netns {
            origin.push_str(&format!(", network namespace {ns}"));
        }
        if let Some(r) = release {
            origin.push_str(&format!(", Linux {r}"));
        }
        origin.push_str(&format!(", {}", utc(now_ms())));
        out::print(&emit_sysctl_d(&rows, &origin))?;
    } else if g.json {
        out::print(&render_json(&rows, release, &c.scan)?)?;
        out::print("\n")?;
    } else {
        out::print(&render_text(&rows, release, &c.scan, &out::style(g.color)))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Of `keys` (absent in the namespace), those the host has: host-wide settings, not per
/// network namespace (e.g. net.ipv4.tcp_max_orphans). Call it outside the namespace.
fn host_wide<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    keys.filter_map(|k| match kernel::read_sysctl(k) {
        Ok(Some(v)) => Some((k.to_string(), v)),
        _ => None,
    })
    .collect()
}

fn host_wide_sentence(key: &str, host_value: &str) -> String {
    format!(
        "{key} is not a per-namespace setting: it exists only host-wide (host value \
         {host_value}), so a network namespace has no entry for it; look at it, or change it, \
         without -N."
    )
}

/// Only `net.` keys with plain components: they belong to the network namespace, so `-N`
/// keeps every write inside it, and no path can leave `/proc/sys/net`.
fn check_key(key: &str) -> Result<String> {
    let k = key.trim().replace('/', ".");
    let ok_parts = k.split('.').all(|p| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    if !k.starts_with("net.") || !ok_parts {
        return Err(UserError(format!(
            "refusing to write '{key}': tcpdoctor writes only network settings (net.*, e.g. \
             net.ipv4.tcp_fin_timeout); other settings are not per network namespace"
        ))
        .into());
    }
    Ok(k)
}

/// Parses `--set KEY=VALUE`.
fn parse_set(s: &str) -> Result<(String, String)> {
    let Some((k, v)) = s.split_once('=') else {
        return Err(UserError(format!(
            "--set {s}: use KEY=VALUE, e.g. --set net.ipv4.tcp_fin_timeout=30"
        ))
        .into());
    };
    let v = norm(v.trim().trim_matches('"'));
    if v.is_empty() {
        return Err(UserError(format!("--set {s}: the value is empty")).into());
    }
    Ok((check_key(k)?, v))
}

/// Adds keys the context does not cover (not in [`kernel::SYSCTLS`]) as present or absent, so
/// [`validate_write`] knows whether they exist on this kernel.
fn learn_keys<'a>(k: &mut KernelContext, keys: impl Iterator<Item = &'a str>) -> Result<()> {
    for key in keys {
        if k.sysctls.contains_key(key) || k.absent_sysctls.iter().any(|a| a == key) {
            continue;
        }
        match kernel::read_sysctl(key) {
            Ok(Some(v)) => {
                k.sysctls.insert(key.to_string(), v);
            }
            Ok(None) => k.absent_sysctls.push(key.to_string()),
            Err(e) => return Err(UserError(format!("cannot read {key}: {e}")).into()),
        }
    }
    Ok(())
}

/// With `-N`: the host's values of `keys` (read before entering the namespace).
fn host_values<'a>(g: &Global, keys: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    if g.netns.is_some() {
        host_wide(keys)
    } else {
        Vec::new()
    }
}

/// A key absent in the namespace but present on the host is host-wide: say so instead of
/// "does not exist on this kernel".
fn refuse_host_wide(k: &KernelContext, host: &[(String, String)], key: &str) -> Result<()> {
    if k.sysctls.contains_key(key) {
        return Ok(());
    }
    match host.iter().find(|h| h.0 == key) {
        Some((_, v)) => Err(UserError(format!(
            "refusing to write {key} with -N: {}",
            host_wide_sentence(key, v)
        ))
        .into()),
        None => Ok(()),
    }
}

/// Refuses read-only entries (some are read-only inside a namespace) before any write.
fn check_writable(key: &str) -> Result<()> {
    let p = kernel::sysctl_path(key);
    let mode = fs::metadata(&p)
        .with_context(|| format!("cannot stat {}", p.display()))?
        .permissions()
        .mode();
    if mode & 0o222 == 0 {
        return Err(UserError(format!(
            "{key} is read-only here ({} has mode {:o}): the kernel does not let it be changed \
             in this network namespace",
            p.display(),
            mode & 0o777
        ))
        .into());
    }
    Ok(())
}

/// The effective uid, from /proc/self/status (`Uid: real effective saved fs`).
fn euid() -> Option<u32> {
    let s = fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn require_root(what: &str) -> Result<()> {
    if euid() != Some(0) {
        return Err(UserError(format!(
            "{what} needs root; nothing was written; run it again as root (sudo)"
        ))
        .into());
    }
    Ok(())
}

fn target_label(netns: Option<&str>) -> String {
    match netns {
        Some(n) => format!("network namespace {n}"),
        None => "the host".to_string(),
    }
}

fn print_plan(
    g: &Global,
    what: &str,
    items: &[PlanItem],
    dry_run: bool,
    backup: Option<&Path>,
) -> Result<()> {
    if g.json {
        let v = json!({
            "schema_version": SCHEMA_VERSION,
            "report": what,
            "netns": g.netns,
            "dry_run": dry_run,
            "changes": items,
            "backup": backup.map(|p| p.display().to_string()),
        });
        out::print(&serde_json::to_string_pretty(&v)?)?;
        out::print("\n")?;
        return Ok(());
    }
    let style = out::style(g.color);
    let mut s = String::new();
    let head = match (what, dry_run) {
        ("sysctl-apply", true) => "Would write (dry run, nothing written)",
        ("sysctl-apply", false) => "Wrote",
        (_, true) => "Would restore (dry run, nothing written)",
        (_, false) => "Restored",
    };
    s.push_str(&style.paint(
        Paint::Bold,
        &format!("{head} in {}:", target_label(g.netns.as_deref())),
    ));
    s.push('\n');
    s.push_str(&render_plan(items, &style));
    s.push('\n');
    let ns = g
        .netns
        .as_deref()
        .map(|n| format!("-N {n} "))
        .unwrap_or_default();
    match (what, dry_run, backup) {
        ("sysctl-apply", true, _) => s.push_str(
            "Run again with --yes to write these values; the current ones are saved to a backup \
             file first.\n",
        ),
        ("sysctl-apply", false, Some(b)) => s.push_str(&format!(
            "Previous values saved in {}\nUndo with: tcpdoctor {ns}sysctl --rollback {} --yes\n\
             These writes last until reboot; to keep them, see `tcpdoctor sysctl --emit`.\n",
            b.display(),
            b.display()
        )),
        (_, true, Some(b)) => s.push_str(&format!(
            "From {}\nRun again with --yes to restore these values.\n",
            b.display()
        )),
        (_, false, Some(b)) => {
            s.push_str(&format!("The backup is kept as {}.restored\n", b.display()))
        }
        _ => {}
    }
    out::print(&s)?;
    Ok(())
}

/// `--apply`: plan, validate, (with --yes) back up, write, read back.
fn apply(g: &Global, a: &SysctlArgs) -> Result<ExitCode> {
    // What to write: --set, or the audit's recommendations.
    let mut wanted: Vec<(String, String, String)> = Vec::new();
    if a.set.is_empty() {
        let c = collect(g, &diag_args(a))?;
        let k = context(g)?;
        for r in audit(&k, Some(&c.report)) {
            if let (Verdict::Change, Some(rec)) = (r.verdict, r.recommended) {
                // The finding ids are short enough for the plan; the audit has the words.
                let why = if r.findings.is_empty() {
                    r.reason
                } else {
                    format!("finding {}", r.findings.join(", "))
                };
                wanted.push((r.key, rec, why));
            }
        }
    } else {
        for s in &a.set {
            let (k, v) = parse_set(s)?;
            if wanted.iter().any(|w| w.0 == k) {
                return Err(UserError(format!("--set {k} is given twice")).into());
            }
            wanted.push((k, v, "--set".into()));
        }
    }
    for w in &mut wanted {
        w.0 = check_key(&w.0)?;
    }

    let host = host_values(g, wanted.iter().map(|w| w.0.as_str()));
    let _ns = super::enter_netns(g)?;
    let (mut k, _) = kernel::read_context();
    learn_keys(&mut k, wanted.iter().map(|w| w.0.as_str()))?;
    for (key, val, _) in &wanted {
        refuse_host_wide(&k, &host, key)?;
        validate_write(&k, key, val).map_err(|r| UserError(r.to_string()))?;
    }
    let items: Vec<PlanItem> = wanted
        .into_iter()
        .filter(|(key, val, _)| k.sysctls.get(key).map(|c| norm(c)) != Some(val.clone()))
        .map(|(key, new, reason)| PlanItem {
            current: k.sysctls.get(&key).map(|c| norm(c)),
            key,
            new,
            reason,
        })
        .collect();
    if items.is_empty() {
        if g.json {
            print_plan(g, "sysctl-apply", &items, !a.yes, None)?;
        } else {
            out::print(&format!(
                "Nothing to write in {}: every value is already as asked or as recommended.\n",
                target_label(g.netns.as_deref())
            ))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    for i in &items {
        check_writable(&i.key)?;
    }
    if !a.yes {
        print_plan(g, "sysctl-apply", &items, true, None)?;
        return Ok(ExitCode::SUCCESS);
    }
    require_root("Writing kernel settings")?;
    let backup = write_backup(&a.backup_dir, g.netns.as_deref(), &k, &items)?;
    let mut done: Vec<&PlanItem> = Vec::new();
    for i in &items {
        if let Err(e) = kernel::write_sysctl(&i.key, &i.new) {
            let undo = undo(&done);
            return Err(UserError(format!(
                "writing {} = {} failed ({e}); {undo}; backup kept in {}",
                i.key,
                i.new,
                backup.display()
            ))
            .into());
        }
        done.push(i);
    }
    let read_back = read_back(&items);
    print_plan(g, "sysctl-apply", &items, false, Some(&backup))?;
    finish(read_back)
}

/// Puts back the values already written when a later write fails.
fn undo(done: &[&PlanItem]) -> String {
    let mut failed = Vec::new();
    for i in done.iter().rev() {
        if let Some(old) = &i.current {
            if kernel::write_sysctl(&i.key, old).is_err() {
                failed.push(i.key.clone());
            }
        }
    }
    if done.is_empty() {
        "nothing was changed".into()
    } else if failed.is_empty() {
        format!(
            "the {} setting(s) already written were put back",
            done.len()
        )
    } else {
        format!("could not put back: {}", failed.join(", "))
    }
}

/// Values the kernel reads back differently from what was written.
fn read_back(items: &[PlanItem]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match kernel::read_sysctl(&i.key) {
            Ok(Some(v)) if norm(&v) == i.new => None,
            Ok(v) => Some(format!(
                "{} reads back as {} after writing {}",
                i.key,
                v.as_deref().unwrap_or("nothing"),
                i.new
            )),
            Err(e) => Some(format!("{} cannot be read back: {e}", i.key)),
        })
        .collect()
}

fn finish(mismatches: Vec<String>) -> Result<ExitCode> {
    if mismatches.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(UserError(mismatches.join("; ")).into())
    }
}

/// `20261125T155001.123Z` from Unix milliseconds.
fn stamp(ms: u64) -> String {
    let u = utc(ms); // 2026-11-25 15:50:01 UTC
    let digits: String = u
        .trim_end_matches(" UTC")
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == ' ')
        .collect();
    format!("{}.{:03}Z", digits.replace(' ', "T"), ms % 1000)
}

fn safe_label(netns: Option<&str>) -> String {
    match netns {
        None => "host".into(),
        Some(n) => format!(
            "netns-{}",
            n.chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                })
                .collect::<String>()
        ),
    }
}

/// Saves the current value of every key of the plan; fails (and nothing is written) when the
/// file cannot be created and synced.
fn write_backup(
    dir: &Path,
    netns: Option<&str>,
    k: &KernelContext,
    items: &[PlanItem],
) -> Result<PathBuf> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            UserError(format!(
                "cannot create the backup directory {} ({e}); nothing was written (choose another with --backup-dir)",
                dir.display()
            ))
        })?;
    let ms = now_ms();
    let settings: Vec<Value> = items
        .iter()
        .map(|i| json!({"key": i.key, "old": i.current, "new": i.new}))
        .collect();
    if let Some(i) = items.iter().find(|i| i.current.is_none()) {
        return Err(UserError(format!(
            "the current value of {} could not be read, so it cannot be backed up; nothing was written",
            i.key
        ))
        .into());
    }
    let v = json!({
        "schema_version": SCHEMA_VERSION,
        "kind": BACKUP_KIND,
        "netns": netns,
        "host": kernel::hostname(),
        "kernel_release": k.kernel_release,
        "time_ms": ms,
        "time": utc(ms),
        "settings": settings,
    });
    let text = serde_json::to_string_pretty(&v)? + "\n";
    let base = format!("{BACKUP_PREFIX}{}-{}", safe_label(netns), stamp(ms));
    for n in 0..100u32 {
        let name = if n == 0 {
            format!("{base}.json")
        } else {
            format!("{base}-{n}.json")
        };
        let path = dir.join(name);
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(text.as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| {
                        UserError(format!(
                            "cannot write the backup {} ({e}); nothing was written",
                            path.display()
                        ))
                    })?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(UserError(format!(
                    "cannot create the backup {} ({e}); nothing was written",
                    path.display()
                ))
                .into())
            }
        }
    }
    Err(UserError(format!(
        "too many backups named {base}* in {}",
        dir.display()
    ))
    .into())
}

/// A parsed backup file.
struct Backup {
    netns: Option<String>,
    time_ms: u64,
    /// (key, old, new)
    settings: Vec<(String, String, String)>,
}

fn load_backup(path: &Path) -> Result<Backup> {
    let text = fs::read_to_string(path)
        .map_err(|e| UserError(format!("cannot read the backup {} ({e})", path.display())))?;
    let bad = |what: &str| {
        UserError(format!(
            "{} is not a tcpdoctor sysctl backup: {what}",
            path.display()
        ))
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
    if v["kind"] != BACKUP_KIND {
        return Err(bad("no \"kind\": \"tcpdoctor-sysctl-backup\"").into());
    }
    if v["schema_version"].as_u64() != Some(u64::from(SCHEMA_VERSION)) {
        return Err(bad("unsupported schema_version").into());
    }
    let netns = match &v["netns"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        _ => return Err(bad("\"netns\" is neither a name nor null").into()),
    };
    let mut settings = Vec::new();
    for s in v["settings"]
        .as_array()
        .ok_or_else(|| bad("no \"settings\" list"))?
    {
        match (s["key"].as_str(), s["old"].as_str(), s["new"].as_str()) {
            (Some(k), Some(o), Some(n)) => {
                settings.push((check_key(k)?, norm(o), norm(n)));
            }
            _ => return Err(bad("a setting without key, old and new").into()),
        }
    }
    Ok(Backup {
        netns,
        time_ms: v["time_ms"].as_u64().unwrap_or(0),
        settings,
    })
}

/// The newest unrestored backup of `netns` in `dir`.
fn newest_backup(dir: &Path, netns: Option<&str>) -> Result<(PathBuf, Backup)> {
    let none = || {
        UserError(format!(
            "no backup of {} in {} (`tcpdoctor sysctl --apply --yes` writes one; or give the FILE: --rollback FILE)",
            target_label(netns),
            dir.display()
        ))
    };
    let rd = fs::read_dir(dir).map_err(|_| none())?;
    let mut best: Option<(PathBuf, Backup)> = None;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(BACKUP_PREFIX) || !name.ends_with(".json") {
            continue;
        }
        let path = e.path();
        // Unreadable or foreign files are skipped: they are not this namespace's backups.
        let Ok(b) = load_backup(&path) else { continue };
        if b.netns.as_deref() != netns {
            continue;
        }
        let newer = match &best {
            None => true,
            Some((bp, bb)) => (b.time_ms, &path) > (bb.time_ms, bp),
        };
        if newer {
            best = Some((path, b));
        }
    }
    best.ok_or_else(|| none().into())
}

/// `--rollback [FILE]`.
fn rollback(g: &Global, a: &SysctlArgs, file: Option<&Path>) -> Result<ExitCode> {
    let netns = g.netns.as_deref();
    let (path, b) = match file {
        Some(p) => (p.to_path_buf(), load_backup(p)?),
        None => newest_backup(&a.backup_dir, netns)?,
    };
    if b.netns.as_deref() != netns {
        let hint = match &b.netns {
            Some(n) => format!("run it with -N {n}"),
            None => "run it without -N".into(),
        };
        return Err(UserError(format!(
            "{} was taken in {}, not in {}; {hint}",
            path.display(),
            target_label(b.netns.as_deref()),
            target_label(netns)
        ))
        .into());
    }
    let host = host_values(g, b.settings.iter().map(|s| s.0.as_str()));
    let _ns = super::enter_netns(g)?;
    let (mut k, _) = kernel::read_context();
    learn_keys(&mut k, b.settings.iter().map(|s| s.0.as_str()))?;
    let mut notes = Vec::new();
    let mut items = Vec::new();
    for (key, old, new) in &b.settings {
        refuse_host_wide(&k, &host, key)?;
        match validate_write(&k, key, old) {
            Err(Refusal::Absent(why)) => return Err(UserError(why).into()),
            // The exact previous value is restored even when the check would not choose it:
            // it was this kernel's value before tcpdoctor changed it.
            Err(Refusal::BadValue(why)) => notes.push(format!("restoring anyway: {why}")),
            Ok(()) => {}
        }
        check_writable(key)?;
        items.push(PlanItem {
            key: key.clone(),
            current: k.sysctls.get(key).map(|c| norm(c)),
            new: old.clone(),
            reason: format!("saved before tcpdoctor wrote {new}"),
        });
    }
    if !a.yes {
        print_plan(g, "sysctl-rollback", &items, true, Some(&path))?;
        return Ok(ExitCode::SUCCESS);
    }
    require_root("Restoring kernel settings")?;
    // Reverse order: the opposite of the order they were written in.
    for i in items.iter().rev() {
        kernel::write_sysctl(&i.key, &i.new).map_err(|e| {
            UserError(format!(
                "restoring {} = {} failed ({e}); the backup {} is kept, run the rollback again",
                i.key,
                i.new,
                path.display()
            ))
        })?;
    }
    let mismatches = read_back(&items);
    if mismatches.is_empty() {
        let mut done = path.clone().into_os_string();
        done.push(".restored");
        fs::rename(&path, &done).with_context(|| {
            format!(
                "restored, but could not rename {} to mark it restored",
                path.display()
            )
        })?;
    }
    print_plan(g, "sysctl-rollback", &items, false, Some(&path))?;
    if !notes.is_empty() && !g.json {
        out::print(&(notes.join("\n") + "\n"))?;
    }
    finish(mismatches)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_net_only_and_plain() {
        assert_eq!(
            check_key("net.ipv4.tcp_fin_timeout").unwrap(),
            "net.ipv4.tcp_fin_timeout"
        );
        assert_eq!(
            check_key("net/core/somaxconn").unwrap(),
            "net.core.somaxconn"
        );
        for bad in [
            "kernel.pid_max",
            "net..x",
            "net.ipv4/../../kernel",
            "vm.swappiness",
            "net.a b",
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_set("net.ipv4.ip_local_port_range=\"20000   30000\"").unwrap(),
            ("net.ipv4.ip_local_port_range".into(), "20000 30000".into())
        );
        assert!(parse_set("net.ipv4.tcp_fin_timeout").is_err());
        assert!(parse_set("net.ipv4.tcp_fin_timeout=").is_err());
    }

    #[test]
    fn stamps_and_labels() {
        assert_eq!(stamp(1_764_085_801_123), "20251125T155001.123Z");
        assert_eq!(safe_label(None), "host");
        assert_eq!(safe_label(Some("a.b/c")), "netns-a_b_c");
    }
}
