//! Output plumbing: colour decision, locked buffered stdout.

use crate::cli::ColorArg;
use std::io::{self, IsTerminal, Write};
use tcpdoctor_render::Style;

/// Decides colour: `always`, `never`, or on a terminal when `NO_COLOR` is unset or empty.
pub fn style(arg: ColorArg) -> Style {
    let color = match arg {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    Style { color }
}

/// Writes a whole string to stdout and flushes (errors, including a closed pipe, returned).
pub fn print(s: &str) -> io::Result<()> {
    let mut o = io::stdout().lock();
    o.write_all(s.as_bytes())?;
    o.flush()
}
