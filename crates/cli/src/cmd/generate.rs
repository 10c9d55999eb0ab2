//! `tcpdoctor generate man|bash|zsh|fish`: the man page and completions, from the clap CLI.

use crate::cli::{Cli, GenerateKind};
use anyhow::{Context, Result};
use clap::CommandFactory;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Writes the requested artefact to stdout or into `out_dir`.
pub fn run(kind: GenerateKind, out_dir: Option<&Path>) -> Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    let file = match kind {
        GenerateKind::Man => {
            clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
            "tcpdoctor.1"
        }
        GenerateKind::Bash => {
            clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "tcpdoctor", &mut buf);
            "tcpdoctor.bash"
        }
        GenerateKind::Zsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "tcpdoctor", &mut buf);
            "_tcpdoctor"
        }
        GenerateKind::Fish => {
            clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, "tcpdoctor", &mut buf);
            "tcpdoctor.fish"
        }
    };
    match out_dir {
        Some(d) => {
            let p = d.join(file);
            std::fs::write(&p, &buf).with_context(|| format!("writing {}", p.display()))?;
        }
        None => {
            let mut o = std::io::stdout().lock();
            o.write_all(&buf)?;
            o.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
