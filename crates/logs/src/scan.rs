//! The scanner: streams an input in large chunks, finds the catalogue's literals over the whole
//! chunk at once (aho-corasick), and only then cuts out the lines that hit, runs their
//! signatures' regexes and parses their stamps. Lines without a hit cost one pass of the literal
//! search and one of the newline count.
//!
//! Chunks are analysed on worker threads (one per core, at most [`MAX_THREADS`]) while the
//! calling thread reads ahead; results are put back in input order before anything reaches the
//! [`Sink`], so line numbers, notes and neighbour times are those of a sequential scan. At most
//! `threads + 2` chunks are in memory at once.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use aho_corasick::{AhoCorasick, Input, MatchKind};
use jiff::Timestamp;
use regex::bytes::Regex;

use crate::catalog::{Verdict, SIGNATURES};
use crate::fields::Fields;
use crate::sink::{InputStats, LineMatch, Note, NoteKind, Sink, TimeSource};
use crate::source::Source;
use crate::timestamp::{self, TimeContext};
use crate::wrap;

/// Bytes read per chunk.
pub const CHUNK_SIZE: usize = 1 << 20;
/// Longest line kept whole; longer lines are split (with a note).
pub const MAX_LINE: usize = 8 << 20;
/// Upper bound on worker threads.
pub const MAX_THREADS: usize = 4;
/// How many lines around a stamp-less match are searched for a stamp.
const NEIGHBOUR_LINES: usize = 16;

/// Scans inputs against the catalogue.
pub struct Scanner {
    literals: AhoCorasick,
    /// Signature indexes for each literal, in catalogue order.
    by_literal: Vec<Vec<usize>>,
    /// Compiled on first use: most runs hit a handful of signatures.
    regexes: Vec<OnceLock<Regex>>,
    time: TimeContext,
    chunk_size: usize,
    max_line: usize,
    threads: usize,
    streaming: bool,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("literals", &self.by_literal.len())
            .field("time", &self.time)
            .field("threads", &self.threads)
            .finish()
    }
}

/// Where a match's time will come from, as far as one chunk can tell.
#[derive(Clone, Copy, Debug)]
enum ChunkTime {
    Line(Timestamp),
    /// A stamped line in the same chunk, `n` lines before (negative) or after.
    Neighbour(Timestamp, i64),
    /// The nearest earlier stamp is in an earlier chunk: use the last one seen before this
    /// chunk, else the given later neighbour (if any).
    Previous(Option<(Timestamp, i64)>),
    Unresolved,
}

/// A match found by a worker, before input-wide line numbers are known.
#[derive(Debug)]
struct Pending {
    /// Newlines in the chunk before the line.
    line_in_chunk: u64,
    offset_in_chunk: usize,
    line: Vec<u8>,
    signature: usize,
    fields: Fields,
    verdict: Verdict,
    time: ChunkTime,
    invalid_utf8: bool,
}

/// What a worker learned from one chunk.
#[derive(Debug)]
struct ChunkResult {
    newlines: u64,
    ends_with_newline: Option<bool>,
    binary_at: Option<usize>,
    matches: Vec<Pending>,
    /// Time of the chunk's last stamped line, and how many newlines precede it in the chunk.
    last_stamp: Option<(Timestamp, u64)>,
}

/// Input-wide bookkeeping, owned by the thread that talks to the sink.
struct State<'s> {
    input: usize,
    name: &'s str,
    /// Lines completed so far.
    lines: u64,
    /// Offset of the next chunk's first byte.
    base: u64,
    last_time: Option<(Timestamp, u64)>,
    matches: u64,
    ends_with_newline: bool,
    noted_binary: bool,
    noted_utf8: bool,
    noted_long: bool,
    noted_neighbour: bool,
    noted_unresolved: bool,
}

/// A chunk ready for analysis.
struct Job {
    seq: u64,
    data: Vec<u8>,
}

impl Scanner {
    /// A scanner over the whole catalogue, resolving times with `time`.
    pub fn new(time: TimeContext) -> Scanner {
        let mut literals: Vec<&'static str> = Vec::new();
        let mut by_literal: Vec<Vec<usize>> = Vec::new();
        for (i, sig) in SIGNATURES.iter().enumerate() {
            match literals.iter().position(|l| *l == sig.literal) {
                Some(k) => by_literal[k].push(i),
                None => {
                    literals.push(sig.literal);
                    by_literal.push(vec![i]);
                }
            }
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(&literals)
            .expect("catalogue literals build an automaton");
        let regexes = SIGNATURES.iter().map(|_| OnceLock::new()).collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_THREADS);
        Scanner {
            literals: ac,
            by_literal,
            regexes,
            time,
            chunk_size: CHUNK_SIZE,
            max_line: MAX_LINE,
            threads,
            streaming: false,
        }
    }

    /// Sets the chunk size and the longest line kept whole (tests use tiny values to exercise
    /// chunk boundaries).
    pub fn with_limits(mut self, chunk_size: usize, max_line: usize) -> Scanner {
        self.chunk_size = chunk_size.max(16);
        self.max_line = max_line.max(self.chunk_size);
        self
    }

    /// Sets the number of worker threads; 1 scans on the calling thread only.
    pub fn with_threads(mut self, threads: usize) -> Scanner {
        self.threads = threads.clamp(1, MAX_THREADS);
        self
    }

    /// Hands lines over as soon as a read returns them instead of filling a whole chunk first
    /// (for pipes that trickle, like `tail -f | originlens logs -`). Memory stays bounded by the
    /// chunk size either way.
    pub fn streaming(mut self, on: bool) -> Scanner {
        self.streaming = on;
        self
    }

    /// The time context in use.
    pub fn time(&self) -> &TimeContext {
        &self.time
    }

    /// Scans an in-memory input.
    pub fn scan_bytes<S: Sink>(
        &self,
        input: usize,
        name: &str,
        bytes: &[u8],
        sink: S,
    ) -> InputStats {
        self.scan(input, name, bytes, sink)
    }

    /// Streams `reader` to the end, pushing matches and notes into `sink`, in input order. I/O
    /// errors end this input with a note; they never panic and never abort other inputs.
    pub fn scan<R: Read, S: Sink>(
        &self,
        input: usize,
        name: &str,
        reader: R,
        mut sink: S,
    ) -> InputStats {
        let mut st = State {
            input,
            name,
            lines: 0,
            base: 0,
            last_time: None,
            matches: 0,
            ends_with_newline: true,
            noted_binary: false,
            noted_utf8: false,
            noted_long: false,
            noted_neighbour: false,
            noted_unresolved: false,
        };
        let failed = if self.threads <= 1 {
            self.read_chunks(reader, &mut st, &mut sink, |data, st, sink| {
                let result = self.analyse(&data);
                self.finish_chunk(&data, result, st, sink);
                Some(data)
            })
        } else {
            self.scan_parallel(reader, &mut st, &mut sink)
        };
        let stats = InputStats {
            name: name.to_owned(),
            bytes: st.base,
            lines: st.lines + u64::from(!st.ends_with_newline),
            matches: st.matches,
            failed,
        };
        sink.finish(&stats);
        stats
    }

    /// Workers analyse chunks; this thread reads, and hands results to the sink in order.
    fn scan_parallel<R: Read, S: Sink>(&self, reader: R, st: &mut State<'_>, sink: &mut S) -> bool {
        std::thread::scope(|scope| {
            let (job_tx, job_rx) = mpsc::channel::<Job>();
            let job_rx = Arc::new(Mutex::new(job_rx));
            let (res_tx, res_rx) = mpsc::channel::<(u64, Vec<u8>, ChunkResult)>();
            for _ in 0..self.threads {
                let job_rx = Arc::clone(&job_rx);
                let res_tx = res_tx.clone();
                scope.spawn(move || loop {
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    let result = self.analyse(&job.data);
                    if res_tx.send((job.seq, job.data, result)).is_err() {
                        return;
                    }
                });
            }
            drop(res_tx);
            let mut next_seq = 0u64; // next chunk to send
            let mut next_done = 0u64; // next chunk to hand to the sink
            let mut parked: BTreeMap<u64, (Vec<u8>, ChunkResult)> = BTreeMap::new();
            let mut spare: Vec<Vec<u8>> = Vec::new();
            let in_flight_max = self.threads as u64 + 1;
            let drain = |block_until: u64,
                         st: &mut State<'_>,
                         sink: &mut S,
                         spare: &mut Vec<Vec<u8>>,
                         parked: &mut BTreeMap<u64, (Vec<u8>, ChunkResult)>,
                         next_done: &mut u64| {
                while *next_done < block_until {
                    if let Some((data, result)) = parked.remove(next_done) {
                        self.finish_chunk(&data, result, st, sink);
                        spare.push(data);
                        *next_done += 1;
                        continue;
                    }
                    match res_rx.recv() {
                        Ok((seq, data, result)) => {
                            parked.insert(seq, (data, result));
                        }
                        Err(_) => return,
                    }
                }
            };
            let failed = self.read_chunks(reader, st, sink, |data, st, sink| {
                let seq = next_seq;
                next_seq += 1;
                if job_tx.send(Job { seq, data }).is_err() {
                    return None;
                }
                // Keep memory bounded: wait for the oldest chunk before reading too far ahead.
                if next_seq - next_done > in_flight_max {
                    drain(
                        next_seq - in_flight_max,
                        st,
                        sink,
                        &mut spare,
                        &mut parked,
                        &mut next_done,
                    );
                }
                spare.pop()
            });
            drain(next_seq, st, sink, &mut spare, &mut parked, &mut next_done);
            drop(job_tx);
            failed
        })
    }

    /// Reads whole-line chunks and hands each to `process`, which may hand back a buffer to
    /// reuse. Returns whether reading stopped on an error.
    fn read_chunks<R: Read, S: Sink>(
        &self,
        mut reader: R,
        st: &mut State<'_>,
        sink: &mut S,
        mut process: impl FnMut(Vec<u8>, &mut State<'_>, &mut S) -> Option<Vec<u8>>,
    ) -> bool {
        let mut buf = vec![0u8; self.chunk_size];
        let mut filled = 0usize;
        let mut failed = false;
        let mut eof = false;
        // Offset of buf[0] in the input (chunks handed out but maybe not yet finished).
        let mut read_base = 0u64;
        let mut spare: Option<Vec<u8>> = None;
        while !eof {
            // Fill the buffer: pipes hand over small pieces, and per-chunk work should be rare.
            while filled < buf.len() {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        filled += n;
                        // A stream hands over what it has once a line is complete.
                        if self.streaming
                            && memchr::memchr(b'\n', &buf[filled - n..filled]).is_some()
                        {
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        let kind = match e.kind() {
                            ErrorKind::InvalidInput
                            | ErrorKind::InvalidData
                            | ErrorKind::UnexpectedEof => NoteKind::Compression,
                            _ => NoteKind::ReadError,
                        };
                        let at = read_base + filled as u64;
                        sink.note(Note {
                            kind,
                            input: st.name.to_owned(),
                            line: None,
                            offset: Some(at),
                            message: format!("reading stopped at byte offset {at}: {e}"),
                        });
                        failed = true;
                        eof = true;
                        break;
                    }
                }
            }
            let data = &buf[..filled];
            let cut = if eof {
                if !data.is_empty() && data.last() != Some(&b'\n') && !failed {
                    let start = memchr::memrchr(b'\n', data).map_or(0, |i| i + 1);
                    sink.note(Note {
                        kind: NoteKind::TruncatedLastLine,
                        input: st.name.to_owned(),
                        line: None,
                        offset: Some(read_base + start as u64),
                        message: format!(
                            "the last line (byte offset {}) has no newline: still being written, or cut off; it was scanned as is",
                            read_base + start as u64
                        ),
                    });
                }
                filled
            } else {
                match memchr::memrchr(b'\n', data) {
                    Some(i) => i + 1,
                    None if buf.len() < self.max_line => {
                        let grown = (buf.len() * 2).min(self.max_line);
                        buf.resize(grown, 0);
                        continue;
                    }
                    None => {
                        if !st.noted_long {
                            st.noted_long = true;
                            sink.note(Note {
                                kind: NoteKind::LongLine,
                                input: st.name.to_owned(),
                                line: None,
                                offset: Some(read_base),
                                message: format!(
                                    "the line at byte offset {read_base} is longer than {} MiB; it was scanned in pieces",
                                    self.max_line >> 20
                                ),
                            });
                        }
                        filled
                    }
                }
            };
            if cut == 0 {
                break;
            }
            read_base += cut as u64;
            // Hand the chunk over; the partial last line moves to a recycled buffer (already
            // full length, so no zeroing).
            let mut next = spare.take().unwrap_or_default();
            let size = buf.len().max(self.chunk_size);
            if next.len() < size {
                next.resize(size, 0);
            }
            next[..filled - cut].copy_from_slice(&buf[cut..filled]);
            buf.truncate(cut);
            let chunk = std::mem::replace(&mut buf, next);
            filled -= cut;
            spare = process(chunk, st, sink);
        }
        failed
    }

    /// Finds and decodes the matches of one chunk of whole lines. Pure: runs on any thread.
    fn analyse(&self, data: &[u8]) -> ChunkResult {
        let mut matches = Vec::new();
        let mut counted_upto = 0usize;
        let mut newlines = 0u64;
        let mut from = 0;
        while from < data.len() {
            let Some(hit) = self.literals.find(Input::new(data).range(from..)) else {
                break;
            };
            let start = memchr::memrchr(b'\n', &data[..hit.start()]).map_or(0, |i| i + 1);
            let end =
                memchr::memchr(b'\n', &data[hit.start()..]).map_or(data.len(), |i| hit.start() + i);
            if let Some(mut p) = self.line(data, start, end, hit.pattern().as_usize()) {
                newlines += count_newlines(&data[counted_upto..start]);
                counted_upto = start;
                p.line_in_chunk = newlines;
                matches.push(p);
            }
            from = end + 1;
        }
        newlines += count_newlines(&data[counted_upto..]);
        // The last stamped line, so stamp-less matches early in the next chunk have a time.
        let tail = data.strip_suffix(b"\n").unwrap_or(data);
        let last = memchr::memrchr(b'\n', tail).map_or(0, |i| i + 1);
        let last_stamp = self
            .stamp_of(&tail[last..])
            .map(|t| (t, newlines - u64::from(data.last() == Some(&b'\n'))));
        ChunkResult {
            newlines,
            ends_with_newline: data.last().map(|&b| b == b'\n'),
            binary_at: memchr::memchr(0, data),
            matches,
            last_stamp,
        }
    }

    /// Gives a chunk's matches their input-wide line numbers and times, and pushes them.
    fn finish_chunk<S: Sink>(
        &self,
        data: &[u8],
        result: ChunkResult,
        st: &mut State<'_>,
        sink: &mut S,
    ) {
        let first_line = st.lines + 1;
        if let (false, Some(i)) = (st.noted_binary, result.binary_at) {
            st.noted_binary = true;
            let at = st.base + i as u64;
            sink.note(Note {
                kind: NoteKind::Binary,
                input: st.name.to_owned(),
                line: None,
                offset: Some(at),
                message: format!(
                    "NUL byte at byte offset {at} (binary data, or a file with holes after a crash); scanning goes on"
                ),
            });
        }
        for p in result.matches {
            let line_number = first_line + p.line_in_chunk;
            let offset = st.base + p.offset_in_chunk as u64;
            st.matches += 1;
            if p.invalid_utf8 && !st.noted_utf8 {
                st.noted_utf8 = true;
                sink.note(Note {
                    kind: NoteKind::InvalidUtf8,
                    input: st.name.to_owned(),
                    line: Some(line_number),
                    offset: Some(offset),
                    message: format!(
                        "line {line_number} is not valid UTF-8; invalid bytes are shown as U+FFFD"
                    ),
                });
            }
            let (time, time_source) = match p.time {
                ChunkTime::Line(t) => {
                    st.last_time = Some((t, line_number));
                    (Some(t), TimeSource::Line)
                }
                ChunkTime::Neighbour(t, delta) => (
                    Some(t),
                    TimeSource::Neighbour {
                        line: line_number.saturating_add_signed(delta),
                    },
                ),
                ChunkTime::Previous(later) => match (st.last_time, later) {
                    (Some((t, line)), _) => (Some(t), TimeSource::Neighbour { line }),
                    (None, Some((t, delta))) => (
                        Some(t),
                        TimeSource::Neighbour {
                            line: line_number.saturating_add_signed(delta),
                        },
                    ),
                    (None, None) => (None, TimeSource::Missing),
                },
                ChunkTime::Unresolved => {
                    if !st.noted_unresolved {
                        st.noted_unresolved = true;
                        sink.note(Note {
                            kind: NoteKind::Time,
                            input: st.name.to_owned(),
                            line: Some(line_number),
                            offset: Some(offset),
                            message: "dmesg stamps count seconds since boot; pass --boot-time (auto, or the boot instant) to place them in time".into(),
                        });
                    }
                    (None, TimeSource::Unresolved)
                }
            };
            if let (TimeSource::Neighbour { line }, false) = (time_source, st.noted_neighbour) {
                st.noted_neighbour = true;
                sink.note(Note {
                    kind: NoteKind::NeighbourTime,
                    input: st.name.to_owned(),
                    line: Some(line_number),
                    offset: None,
                    message: format!("line {line_number} has no timestamp; it (and similar lines) took the time of the nearest stamped line ({line})"),
                });
            }
            sink.matched(&LineMatch {
                input: st.input,
                line_number,
                offset,
                line: &p.line,
                signature: &SIGNATURES[p.signature],
                verdict: p.verdict,
                fields: p.fields,
                time,
                time_source,
            });
        }
        if let Some((t, nl)) = result.last_stamp {
            st.last_time = Some((t, first_line + nl));
        }
        if let Some(e) = result.ends_with_newline {
            st.ends_with_newline = e;
        }
        st.lines += result.newlines;
        st.base += data.len() as u64;
        sink.progress(st.base);
    }

    fn regex(&self, i: usize) -> &Regex {
        self.regexes[i].get_or_init(|| {
            // The catalogue's patterns are constants checked by the unit tests.
            Regex::new(SIGNATURES[i].pattern)
                .unwrap_or_else(|e| panic!("signature {} has a bad pattern: {e}", SIGNATURES[i].id))
        })
    }

    fn stamp_of(&self, line: &[u8]) -> Option<Timestamp> {
        if let Some(u) = wrap::unwrap(line) {
            if u.time.is_some() {
                return u.time;
            }
            let (stamp, _) = timestamp::parse(&u.text)?;
            return self.time.resolve(&stamp);
        }
        let (stamp, _) = timestamp::parse(line)?;
        self.time.resolve(&stamp)
    }

    /// One line that contains at least one literal: the first signature (in catalogue order)
    /// whose regex matches, with its fields and time.
    fn line(&self, data: &[u8], start: usize, end: usize, first_literal: usize) -> Option<Pending> {
        let raw = data[start..end]
            .strip_suffix(b"\r")
            .unwrap_or(&data[start..end]);
        // Docker, journal JSON, syslog and compose wrappers: match what the program wrote.
        let unwrapped = wrap::unwrap(raw);
        let line: &[u8] = unwrapped.as_ref().map_or(raw, |u| &u.text);
        let mut candidates: Vec<usize> = self.by_literal[first_literal].clone();
        for m in self.literals.find_iter(line) {
            let p = m.pattern().as_usize();
            if p != first_literal {
                candidates.extend_from_slice(&self.by_literal[p]);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let (i, mut fields) = candidates.iter().find_map(|&i| {
            let re = self.regex(i);
            let caps = re.captures(line)?;
            Some((i, Fields::from_captures(re, &caps)))
        })?;
        let sig = &SIGNATURES[i];
        if sig.source == Source::Nginx {
            fields.add_nginx_context(line);
        }
        let wrapper_time = unwrapped.as_ref().and_then(|u| u.time);
        let time = match wrapper_time {
            Some(t) => ChunkTime::Line(t),
            None => match timestamp::parse(line) {
                Some((stamp, _)) => match self.time.resolve(&stamp) {
                    Some(t) => ChunkTime::Line(t),
                    None => ChunkTime::Unresolved,
                },
                None => self.neighbour_time(data, start, end),
            },
        };
        Some(Pending {
            line_in_chunk: 0,
            offset_in_chunk: start,
            line: line.to_vec(),
            signature: i,
            verdict: sig.verdict(&fields),
            fields,
            time,
            invalid_utf8: std::str::from_utf8(line).is_err(),
        })
    }

    /// The time of the nearest stamped line in the chunk: earlier lines first (a crash report
    /// follows the line that announced it), then later ones.
    fn neighbour_time(&self, data: &[u8], start: usize, end: usize) -> ChunkTime {
        let mut cursor = start;
        let mut reached_chunk_start = start == 0;
        for back in 1..=NEIGHBOUR_LINES as i64 {
            if cursor == 0 {
                reached_chunk_start = true;
                break;
            }
            let prev_end = cursor - 1;
            let prev_start = memchr::memrchr(b'\n', &data[..prev_end]).map_or(0, |i| i + 1);
            if let Some(t) = self.stamp_of(&data[prev_start..prev_end]) {
                return ChunkTime::Neighbour(t, -back);
            }
            cursor = prev_start;
        }
        let mut later = None;
        let mut cursor = end;
        for fwd in 1..=NEIGHBOUR_LINES as i64 {
            if cursor >= data.len() {
                break;
            }
            let next_start = cursor + 1;
            let next_end =
                memchr::memchr(b'\n', &data[next_start..]).map_or(data.len(), |i| next_start + i);
            if let Some(t) = self.stamp_of(&data[next_start..next_end]) {
                later = Some((t, fwd));
                break;
            }
            cursor = next_end;
        }
        match (reached_chunk_start, later) {
            // The previous chunk's last stamp (if any) is nearer than any later line.
            (true, later) => ChunkTime::Previous(later),
            (false, Some((t, fwd))) => ChunkTime::Neighbour(t, fwd),
            (false, None) => ChunkTime::Previous(None),
        }
    }
}

/// Counts `\n` bytes, eight at a time: each word is XORed with `\n` repeated, and a
/// carry-free zero-byte test leaves exactly the high bit of each zero byte set, so one popcount
/// per word counts them (no unsafe SIMD needed, and the compiler vectorises the loop).
pub fn count_newlines(hay: &[u8]) -> u64 {
    const NL: u64 = u64::from_ne_bytes([b'\n'; 8]);
    const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
    let words = hay.chunks_exact(8);
    let rest = words.remainder();
    let mut total = 0u64;
    for w in words {
        let x = u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ NL;
        let zero_high = !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7);
        total += u64::from(zero_high.count_ones());
    }
    total + rest.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::TimeSource;

    #[derive(Default)]
    struct Collect {
        hits: Vec<(u64, u64, &'static str, Option<Timestamp>, TimeSource)>,
        notes: Vec<Note>,
        stats: Vec<InputStats>,
    }

    impl Sink for Collect {
        fn matched(&mut self, m: &LineMatch<'_>) {
            self.hits.push((
                m.line_number,
                m.offset,
                m.signature.id,
                m.time,
                m.time_source,
            ));
        }
        fn note(&mut self, note: Note) {
            self.notes.push(note);
        }
        fn finish(&mut self, stats: &InputStats) {
            self.stats.push(stats.clone());
        }
    }

    fn ctx() -> TimeContext {
        TimeContext {
            tz: jiff::tz::TimeZone::UTC,
            boot: None,
            now: "2024-06-01T00:00:00Z".parse().unwrap(),
            year: None,
        }
    }

    fn run(scanner: &Scanner, data: &[u8]) -> Collect {
        let mut c = Collect::default();
        scanner.scan_bytes(0, "t.log", data, &mut c);
        c
    }

    const NOISE: &str =
        "2024/01/02 03:04:04 [error] 1#1: *1 open() \"/x\" failed (2: No such file or directory)\n";
    const HIT: &str = "2024/01/02 03:04:05 [error] 1#1: *2 upstream sent too big header while reading response header from upstream, client: 1.2.3.4\n";

    #[test]
    fn counts_lines_and_offsets_across_chunk_boundaries() {
        let mut data = String::new();
        let mut expect = Vec::new();
        for i in 0..200u64 {
            if i % 37 == 5 {
                expect.push((i + 1, data.len() as u64));
                data.push_str(HIT);
            } else {
                data.push_str(NOISE);
            }
        }
        let whole = run(&Scanner::new(ctx()), data.as_bytes());
        for (chunk, threads) in [(16, 1), (16, 3), (64, 2), (100, 1), (997, 4)] {
            let scanner = Scanner::new(ctx())
                .with_limits(chunk, 1 << 20)
                .with_threads(threads);
            let c = run(&scanner, data.as_bytes());
            let got: Vec<(u64, u64)> = c.hits.iter().map(|h| (h.0, h.1)).collect();
            assert_eq!(got, expect, "chunk {chunk}, threads {threads}");
            assert_eq!(c.stats[0].lines, 200);
            assert_eq!(c.stats[0].bytes, data.len() as u64);
        }
        assert_eq!(whole.hits.len(), expect.len());
    }

    #[test]
    fn newline_count_matches_naive() {
        let data: Vec<u8> = (0..100_000u32)
            .map(|i| if i % 7 == 0 { b'\n' } else { b'a' })
            .collect();
        for len in [0, 1, 31, 32, 33, 8160, 8161, 100_000] {
            let naive = data[..len].iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(count_newlines(&data[..len]), naive, "{len}");
        }
    }

    #[test]
    fn stampless_lines_take_the_nearest_stamp_and_say_so() {
        let data = "Jan 02 03:04:05 web1 node[1]: starting\n<--- Last few GCs --->\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n";
        let c = run(&Scanner::new(ctx()), data.as_bytes());
        assert_eq!(c.hits.len(), 1);
        assert_eq!(c.hits[0].2, "J1");
        assert_eq!(c.hits[0].3, Some("2024-01-02T03:04:05Z".parse().unwrap()));
        assert_eq!(c.hits[0].4, TimeSource::Neighbour { line: 1 });
        assert!(c
            .notes
            .iter()
            .any(|n| n.kind == NoteKind::NeighbourTime && n.line == Some(3)));
        // Nothing stamped anywhere: no time, no invention.
        let c = run(&Scanner::new(ctx()), b"Node.js v20.11.0\n");
        assert_eq!((c.hits[0].3, c.hits[0].4), (None, TimeSource::Missing));
    }

    #[test]
    fn threads_and_chunk_sizes_do_not_change_the_result() {
        // (A stamp-less line looks for a later stamp only inside its own chunk, so the input
        // starts with a stamped line to keep the comparison exact at tiny chunk sizes.)
        let mut data = String::from(NOISE);
        for i in 0..300 {
            data.push_str(if i % 11 == 0 { HIT } else { NOISE });
            if i % 29 == 0 {
                data.push_str("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n");
            }
            if i % 31 == 0 {
                data.push_str("\x00binary\n");
            }
        }
        let reference = run(&Scanner::new(ctx()).with_threads(1), data.as_bytes());
        for (chunk, threads) in [(40, 2), (333, 4), (4096, 2), (64, 1)] {
            let c = run(
                &Scanner::new(ctx())
                    .with_limits(chunk, 1 << 20)
                    .with_threads(threads),
                data.as_bytes(),
            );
            assert_eq!(c.hits, reference.hits, "chunk {chunk}, threads {threads}");
            assert_eq!(c.stats, reference.stats);
            assert_eq!(c.notes.len(), reference.notes.len());
        }
        assert!(reference
            .hits
            .iter()
            .any(|h| matches!(h.4, TimeSource::Neighbour { .. })));
    }

    #[test]
    fn dmesg_needs_a_boot_time() {
        let line = b"[ 100.500000] php-fpm8.2[1]: segfault at 0 ip 0 sp 0 error 4 in x.so[1+2]\n";
        let c = run(&Scanner::new(ctx()), line);
        assert_eq!(c.hits[0].4, TimeSource::Unresolved);
        assert!(c
            .notes
            .iter()
            .any(|n| n.kind == NoteKind::Time && n.message.contains("--boot-time")));
        let mut t = ctx();
        t.boot = Some("2024-01-02T00:00:00Z".parse().unwrap());
        let c = run(&Scanner::new(t), line);
        assert_eq!(c.hits[0].3, Some("2024-01-02T00:01:40.5Z".parse().unwrap()));
    }

    #[test]
    fn hostile_input_gives_notes_not_panics() {
        let mut data = Vec::new();
        data.extend_from_slice(NOISE.as_bytes());
        data.extend_from_slice(b"\x00\x00\x00\xff\xfe binary junk \x00\n");
        data.extend_from_slice(&vec![b'x'; 300_000]); // a long line
        data.push(b'\n');
        data.extend_from_slice(b"2024/01/02 03:04:05 [error] 1#1: *3 upstream sent too big header while reading response header from upstream, client: \xff\xfe\n");
        data.extend_from_slice(HIT.trim_end().as_bytes()); // truncated last line
        let c = run(&Scanner::new(ctx()).with_limits(4096, 65_536), &data);
        let kinds: Vec<NoteKind> = c.notes.iter().map(|n| n.kind).collect();
        assert!(kinds.contains(&NoteKind::Binary), "{kinds:?}");
        assert!(kinds.contains(&NoteKind::LongLine), "{kinds:?}");
        assert!(kinds.contains(&NoteKind::InvalidUtf8), "{kinds:?}");
        assert!(kinds.contains(&NoteKind::TruncatedLastLine), "{kinds:?}");
        let binary = c.notes.iter().find(|n| n.kind == NoteKind::Binary).unwrap();
        assert_eq!(binary.offset, Some(NOISE.len() as u64));
        // Both real lines are still found, with the right numbers.
        let lines: Vec<u64> = c.hits.iter().map(|h| h.0).collect();
        assert_eq!(lines, vec![4, 5]);
        assert_eq!(c.stats[0].lines, 5);
    }

    #[test]
    fn a_megabyte_line_is_kept_whole_by_default() {
        let mut data = vec![b'y'; 1 << 20];
        data.extend_from_slice(
            b" upstream sent too big header while reading response header from upstream\n",
        );
        let c = run(&Scanner::new(ctx()), &data);
        assert_eq!(c.hits.len(), 1);
        assert!(c.notes.iter().all(|n| n.kind != NoteKind::LongLine));
    }

    struct FailingReader {
        sent: bool,
    }

    impl Read for FailingReader {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.sent {
                return Err(std::io::Error::other("disk on fire"));
            }
            self.sent = true;
            buf[..HIT.len()].copy_from_slice(HIT.as_bytes());
            Ok(HIT.len())
        }
    }

    #[test]
    fn read_errors_keep_what_was_read_and_name_the_offset() {
        let mut c = Collect::default();
        let stats = Scanner::new(ctx()).scan(0, "bad.log", FailingReader { sent: false }, &mut c);
        assert!(stats.failed);
        assert_eq!(c.hits.len(), 1);
        let note = &c.notes[0];
        assert_eq!(note.kind, NoteKind::ReadError);
        assert_eq!(note.offset, Some(HIT.len() as u64));
        assert!(note.message.contains("disk on fire"));
    }

    #[test]
    fn crlf_lines_match() {
        let data = HIT.replace('\n', "\r\n");
        let c = run(&Scanner::new(ctx()), data.as_bytes());
        assert_eq!(c.hits.len(), 1);
    }
}
