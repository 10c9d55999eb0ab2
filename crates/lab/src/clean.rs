//! `tcpdoctor lab clean`: removes what crashed or `--keep` runs left behind.

use crate::error::LabError;
use crate::run::{remove_run, NS_PREFIX};
use crate::state::{RunRecord, StateFile};
use serde::Serialize;

/// What `clean` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanReport {
    /// Runs removed (scenario names with their ids).
    pub runs: Vec<String>,
    /// Processes that were still running and were stopped (`what[pid]`).
    pub killed: Vec<String>,
    /// Namespaces deleted.
    pub namespaces: Vec<String>,
    /// Runs left alone because their `lab run` is still going.
    pub live: Vec<String>,
    /// Problems.
    pub errors: Vec<String>,
}

fn ns_exists(name: &str) -> bool {
    std::path::Path::new("/run/netns").join(name).exists()
}

/// Cleans every run of the state file whose owner is gone (or was kept), then any namespace
/// named `tcpdoctor-lab-<pid>-...` whose `<pid>` is no longer running.
pub fn clean(state: &StateFile) -> Result<CleanReport, LabError> {
    let mut rep = CleanReport::default();
    let runs = state.load()?.runs;
    let me = std::process::id();
    for r in runs {
        if r.owner.pid != me && r.owner.is_alive() && !r.kept {
            rep.live.push(format!("{} ({})", r.scenario, r.id));
            continue;
        }
        rep.killed.extend(
            r.processes
                .iter()
                .filter(|p| p.is_alive())
                .map(|p| format!("{}[{}]", p.what, p.pid)),
        );
        rep.namespaces
            .extend(r.namespaces.iter().filter(|n| ns_exists(n)).cloned());
        rep.errors.extend(remove_run(&r));
        state.remove(&r.id)?;
        rep.runs.push(format!("{} ({})", r.scenario, r.id));
    }
    // Namespaces of runs that crashed before they were recorded.
    if let Ok(dir) = std::fs::read_dir("/run/netns") {
        for e in dir.flatten().take(10_000) {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = stray_owner(&name) else {
                continue;
            };
            if pid == me || crate::procs::is_running(pid) {
                continue;
            }
            let r = RunRecord {
                id: String::new(),
                scenario: String::new(),
                owner: crate::procs::ProcRecord {
                    pid,
                    start_time: 0,
                    what: String::new(),
                },
                namespaces: vec![name.clone()],
                processes: vec![],
                dirs: vec![],
                kept: false,
            };
            rep.errors.extend(remove_run(&r));
            rep.namespaces.push(name);
        }
    }
    Ok(rep)
}

/// The owner pid of a lab namespace name (`tcpdoctor-lab-1234-client` gives 1234).
pub fn stray_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(NS_PREFIX)?;
    let (pid, side) = rest.split_once('-')?;
    if side != "client" && side != "server" {
        return None;
    }
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stray_names() {
        assert_eq!(stray_owner("tcpdoctor-lab-1234-client"), Some(1234));
        assert_eq!(stray_owner("tcpdoctor-lab-1234-server"), Some(1234));
        assert_eq!(stray_owner("tcpdoctor-lab-1234-other"), None);
        assert_eq!(stray_owner("tcpdoctor-lab-x-client"), None);
        assert_eq!(stray_owner("other-1234-client"), None);
    }
}
