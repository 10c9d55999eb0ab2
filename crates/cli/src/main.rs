//! The `tcpdoctor` binary: parses the command line and wires one source to one consumer.
//!
//! Exit status (a contract): 0 success; 1 a finding reached `--fail-on` (diagnosis commands);
//! 2 error: bad arguments, no permission, unknown namespace, unreadable input. A closed output
//! pipe (`tcpdoctor ls | head`) is not an error.

mod cli;
mod cmd;
mod out;

use clap::Parser;
use std::io;
use std::process::ExitCode;

/// An error whose message is already a complete sentence for the user; printed as
/// `tcpdoctor: <message>` with exit status 2.
#[derive(Debug)]
pub struct UserError(pub String);

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// `tcpdoctor check` follows monitoring-plugin conventions even for its own usage errors:
/// `TCP UNKNOWN - ...` and exit 3, never clap's exit 2 (which a plugin host reads as CRITICAL).
fn parse_args() -> Result<cli::Cli, ExitCode> {
    match cli::Cli::try_parse() {
        Ok(c) => Ok(c),
        Err(e) => {
            use clap::error::ErrorKind;
            let is_check = std::env::args().skip(1).any(|a| a == "check");
            let is_output = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
            if is_check && !is_output {
                let msg = e.to_string();
                let first = msg.lines().next().unwrap_or("invalid arguments");
                let first = first.trim_start_matches("error: ");
                #[allow(clippy::print_stdout)]
                {
                    println!("TCP UNKNOWN - {first}");
                }
                return Err(ExitCode::from(3));
            }
            e.exit()
        }
    }
}

fn main() -> ExitCode {
    let cli = match parse_args() {
        Ok(c) => c,
        Err(code) => return code,
    };
    match cmd::run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                if e.downcast_ref::<UserError>().is_some() {
                    eprintln!("tcpdoctor: {e}");
                } else {
                    eprintln!("tcpdoctor: {e:#}");
                }
            }
            ExitCode::from(2)
        }
    }
}
