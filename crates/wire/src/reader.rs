//! The incremental response reader: feed it bytes in any split and the connection's events; it
//! follows interim responses to the final one, frames the body, and collects findings.
//!
//! `feed` answers [`Progress::Partial`] while it wants more bytes; that is never an error. Once
//! it answers [`Progress::Done`] the response is complete (or failed for good); bytes fed after
//! that are recorded as excess. The reader keeps the head's bytes (bounded by
//! [`ReaderOptions::max_head_bytes`]) and, only when the body has a content coding to check, the
//! body (bounded by [`ReaderOptions::max_body_capture`]).

use std::borrow::Cow;
use std::time::Duration;

use memchr::memchr;

use crate::bytes::first_odd_byte;
use crate::cause::Cause;
use crate::chunked::ChunkedDecoder;
use crate::encoding::{self, BodyEnd, Coding};
use crate::finding::{Finding, Kind};
use crate::framing::{self, Framing, FramingRules, RequestInfo};
use crate::head::{self, Head, HeadParse, Seen};
use crate::scan::{self, Cursor, Line};

/// The largest head the reader buffers (Pingora's `MAX_HEADER_SIZE`); profiles judge smaller
/// limits on the measured size.
pub const MAX_HEAD_BYTES: usize = 1_048_575;
/// The largest body kept for the content-coding check.
pub const MAX_BODY_CAPTURE: usize = 16 * 1024 * 1024;

/// Room for field lines is made once the status line is in, one for this many bytes already
/// read (most field lines are longer), so the list rarely grows while a head is parsed; at most
/// [`FIELDS_RESERVED_MAX`].
const BYTES_PER_FIELD_RESERVED: usize = 16;
const FIELDS_RESERVED_MAX: usize = 256;

/// Options for one response.
#[derive(Clone, Copy, Debug)]
pub struct ReaderOptions {
    /// What the request was (HEAD, CONNECT, upgrade).
    pub request: RequestInfo,
    /// Head bytes buffered before the head is declared too large.
    pub max_head_bytes: usize,
    /// Body bytes kept for the content-coding check.
    pub max_body_capture: usize,
    /// The connection carried earlier exchanges: a close or reset before any byte of this
    /// response is then the keep-alive race (the origin dropped the idle connection while the
    /// request was on its way), not a failure of this request.
    pub reused_connection: bool,
    /// How the body is delimited where a peer departs from RFC 9112 (a profile's
    /// [`Profile::framing`](crate::Profile::framing)); findings do not change with it.
    pub framing: FramingRules,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            request: RequestInfo::default(),
            max_head_bytes: MAX_HEAD_BYTES,
            max_body_capture: MAX_BODY_CAPTURE,
            reused_connection: false,
            framing: FramingRules::RFC9112,
        }
    }
}

/// What `feed` and the event methods answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are wanted.
    Partial,
    /// The response is complete, or failed for good.
    Done,
}

/// How reading ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum End {
    /// The response was complete by its framing.
    Complete,
    /// The origin closed the connection (FIN).
    Eof,
    /// The origin reset the connection (RST).
    Reset,
    /// The read timeout expired.
    Timeout,
    /// The head exceeded the reader's limit.
    HeadLimit,
    /// A defect made the rest of the stream meaningless (no status line, broken chunk framing).
    Fatal,
}

impl End {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            End::Complete => "complete",
            End::Eof => "eof",
            End::Reset => "reset",
            End::Timeout => "timeout",
            End::HeadLimit => "head-limit",
            End::Fatal => "fatal",
        }
    }
}

/// Progress through the body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BodyProgress {
    /// Body bytes as framed on the wire (chunk framing included).
    pub received: u64,
    /// Body data bytes (chunk framing removed).
    pub data: u64,
    /// Data chunks seen, for chunked bodies.
    pub chunks: u64,
    /// The body is complete by its framing.
    pub complete: bool,
    /// Bytes after the end of the response.
    pub excess: u64,
    /// Stream offset of the first body byte.
    pub offset: u64,
}

/// Longest silences seen, when the caller passes times to [`Reader::feed_at`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gaps {
    /// Longest wait for a byte before the head was complete (from the request on).
    pub head: Duration,
    /// Longest wait between body reads.
    pub body: Duration,
    /// Time of the first byte.
    pub first_byte: Option<Duration>,
    /// Time the final head was complete.
    pub head_complete: Option<Duration>,
    /// Time the response ended.
    pub end: Option<Duration>,
}

/// Everything the reader learnt about one response.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Interim (1xx) responses, in order.
    pub interim: Vec<Head>,
    /// The final head, or the part of it that arrived.
    pub head: Option<Head>,
    /// Whether `head` is complete.
    pub head_complete: bool,
    /// The body framing of the final response.
    pub framing: Option<Framing>,
    /// Body progress.
    pub body: BodyProgress,
    /// How reading ended (None while still reading).
    pub end: Option<End>,
    /// Every finding, ordered by stream offset.
    pub findings: Vec<Finding>,
    /// Bytes fed in total.
    pub bytes: u64,
    /// Silences, if times were given.
    pub gaps: Gaps,
}

impl Report {
    /// Does the report contain a finding of `kind`?
    pub fn has(&self, kind: Kind) -> bool {
        self.findings.iter().any(|f| f.id == kind)
    }

    /// The final status code, if the head got that far.
    pub fn status(&self) -> Option<u16> {
        self.head.as_ref().and_then(|h| h.code)
    }

    /// This exchange read again from `bytes`, the whole stream it was read from, under other
    /// options (a profile's framing rules). Everything up to the body is this report's, the
    /// connection findings and the silences included; the framing, the body, its findings and
    /// the end are the new read's. The stream ends as it did here; where this read stopped at
    /// a defect the new rules accept, at the end of `bytes` as a close.
    pub fn reread(&self, bytes: &[u8], opts: ReaderOptions) -> Report {
        let mut reader = Reader::new(opts);
        reader.feed(bytes);
        match self.end {
            Some(End::Reset) => reader.on_reset(),
            Some(End::Timeout) => reader.on_timeout(),
            _ => reader.on_eof(),
        };
        let fresh = reader.into_report();
        let body_start = self.body.offset;
        let mut out = self.clone();
        out.findings.retain(|f| f.offset < body_start);
        out.findings.extend(
            fresh
                .findings
                .into_iter()
                .filter(|f| f.offset >= body_start),
        );
        out.framing = fresh.framing;
        out.body = fresh.body;
        out.end = fresh.end;
        out
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading a head; `cursor` says where the current line starts in `head_buf`.
    Head {
        cursor: Cursor,
        first_line_seen: bool,
        http_like: bool,
    },
    Body,
    Done,
}

impl State {
    /// Before the first byte of a head.
    fn new_head() -> State {
        State::Head {
            cursor: Cursor::at_line(0),
            first_line_seen: false,
            http_like: true,
        }
    }
}

/// The incremental response reader.
#[derive(Debug)]
pub struct Reader {
    opts: ReaderOptions,
    state: State,
    head_buf: Vec<u8>,
    /// The head being parsed, once its status line is in.
    parse: Option<HeadParse>,
    head_base: u64,
    chunked: ChunkedDecoder,
    /// With `chunked` listed but not final the body runs to close; this reads it as chunked
    /// as well, to tell whether a peer that does so (nginx ≤ 1.22) would fail on it.
    shadow_chunked: Option<ChunkedDecoder>,
    coding: Option<Coding>,
    capture: Vec<u8>,
    capture_overflow: bool,
    last_time: Duration,
    report: Report,
}

impl Reader {
    /// A reader for one response.
    pub fn new(opts: ReaderOptions) -> Reader {
        Reader {
            opts,
            state: State::new_head(),
            head_buf: Vec::new(),
            parse: None,
            head_base: 0,
            chunked: ChunkedDecoder::new(opts.framing.chunk_bare_lf),
            shadow_chunked: None,
            coding: None,
            capture: Vec::new(),
            capture_overflow: false,
            last_time: Duration::ZERO,
            report: Report::default(),
        }
    }

    /// What has been learnt so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The report, findings ordered by offset.
    pub fn into_report(mut self) -> Report {
        self.report.findings.sort_by_key(|f| f.offset);
        self.report
    }

    /// Is the response complete or failed for good?
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds bytes received `at` (time since the request was sent).
    pub fn feed_at(&mut self, bytes: &[u8], at: Duration) -> Progress {
        self.feed_at_with(bytes, at, &mut |_| {})
    }

    /// Like [`Reader::feed_at`], handing each piece of body data (chunk framing removed, bytes
    /// past the body's end left out) to `body` as it is read: what a proxy forwards.
    pub fn feed_at_with(
        &mut self,
        bytes: &[u8],
        at: Duration,
        body: &mut dyn FnMut(&[u8]),
    ) -> Progress {
        let gap = at.saturating_sub(self.last_time);
        self.last_time = at;
        match self.state {
            State::Head { .. } => self.report.gaps.head = self.report.gaps.head.max(gap),
            State::Body => self.report.gaps.body = self.report.gaps.body.max(gap),
            State::Done => {}
        }
        if self.report.gaps.first_byte.is_none() && !bytes.is_empty() {
            self.report.gaps.first_byte = Some(at);
        }
        self.feed_with(bytes, body)
    }

    /// Feeds bytes (no timing).
    pub fn feed(&mut self, bytes: &[u8]) -> Progress {
        self.feed_with(bytes, &mut |_| {})
    }

    /// Feeds bytes (no timing), handing body data to `body` as [`Reader::feed_at_with`] does.
    pub fn feed_with(&mut self, bytes: &[u8], body: &mut dyn FnMut(&[u8])) -> Progress {
        let base = self.report.bytes;
        self.report.bytes += bytes.len() as u64;
        match self.state {
            State::Head { .. } => {
                if self.head_buf.is_empty() {
                    // The usual first read: one allocation of its size, not the growth path.
                    self.head_buf = bytes.to_vec();
                } else {
                    self.head_buf.extend_from_slice(bytes);
                }
                self.scan_head(body);
            }
            State::Body => self.feed_body(bytes, base, body),
            State::Done => self.excess(bytes.len() as u64, base),
        }
        self.progress()
    }

    fn progress(&self) -> Progress {
        if self.state == State::Done {
            Progress::Done
        } else {
            Progress::Partial
        }
    }

    /// The origin closed the connection.
    pub fn on_eof(&mut self) -> Progress {
        self.on_end(End::Eof)
    }

    /// The origin reset the connection.
    pub fn on_reset(&mut self) -> Progress {
        self.on_end(End::Reset)
    }

    /// The read timeout expired.
    pub fn on_timeout(&mut self) -> Progress {
        self.on_end(End::Timeout)
    }

    /// Like the event methods, with the time of the event.
    pub fn on_end_at(&mut self, end: End, at: Duration) -> Progress {
        let gap = at.saturating_sub(self.last_time);
        match self.state {
            State::Head { .. } => self.report.gaps.head = self.report.gaps.head.max(gap),
            State::Body => self.report.gaps.body = self.report.gaps.body.max(gap),
            State::Done => {}
        }
        self.last_time = at;
        let p = self.on_end(end);
        self.report.gaps.end.get_or_insert(at);
        p
    }

    fn on_end(&mut self, end: End) -> Progress {
        let pos = self.report.bytes;
        match self.state {
            State::Head {
                first_line_seen,
                http_like,
                cursor,
            } => self.end_in_head(end, pos, first_line_seen, http_like, cursor.line_start),
            State::Body => self.end_in_body(end, pos),
            State::Done => return Progress::Done,
        }
        if self.report.end.is_none() {
            self.report.end = Some(end);
        }
        self.state = State::Done;
        Progress::Done
    }

    fn end_in_head(
        &mut self,
        end: End,
        pos: u64,
        first_line_seen: bool,
        http_like: bool,
        line_start: usize,
    ) {
        if self.report.bytes == 0 {
            let (kind, msg) = match end {
                End::Reset => (Kind::ResponseReset, "connection reset before any byte"),
                End::Timeout => (Kind::ResponseTimeout, "no byte before the read timeout"),
                _ => (
                    Kind::ResponseEmpty,
                    "connection closed without a single byte",
                ),
            };
            let mut finding = Finding::at(kind, 0, msg);
            if self.opts.reused_connection && end != End::Timeout {
                finding.cause = Cause::KeepaliveRace;
                finding
                    .message
                    .to_mut()
                    .push_str(" on a reused keep-alive connection");
            }
            self.report.findings.push(finding);
            return;
        }
        let buf = &self.head_buf[..];
        let http_like = if first_line_seen {
            http_like
        } else {
            buf.is_empty() || is_status_line_prefix(buf) || head::looks_like_status_line(buf)
        };
        if !http_like {
            let second = &buf[line_start.min(buf.len())..];
            self.fatal_start_line(first_line_seen && second.starts_with(b"HTTP/"));
            return;
        }
        // Only complete lines are judged: the line the connection cut is not a defect of its own.
        let complete = memchr::memrchr(b'\n', &self.head_buf).map_or(0, |lf| lf + 1);
        if let Some(parse) = self.parse.take().filter(|_| complete > 0) {
            let mut raw = std::mem::take(&mut self.head_buf);
            raw.truncate(complete);
            // The scan has parsed every line up to the last LF.
            let (head, _) = parse.finish(raw, &mut self.report.findings);
            self.report.head = Some(head);
        }
        let (kind, msg) = match end {
            End::Reset => (
                Kind::HeadReset,
                "connection reset in the middle of the head",
            ),
            End::Timeout => (
                Kind::ResponseTimeout,
                "the head was not complete before the read timeout",
            ),
            _ => (
                Kind::HeadTruncated,
                "connection closed in the middle of the head",
            ),
        };
        self.report
            .findings
            .push(Finding::at(kind, pos, format!("{msg} (after {pos} bytes)")));
    }

    fn end_in_body(&mut self, end: End, pos: u64) {
        let framing = self.report.framing.unwrap_or(Framing::CloseDelimited);
        let body = self.report.body;
        let finding = match (framing, end) {
            (_, End::Timeout) => Some(Finding::at(
                Kind::BodyStalled,
                pos,
                format!(
                    "the body stalled past the read timeout after {} bytes",
                    body.received
                ),
            )),
            (Framing::Length(n), _) => Some(Finding::at(
                if end == End::Reset {
                    Kind::BodyReset
                } else {
                    Kind::BodyShortOfCl
                },
                pos,
                format!(
                    "connection {} after {} of {n} body bytes",
                    if end == End::Reset { "reset" } else { "closed" },
                    body.received
                ),
            )),
            (Framing::Chunked, _) => Some(Finding::at(
                if end == End::Reset {
                    Kind::BodyReset
                } else {
                    Kind::BodyIncompleteChunked
                },
                pos,
                format!(
                    "connection {} before the last chunk ({} data bytes in {} chunks)",
                    if end == End::Reset { "reset" } else { "closed" },
                    body.data,
                    self.chunked.chunks
                ),
            )),
            (_, End::Reset) => Some(Finding::at(
                Kind::BodyReset,
                pos,
                "connection reset in a close-delimited body: it may be cut short",
            )),
            _ => None,
        };
        match finding {
            Some(f) => self.report.findings.push(f),
            None => {
                self.report.body.complete = true;
                self.report.end = Some(End::Complete);
            }
        }
        let short = match framing {
            Framing::Length(n) if !self.report.body.complete => BodyEnd::ShortOfLength(n),
            _ if self.report.body.complete => BodyEnd::Complete,
            _ => BodyEnd::Other,
        };
        self.check_encoding(short);
    }

    fn fatal_start_line(&mut self, garbage_then_status: bool) {
        let (kind, msg) = if garbage_then_status {
            (
                Kind::StartLineGarbagePrefix,
                Cow::Borrowed("bytes before the status line"),
            )
        } else {
            let line = self.head_buf.split(|&b| b == b'\n').next().unwrap_or(&[]);
            (
                Kind::StartLineMissing,
                Cow::Owned(format!(
                    "no status line: the response starts with `{}` (a body before headers, or HTTP/0.9)",
                    crate::escape::escape(&line[..line.len().min(40)])
                )),
            )
        };
        self.report
            .findings
            .push(Finding::at(kind, self.head_base, msg));
        self.report.end = Some(End::Fatal);
        self.state = State::Done;
    }

    fn scan_head(&mut self, body: &mut dyn FnMut(&[u8])) {
        loop {
            let State::Head {
                mut cursor,
                first_line_seen,
                http_like,
            } = self.state
            else {
                return;
            };
            // TLS records on a plain-text port: no line will ever come.
            if !first_line_seen && self.head_buf.len() >= 2 && self.head_base == 0 {
                if let [0x15 | 0x16, 0x03, ..] = self.head_buf[..] {
                    self.report.findings.push(Finding::at(
                        Kind::StartLineMissing,
                        0,
                        "the origin answered with a TLS record: it speaks TLS on this port",
                    ));
                    self.report.end = Some(End::Fatal);
                    self.state = State::Done;
                    return;
                }
            }
            if first_line_seen && http_like {
                // Past the status line the head ends at the first empty line: one pass finds it
                // and hands every line on the way to the parser.
                let (raw, findings) = (&self.head_buf, &mut self.report.findings);
                let parse = self.parse.as_mut().expect("a status line");
                let end = scan::scan_to_empty_line(raw, &mut cursor, |line| {
                    parse.line(raw, line, findings);
                });
                if let Some(end) = end {
                    self.complete_head(end, body);
                    return;
                }
                self.state = State::Head {
                    cursor,
                    first_line_seen,
                    http_like,
                };
                self.check_head_limit();
                return;
            }
            let line_start = cursor.line_start;
            // A plain line read whole (the usual status line) ends at its first odd byte.
            let plain_lf = (cursor.scanned == line_start)
                .then(|| first_odd_byte(&self.head_buf, line_start))
                .flatten()
                .filter(|&odd| self.head_buf.get(odd..odd + 2) == Some(b"\r\n"))
                .map(|cr| cr + 1);
            let Some(lf) = plain_lf.or_else(|| {
                memchr(b'\n', &self.head_buf[cursor.scanned..]).map(|i| cursor.scanned + i)
            }) else {
                cursor.scanned = self.head_buf.len();
                self.state = State::Head {
                    cursor,
                    first_line_seen,
                    http_like,
                };
                self.check_head_limit();
                return;
            };
            // A line longer than the limit is over it whether or not its LF came in the same
            // read: read in pieces, the limit would have stopped it before the LF.
            if lf > self.opts.max_head_bytes {
                self.check_head_limit();
                return;
            }
            let content_end = if lf > line_start && self.head_buf[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            let empty = content_end == line_start;
            if !first_line_seen {
                if empty {
                    if !self.report.has(Kind::StartLineLeadingCrlf) {
                        self.report.findings.push(Finding::at(
                            Kind::StartLineLeadingCrlf,
                            self.head_base,
                            "empty line before the status line",
                        ));
                    }
                    self.head_buf.drain(..=lf);
                    self.head_base += (lf + 1) as u64;
                    self.state = State::new_head();
                    continue;
                }
                let http_like = head::looks_like_status_line(&self.head_buf[..content_end]);
                if http_like {
                    let status_line = Line {
                        start: 0,
                        content_end,
                        bare_lf: content_end == lf,
                        plain: plain_lf.is_some(),
                    };
                    let hint = ((self.head_buf.len() - lf) / BYTES_PER_FIELD_RESERVED)
                        .min(FIELDS_RESERVED_MAX);
                    self.parse = Some(HeadParse::start(
                        &self.head_buf,
                        &status_line,
                        self.head_base,
                        hint,
                        &mut self.report.findings,
                    ));
                }
                self.state = State::Head {
                    cursor: Cursor::at_line(lf + 1),
                    first_line_seen: true,
                    http_like,
                };
                continue;
            }
            // The first line was no status line: the second tells garbage from a body.
            let second = &self.head_buf[line_start..content_end];
            self.fatal_start_line(second.starts_with(b"HTTP/"));
            return;
        }
    }

    fn check_head_limit(&mut self) {
        if self.head_buf.len() > self.opts.max_head_bytes {
            if let Some(parse) = self.parse.take() {
                self.report.findings.truncate(parse.findings_before);
            }
            self.report.findings.push(Finding::at(
                Kind::HeadTooLarge,
                self.head_base,
                format!(
                    "the head exceeds {} bytes without ending",
                    self.opts.max_head_bytes
                ),
            ));
            self.report.end = Some(End::HeadLimit);
            self.state = State::Done;
        }
    }

    fn complete_head(&mut self, head_len: usize, body: &mut dyn FnMut(&[u8])) {
        if head_len > self.opts.max_head_bytes {
            self.check_head_limit();
            if self.state == State::Done {
                return;
            }
        }
        let rest = self.head_buf.split_off(head_len);
        let raw = std::mem::replace(&mut self.head_buf, rest);
        let base = self.head_base;
        let parse = self.parse.take().expect("a status line");
        let (head, names) = parse.finish(raw, &mut self.report.findings);
        self.head_base += head_len as u64;
        let rest_base = self.head_base;

        if head.is_interim() {
            self.report.findings.push(Finding::new(
                Kind::StatusInterim,
                base..base + head.status_line.end as u64,
                format!(
                    "interim {} response before the final one",
                    head.code.unwrap_or(0)
                ),
            ));
            self.report.interim.push(head);
            self.state = State::new_head();
            self.scan_head(body);
            return;
        }
        if head.code == Some(101) && !self.opts.request.upgrade {
            self.report.findings.push(Finding::new(
                Kind::StatusUnsolicited101,
                base..base + head.status_line.end as u64,
                "101 Switching Protocols, but the request asked for no upgrade",
            ));
        }
        // 600-999 are not server errors but invalid codes (`status.above-599`).
        if head.code.is_some_and(|c| (500..=599).contains(&c)) {
            self.report.findings.push(Finding::new(
                Kind::StatusOrigin5xx,
                base..base + head.status_line.end as u64,
                format!("the origin itself answered {}", head.code.unwrap_or(0)),
            ));
        }
        let framing = framing::decide_named(
            &head,
            &names,
            self.opts.request,
            self.opts.framing,
            &mut self.report.findings,
        );
        self.coding = names
            .content_encoding
            .map(|i| head.value(&head.fields[i]))
            .and_then(|v| match Coding::from_header(v) {
                Ok(c) => c,
                Err(name) => {
                    self.report.findings.push(Finding::at(
                        Kind::EncodingUnchecked,
                        base,
                        format!("content coding `{name}` is not checked"),
                    ));
                    None
                }
            });
        if framing == Framing::CloseDelimited
            && names.transfer_encoding != Seen::None
            && lists_chunked_anywhere(&head)
        {
            // nginx ≤ 1.22, whose reading this shadows, lets a bare LF end chunk lines.
            self.shadow_chunked = Some(ChunkedDecoder::new(true));
        }
        self.report.head = Some(head);
        self.report.head_complete = true;
        self.report.framing = Some(framing);
        self.report.body.offset = rest_base;
        self.report.gaps.head_complete = Some(self.last_time);
        self.state = State::Body;
        let rest = std::mem::take(&mut self.head_buf);
        if framing == Framing::NoBody || framing == Framing::Length(0) {
            self.finish_body();
        }
        if !rest.is_empty() {
            if self.state == State::Done {
                self.excess(rest.len() as u64, rest_base);
            } else {
                self.feed_body(&rest, rest_base, body);
            }
        }
    }

    fn feed_body(&mut self, bytes: &[u8], base: u64, body: &mut dyn FnMut(&[u8])) {
        let framing = self.report.framing.unwrap_or(Framing::CloseDelimited);
        let used = match framing {
            Framing::NoBody => 0,
            Framing::Length(n) => {
                let left = n - self.report.body.received;
                let take = (left.min(bytes.len() as u64)) as usize;
                if take > 0 {
                    body(&bytes[..take]);
                }
                self.capture_data(&bytes[..take]);
                self.report.body.data += take as u64;
                take
            }
            Framing::Chunked => {
                let mut data = Vec::new();
                let mut count = 0u64;
                let want = self.coding.is_some();
                let used = self.chunked.feed(
                    bytes,
                    base,
                    &mut |d| {
                        count += d.len() as u64;
                        body(d);
                        if want {
                            data.extend_from_slice(d)
                        }
                    },
                    &mut self.report.findings,
                );
                self.capture_data(&data);
                self.report.body.data += count;
                self.report.body.chunks = self.chunked.chunks;
                used
            }
            Framing::CloseDelimited | Framing::Tunnel => {
                if !bytes.is_empty() {
                    body(bytes);
                }
                if let Some(shadow) = &mut self.shadow_chunked {
                    shadow_chunked(shadow, bytes, base, &mut self.report.findings);
                    if shadow.is_done() || shadow.is_failed() {
                        self.shadow_chunked = None;
                    }
                }
                self.capture_data(bytes);
                self.report.body.data += bytes.len() as u64;
                bytes.len()
            }
        };
        self.report.body.received += used as u64;
        let complete = match framing {
            Framing::Length(n) => self.report.body.received == n,
            Framing::Chunked => self.chunked.is_done(),
            Framing::NoBody => true,
            _ => false,
        };
        if complete {
            self.finish_body();
        } else if self.chunked.is_failed() {
            self.report.end = Some(End::Fatal);
            self.state = State::Done;
            return;
        }
        if used < bytes.len() {
            self.excess((bytes.len() - used) as u64, base + used as u64);
        }
    }

    fn finish_body(&mut self) {
        self.report.body.complete = true;
        self.report.end = Some(End::Complete);
        self.report.gaps.end.get_or_insert(self.last_time);
        self.state = State::Done;
        self.check_encoding(BodyEnd::Complete);
    }

    fn capture_data(&mut self, data: &[u8]) {
        if self.coding.is_none() || data.is_empty() {
            return;
        }
        let room = self
            .opts
            .max_body_capture
            .saturating_sub(self.capture.len());
        if data.len() > room {
            self.capture_overflow = true;
        }
        self.capture
            .extend_from_slice(&data[..data.len().min(room)]);
    }

    fn check_encoding(&mut self, end: BodyEnd) {
        let Some(coding) = self.coding.take() else {
            return;
        };
        if self.capture_overflow || self.capture.is_empty() {
            return;
        }
        if let Some(f) = encoding::check(coding, &self.capture, end, self.report.body.offset) {
            self.report.findings.push(f);
        }
        self.capture = Vec::new();
    }

    fn excess(&mut self, n: u64, at: u64) {
        // After a fatal defect or an oversized head the rest of the stream is not a body: it
        // is not counted (whatever the read boundaries were).
        if n == 0 || matches!(self.report.end, Some(End::Fatal | End::HeadLimit)) {
            return;
        }
        let first = self.report.body.excess == 0;
        self.report.body.excess += n;
        if !first || !self.report.head_complete {
            return;
        }
        let framing = self.report.framing.unwrap_or(Framing::NoBody);
        let code = self.report.status().unwrap_or(0);
        let (kind, msg) = match framing {
            Framing::NoBody if self.opts.request.head => {
                (Kind::BodyOnHead, "a body on the response to HEAD")
            }
            Framing::NoBody => (
                Kind::BodyOnBodilessStatus,
                "a body on a response without one",
            ),
            Framing::Chunked => (Kind::BodyTrailingGarbage, "bytes after the last chunk"),
            _ => (Kind::BodyExcessAfterCl, "bytes after Content-Length"),
        };
        let msg = if framing == Framing::NoBody && !self.opts.request.head {
            format!("a body on a {code} response, which has none")
        } else {
            msg.to_owned()
        };
        self.report.findings.push(Finding::at(kind, at, msg));
    }
}

/// Does a Transfer-Encoding value contain `chunked` anywhere, as nginx up to 1.22 looks for it?
fn lists_chunked_anywhere(head: &Head) -> bool {
    head.fields_named("transfer-encoding")
        .any(|f| framing::contains_chunked(head.value(f)))
}

/// Feeds the close-delimited body to the decoder that reads it as chunked; its first failure
/// becomes one finding.
fn shadow_chunked(shadow: &mut ChunkedDecoder, bytes: &[u8], base: u64, out: &mut Vec<Finding>) {
    let mut failed = Vec::new();
    shadow.feed(bytes, base, &mut |_| {}, &mut failed);
    if !shadow.is_failed() {
        return;
    }
    if let Some(f) = failed.last() {
        out.push(Finding::at(
            Kind::TeNotFinalChunkedInvalid,
            f.offset,
            format!(
                "read as chunked (as `chunked` is listed), the body is broken: {}",
                f.message
            ),
        ));
    }
}

/// Is `partial` (a first line without its LF yet) a prefix of `HTTP/`?
fn is_status_line_prefix(partial: &[u8]) -> bool {
    let n = partial.len().min(5);
    partial[..n].eq_ignore_ascii_case(&b"HTTP/"[..n])
}
