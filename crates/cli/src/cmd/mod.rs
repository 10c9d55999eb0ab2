//! One module per command; each wires one source to one consumer.

mod analyze;
mod check;
mod diagnose;
mod generate;
mod lab;
mod ls;
mod summary;
mod sysctl;

use crate::cli::{Cli, Command, FilterArgs, Global, SourceArg};
use crate::UserError;
use anyhow::Result;
use std::process::ExitCode;
use tcpdoctor_model::{SocketFilter, StateSet};
use tcpdoctor_sources::live::{LiveOptions, SourceChoice};
use tcpdoctor_sources::sys::{self, NetnsGuard};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let g = cli.global;
    match cli.command {
        None => diagnose::run(&g, &cli.diagnose, &cli.mysql),
        Some(Command::Summary(a)) => summary::run(&g, &a),
        Some(Command::Analyze(a)) => analyze::run(&g, &a),
        Some(Command::Ls(a)) => ls::run(&g, &a),
        Some(Command::Sysctl(a)) => sysctl::run(&g, &a),
        Some(Command::Check(a)) => check::run(&g, &a),
        Some(Command::Lab(a)) => lab::run(&g, a),
        Some(Command::Generate { kind, out_dir }) => generate::run(kind, out_dir.as_deref()),
    }
}

/// Enters the namespace named by `-N`, if any; the guard returns on drop.
pub fn enter_netns(g: &Global) -> Result<Option<NetnsGuard>> {
    match &g.netns {
        None => Ok(None),
        Some(name) => match sys::enter_netns(name) {
            Ok(guard) => Ok(Some(guard)),
            Err(e) => Err(UserError(e.to_string()).into()),
        },
    }
}

/// The model filter from the command-line filters.
pub fn filter(a: &FilterArgs) -> SocketFilter {
    let states = if a.state.is_empty() {
        StateSet::ALL
    } else {
        a.state.iter().fold(StateSet::EMPTY, |acc, s| acc.union(*s))
    };
    SocketFilter {
        states,
        sport: a.sport.clone(),
        dport: a.dport.clone(),
        src: a.src.clone(),
        dst: a.dst.clone(),
        pids: a.pid.clone(),
        process: a.process.clone(),
    }
}

/// Live-source options for a command.
pub fn live_options(g: &Global, filter: SocketFilter, owners: bool) -> LiveOptions {
    LiveOptions {
        source: match g.source {
            SourceArg::Auto => SourceChoice::Auto,
            SourceArg::Netlink => SourceChoice::Netlink,
            SourceArg::Proc => SourceChoice::Proc,
        },
        filter,
        owners,
        netns: g.netns.clone(),
    }
}

/// The local ports something listens on, from a LISTEN-only dump (the kernel answers it from
/// the listening hash alone, so it is cheap). Needed before the main pass because a
/// connection may come before its listener in a dump of both families.
pub fn listening_ports(g: &Global) -> Result<tcpdoctor_diagnose::ListeningPorts> {
    use tcpdoctor_model::{Socket, TcpState};
    let mut ports = tcpdoctor_diagnose::ListeningPorts::new();
    let lf = SocketFilter {
        states: StateSet::one(TcpState::Listen),
        ..Default::default()
    };
    let lopts = live_options(g, lf, false);
    tcpdoctor_sources::live::scan(
        &lopts,
        &mut tcpdoctor_model::FnSink(|s: &Socket| ports.observe(s)),
    )?;
    Ok(ports)
}
