//! Reading big inputs on several cores while keeping every event in input order.
//!
//! The input is cut into chunks at line ends. Worker threads split, decode, tokenise and read
//! the rows of a chunk with the table layout the parser had when the chunk was sent (a
//! "hint"), and compute each row's duplicate fingerprint. The calling thread then walks the
//! chunk's lines in order: a line read under the layout the parser is in *now* goes through
//! [`Parser::fast_line`] (snapshot bookkeeping, duplicate check, sink); every other line
//! (headers, commands, notes, blank lines, unknown states, bad rows, or a layout that changed
//! in between) is read again by the ordinary [`Parser::feed_line`]. The result is exactly the
//! sequential parse; only the work is spread.
//!
//! Memory: at most `2 × workers` chunks of [`CHUNK`] bytes are in flight, each with its
//! decoded sockets (about 3 MB per chunk of a typical `netstat` listing).

use crate::api::{TextError, TextSink};
use crate::dedupe::fingerprint;
use crate::parser::{fast_user_inode, read_row, Parser, Pre, Section};
use crate::rows::{fast_linux_row, tokenize, Compact, Row, RowFacts, RowState, SsContext, Toks};
use crate::words::proto_word;
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use tcpdoctor_model::{Socket, TcpState};

/// Bytes per chunk.
pub(crate) const CHUNK: usize = 1 << 20;

/// One worker result per line.
enum Res {
    /// Read it again on the calling thread (`end` = offset of the line's `\n` or end).
    Slow { start: u32, end: u32 },
    /// Already read: `socket` indexes the chunk's socket vector (for TCP rows).
    Fast {
        pre: Pre,
        socket: u32,
        start: u32,
        end: u32,
    },
    /// A simple Linux row, read by the fast path, with its fingerprint.
    Compact {
        row: Compact,
        fp: u64,
        start: u32,
        end: u32,
    },
}

struct Job {
    data: Vec<u8>,
    hint: (Section, SsContext),
    socks: Vec<Socket>,
    res: Vec<Res>,
}

fn blank() -> Socket {
    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    Socket::new(TcpState::Close, any, any)
}

/// Reads every line of a chunk (runs on a worker).
fn work(job: &mut Job, opts: &crate::api::ParseOptions) {
    job.res.clear();
    let mut used = 0usize;
    let mut spans: Vec<(u32, u32)> = Vec::with_capacity(96);
    let data = &job.data;
    let mut pos = 0usize;
    while pos < data.len() {
        let end = memchr::memchr(b'\n', &data[pos..])
            .map(|i| pos + i)
            .unwrap_or(data.len());
        let (s, e) = (pos as u32, end as u32);
        let line = &data[pos..end];
        let res = match fast_compact(line, &job.hint) {
            Some((row, fp)) => Res::Compact {
                row,
                fp,
                start: s,
                end: e,
            },
            None => match read_line(line, &job.hint, opts, &mut spans, &mut job.socks, &mut used) {
                Some((pre, socket)) => Res::Fast {
                    pre,
                    socket,
                    start: s,
                    end: e,
                },
                None => Res::Slow { start: s, end: e },
            },
        };
        job.res.push(res);
        pos = end + 1;
    }
    // Drop what a previous chunk left beyond this one's sockets (owners, names).
    job.socks.truncate(used.max(1));
}

/// The fast path for simple Linux rows (see [`fast_linux_row`]).
#[inline]
fn fast_compact(bytes: &[u8], hint: &(Section, SsContext)) -> Option<(Compact, u64)> {
    let ui = fast_user_inode(&hint.0)?;
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let row = fast_linux_row(bytes, ui)?;
    let fp = fingerprint(bytes.get(row.start as usize..)?.trim_ascii_end());
    Some((row, fp))
}

fn read_line(
    bytes: &[u8],
    hint: &(Section, SsContext),
    opts: &crate::api::ParseOptions,
    spans: &mut Vec<(u32, u32)>,
    socks: &mut Vec<Socket>,
    used: &mut usize,
) -> Option<(Pre, u32)> {
    if *used == socks.len() {
        socks.push(blank());
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let mut line = text.strip_suffix('\r').unwrap_or(text);
    let lb = line.as_bytes();
    let mut e = lb.len();
    while e > 0 && matches!(lb[e - 1], b' ' | b'\t' | b'\r' | b'\n' | b'\x0b' | b'\x0c') {
        e -= 1;
    }
    line = line.get(..e)?;
    tokenize(line, spans, 96);
    if spans.is_empty() {
        return None;
    }
    let t = Toks { line, spans };
    let mut facts = RowFacts::default();
    let (row, format) = read_row(&hint.0, &hint.1, opts, &t, &mut socks[*used], &mut facts)?;
    match row {
        Row::Tcp(RowState::Known(state)) => {
            let fp = fingerprint(&line.as_bytes()[t.start(0)..]);
            let t0_proto = proto_word(t.at(0)).is_some();
            let i = *used as u32;
            *used += 1;
            Some((
                Pre::Tcp {
                    state,
                    format,
                    facts,
                    fp,
                    t0_proto,
                },
                i,
            ))
        }
        Row::Other => Some((Pre::Other { format, facts }, 0)),
        _ => None,
    }
}

/// Whether a worker's view of a table can be trusted for fast lines at all.
fn fast_section(s: &Section) -> bool {
    matches!(
        s,
        Section::Inet(_) | Section::Ss(_) | Section::Proc { .. } | Section::Solaris { .. }
    )
}

/// Feeds `reader` through `parser` using `workers` threads. `head` is what was already
/// read (it must end at a line boundary or be the whole input).
pub(crate) fn run<R: BufRead, S: TextSink + ?Sized>(
    parser: &mut Parser,
    mut reader: R,
    sink: &mut S,
    workers: usize,
) -> Result<(), TextError> {
    let opts = parser.options().clone();
    std::thread::scope(|scope| -> Result<(), TextError> {
        let mut to: Vec<SyncSender<Job>> = Vec::new();
        let mut from: Vec<Receiver<Job>> = Vec::new();
        for _ in 0..workers {
            let (tx, rx) = sync_channel::<Job>(1);
            let (btx, brx) = sync_channel::<Job>(1);
            let opts = &opts;
            scope.spawn(move || {
                while let Ok(mut job) = rx.recv() {
                    work(&mut job, opts);
                    if btx.send(job).is_err() {
                        break;
                    }
                }
            });
            to.push(tx);
            from.push(brx);
        }
        let mut spare: Vec<Job> = Vec::new();
        let mut sent = 0usize;
        let mut done = 0usize;
        let mut carry: Vec<u8> = Vec::new();
        let mut eof = false;
        let stopped = || TextError::Io(std::io::Error::other("a parser worker stopped"));
        loop {
            // Keep every worker busy with up to two chunks.
            while !eof && sent - done < 2 * workers {
                let mut job = spare.pop().unwrap_or_else(|| Job {
                    data: Vec::with_capacity(CHUNK),
                    hint: (Section::None, SsContext::default()),
                    socks: Vec::new(),
                    res: Vec::new(),
                });
                // The chunk keeps its allocation and its initialised bytes from last time:
                // only the part past the previous cut is zeroed again.
                if job.data.len() < CHUNK {
                    job.data.resize(CHUNK, 0);
                }
                let mut len = carry.len().min(CHUNK);
                job.data[..len].copy_from_slice(&carry[..len]);
                carry.clear();
                // Straight into the chunk (a BufReader with an empty buffer hands big reads to
                // the OS without copying through its own buffer).
                while len < CHUNK {
                    let n = loop {
                        match reader.read(&mut job.data[len..CHUNK]) {
                            Ok(n) => break n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                            Err(e) => return Err(e.into()),
                        }
                    };
                    if n == 0 {
                        eof = true;
                        break;
                    }
                    len += n;
                }
                job.data.truncate(len);
                if !eof {
                    match memchr::memrchr(b'\n', &job.data) {
                        Some(i) => carry.extend_from_slice(&job.data[i + 1..]),
                        None => {
                            // A line longer than a chunk: the rest goes through the ordinary
                            // reader (which caps it), after everything in flight.
                            while done < sent {
                                let mut j = from[done % workers].recv().map_err(|_| stopped())?;
                                consume(parser, &mut j, sink);
                                done += 1;
                                spare.push(j);
                            }
                            parser.feed(&job.data, sink);
                            loop {
                                let buf = match reader.fill_buf() {
                                    Ok(b) => b,
                                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                                        continue
                                    }
                                    Err(e) => return Err(e.into()),
                                };
                                if buf.is_empty() {
                                    return Ok(());
                                }
                                let n = buf.len();
                                parser.feed(buf, sink);
                                reader.consume(n);
                            }
                        }
                    }
                    let keep = job.data.len() - carry.len();
                    job.data.truncate(keep);
                }
                if job.data.is_empty() {
                    spare.push(job);
                    break;
                }
                job.hint = parser.hint();
                to[sent % workers].send(job).map_err(|_| stopped())?;
                sent += 1;
            }
            if done == sent {
                break;
            }
            let mut job = from[done % workers].recv().map_err(|_| stopped())?;
            consume(parser, &mut job, sink);
            done += 1;
            spare.push(job);
        }
        drop(to);
        Ok(())
    })
}

/// Walks a worker's results in order.
fn consume<S: TextSink + ?Sized>(parser: &mut Parser, job: &mut Job, sink: &mut S) {
    let trusted = fast_section(&job.hint.0);
    let data = &job.data;
    // Whether the parser is in the table the worker assumed; only a line read the slow way
    // can change that.
    let mut ok = trusted && parser.accepts(&job.hint);
    for r in job.res.drain(..) {
        match r {
            Res::Compact {
                row,
                fp,
                start,
                end,
                ..
            } if ok => parser.compact_line(
                &row,
                fp,
                data.get(start as usize..end as usize).unwrap_or_default(),
                sink,
            ),
            Res::Fast { pre, socket, .. } if ok => {
                let mut fallback = blank();
                let sock = job.socks.get_mut(socket as usize).unwrap_or(&mut fallback);
                parser.fast_line(pre, Some(sock), sink);
            }
            Res::Compact { start, end, .. }
            | Res::Fast { start, end, .. }
            | Res::Slow { start, end } => {
                parser.feed_line(
                    data.get(start as usize..end as usize).unwrap_or_default(),
                    sink,
                );
                ok = trusted && parser.accepts(&job.hint);
            }
        }
    }
}
