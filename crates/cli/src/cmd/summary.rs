//! `tcpdoctor summary`: live source -> counter (+ group aggregator) -> summary report.

use crate::cli::{ByArg, Global, SummaryArgs};
use crate::out;
use anyhow::Result;
use std::process::ExitCode;
use std::sync::Arc;
use tcpdoctor_diagnose::{GroupAggregator, GroupBy, ListeningPorts};
use tcpdoctor_model::{Socket, SocketSink};
use tcpdoctor_render::summary::{render_json, render_text, SummaryCounter, SummaryReport};
use tcpdoctor_sources::{kernel, live};

struct Tee<'a> {
    counter: SummaryCounter,
    groups: Option<&'a mut GroupAggregator>,
}

impl SocketSink for Tee<'_> {
    #[inline]
    fn socket(&mut self, s: &Socket) {
        self.counter.socket(s);
        if let Some(g) = self.groups.as_deref_mut() {
            g.socket(s);
        }
    }
}

/// Runs `summary`.
pub fn run(g: &Global, a: &SummaryArgs) -> Result<ExitCode> {
    let f = super::filter(&a.filter);
    let by = a.by.map(|b| match b {
        ByArg::Service => GroupBy::Service,
        ByArg::Peer => GroupBy::Peer,
        ByArg::Process => GroupBy::Process,
        ByArg::State => GroupBy::State,
    });
    let owners = by == Some(GroupBy::Process);
    let filtered = !f.states.is_all() || !f.is_state_only();
    let _ns = super::enter_netns(g)?;

    let listening = if by == Some(GroupBy::Service) {
        super::listening_ports(g)?
    } else {
        ListeningPorts::new()
    };

    let opts = super::live_options(g, f, owners);
    let services = Arc::clone(crate::cli::services());
    let mut agg = by.map(|b| GroupAggregator::new(b, listening, services, owners));
    let mut tee = Tee {
        counter: SummaryCounter::default(),
        groups: agg.as_mut(),
    };
    let info = live::scan(&opts, &mut tee)?;
    let counter = tee.counter;
    let sockstat = kernel::read_sockstat();
    let groups = agg.map(|a2| a2.finish(a.top));
    let report = SummaryReport::new(&counter, filtered, sockstat, groups, info);
    if g.json {
        out::print(&render_json(&report)?)?;
        out::print("\n")?;
    } else {
        out::print(&render_text(&report, &out::style(g.color)))?;
    }
    Ok(ExitCode::SUCCESS)
}
