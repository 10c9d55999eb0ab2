//! `tcpdoctor ls`: one line per socket, like `ss -tanpo`, streamed.
//!
//! Column widths come from the first rows (up to [`LsWriter::WIDTH_SAMPLE`]) and only grow
//! afterwards, so output starts at once and a million rows never sit in memory. JSON is one
//! object whose `sockets` array is written as the sockets arrive; `total`, `states` and `scan`
//! (with its gaps) follow at the end, once known.

use crate::fmt::{duration_ms, Paint, Style};
use std::io::{self, Write};
use tcpdoctor_model::{ScanInfo, Socket, StateCounts, TcpState, SCHEMA_VERSION};

/// Output mode of `ls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LsMode {
    /// Aligned text.
    Text,
    /// The JSON contract.
    Json,
}

/// Streams `ls` output to a writer. Write errors (a closed pipe) are kept and returned by
/// [`LsWriter::finish`]; after the first one nothing more is written.
pub struct LsWriter<W: Write> {
    out: W,
    mode: LsMode,
    style: Style,
    show_owner: bool,
    pending: Vec<[String; 7]>,
    widths: [usize; 7],
    started: bool,
    counts: StateCounts,
    error: Option<io::Error>,
}

const HEADER: [&str; 7] = [
    "State", "Recv-Q", "Send-Q", "Local", "Peer", "Timer", "Process",
];

impl<W: Write> LsWriter<W> {
    /// Rows used to size the columns before the first line is printed.
    pub const WIDTH_SAMPLE: usize = 512;

    /// A writer; `show_owner` adds the Process column.
    pub fn new(out: W, mode: LsMode, style: Style, show_owner: bool) -> LsWriter<W> {
        let mut widths = [0; 7];
        for (w, h) in widths.iter_mut().zip(HEADER) {
            *w = h.len();
        }
        LsWriter {
            out,
            mode,
            style,
            show_owner,
            pending: Vec::new(),
            widths,
            started: false,
            counts: StateCounts::default(),
            error: None,
        }
    }

    fn cells(&self, s: &Socket) -> [String; 7] {
        let q = |v: Option<u32>| v.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
        let timer = match s.timer {
            Some(t) if s.retransmits > 0 => {
                format!(
                    "{},{},{}",
                    t.kind.name(),
                    duration_ms(t.expires_ms),
                    s.retransmits
                )
            }
            Some(t) => format!("{},{}", t.kind.name(), duration_ms(t.expires_ms)),
            None => String::new(),
        };
        let owner = if self.show_owner {
            s.owners
                .iter()
                .map(|p| format!("{}({})", p.comm, p.pid))
                .collect::<Vec<_>>()
                .join(",")
        } else {
            String::new()
        };
        [
            s.state.name().to_string(),
            q(s.recv_q),
            q(s.send_q),
            s.local.to_string(),
            s.remote.to_string(),
            timer,
            owner,
        ]
    }

    fn format_row(&self, c: &[String; 7], paint_state: bool) -> String {
        let mut line = String::with_capacity(128);
        let last = if self.show_owner { 6 } else { 5 };
        for (i, cell) in c.iter().enumerate().take(last + 1) {
            let w = self.widths[i];
            let fill = " ".repeat(w.saturating_sub(cell.chars().count()));
            if i == 1 || i == 2 {
                line.push_str(&fill);
                line.push_str(cell);
            } else if i == last {
                line.push_str(cell);
            } else if i == 0 && paint_state {
                let painted = match TcpState::parse(cell) {
                    Some(TcpState::CloseWait) => self.style.paint(Paint::Yellow, cell),
                    Some(TcpState::Listen) => self.style.paint(Paint::Cyan, cell),
                    _ => cell.clone(),
                };
                line.push_str(&painted);
                line.push_str(&fill);
            } else {
                line.push_str(cell);
                line.push_str(&fill);
            }
            if i != last {
                line.push_str("  ");
            }
        }
        let n = line.trim_end().len();
        line.truncate(n);
        line.push('\n');
        line
    }

    fn start_text(&mut self) -> io::Result<()> {
        self.started = true;
        let header: [String; 7] = HEADER.map(String::from);
        let head = self.format_row(&header, false);
        let head = self.style.paint(Paint::Bold, head.trim_end());
        writeln!(self.out, "{head}")?;
        let pending = std::mem::take(&mut self.pending);
        for c in &pending {
            let line = self.format_row(c, true);
            self.out.write_all(line.as_bytes())?;
        }
        Ok(())
    }

    fn push_inner(&mut self, s: &Socket) -> io::Result<()> {
        self.counts.add(s.state);
        match self.mode {
            LsMode::Json => {
                if !self.started {
                    self.started = true;
                    writeln!(
                        self.out,
                        "{{\"schema_version\":{SCHEMA_VERSION},\"report\":\"ls\",\"sockets\":["
                    )?;
                } else {
                    self.out.write_all(b",\n")?;
                }
                serde_json::to_writer(&mut self.out, s).map_err(io::Error::from)?;
            }
            LsMode::Text => {
                let c = self.cells(s);
                for (w, x) in self.widths.iter_mut().zip(c.iter()) {
                    *w = (*w).max(x.chars().count());
                }
                if self.started {
                    let line = self.format_row(&c, true);
                    self.out.write_all(line.as_bytes())?;
                } else {
                    self.pending.push(c);
                    if self.pending.len() >= Self::WIDTH_SAMPLE {
                        self.start_text()?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the end (JSON: totals and provenance) and returns the first write error.
    pub fn finish(mut self, scan: &ScanInfo) -> io::Result<StateCounts> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match self.mode {
            LsMode::Json => {
                if !self.started {
                    write!(
                        self.out,
                        "{{\"schema_version\":{SCHEMA_VERSION},\"report\":\"ls\",\"sockets\":["
                    )?;
                }
                write!(
                    self.out,
                    "\n],\"total\":{},\"states\":",
                    self.counts.total()
                )?;
                serde_json::to_writer(&mut self.out, &self.counts).map_err(io::Error::from)?;
                self.out.write_all(b",\"scan\":")?;
                serde_json::to_writer(&mut self.out, scan).map_err(io::Error::from)?;
                self.out.write_all(b"}\n")?;
            }
            LsMode::Text => {
                if !self.started {
                    self.start_text()?;
                }
            }
        }
        self.out.flush()?;
        Ok(self.counts)
    }
}

impl<W: Write> tcpdoctor_model::SocketSink for LsWriter<W> {
    fn stopped(&self) -> bool {
        self.error.is_some()
    }

    fn socket(&mut self, s: &Socket) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.push_inner(s) {
            self.error = Some(e);
        }
    }
}
