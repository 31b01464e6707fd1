//! The response head: status line and field lines, parsed with byte spans.
//!
//! Parsing never fails: every defect becomes a [`Finding`] and the parse goes on, so one pass
//! reports everything wrong with a head (unlike httparse, which stops at the first error).
//! Spans are relative to [`Head::raw`]; findings carry absolute stream offsets.

use std::borrow::Cow;
use std::ops::Range;

use memchr::memchr;

use crate::bytes::{eq_lower, is_field_content, is_ows, is_plain_ascii, token_prefix_len_in};
use crate::finding::{Finding, Kind};
use crate::scan::Line;
use crate::simd::{name_masks, LANES};

/// An HTTP version as sent (digits may exceed one place: `HTTP/1.10` is (1, 10)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Version {
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

/// One field line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The whole line(s), without the line terminator (obs-fold continuations included).
    pub line: Range<usize>,
    /// The name, without whitespace before the colon.
    pub name: Range<usize>,
    /// The value, without surrounding OWS (continuations included, raw).
    pub value: Range<usize>,
}

/// A parsed response head (interim or final).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Stream offset of the first byte of `raw`.
    pub offset: u64,
    /// The head's bytes: status line through the empty line that ends it.
    pub raw: Vec<u8>,
    /// The status line without its terminator.
    pub status_line: Range<usize>,
    /// The version, when one could be read.
    pub version: Option<Version>,
    /// The status code, when three digits (or an IIS `403.1`) could be read.
    pub code: Option<u16>,
    /// The reason phrase.
    pub reason: Range<usize>,
    /// The field lines in order.
    pub fields: Vec<Field>,
    /// Whether the status line looks like HTTP at all (`HTTP/` in any case, or `NAME/digit`).
    pub http_like: bool,
}

impl Head {
    /// Bytes of the head covered by `span`.
    pub fn bytes(&self, span: &Range<usize>) -> &[u8] {
        &self.raw[span.clone()]
    }

    /// Size of the head in bytes, terminator included.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// True when the head has no bytes (never the case for a parsed head).
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Name of a field.
    pub fn name(&self, f: &Field) -> &[u8] {
        self.bytes(&f.name)
    }

    /// Value of a field.
    pub fn value(&self, f: &Field) -> &[u8] {
        self.bytes(&f.value)
    }

    /// Fields whose name equals `name`, ASCII case-insensitively.
    pub fn fields_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Field> + 'a {
        self.fields
            .iter()
            .filter(move |f| self.name(f).eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The first value of `name`.
    pub fn first(&self, name: &str) -> Option<&[u8]> {
        self.fields_named(name).next().map(|f| self.value(f))
    }

    /// Does a `Connection` field list `token` (ASCII case ignored)?
    pub fn connection_lists(&self, token: &[u8]) -> bool {
        self.fields_named("connection").any(|f| {
            self.value(f)
                .split(|&b| b == b',')
                .any(|t| crate::bytes::trim_ows(t).eq_ignore_ascii_case(token))
        })
    }

    /// Does the response leave the connection open for another request (RFC 9112 §9.3)?
    /// HTTP/1.1 does unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    pub fn keeps_connection_open(&self) -> bool {
        match self.version {
            Some(v) if v.major == 1 && v.minor == 0 => {
                self.connection_lists(b"keep-alive") && !self.connection_lists(b"close")
            }
            Some(_) => !self.connection_lists(b"close"),
            None => false,
        }
    }

    /// Is this an interim (1xx) response other than 101?
    pub fn is_interim(&self) -> bool {
        matches!(self.code, Some(c) if (100..200).contains(&c) && c != 101)
    }

    /// Absolute stream offset of a position in `raw`.
    pub fn abs(&self, pos: usize) -> u64 {
        self.offset + pos as u64
    }
}

/// Fields a sender must not repeat (RFC 9110 §5.3); Content-Length is judged by framing.
const SINGLETONS: [&str; 11] = [
    "age",
    "date",
    "etag",
    "server",
    "expires",
    "location",
    "retry-after",
    "content-type",
    "last-modified",
    "content-range",
    "content-location",
];

/// A field name the reader acts on, found by length first and then one case-insensitive
/// compare: this runs for every field of every head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    ContentLength,
    TransferEncoding,
    ContentEncoding,
    /// `SINGLETONS[i]`.
    Singleton(u8),
}

#[inline(always)]
fn known(name: &[u8]) -> Option<Known> {
    let single =
        |i: u8| eq_lower(name, SINGLETONS[i as usize].as_bytes()).then_some(Known::Singleton(i));
    match name.len() {
        3 => single(0),
        4 => single(1).or_else(|| single(2)),
        6 => single(3),
        7 => single(4),
        8 => single(5),
        11 => single(6),
        12 => single(7),
        13 => single(8).or_else(|| single(9)),
        14 => eq_lower(name, b"content-length").then_some(Known::ContentLength),
        16 => single(10)
            .or_else(|| eq_lower(name, b"content-encoding").then_some(Known::ContentEncoding)),
        17 => eq_lower(name, b"transfer-encoding").then_some(Known::TransferEncoding),
        _ => None,
    }
}

fn singleton(name: &[u8]) -> Option<&'static str> {
    match known(name) {
        Some(Known::Singleton(i)) => Some(SINGLETONS[i as usize]),
        _ => None,
    }
}

/// How many fields of one name a head has, and where the first is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Seen {
    /// None.
    #[default]
    None,
    /// One, at this index of [`Head::fields`].
    One(usize),
    /// More than one.
    Many,
}

impl Seen {
    fn note(&mut self, index: usize) {
        *self = match self {
            Seen::None => Seen::One(index),
            _ => Seen::Many,
        };
    }
}

/// What the parse noted about the names it met, so that the reader's next steps (framing, the
/// content coding, repeated fields) need not go over the fields again.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Names {
    /// Content-Length fields.
    pub content_length: Seen,
    /// Transfer-Encoding fields.
    pub transfer_encoding: Seen,
    /// The first Content-Encoding field.
    pub content_encoding: Option<usize>,
    /// Singletons met so far, one bit each.
    singletons: u16,
    /// A singleton came twice.
    repeated_singleton: bool,
}

impl Names {
    #[inline(always)]
    fn note(&mut self, name: &[u8], index: usize) {
        match known(name) {
            None => {}
            Some(Known::ContentLength) => self.content_length.note(index),
            Some(Known::TransferEncoding) => self.transfer_encoding.note(index),
            Some(Known::ContentEncoding) => {
                self.content_encoding.get_or_insert(index);
            }
            Some(Known::Singleton(i)) => {
                self.repeated_singleton |= self.singletons & 1 << i != 0;
                self.singletons |= 1 << i;
            }
        }
    }
}

/// A head being parsed a line at a time, as the line scan finds its lines: the status line
/// first ([`HeadParse::start`]), then each field line and the empty line
/// ([`HeadParse::line`]), then the bytes ([`HeadParse::finish`]). Lines are parsed while they
/// are in cache, and no list of them is kept.
#[derive(Debug)]
pub(crate) struct HeadParse {
    /// The head so far; its bytes are handed over at the end.
    head: Head,
    names: Names,
    /// The first line that ended in a bare LF.
    bare_lf_at: Option<usize>,
    /// How many findings there were before this head's: a head that turns out too large is
    /// reported as that alone, as if never parsed.
    pub findings_before: usize,
}

impl HeadParse {
    /// Starts a head at stream `offset` whose status line is `line` of `raw`, a line that
    /// [`looks_like_status_line`]; `fields_hint` is room to make for field lines.
    pub(crate) fn start(
        raw: &[u8],
        line: &Line,
        offset: u64,
        fields_hint: usize,
        findings: &mut Vec<Finding>,
    ) -> HeadParse {
        let mut head = Head {
            offset,
            raw: Vec::new(),
            status_line: line.content(),
            version: None,
            code: None,
            reason: 0..0,
            fields: Vec::with_capacity(fields_hint),
            http_like: false,
        };
        let findings_before = findings.len();
        parse_status_line(raw, line.plain, &mut head, findings);
        HeadParse {
            head,
            names: Names::default(),
            bare_lf_at: line.bare_lf.then_some(line.content_end),
            findings_before,
        }
    }

    /// Parses the next line of `raw` after the status line (the empty line ends the head).
    #[inline(always)]
    pub(crate) fn line(&mut self, raw: &[u8], line: &Line, findings: &mut Vec<Finding>) {
        if line.bare_lf && self.bare_lf_at.is_none() {
            self.bare_lf_at = Some(line.content_end);
        }
        if !line.is_empty() {
            parse_field_line(raw, line, &mut self.head, findings, &mut self.names);
        }
    }

    /// The head, with `raw` (its bytes up to the last line parsed) and what the parse noted
    /// about its names.
    pub(crate) fn finish(self, raw: Vec<u8>, findings: &mut Vec<Finding>) -> (Head, Names) {
        let HeadParse {
            mut head,
            names,
            bare_lf_at,
            ..
        } = self;
        if let Some(at) = bare_lf_at {
            findings.push(Finding::at(
                Kind::HeadBareLf,
                head.offset + at as u64,
                "line ends in a bare LF instead of CRLF",
            ));
        }
        head.raw = raw;
        if names.repeated_singleton {
            check_duplicates(&head, findings);
        }
        (head, names)
    }
}

/// Does the start of a first line look like an HTTP status line (`HTTP/`, any case, or a
/// short alphabetic protocol name and a slash)? Used to tell a head from a body sent first.
pub fn looks_like_status_line(line: &[u8]) -> bool {
    if line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"HTTP/") {
        return true;
    }
    match memchr(b'/', line) {
        Some(slash) if (2..=8).contains(&slash) => {
            line[..slash].iter().all(u8::is_ascii_alphabetic)
                && line.get(slash + 1).is_some_and(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// Parses the status line `head.status_line` of `raw`; `plain`: its bytes are known to be
/// printable ASCII or SP.
fn parse_status_line(raw: &[u8], plain: bool, head: &mut Head, out: &mut Vec<Finding>) {
    if plain && parse_usual_status_line(raw, head) {
        return;
    }
    let base = head.offset + head.status_line.start as u64;
    let mut line = &raw[head.status_line.clone()];
    let at = |i: usize| base + i as u64;

    let mut cut = false;
    if let Some(cr) = (!plain && !is_plain_ascii(line))
        .then(|| memchr(b'\r', line))
        .flatten()
    {
        out.push(Finding::at(
            Kind::StartLineBareCr,
            at(cr),
            "bare CR inside the status line",
        ));
        line = &line[..cr];
        cut = true;
    }
    // The whole line looked like a status line (the reader's test); cut short, it may not.
    head.http_like = !cut || looks_like_status_line(line);
    if !head.http_like {
        return;
    }
    let slash = memchr(b'/', line).unwrap_or(0);
    if &line[..slash] != b"HTTP" {
        out.push(Finding::new(
            Kind::VersionBadName,
            at(0)..at(slash),
            format!(
                "protocol name is `{}`, not `HTTP` (case-sensitive)",
                String::from_utf8_lossy(&line[..slash])
            ),
        ));
    }

    // HTTP-version = HTTP-name "/" DIGIT "." DIGIT
    let mut i = slash + 1;
    let major_start = i;
    while i < line.len() && line[i].is_ascii_digit() {
        i += 1;
    }
    let major_digits = major_start..i;
    let has_dot = line.get(i) == Some(&b'.');
    if has_dot {
        i += 1;
    }
    let minor_start = i;
    while i < line.len() && line[i].is_ascii_digit() {
        i += 1;
    }
    let minor_digits = minor_start..i;
    if major_digits.is_empty() || !has_dot || minor_digits.is_empty() {
        out.push(Finding::new(
            Kind::VersionBadName,
            at(slash + 1)..at(i),
            "version is not DIGIT \".\" DIGIT",
        ));
    } else {
        let num = |r: Range<usize>| {
            line[r].iter().fold(0u16, |n, d| {
                n.saturating_mul(10).saturating_add((d - b'0') as u16)
            })
        };
        let v = Version {
            major: num(major_digits.clone()),
            minor: num(minor_digits.clone()),
        };
        head.version = Some(v);
        if major_digits.len() > 1 || minor_digits.len() > 1 {
            out.push(Finding::new(
                Kind::VersionMultiDigit,
                at(major_start)..at(i),
                "version has more than one digit on a side of the dot",
            ));
        } else if v.major == 0 {
            out.push(Finding::new(
                Kind::VersionHttp09,
                at(major_start)..at(i),
                "HTTP/0.9 has no status line",
            ));
        } else if v.major != 1 {
            out.push(Finding::new(
                Kind::VersionUnsupportedMajor,
                at(major_start)..at(i),
                format!("HTTP/{}.{} is not an HTTP/1 message", v.major, v.minor),
            ));
        } else if v.minor > 1 {
            out.push(Finding::new(
                Kind::VersionUnknownMinor,
                at(major_start)..at(i),
                format!("unknown minor version HTTP/1.{} (read as 1.1)", v.minor),
            ));
        }
    }

    // SP status-code
    let delim_start = i;
    while i < line.len() && (line[i] == b' ' || matches!(line[i], b'\t' | 0x0b | 0x0c)) {
        i += 1;
    }
    let delim = &line[delim_start..i];
    if delim.is_empty() {
        if i < line.len() {
            out.push(Finding::at(
                Kind::StatusLineBadDelimiter,
                at(i),
                "no SP between version and status code",
            ));
        }
    } else if delim.iter().any(|&b| b != b' ') {
        out.push(Finding::new(
            Kind::StatusLineBadDelimiter,
            at(delim_start)..at(i),
            "whitespace other than SP between version and status code",
        ));
    } else if delim.len() > 1 {
        out.push(Finding::new(
            Kind::StatusLineExtraWs,
            at(delim_start)..at(i),
            format!("{} spaces between version and status code", delim.len()),
        ));
    }

    let code_start = i;
    while i < line.len() && !is_ows(line[i]) {
        i += 1;
    }
    let code = &line[code_start..i];
    classify_code(code, at(code_start), head, out);

    // SP [ reason-phrase ]
    match line.get(i) {
        None => {
            if head.code.is_some() {
                out.push(Finding::at(
                    Kind::StatusLineMissingSp,
                    at(i),
                    "no SP after the status code",
                ));
            }
            head.reason = head.status_line.start + i..head.status_line.start + i;
        }
        Some(&b) => {
            if b == b'\t' {
                out.push(Finding::at(
                    Kind::StatusLineBadDelimiter,
                    at(i),
                    "HTAB instead of SP after the status code",
                ));
            }
            let reason_start = i + 1;
            head.reason =
                head.status_line.start + reason_start..head.status_line.start + line.len();
            if !plain {
                check_reason(&line[reason_start..], at(reason_start), out);
            }
        }
    }
}

/// The usual status line, `HTTP/1.1 200 OK` (or `HTTP/1.0`, a code of 100-599 and a reason
/// phrase of plain bytes), read without the general parser: true when the line was one (there
/// is then nothing to report), false to leave it to the general parser.
#[inline]
fn parse_usual_status_line(raw: &[u8], head: &mut Head) -> bool {
    let span = head.status_line.clone();
    let [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor @ (b'0' | b'1'), b' ', hundreds @ b'1'..=b'5', tens @ b'0'..=b'9', ones @ b'0'..=b'9', b' ', ..] =
        raw[span.clone()]
    else {
        return false;
    };
    let digit = |d: u8| u16::from(d - b'0');
    head.http_like = true;
    head.version = Some(Version {
        major: 1,
        minor: digit(minor),
    });
    head.code = Some(digit(hundreds) * 100 + digit(tens) * 10 + digit(ones));
    head.reason = span.start + 13..span.end;
    true
}

fn classify_code(code: &[u8], offset: u64, head: &mut Head, out: &mut Vec<Finding>) {
    let span = offset..offset + code.len() as u64;
    if code.len() == 3 && code.iter().all(u8::is_ascii_digit) {
        // The usual code: three digits, nothing to report unless out of range.
        return set_code(code, offset, head, out);
    }
    let shown = String::from_utf8_lossy(code);
    if code.is_empty() {
        out.push(Finding::at(
            Kind::StatusTooFewDigits,
            offset,
            "no status code",
        ));
        return;
    }
    if code.iter().all(u8::is_ascii_digit) {
        match code.len() {
            3 => {}
            n if n < 3 => {
                out.push(Finding::new(
                    Kind::StatusTooFewDigits,
                    span,
                    format!("status code `{shown}` has {n} digits, not 3"),
                ));
                // Kept: peers that forward it (HAProxy) pass this value on.
                head.code = Some(code.iter().fold(0, |n, d| n * 10 + (d - b'0') as u16));
                return;
            }
            n => {
                out.push(Finding::new(
                    Kind::StatusNot3Digits,
                    span,
                    format!("status code `{shown}` has {n} digits, not 3"),
                ));
                return;
            }
        }
    } else if code.len() > 4
        && code[..3].iter().all(u8::is_ascii_digit)
        && code[3] == b'.'
        && code[4..].iter().all(u8::is_ascii_digit)
    {
        out.push(Finding::new(
            Kind::StatusSubStatus,
            span,
            format!("IIS-style sub-status `{shown}`"),
        ));
    } else {
        out.push(Finding::new(
            Kind::StatusNonDigit,
            span,
            format!("status code `{shown}` is not three digits"),
        ));
        return;
    }
    set_code(code, offset, head, out);
}

/// Takes the code from the three digits `code` starts with, reporting one out of 100-599.
fn set_code(code: &[u8], offset: u64, head: &mut Head, out: &mut Vec<Finding>) {
    let value = code[..3]
        .iter()
        .fold(0u16, |n, d| n * 10 + (d - b'0') as u16);
    head.code = Some(value);
    if value < 100 {
        out.push(Finding::new(
            Kind::StatusBelow100,
            offset..offset + 3,
            format!("status {value:03} is below 100"),
        ));
    } else if value > 599 {
        out.push(Finding::new(
            Kind::StatusAbove599,
            offset..offset + 3,
            format!("status {value} is above 599 (read as 5xx)"),
        ));
    }
}

fn check_reason(reason: &[u8], offset: u64, out: &mut Vec<Finding>) {
    if let Some(i) = reason
        .iter()
        .position(|&b| b != b'\t' && (b < 0x20 || b == 0x7f))
    {
        out.push(Finding::at(
            Kind::ReasonCtl,
            offset + i as u64,
            format!("control byte {:#04x} in the reason phrase", reason[i]),
        ));
    }
    if let Some(i) = reason.iter().position(|&b| b >= 0x80) {
        out.push(Finding::at(
            Kind::ReasonObsText,
            offset + i as u64,
            "non-ASCII bytes in the reason phrase",
        ));
    }
}

#[inline]
fn parse_field_line(
    raw: &[u8],
    line: &Line,
    head: &mut Head,
    out: &mut Vec<Finding>,
    names: &mut Names,
) {
    let span = line.content();
    let token_len = name_len(raw, span.start, span.end);
    let bytes = &raw[span.clone()];
    if token_len > 0 && bytes.get(token_len) == Some(&b':') {
        // The usual line: a token name right up to the colon, a value of printable ASCII.
        let after = token_len + 1;
        let value = &bytes[after..];
        if !line.plain && !is_plain_ascii(value) {
            check_value(value, head.abs(span.start + after), out);
        }
        push_field(head, span, bytes, token_len, token_len, names);
        return;
    }
    if is_ows(bytes[0]) {
        return parse_continuation_line(raw, line, head, out);
    }
    parse_unusual_field_line(raw, line, token_len, head, out, names);
}

/// How many bytes of `raw[start..end]` from its start are `tchar`s. A name of letters, digits
/// and `-` up to its colon within 32 bytes (nearly every name) is taken from one vector compare
/// per 16 bytes; other lines go through the word loop. Bytes may be read past `end` (never past
/// `raw`): the line's CR LF stops a name.
#[inline(always)]
fn name_len(raw: &[u8], start: usize, end: usize) -> usize {
    // The length of a usual name whose colon is in the 16 bytes at `at`, if it is there.
    let usual_in = |at: usize| -> Option<usize> {
        let masks = name_masks(raw.get(at..at + LANES)?.try_into().expect("16 bytes"));
        let stop = masks.not_alnum_dash.trailing_zeros() as usize;
        match stop {
            LANES.. => Some(LANES),
            _ if masks.colon >> stop & 1 == 1 && at + stop < end => Some(stop),
            _ => None,
        }
    };
    match usual_in(start) {
        Some(LANES) => {
            if let Some(stop @ 0..LANES) = usual_in(start + LANES) {
                return LANES + stop;
            }
        }
        Some(stop) => return stop,
        None => {}
    }
    // A continuation line (obs-fold) has no name at all.
    if raw.get(start).is_some_and(|&b| is_ows(b)) {
        return 0;
    }
    token_prefix_len_in(raw, start, end)
}

/// A line that starts with whitespace: obs-fold, folded into the previous field, or right after
/// the status line.
#[inline(never)]
fn parse_continuation_line(raw: &[u8], line: &Line, head: &mut Head, out: &mut Vec<Finding>) {
    let span = line.content();
    let bytes = &raw[span.clone()];
    let at = |i: usize| head.offset + (span.start + i) as u64;
    let whole = at(0)..at(bytes.len());
    if let Some(prev) = head.fields.last_mut() {
        // One finding a folded field: the next continuation line of the same field widens it.
        let field_start = head.offset + prev.line.start as u64;
        match out.last_mut() {
            Some(f) if f.id == Kind::FieldObsFold && f.span.start >= field_start => {
                f.span.end = whole.end;
                f.message = "obs-fold: continuation lines folded into the previous field".into();
            }
            _ => out.push(Finding::new(
                Kind::FieldObsFold,
                whole,
                "obs-fold: a continuation line folded into the previous field",
            )),
        }
        prev.line.end = span.end;
        prev.value.end = span.start + trim_ows_end(bytes);
    } else {
        out.push(Finding::new(
            Kind::HeadWsAfterStartLine,
            whole,
            "a whitespace-led line right after the status line",
        ));
    }
    if !line.plain {
        check_value(bytes, at(0), out);
    }
}

/// A field line that is not `token ":" value` and does not start with whitespace: a repeated
/// status line, no colon, whitespace or other bytes in the name. `token_len` is how many bytes
/// of it are `tchar`s.
fn parse_unusual_field_line(
    raw: &[u8],
    line: &Line,
    token_len: usize,
    head: &mut Head,
    out: &mut Vec<Finding>,
    names: &mut Names,
) {
    let (span, plain) = (line.content(), line.plain);
    let line = &raw[span.clone()];
    let at = |i: usize| head.offset + (span.start + i) as u64;

    if line.starts_with(b"HTTP/") {
        out.push(Finding::new(
            Kind::FieldStatusLineInHead,
            at(0)..at(line.len()),
            "a status line repeated as a field line",
        ));
        return;
    }
    let Some(colon) = memchr(b':', line) else {
        out.push(Finding::new(
            Kind::FieldMissingColon,
            at(0)..at(line.len()),
            "field line without a colon",
        ));
        // A peer that reads the whole line as a name with an empty value (nginx) still
        // refuses one with a space or control byte in it.
        if let Some(bad) = line.iter().position(|&b| is_name_ctl(b)) {
            out.push(name_ctl(at(bad), line[bad]));
        }
        return;
    };
    if colon == 0 {
        out.push(Finding::at(
            Kind::FieldNameEmpty,
            at(0),
            "field line starts with the colon",
        ));
        return;
    }
    let name_end = trim_ows_end(&line[..colon]);
    let name = &line[..name_end];
    if name_end < colon {
        let framing = name.eq_ignore_ascii_case(b"content-length")
            || name.eq_ignore_ascii_case(b"transfer-encoding");
        let kind = if framing {
            Kind::FramingNameWs
        } else {
            Kind::FieldNameTrailingWs
        };
        out.push(Finding::new(
            kind,
            at(name_end)..at(colon),
            format!(
                "whitespace between `{}` and the colon",
                String::from_utf8_lossy(name)
            ),
        ));
    }
    if let Some(bad) = (token_len < name_end).then_some(token_len) {
        match name[bad..].iter().position(|&b| is_name_ctl(b)) {
            Some(ctl) => out.push(name_ctl(at(bad + ctl), name[bad + ctl])),
            None => out.push(Finding::at(
                Kind::FieldNameNonToken,
                at(bad),
                format!("byte {:#04x} is not allowed in a field name", name[bad]),
            )),
        }
    }
    let after = colon + 1;
    if !plain {
        check_value(&line[after..], at(after), out);
    }
    push_field(head, span, line, name_end, colon, names);
}

/// A space, control byte or DEL: what nginx (1.21.1 and later) refuses in a field name, where
/// other bytes outside `tchar` are only ignored.
fn is_name_ctl(b: u8) -> bool {
    b <= b' ' || b == 0x7f
}

fn name_ctl(at: u64, b: u8) -> Finding {
    Finding::at(
        Kind::FieldNameCtl,
        at,
        if b == b' ' {
            Cow::Borrowed("a space in a field name")
        } else {
            Cow::Owned(format!("control byte {b:#04x} in a field name"))
        },
    )
}

/// Adds the field on `line` (its bytes, at `span` in the head), whose name ends at `name_end`
/// and colon is at `colon`; the value is what follows, without surrounding OWS.
// Once per field line: left to itself the compiler makes this and the name lookups calls
// (two callers), which cost about 50 instructions a field (`bench/wire-callgrind.sh`).
#[inline(always)]
fn push_field(
    head: &mut Head,
    span: Range<usize>,
    line: &[u8],
    name_end: usize,
    colon: usize,
    names: &mut Names,
) {
    names.note(&line[..name_end], head.fields.len());
    let after = colon + 1;
    let (lead, trail) = value_bounds(&line[after..]);
    let value_start = after + lead;
    let value_end = after + trail;
    head.fields.push(Field {
        line: span.clone(),
        name: span.start..span.start + name_end,
        value: span.start + value_start..span.start + value_end,
    });
}

/// Where a field value starts and ends in `rest`, the bytes after the colon, leaving out OWS on
/// either side. The usual value (one SP after the colon, none at the end) takes two compares.
#[inline(always)]
fn value_bounds(rest: &[u8]) -> (usize, usize) {
    let lead = match rest {
        [b' ', b, ..] if !is_ows(*b) => 1,
        [b, ..] if !is_ows(*b) => 0,
        _ => rest.len() - trim_ows_start(rest).len(),
    };
    let trail = match rest.last() {
        Some(&b) if !is_ows(b) => rest.len(),
        _ => trim_ows_end(rest).max(lead),
    };
    (lead, trail)
}

#[inline]
fn trim_ows_start(s: &[u8]) -> &[u8] {
    let mut n = 0;
    while n < s.len() && is_ows(s[n]) {
        n += 1;
    }
    &s[n..]
}

#[inline]
fn trim_ows_end(s: &[u8]) -> usize {
    let mut n = s.len();
    while n > 0 && is_ows(s[n - 1]) {
        n -= 1;
    }
    n
}

#[inline(never)]
fn check_value(value: &[u8], offset: u64, out: &mut Vec<Finding>) {
    // Printable ASCII and HTAB (obs-fold continuations) are fine: one pass without early exit,
    // which the compiler vectorises.
    if !value.iter().fold(false, |odd, &b| {
        odd | (!(0x20..0x7f).contains(&b) & (b != b'\t'))
    }) {
        return;
    }
    let first = |pred: &dyn Fn(u8) -> bool| value.iter().position(|&b| pred(b));
    if let Some(i) = first(&|b| b == 0) {
        out.push(Finding::at(
            Kind::FieldValueNul,
            offset + i as u64,
            "NUL byte in a field value",
        ));
    }
    if let Some(i) = first(&|b| b == b'\r') {
        // CRs that only run up to the line's CRLF are a doubled line end, not a CR inside.
        let (kind, msg) = if value[i..].iter().all(|&b| b == b'\r') {
            (
                Kind::FieldValueCrBeforeCrlf,
                "the field line ends in CR CR LF",
            )
        } else {
            (Kind::FieldValueBareCr, "bare CR in a field value")
        };
        out.push(Finding::at(kind, offset + i as u64, msg));
    }
    if let Some(i) = first(&|b| b != 0 && b != b'\r' && !is_field_content(b)) {
        out.push(Finding::at(
            Kind::FieldValueCtl,
            offset + i as u64,
            format!("control byte {:#04x} in a field value", value[i]),
        ));
    }
    if let Some(i) = first(&|b| b >= 0x80) {
        out.push(Finding::at(
            Kind::FieldValueObsText,
            offset + i as u64,
            "non-ASCII bytes in a field value",
        ));
    }
}

fn check_duplicates(head: &Head, out: &mut Vec<Finding>) {
    for (i, f) in head.fields.iter().enumerate() {
        let name = head.name(f);
        let Some(singleton) = singleton(name) else {
            continue;
        };
        if let Some(first) = head.fields[..i]
            .iter()
            .find(|p| eq_lower(head.name(p), singleton.as_bytes()))
        {
            out.push(Finding::new(
                Kind::FieldDuplicateSingleton,
                head.abs(f.line.start)..head.abs(f.line.end),
                format!(
                    "`{singleton}` sent twice (first at byte {})",
                    head.abs(first.line.start)
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{read_all, End, ReaderOptions};

    /// The status line as [`parse_status_line`] reads it, with the fast path or without.
    fn status_line(line: &[u8], plain: bool) -> (Head, Vec<Finding>) {
        let mut head = Head {
            offset: 7,
            raw: Vec::new(),
            status_line: 0..line.len(),
            version: None,
            code: None,
            reason: 0..0,
            fields: Vec::new(),
            http_like: false,
        };
        let mut findings = Vec::new();
        parse_status_line(line, plain, &mut head, &mut findings);
        (head, findings)
    }

    #[test]
    fn the_usual_status_line_reads_as_the_general_parser_reads_it() {
        let mut lines = Vec::new();
        for version in [
            "HTTP/1.1",
            "HTTP/1.0",
            "HTTP/1.2",
            "HTTP/2.0",
            "http/1.1",
            "HTTP/1.10",
        ] {
            for code in [
                "200", "099", "100", "101", "404", "599", "600", "20", "2000", "2x0",
            ] {
                for reason in ["", " ", " OK", " Not Found", "  two spaces", "\tOK"] {
                    lines.push(format!("{version} {code}{reason}"));
                }
            }
        }
        lines.push("HTTP/1.1  200 OK".into());
        let mut fast = 0;
        for line in &lines {
            let plain = line.bytes().all(|b| (0x20..=0x7e).contains(&b));
            let general = status_line(line.as_bytes(), false);
            assert_eq!(status_line(line.as_bytes(), plain), general, "{line:?}");
            fast += usize::from(
                plain && parse_usual_status_line(line.as_bytes(), &mut general.0.clone()),
            );
        }
        // The fast path took the usual lines, not only the general parser.
        assert!(fast >= 6 * 2, "{fast}");
    }

    fn keeps_open(raw: &str) -> bool {
        let report = read_all(raw.as_bytes(), End::Eof, ReaderOptions::default());
        report.head.expect("a head").keeps_connection_open()
    }

    #[test]
    fn connection_tokens_decide_reuse_by_version() {
        assert!(keeps_open("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(!keeps_open(
            "HTTP/1.1 200 OK\r\nConnection: x-a, Close\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!keeps_open(
            "HTTP/1.1 200 OK\r\nConnection: x-a\r\nconnection: close\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!keeps_open("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(keeps_open(
            "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!keeps_open(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n"
        ));
    }

    #[test]
    fn a_folded_field_is_one_finding_over_all_its_continuation_lines() {
        let raw = "HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\n\tthree\r\nX-B: b\r\n c\r\n\
                   Content-Length: 0\r\n\r\n";
        let report = read_all(raw.as_bytes(), End::Eof, ReaderOptions::default());
        let folds: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.id == Kind::FieldObsFold)
            .map(|f| &raw[f.span.start as usize..f.span.end as usize])
            .collect();
        assert_eq!(folds, [" two\r\n\tthree", " c"]);
        let head = report.head.expect("a head");
        let values: Vec<_> = head.fields.iter().map(|f| head.value(f)).collect();
        assert_eq!(values, [&b"one\r\n two\r\n\tthree"[..], b"b\r\n c", b"0"]);
    }
}
