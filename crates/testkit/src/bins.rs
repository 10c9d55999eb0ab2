//! Finding the workspace's binaries from a test.
//!
//! **The `tcpdoctor` binary** in the cli crate's own integration tests: use
//! `env!("CARGO_BIN_EXE_tcpdoctor")` (cargo builds it for them). Elsewhere:
//! [`workspace_bin`]`("tcpdoctor")`.
//!
//! **The scenario binary** (`tcpdoctor-scenario`, a binary of this crate): cargo only builds a
//! package's binaries for that package's own tests, so a test in `crates/cli/tests` cannot rely on
//! `CARGO_BIN_EXE_tcpdoctor-scenario`. [`scenario_bin`] resolves it in this order:
//!
//! 1. `TCPDOCTOR_SCENARIO_BIN` in the environment, if set (must exist);
//! 2. `<target>/<profile>/tcpdoctor-scenario` next to the running test executable (found from
//!    `current_exe()`, which cargo puts in `<target>/<profile>/deps/`), if it exists and is newer
//!    than every source file of this crate and of the model crate. A workspace-wide
//!    `cargo test` (the project's test command) builds it before any test runs;
//! 3. otherwise it runs `cargo build -p tcpdoctor-testkit --bin tcpdoctor-scenario` once per
//!    process with the same target directory and profile (cargo from `$CARGO`, else `PATH`),
//!    so `cargo test -p tcpdoctor` on a clean clone works too.

use crate::cmd::run_with_timeout;
use crate::KitError;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The scenario binary's name.
pub const SCENARIO_BIN: &str = "tcpdoctor-scenario";

/// This crate's directory at build time (`crates/testkit`).
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

fn bin_err(name: &str, detail: impl Into<String>) -> KitError {
    KitError::Binary {
        name: name.to_string(),
        detail: detail.into(),
    }
}

/// The cargo profile directory of the running test executable: `<target>/<profile>` for
/// `<target>/<profile>/deps/<test>-<hash>`, else the executable's own directory.
pub fn profile_dir() -> Result<PathBuf, KitError> {
    let exe = std::env::current_exe().map_err(|e| KitError::Io {
        what: "current_exe".into(),
        source: e,
    })?;
    let dir = exe
        .parent()
        .ok_or_else(|| bin_err("current_exe", "has no parent directory"))?;
    Ok(if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    })
}

/// `<profile_dir>/<name>`, which must exist (cargo built it: e.g. `tcpdoctor` during a
/// workspace `cargo test`).
pub fn workspace_bin(name: &str) -> Result<PathBuf, KitError> {
    let p = profile_dir()?.join(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(bin_err(
            name,
            format!(
                "{} does not exist; build it first (cargo build)",
                p.display()
            ),
        ))
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// The newest modification time of the files under `dir` (bounded walk).
fn newest_in(dir: &Path, depth: u32, newest: &mut Option<SystemTime>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten().take(10_000) {
        let p = e.path();
        if p.is_dir() {
            if depth > 0 {
                newest_in(&p, depth - 1, newest);
            }
        } else if let Some(t) = mtime(&p) {
            match newest {
                Some(n) if *n >= t => {}
                _ => *newest = Some(t),
            }
        }
    }
}

fn sources_newest() -> Option<SystemTime> {
    let here = Path::new(MANIFEST_DIR);
    let mut newest = mtime(&here.join("Cargo.toml"));
    newest_in(&here.join("src"), 4, &mut newest);
    newest_in(&here.join("../model/src"), 4, &mut newest);
    newest
}

fn is_fresh(bin: &Path) -> bool {
    match (mtime(bin), sources_newest()) {
        (Some(b), Some(s)) => b >= s,
        (Some(_), None) => true, // sources not on this machine: trust the binary
        _ => false,
    }
}

static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The path of `tcpdoctor-scenario`, building it when needed (see the module doc).
pub fn scenario_bin() -> Result<PathBuf, KitError> {
    if let Some(p) = std::env::var_os("TCPDOCTOR_SCENARIO_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(bin_err(
                SCENARIO_BIN,
                format!("TCPDOCTOR_SCENARIO_BIN={} is not a file", p.display()),
            ))
        };
    }
    let profile = profile_dir()?;
    let candidate = profile.join(SCENARIO_BIN);
    if candidate.is_file() && is_fresh(&candidate) {
        return Ok(candidate);
    }
    // One build per process; parallel tests wait for it.
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(p) = built.as_ref() {
        return Ok(p.clone());
    }
    let target = profile
        .parent()
        .ok_or_else(|| bin_err(SCENARIO_BIN, "no target directory"))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--quiet",
        "-p",
        "tcpdoctor-testkit",
        "--bin",
        SCENARIO_BIN,
    ])
    .arg("--manifest-path")
    .arg(Path::new(MANIFEST_DIR).join("Cargo.toml"))
    .arg("--target-dir")
    .arg(target);
    match profile.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
    }
    let out = run_with_timeout(&mut cmd, Duration::from_secs(900))?;
    if !out.status.success() {
        return Err(bin_err(
            SCENARIO_BIN,
            format!("cargo build failed: {}", out.stderr.trim()),
        ));
    }
    if !candidate.is_file() {
        return Err(bin_err(
            SCENARIO_BIN,
            format!(
                "built, but {} is not there; set TCPDOCTOR_SCENARIO_BIN",
                candidate.display()
            ),
        ));
    }
    *built = Some(candidate.clone());
    Ok(candidate)
}
