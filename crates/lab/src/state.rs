//! The lab's state file (`/run/tcpdoctor-lab/state.json`): which namespaces, processes and
//! directories each run created, so that `tcpdoctor lab clean` can remove the leftovers of a
//! crashed or `--keep` run, killing only processes the lab started (pid + start time).

use crate::error::LabError;
use crate::procs::ProcRecord;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// Where the state lives by default.
pub const DEFAULT_STATE: &str = "/run/tcpdoctor-lab/state.json";

/// One run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Unique id (`<pid>-<start time>`).
    pub id: String,
    /// Scenario name.
    pub scenario: String,
    /// The `tcpdoctor lab run` process.
    pub owner: ProcRecord,
    /// Namespaces created (`ip netns` names).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Processes started.
    #[serde(default)]
    pub processes: Vec<ProcRecord>,
    /// Directories created (MariaDB's datadir).
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
    /// Kept on purpose with `--keep`.
    #[serde(default)]
    pub kept: bool,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Runs not yet cleaned up.
    #[serde(default)]
    pub runs: Vec<RunRecord>,
}

/// The state file, locked (flock) while it is read and written.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The file at `path` (its directory is created on first write).
    pub fn new(path: impl Into<PathBuf>) -> StateFile {
        StateFile { path: path.into() }
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> Result<File, LabError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| LabError::io(format!("creating {}", dir.display()), e))?;
        let lock_path = self.path.with_extension("lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| LabError::io(format!("opening {}", lock_path.display()), e))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| LabError::io(format!("locking {}", lock_path.display()), e.into()))?;
        Ok(f)
    }

    /// Reads the state (empty when the file does not exist). A corrupt file is an error that
    /// names it, never silently dropped.
    pub fn load(&self) -> Result<State, LabError> {
        let _l = self.lock()?;
        self.read_unlocked()
    }

    fn read_unlocked(&self) -> Result<State, LabError> {
        match std::fs::read_to_string(&self.path) {
            Ok(t) if t.trim().is_empty() => Ok(State::default()),
            Ok(t) => serde_json::from_str(&t).map_err(|e| {
                LabError::Protocol(format!(
                    "{} is not a lab state file ({e}); look at it, remove it, and delete namespaces named tcpdoctor-lab-* by hand",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(LabError::io(format!("reading {}", self.path.display()), e)),
        }
    }

    /// Reads, changes and writes the state under the lock (atomically: a temporary file renamed).
    pub fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, LabError> {
        let _l = self.lock()?;
        let mut s = self.read_unlocked()?;
        let r = f(&mut s);
        let text =
            serde_json::to_string_pretty(&s).map_err(|e| LabError::Protocol(e.to_string()))?;
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text + "\n")
            .map_err(|e| LabError::io(format!("writing {}", tmp.display()), e))?;
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| LabError::io(format!("renaming to {}", self.path.display()), e))?;
        Ok(r)
    }

    /// Adds or replaces a run.
    pub fn put(&self, run: &RunRecord) -> Result<(), LabError> {
        self.update(|s| {
            s.runs.retain(|r| r.id != run.id);
            s.runs.push(run.clone());
        })
    }

    /// Removes a run.
    pub fn remove(&self, id: &str) -> Result<(), LabError> {
        self.update(|s| s.runs.retain(|r| r.id != id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("tcpdoctor-lab-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d.join("state.json")
    }

    fn rec(id: &str) -> RunRecord {
        RunRecord {
            id: id.into(),
            scenario: "server-close-storm".into(),
            owner: ProcRecord {
                pid: 1,
                start_time: 2,
                what: "lab".into(),
            },
            namespaces: vec!["tcpdoctor-lab-1-c".into()],
            processes: vec![ProcRecord {
                pid: 3,
                start_time: 4,
                what: "w".into(),
            }],
            dirs: vec![],
            kept: false,
        }
    }

    #[test]
    fn put_replace_remove_round_trip() {
        let p = tmp("rt");
        let f = StateFile::new(&p);
        assert_eq!(f.load().unwrap(), State::default());
        f.put(&rec("a")).unwrap();
        f.put(&rec("b")).unwrap();
        let mut a2 = rec("a");
        a2.namespaces.push("x".into());
        f.put(&a2).unwrap();
        let s = f.load().unwrap();
        assert_eq!(s.runs.len(), 2);
        assert_eq!(s.runs[1], a2);
        f.remove("b").unwrap();
        assert_eq!(f.load().unwrap().runs, vec![a2]);
        // The file is plain JSON.
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(v["runs"][0]["namespaces"][1], "x");
        assert_eq!(v["runs"][0]["processes"][0]["start_time"], 4);
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }

    #[test]
    fn corrupt_file_is_an_error_not_an_empty_state() {
        let p = tmp("bad");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "{not json").unwrap();
        let e = StateFile::new(&p).load().unwrap_err().to_string();
        assert!(e.contains("is not a lab state file"), "{e}");
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }
}
