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
//! When the sink offers [`SinkPart`]s, the sockets of the common Linux rows are not built on
//! the calling thread: after their bookkeeping and duplicate check there, the chunk goes to a
//! deliverer thread, which builds them and hands them to its part (a thread of its own beside
//! each reader, so that reading the next chunks never waits behind it), once the snapshot has
//! [`PART_AFTER`] rows. Chunk `k` is read by
//! reader `k mod workers` and delivered by deliverer `k mod workers`, so a run is
//! reproducible. Listening sockets stay on the calling thread and are told to every part
//! before its next chunk. Before a snapshot ends (and before the parse returns) every part is
//! given back to the sink.
//!
//! Memory: at most `4 × workers` chunks of [`CHUNK`] bytes are being read and at most
//! `8 × workers` chunks exist at all, each with its decoded rows (about 3 MB per chunk of a
//! typical `netstat` listing).

use crate::api::{
    Duplicate, SinkPart, Skipped, SnapshotMeta, SnapshotSummary, TextError, TextSink,
};
use crate::dedupe::fingerprint;
use crate::parser::{build_compact, fast_user_inode, read_row, OwnerCache, Parser, Pre, Section};
use crate::rows::{
    fast_linux_row, tokenize, trim_blanks_end, Compact, Row, RowFacts, RowState, SsContext, Toks,
};
use crate::words::proto_word;
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::mpsc::{channel, Receiver, Sender};
use tcpdoctor_model::{Socket, TcpState, UnknownRow};

/// Bytes per chunk.
pub(crate) const CHUNK: usize = 1 << 20;

/// Rows a snapshot must have before its sockets go to parts. A part costs a round trip to its
/// deliverer thread when the snapshot ends; a log of small snapshots (`netstat` every second)
/// would pay it thousands of times for a few rows each, so small snapshots, and the first
/// rows of a big one, are delivered on the calling thread.
pub(crate) const PART_AFTER: u64 = 4096;

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
    /// Position of the chunk in the input (chunk `seq` goes to worker `seq % workers`).
    seq: usize,
    data: Vec<u8>,
    hint: (Section, SsContext),
    socks: Vec<Socket>,
    res: Vec<Res>,
    /// Rows whose sockets a part gets: index into `res`, line number.
    defer: Vec<(u32, usize)>,
}

/// What a deliverer is asked to do, in order.
enum Msg {
    /// Tell the part the listeners, then build the chunk's deferred sockets and hand them
    /// to the part; the chunk comes back on the shared recycling channel.
    Observe(Job, Vec<Socket>),
    /// The part to hand sockets to from now on.
    Part(Box<dyn SinkPart>),
    /// Give the part back (on the shared parts channel).
    Flush,
}

/// Builds the deferred sockets of `defer` and hands them to `to`.
fn deliver(
    data: &[u8],
    res: &[Res],
    defer: &[(u32, usize)],
    sock: &mut Socket,
    owners: &mut OwnerCache,
    mut to: impl FnMut(&Socket, usize),
) {
    for &(i, line_no) in defer {
        if let Some(Res::Compact {
            row, start, end, ..
        }) = res.get(i as usize)
        {
            let line = data.get(*start as usize..*end as usize).unwrap_or_default();
            build_compact(row, line, sock, owners);
            to(sock, line_no);
        }
    }
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
    let line = trim_blanks_end(text.strip_suffix('\r').unwrap_or(text));
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

/// The calling thread's side of the worker parts.
struct Ctl {
    to: Vec<Sender<Msg>>,
    /// Parts given back, with the number of the deliverer that held each.
    parts: Receiver<(usize, Option<Box<dyn SinkPart>>)>,
    /// Which workers hold a part.
    has_part: Vec<bool>,
    /// Listeners delivered on this thread since each worker's last chunk.
    listeners: Vec<Vec<Socket>>,
    /// A worker stopped (its channel closed).
    failed: bool,
    owners: OwnerCache,
    sock: Socket,
}

impl Ctl {
    /// Makes sure worker `w` holds a part; false when the sink offers none.
    fn ensure_part<S: TextSink + ?Sized>(&mut self, w: usize, sink: &mut S) -> bool {
        if self.has_part.get(w) == Some(&true) {
            return true;
        }
        let Some(p) = sink.part(self.to.len()) else {
            return false;
        };
        if self.to.get(w).is_some_and(|t| t.send(Msg::Part(p)).is_ok()) {
            self.has_part[w] = true;
            true
        } else {
            self.failed = true;
            false
        }
    }

    /// Takes every part back (after all the chunks sent to them) and joins it to the sink.
    fn flush<S: TextSink + ?Sized>(&mut self, sink: &mut S) {
        let mut asked = 0;
        for w in 0..self.to.len() {
            if self.has_part[w] {
                if self.to[w].send(Msg::Flush).is_ok() {
                    asked += 1;
                } else {
                    self.failed = true;
                }
                self.has_part[w] = false;
            }
            self.listeners[w].clear();
        }
        // Joined in deliverer order, not in the order they come back: which keys a capped
        // map keeps depends on the order of the merges, and a run must be reproducible.
        let mut back = Vec::with_capacity(asked);
        for _ in 0..asked {
            match self.parts.recv() {
                Ok(p) => back.push(p),
                Err(_) => {
                    self.failed = true;
                    break;
                }
            }
        }
        back.sort_by_key(|(w, _)| *w);
        for p in back.into_iter().filter_map(|(_, p)| p) {
            sink.join(p);
        }
    }
}

/// The sink as the parser sees it while a chunk is consumed: events go through; listeners
/// are noted for the parts; before a snapshot ends, the sockets of this chunk deferred so far
/// are delivered here and every part is joined.
struct Tap<'a, S: TextSink + ?Sized> {
    sink: &'a mut S,
    ctl: &'a mut Ctl,
    data: &'a [u8],
    res: &'a [Res],
    defer: &'a mut Vec<(u32, usize)>,
}

impl<S: TextSink + ?Sized> TextSink for Tap<'_, S> {
    fn begin_snapshot(&mut self, meta: &SnapshotMeta) {
        self.sink.begin_snapshot(meta);
    }
    fn socket(&mut self, socket: &Socket, line: usize) {
        self.sink.socket(socket, line);
        if socket.state == TcpState::Listen {
            for (w, l) in self.ctl.listeners.iter_mut().enumerate() {
                if self.ctl.has_part[w] {
                    l.push(socket.clone());
                }
            }
        }
    }
    fn unknown_row(&mut self, row: &UnknownRow) {
        self.sink.unknown_row(row);
    }
    fn skipped(&mut self, skipped: &Skipped) {
        self.sink.skipped(skipped);
    }
    fn duplicate(&mut self, dup: &Duplicate) {
        self.sink.duplicate(dup);
    }
    fn end_snapshot(&mut self, summary: &SnapshotSummary) {
        let Ctl { owners, sock, .. } = &mut *self.ctl;
        let sink = &mut *self.sink;
        deliver(self.data, self.res, self.defer, sock, owners, |s, n| {
            sink.socket(s, n)
        });
        self.defer.clear();
        self.ctl.flush(self.sink);
        self.sink.end_snapshot(summary);
    }
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
        let (recycle_tx, recycle) = channel::<Job>();
        let (parts_tx, parts) = channel::<(usize, Option<Box<dyn SinkPart>>)>();
        let mut to: Vec<Sender<Msg>> = Vec::new();
        let mut from: Vec<Receiver<Job>> = Vec::new();
        let mut readers: Vec<Sender<Job>> = Vec::new();
        for w in 0..workers {
            let (tx, rx) = channel::<Msg>();
            let (btx, brx) = channel::<Job>();
            let (ptx, prx) = channel::<Job>();
            let (recycle_tx, parts_tx) = (recycle_tx.clone(), parts_tx.clone());
            let opts = &opts;
            // The reader of chunks.
            scope.spawn(move || {
                while let Ok(mut job) = prx.recv() {
                    work(&mut job, opts);
                    if btx.send(job).is_err() {
                        break;
                    }
                }
            });
            // The deliverer, with its part: a thread of its own, so that reading the next
            // chunks never waits behind it.
            scope.spawn(move || {
                let mut part: Option<Box<dyn SinkPart>> = None;
                let mut owners = OwnerCache::default();
                let mut sock = blank();
                while let Ok(msg) = rx.recv() {
                    let sent = match msg {
                        Msg::Observe(mut job, listeners) => {
                            // The calling thread sends a part before the first chunk.
                            if let Some(p) = part.as_deref_mut() {
                                for l in &listeners {
                                    p.listener(l);
                                }
                                deliver(
                                    &job.data,
                                    &job.res,
                                    &job.defer,
                                    &mut sock,
                                    &mut owners,
                                    |s, n| p.socket(s, n),
                                );
                            }
                            job.defer.clear();
                            recycle_tx.send(job).is_ok()
                        }
                        Msg::Part(p) => {
                            part = Some(p);
                            true
                        }
                        Msg::Flush => parts_tx.send((w, part.take())).is_ok(),
                    };
                    if !sent {
                        break;
                    }
                }
            });
            to.push(tx);
            from.push(brx);
            readers.push(ptx);
        }
        drop((recycle_tx, parts_tx));
        let mut ctl = Ctl {
            to,
            parts,
            has_part: vec![false; workers],
            listeners: vec![Vec::new(); workers],
            failed: false,
            owners: OwnerCache::default(),
            sock: blank(),
        };
        let mut spare: Vec<Job> = Vec::new();
        let mut jobs = 0usize;
        let mut sent = 0usize;
        let mut done = 0usize;
        let mut carry: Vec<u8> = Vec::new();
        let mut eof = false;
        let stopped = || TextError::Io(std::io::Error::other("a parser worker stopped"));
        loop {
            // Keep every reader busy with up to four chunks (the deliverers share the cores).
            while !eof && sent - done < 4 * workers {
                let mut job = match spare.pop() {
                    Some(j) => j,
                    None if jobs < 8 * workers => {
                        jobs += 1;
                        Job {
                            seq: 0,
                            data: Vec::with_capacity(CHUNK),
                            hint: (Section::None, SsContext::default()),
                            socks: Vec::new(),
                            res: Vec::new(),
                            defer: Vec::new(),
                        }
                    }
                    // Every chunk is out: wait for a part to finish one.
                    None => recycle.recv().map_err(|_| stopped())?,
                };
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
                            // reader (which caps it), after everything in flight and with every
                            // part given back.
                            while done < sent {
                                let mut j = from[done % workers].recv().map_err(|_| stopped())?;
                                consume(parser, &mut j, sink, &mut ctl);
                                done += 1;
                                hand_back(j, &mut ctl, &mut spare);
                            }
                            ctl.flush(sink);
                            if ctl.failed {
                                return Err(stopped());
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
                job.seq = sent;
                readers[sent % workers].send(job).map_err(|_| stopped())?;
                sent += 1;
            }
            if done == sent {
                break;
            }
            let mut job = from[done % workers].recv().map_err(|_| stopped())?;
            consume(parser, &mut job, sink, &mut ctl);
            done += 1;
            hand_back(job, &mut ctl, &mut spare);
            if ctl.failed {
                return Err(stopped());
            }
            while let Ok(j) = recycle.try_recv() {
                spare.push(j);
            }
        }
        // Every part back before the parser ends the last snapshot.
        ctl.flush(sink);
        if ctl.failed {
            return Err(stopped());
        }
        Ok(())
    })
}

/// A consumed chunk: to its worker's part when it deferred sockets or the part has listeners
/// to learn (so that they never pile up here, even in an input of listeners only), else to
/// the spares.
fn hand_back(mut job: Job, ctl: &mut Ctl, spare: &mut Vec<Job>) {
    let w = job.seq % ctl.to.len();
    if job.defer.is_empty() && ctl.listeners[w].is_empty() {
        job.res.clear();
        spare.push(job);
        return;
    }
    let listeners = std::mem::take(&mut ctl.listeners[w]);
    if ctl.to[w].send(Msg::Observe(job, listeners)).is_err() {
        ctl.failed = true;
    }
}

/// Walks a worker's results in order.
fn consume<S: TextSink + ?Sized>(parser: &mut Parser, job: &mut Job, sink: &mut S, ctl: &mut Ctl) {
    let trusted = fast_section(&job.hint.0);
    let w = job.seq % ctl.to.len();
    let Job {
        data,
        hint,
        socks,
        res,
        defer,
        ..
    } = job;
    defer.clear();
    let mut tap = Tap {
        sink,
        ctl,
        data,
        res,
        defer,
    };
    // Whether the parser is in the table the worker assumed; only a line read the slow way
    // can change that. And whether the sockets of compact rows go to a part.
    let mut ok = trusted && parser.accepts(hint);
    let mut to_part =
        ok && parser.snapshot_rows() >= PART_AFTER && tap.ctl.ensure_part(w, tap.sink);
    for (i, r) in tap.res.iter().enumerate() {
        match r {
            Res::Compact {
                row,
                fp,
                start,
                end,
            } if ok => {
                let line = tap
                    .data
                    .get(*start as usize..*end as usize)
                    .unwrap_or_default();
                if to_part {
                    if let Some(n) = parser.compact_defer(row, *fp, line, &mut tap) {
                        tap.defer.push((i as u32, n));
                    }
                } else {
                    parser.compact_line(row, *fp, line, &mut tap);
                }
            }
            Res::Fast { pre, socket, .. } if ok => {
                let mut fallback = blank();
                let sock = socks.get_mut(*socket as usize).unwrap_or(&mut fallback);
                parser.fast_line(*pre, Some(sock), &mut tap);
            }
            Res::Compact { start, end, .. }
            | Res::Fast { start, end, .. }
            | Res::Slow { start, end } => {
                parser.feed_line(
                    tap.data
                        .get(*start as usize..*end as usize)
                        .unwrap_or_default(),
                    &mut tap,
                );
                ok = trusted && parser.accepts(hint);
                to_part =
                    ok && parser.snapshot_rows() >= PART_AFTER && tap.ctl.ensure_part(w, tap.sink);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(seq: usize) -> Job {
        Job {
            seq,
            data: Vec::new(),
            hint: (Section::None, SsContext::default()),
            socks: Vec::new(),
            res: Vec::new(),
            defer: Vec::new(),
        }
    }

    #[test]
    fn listeners_for_a_part_never_pile_up() {
        let (tx0, rx0) = channel::<Msg>();
        let (tx1, rx1) = channel::<Msg>();
        let (_ptx, parts) = channel::<(usize, Option<Box<dyn SinkPart>>)>();
        let mut ctl = Ctl {
            to: vec![tx0, tx1],
            parts,
            has_part: vec![true, true],
            listeners: vec![vec![blank()], vec![blank(), blank()]],
            failed: false,
            owners: OwnerCache::default(),
            sock: blank(),
        };
        let mut spare = Vec::new();
        // A chunk without deferred sockets still carries its worker's listeners.
        hand_back(job(1), &mut ctl, &mut spare);
        assert!(spare.is_empty());
        assert!(ctl.listeners[1].is_empty());
        assert_eq!(ctl.listeners[0].len(), 1);
        match rx1.try_recv() {
            Ok(Msg::Observe(j, told)) => {
                assert_eq!(j.seq, 1);
                assert_eq!(told.len(), 2);
            }
            _ => panic!("want the listeners sent to worker 1"),
        }
        assert!(rx0.try_recv().is_err());
        // Nothing to deliver and nothing to tell: straight back to the spares.
        hand_back(job(3), &mut ctl, &mut spare);
        assert_eq!(spare.len(), 1);
        assert!(rx1.try_recv().is_err());
        assert!(!ctl.failed);
    }
}
