//! The scanner: streams an input in large chunks, finds the catalogue's literals over the whole
//! chunk at once (aho-corasick), and only then cuts out the lines that hit, runs their
//! signatures' regexes and parses their stamps. Lines without a hit cost one pass of the literal
//! search and one of the newline count.

use std::io::{ErrorKind, Read};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, Input, MatchKind};
use jiff::Timestamp;
use regex::bytes::Regex;

use crate::catalog::SIGNATURES;
use crate::fields::Fields;
use crate::sink::{InputStats, LineMatch, Note, NoteKind, Sink, TimeSource};
use crate::source::Source;
use crate::timestamp::{self, TimeContext};

/// Bytes read per chunk.
pub const CHUNK_SIZE: usize = 1 << 20;
/// Longest line kept whole; longer lines are split (with a note).
pub const MAX_LINE: usize = 8 << 20;
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
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("literals", &self.by_literal.len())
            .field("time", &self.time)
            .finish()
    }
}

/// Per-input position bookkeeping.
struct State<'s> {
    input: usize,
    name: &'s str,
    /// Newlines counted before `counted_upto` in the current chunk (plus earlier chunks).
    lines: u64,
    counted_upto: usize,
    /// Offset of the current chunk's first byte in the input.
    base: u64,
    last_time: Option<(Timestamp, u64)>,
    matches: u64,
    noted_binary: bool,
    noted_utf8: bool,
    noted_long: bool,
    noted_neighbour: bool,
    noted_unresolved: bool,
    /// Empty inputs and inputs ending in `\n` have no extra unterminated line.
    ends_with_newline: bool,
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
        Scanner {
            literals: ac,
            by_literal,
            regexes,
            time,
            chunk_size: CHUNK_SIZE,
            max_line: MAX_LINE,
        }
    }

    /// Sets the chunk size and the longest line kept whole (tests use tiny values to exercise
    /// chunk boundaries).
    pub fn with_limits(mut self, chunk_size: usize, max_line: usize) -> Scanner {
        self.chunk_size = chunk_size.max(16);
        self.max_line = max_line.max(self.chunk_size);
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

    /// Streams `reader` to the end, pushing matches and notes into `sink`. I/O errors end this
    /// input with a note; they never panic and never abort other inputs.
    pub fn scan<R: Read, S: Sink>(
        &self,
        input: usize,
        name: &str,
        mut reader: R,
        mut sink: S,
    ) -> InputStats {
        let mut st = State {
            input,
            name,
            lines: 0,
            counted_upto: 0,
            base: 0,
            last_time: None,
            matches: 0,
            noted_binary: false,
            noted_utf8: false,
            noted_long: false,
            noted_neighbour: false,
            noted_unresolved: false,
            ends_with_newline: true,
        };
        let mut buf = vec![0u8; self.chunk_size];
        let mut filled = 0usize;
        let mut failed = false;
        let mut eof = false;
        while !eof {
            // Fill the buffer: pipes hand over small pieces, and per-chunk work should be rare.
            while filled < buf.len() {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        let kind = if e.kind() == ErrorKind::InvalidInput
                            || e.kind() == ErrorKind::InvalidData
                            || e.kind() == ErrorKind::UnexpectedEof
                        {
                            NoteKind::Compression
                        } else {
                            NoteKind::ReadError
                        };
                        sink.note(Note {
                            kind,
                            input: name.to_owned(),
                            line: Some(st.lines + 1),
                            offset: Some(st.base + filled as u64),
                            message: format!(
                                "reading stopped at byte offset {}: {e}",
                                st.base + filled as u64
                            ),
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
                    sink.note(Note {
                        kind: NoteKind::TruncatedLastLine,
                        input: name.to_owned(),
                        line: Some(st.lines + count_newlines(data) + 1),
                        offset: Some(st.base + memchr::memrchr(b'\n', data).map_or(0, |i| i + 1) as u64),
                        message: "the last line has no newline (still being written, or cut off); it was scanned as is".into(),
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
                                input: name.to_owned(),
                                line: Some(st.lines + 1),
                                offset: Some(st.base),
                                message: format!(
                                    "line {} is longer than {} MiB; it was scanned in pieces",
                                    st.lines + 1,
                                    self.max_line >> 20
                                ),
                            });
                        }
                        filled
                    }
                }
            };
            self.chunk(&buf[..cut], &mut st, &mut sink);
            st.base += cut as u64;
            sink.progress(st.base);
            buf.copy_within(cut..filled, 0);
            filled -= cut;
        }
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

    /// Processes whole lines (the last one may lack its newline at end of input).
    fn chunk<S: Sink>(&self, data: &[u8], st: &mut State<'_>, sink: &mut S) {
        st.counted_upto = 0;
        if let Some(&last) = data.last() {
            st.ends_with_newline = last == b'\n';
        }
        if !st.noted_binary {
            if let Some(i) = memchr::memchr(0, data) {
                st.noted_binary = true;
                sink.note(Note {
                    kind: NoteKind::Binary,
                    input: st.name.to_owned(),
                    line: None,
                    offset: Some(st.base + i as u64),
                    message: format!(
                        "NUL byte at byte offset {} (binary data, or a file with holes after a crash); scanning goes on",
                        st.base + i as u64
                    ),
                });
            }
        }
        let mut from = 0;
        while from < data.len() {
            let Some(hit) = self.literals.find(Input::new(data).range(from..)) else {
                break;
            };
            let start = memchr::memrchr(b'\n', &data[..hit.start()]).map_or(0, |i| i + 1);
            let end =
                memchr::memchr(b'\n', &data[hit.start()..]).map_or(data.len(), |i| hit.start() + i);
            self.line(data, start, end, hit.pattern().as_usize(), st, sink);
            from = end + 1;
        }
        st.lines += count_newlines(&data[st.counted_upto..]);
        st.counted_upto = data.len();
        // Remember the last stamped line so stamp-less matches early in the next chunk have one.
        let tail = data.strip_suffix(b"\n").unwrap_or(data);
        let last = memchr::memrchr(b'\n', tail).map_or(0, |i| i + 1);
        if let Some(t) = self.stamp_of(&tail[last..]) {
            st.last_time = Some((t, st.lines));
        }
    }

    fn regex(&self, i: usize) -> &Regex {
        self.regexes[i].get_or_init(|| {
            // The catalogue's patterns are constants checked by the unit tests.
            Regex::new(SIGNATURES[i].pattern)
                .unwrap_or_else(|e| panic!("signature {} has a bad pattern: {e}", SIGNATURES[i].id))
        })
    }

    fn stamp_of(&self, line: &[u8]) -> Option<Timestamp> {
        let (stamp, _) = timestamp::parse(line)?;
        self.time.resolve(&stamp)
    }

    /// One line that contains at least one literal.
    fn line<S: Sink>(
        &self,
        data: &[u8],
        start: usize,
        end: usize,
        first_literal: usize,
        st: &mut State<'_>,
        sink: &mut S,
    ) {
        let line = data[start..end]
            .strip_suffix(b"\r")
            .unwrap_or(&data[start..end]);
        // Candidates: every signature of every literal on this line, tried in catalogue order.
        let mut candidates: Vec<usize> = self.by_literal[first_literal].clone();
        for m in self.literals.find_iter(line) {
            let p = m.pattern().as_usize();
            if p != first_literal {
                candidates.extend_from_slice(&self.by_literal[p]);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let found = candidates.iter().find_map(|&i| {
            let re = self.regex(i);
            let caps = re.captures(line)?;
            Some((i, Fields::from_captures(re, &caps)))
        });
        let Some((i, mut fields)) = found else { return };
        let sig = &SIGNATURES[i];
        if sig.source == Source::Nginx {
            fields.add_nginx_context(line);
        }
        st.lines += count_newlines(&data[st.counted_upto..start]);
        st.counted_upto = start;
        let line_number = st.lines + 1;
        st.matches += 1;
        if !st.noted_utf8 && std::str::from_utf8(line).is_err() {
            st.noted_utf8 = true;
            sink.note(Note {
                kind: NoteKind::InvalidUtf8,
                input: st.name.to_owned(),
                line: Some(line_number),
                offset: Some(st.base + start as u64),
                message: format!(
                    "line {line_number} is not valid UTF-8; invalid bytes are shown as U+FFFD"
                ),
            });
        }
        let (time, time_source) = match timestamp::parse(line) {
            Some((stamp, _)) => match self.time.resolve(&stamp) {
                Some(t) => (Some(t), TimeSource::Line),
                None => {
                    if !st.noted_unresolved {
                        st.noted_unresolved = true;
                        sink.note(Note {
                            kind: NoteKind::Time,
                            input: st.name.to_owned(),
                            line: Some(line_number),
                            offset: Some(st.base + start as u64),
                            message: "dmesg stamps count seconds since boot; pass --boot-time (auto, or the boot instant) to place them in time".into(),
                        });
                    }
                    (None, TimeSource::Unresolved)
                }
            },
            None => self.neighbour_time(data, start, end, line_number, st, sink),
        };
        if time_source == TimeSource::Line {
            st.last_time = time.map(|t| (t, line_number));
        }
        let verdict = sig.verdict(&fields);
        sink.matched(&LineMatch {
            input: st.input,
            line_number,
            offset: st.base + start as u64,
            line,
            signature: sig,
            verdict,
            fields,
            time,
            time_source,
        });
    }

    /// The time of the nearest stamped line: earlier lines first (a crash report follows the
    /// line that announced it), then later ones, then the last stamp seen before this chunk.
    fn neighbour_time<S: Sink>(
        &self,
        data: &[u8],
        start: usize,
        end: usize,
        line_number: u64,
        st: &mut State<'_>,
        sink: &mut S,
    ) -> (Option<Timestamp>, TimeSource) {
        let mut found = None;
        let mut cursor = start;
        for back in 1..=NEIGHBOUR_LINES as u64 {
            if cursor == 0 {
                break;
            }
            let prev_end = cursor - 1;
            let prev_start = memchr::memrchr(b'\n', &data[..prev_end]).map_or(0, |i| i + 1);
            if let Some(t) = self.stamp_of(&data[prev_start..prev_end]) {
                found = Some((t, line_number - back));
                break;
            }
            cursor = prev_start;
        }
        if found.is_none() {
            let mut cursor = end;
            for fwd in 1..=NEIGHBOUR_LINES as u64 {
                if cursor >= data.len() {
                    break;
                }
                let next_start = cursor + 1;
                let next_end = memchr::memchr(b'\n', &data[next_start..])
                    .map_or(data.len(), |i| next_start + i);
                if let Some(t) = self.stamp_of(&data[next_start..next_end]) {
                    found = Some((t, line_number + fwd));
                    break;
                }
                cursor = next_end;
            }
        }
        let found = found.or(st.last_time);
        match found {
            Some((t, line)) => {
                if !st.noted_neighbour {
                    st.noted_neighbour = true;
                    sink.note(Note {
                        kind: NoteKind::NeighbourTime,
                        input: st.name.to_owned(),
                        line: Some(line_number),
                        offset: None,
                        message: format!("line {line_number} has no timestamp; it (and similar lines) took the time of the nearest stamped line ({line})"),
                    });
                }
                (Some(t), TimeSource::Neighbour { line })
            }
            None => (None, TimeSource::Missing),
        }
    }
}

/// Counts `\n` bytes. Written so the compiler vectorises it: byte-wide lane counters over
/// 32-byte blocks, widened every 255 blocks before they could overflow.
pub fn count_newlines(hay: &[u8]) -> u64 {
    const LANES: usize = 32;
    let mut total = 0u64;
    let blocks = hay.chunks_exact(LANES);
    let rest = blocks.remainder();
    let mut lanes = [0u8; LANES];
    let mut rounds = 0u32;
    for block in blocks {
        for (lane, &b) in lanes.iter_mut().zip(block) {
            *lane += u8::from(b == b'\n');
        }
        rounds += 1;
        if rounds == 255 {
            total += lanes.iter().map(|&x| u64::from(x)).sum::<u64>();
            lanes = [0; LANES];
            rounds = 0;
        }
    }
    total += lanes.iter().map(|&x| u64::from(x)).sum::<u64>();
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
        for chunk in [16, 64, 100, 997] {
            let c = run(
                &Scanner::new(ctx()).with_limits(chunk, 1 << 20),
                data.as_bytes(),
            );
            let got: Vec<(u64, u64)> = c.hits.iter().map(|h| (h.0, h.1)).collect();
            assert_eq!(got, expect, "chunk {chunk}");
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
