//! `tcpdoctor ls`: live source -> streaming line printer.

use crate::cli::{Global, LsArgs};
use crate::out;
use anyhow::Result;
use std::io::{self, BufWriter};
use std::process::ExitCode;
use tcpdoctor_render::ls::{LsMode, LsWriter};
use tcpdoctor_sources::live;

/// Runs `ls`.
pub fn run(g: &Global, a: &LsArgs) -> Result<ExitCode> {
    let f = super::filter(&a.filter);
    let show_owner = a.processes || f.needs_owners();
    let _ns = super::enter_netns(g)?;
    let opts = super::live_options(g, f, show_owner);
    let stdout = io::stdout();
    let mode = if g.json { LsMode::Json } else { LsMode::Text };
    let mut w = LsWriter::new(
        BufWriter::with_capacity(64 * 1024, stdout.lock()),
        mode,
        out::style(g.color),
        show_owner,
    );
    let info = live::scan(&opts, &mut w)?;
    w.finish(&info)?;
    if !g.json && !info.gaps.is_empty() {
        let notes = tcpdoctor_render::summary::render_gaps(&info, &out::style(g.color));
        #[allow(clippy::print_stderr)]
        {
            eprint!("{}", notes.trim_start_matches('\n'));
        }
    }
    Ok(ExitCode::SUCCESS)
}
