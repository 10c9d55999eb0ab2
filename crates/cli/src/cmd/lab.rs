//! `tcpdoctor lab`: list, run, clean, and the hidden worker the lab starts in its namespaces.

use crate::cli::{Global, LabArgs, LabCommand};
use crate::out::print;
use crate::UserError;
use anyhow::Result;
use std::process::ExitCode;
use tcpdoctor_lab::{scenarios, LabError, RunOptions, StateFile, DEFAULT_STATE};

fn user(e: LabError) -> anyhow::Error {
    UserError(e.to_string()).into()
}

/// Runs a `lab` command.
pub fn run(g: &Global, a: LabArgs) -> Result<ExitCode> {
    match a.command {
        LabCommand::List => {
            let all = scenarios();
            if g.json {
                print(&(serde_json::to_string_pretty(&all)? + "\n"))?;
            } else {
                print(&tcpdoctor_lab::text::list(&all))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Worker { spec } => {
            let spec: tcpdoctor_lab::worker::WorkerSpec = serde_json::from_str(&spec)
                .map_err(|e| UserError(format!("bad worker spec: {e}")))?;
            let mut out = std::io::stdout();
            tcpdoctor_lab::worker::run_worker(&spec, &mut out).map_err(user)?;
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Clean => {
            if !tcpdoctor_lab::is_root() {
                return Err(user(LabError::NotRoot));
            }
            let r = tcpdoctor_lab::clean::clean(&StateFile::new(DEFAULT_STATE)).map_err(user)?;
            print(&tcpdoctor_lab::text::clean(&r))?;
            Ok(if r.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        LabCommand::Run {
            name,
            duration,
            rate,
            keep,
            check,
        } => {
            let sc = tcpdoctor_lab::find(&name)
                .ok_or_else(|| user(LabError::UnknownScenario(name.clone())))?;
            if !tcpdoctor_lab::is_root() {
                return Err(user(LabError::NotRoot));
            }
            tcpdoctor_lab::signals::install()?;
            let opts = RunOptions {
                duration_s: duration,
                rate,
                keep,
                exe: std::env::current_exe()?,
                state: StateFile::new(DEFAULT_STATE),
            };
            #[allow(clippy::print_stderr)]
            let mut progress = |s: &str| eprintln!("lab: {s}");
            let outcome = match tcpdoctor_lab::run(&sc, &opts, &mut progress) {
                Ok(o) => o,
                Err(LabError::Interrupted) => {
                    #[allow(clippy::print_stderr)]
                    {
                        eprintln!("tcpdoctor: {}", LabError::Interrupted);
                    }
                    return Ok(ExitCode::from(130));
                }
                Err(e) => return Err(user(e)),
            };
            let mut text = tcpdoctor_lab::text::outcome(&outcome);
            if check {
                text.push_str(&tcpdoctor_lab::text::check(&outcome.check));
            }
            print(&text)?;
            Ok(if check && !outcome.check.passed() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
