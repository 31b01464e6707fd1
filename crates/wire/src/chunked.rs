//! Streaming decoder for the chunked transfer coding (RFC 9112 §7.1), one state per grammar
//! position so that any split of the input gives the same result.
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-size   = 1*HEXDIG
//! ```
//! CRLF only: a bare LF in chunk framing is invalid (RFC errata 7633). A decoder made with
//! [`ChunkedDecoder::new`]`(true)` reads as nginx before 1.29.4 and HAProxy 2.6 do: a bare LF
//! ends the line, reported once.

use std::borrow::Cow;

use crate::bytes::{is_ows, is_token};
use crate::finding::{Finding, Kind};

/// More hex digits than this cannot fit a u64 chunk size.
const MAX_SIZE_DIGITS: u32 = 16;
/// The largest chunk-size taken: nginx (`off_t`) and HAProxy hold it in a signed 64-bit
/// integer and refuse a larger one.
const MAX_CHUNK_SIZE: u64 = i64::MAX as u64;
/// Longest chunk extension accepted before the line is declared invalid.
const CHUNK_EXT_LIMIT: u32 = 8 * 1024;
/// Longest trailer line kept for validation.
const TRAILER_LINE_LIMIT: usize = 8 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the start of a chunk-size line.
    SizeStart,
    /// Inside the hex digits.
    Size,
    /// Whitespace after the digits.
    SizeWs,
    /// Inside a chunk extension.
    Ext,
    /// Inside a quoted-string of a chunk extension.
    ExtQuoted,
    /// After a backslash in a quoted-string.
    ExtQuotedEscape,
    /// CR seen at the end of the size line.
    SizeLf,
    /// Reading chunk data.
    Data,
    /// Expecting the CR after chunk data.
    DataCr,
    /// Expecting the LF after chunk data.
    DataLf,
    /// At the start of a trailer line (or the final CRLF).
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    /// CR seen at the end of a trailer line.
    TrailerLf,
    /// CR seen on the empty line that ends the body.
    EndLf,
    /// The body is complete.
    Done,
    /// A fatal framing error; the rest is not decoded.
    Failed,
}

/// The chunked decoder.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    digits: u32,
    ext_len: u32,
    remaining: u64,
    trailer: Vec<u8>,
    trailer_start: u64,
    warned_ws: bool,
    /// The current line's chunk extension, from its `;` (bounded by [`CHUNK_EXT_LIMIT`]);
    /// `None` when the line has none to check.
    ext: Option<Vec<u8>>,
    ext_start: u64,
    warned_ext: bool,
    /// The line's "extension" is bytes after whitespace, skipped to the CR as nginx does.
    ext_junk: bool,
    /// A bare LF ends a line instead of failing the body.
    bare_lf_ends_lines: bool,
    warned_lf: bool,
    /// Number of data chunks seen (the last chunk excluded).
    pub chunks: u64,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: State::SizeStart,
            size: 0,
            digits: 0,
            ext_len: 0,
            remaining: 0,
            trailer: Vec::new(),
            trailer_start: 0,
            warned_ws: false,
            ext: None,
            ext_start: 0,
            warned_ext: false,
            ext_junk: false,
            bare_lf_ends_lines: false,
            warned_lf: false,
            chunks: 0,
        }
    }
}

impl ChunkedDecoder {
    /// A decoder; `bare_lf_ends_lines` lets a bare LF end a chunk-size, data or trailer line
    /// (the first is reported as `chunk.bare-lf`) instead of failing the body.
    pub fn new(bare_lf_ends_lines: bool) -> Self {
        ChunkedDecoder {
            bare_lf_ends_lines,
            ..ChunkedDecoder::default()
        }
    }

    /// Is the last chunk and trailer section complete?
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Did the framing fail?
    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Is the decoder between chunks, at a place where a clean end would be possible?
    pub fn in_data(&self) -> bool {
        self.state == State::Data
    }

    /// Decodes `input`, whose first byte is at stream offset `base`. Chunk data goes to
    /// `data`; findings to `out`. Returns how many bytes were consumed: fewer than
    /// `input.len()` only once the body is done or has failed.
    pub fn feed(
        &mut self,
        input: &[u8],
        base: u64,
        data: &mut dyn FnMut(&[u8]),
        out: &mut Vec<Finding>,
    ) -> usize {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            let at = base + i as u64;
            if matches!(
                self.state,
                State::Ext | State::ExtQuoted | State::ExtQuotedEscape
            ) {
                self.ext_len += 1;
                if let Some(ext) = &mut self.ext {
                    if b != b'\r' || self.state != State::Ext {
                        ext.push(b);
                    }
                }
            }
            match self.state {
                State::Done | State::Failed => return i,
                State::Data => {
                    let n = (self.remaining.min((input.len() - i) as u64)) as usize;
                    data(&input[i..i + n]);
                    self.remaining -= n as u64;
                    i += n;
                    if self.remaining == 0 {
                        self.state = State::DataCr;
                    }
                    continue;
                }
                State::SizeStart => match hex(b) {
                    Some(d) => {
                        self.size = d;
                        self.digits = u32::from(d != 0);
                        self.ext_len = 0;
                        self.ext_junk = false;
                        self.state = State::Size;
                    }
                    None if b == b'\r' || b == b'\n' => {
                        return self.fail(i, at, Kind::ChunkSizeEmpty, "empty chunk-size line", out)
                    }
                    None => {
                        let msg = format!("chunk-size starts with {}", show(b));
                        return self.fail(i, at, Kind::ChunkSizeInvalid, msg, out);
                    }
                },
                State::Size => match hex(b) {
                    Some(d) => {
                        if self.digits > 0 || d != 0 {
                            self.digits += 1;
                        }
                        if self.digits > MAX_SIZE_DIGITS {
                            let msg = "chunk-size does not fit 64 bits";
                            return self.fail(i, at, Kind::ChunkSizeOverflow, msg, out);
                        }
                        self.size = (self.size << 4) | d;
                        if self.size > MAX_CHUNK_SIZE {
                            let msg = "chunk-size does not fit a signed 64-bit integer";
                            return self.fail(i, at, Kind::ChunkSizeOverflow, msg, out);
                        }
                    }
                    None => self.after_size(b, i, at, out),
                },
                State::SizeWs => match b {
                    b' ' | b'\t' => {}
                    b'\r' | b'\n' | b';' => self.after_size(b, i, at, out),
                    _ => {
                        // nginx reads what follows the whitespace as an extension and skips
                        // it; the decoder goes on the same way so that peer can be judged.
                        out.push(Finding::at(
                            Kind::ChunkSizeJunk,
                            at,
                            format!("{} after whitespace behind the chunk-size", show(b)),
                        ));
                        self.ext = None;
                        self.ext_junk = true;
                        self.state = State::Ext;
                    }
                },
                State::Ext | State::ExtQuoted | State::ExtQuotedEscape
                    if self.ext_len > CHUNK_EXT_LIMIT =>
                {
                    let msg = format!("chunk extension longer than {CHUNK_EXT_LIMIT} bytes");
                    return self.fail(i, at, Kind::ChunkSizeInvalid, msg, out);
                }
                State::Ext => match b {
                    b'\r' => self.state = State::SizeLf,
                    b'\n' => {
                        let msg = "LF inside a chunk extension";
                        return self.fail(i, at, Kind::ChunkExtNewline, msg, out);
                    }
                    b'"' if !self.ext_junk => self.state = State::ExtQuoted,
                    _ => {}
                },
                State::ExtQuoted | State::ExtQuotedEscape => {
                    if b == b'\r' || b == b'\n' {
                        let msg = "line break inside a quoted chunk extension";
                        return self.fail(i, at, Kind::ChunkExtNewline, msg, out);
                    }
                    self.state = match (self.state, b) {
                        (State::ExtQuotedEscape, _) => State::ExtQuoted,
                        (_, b'\\') => State::ExtQuotedEscape,
                        (_, b'"') => State::Ext,
                        _ => State::ExtQuoted,
                    };
                }
                State::SizeLf => {
                    if b != b'\n' {
                        let msg = "CR not followed by LF after the chunk-size";
                        return self.fail(i, at, Kind::ChunkSizeInvalid, msg, out);
                    }
                    self.check_ext(out);
                    self.start_data();
                }
                State::DataCr => match b {
                    b'\r' => self.state = State::DataLf,
                    b'\n' => {
                        if let Some(n) = self.bare_lf(i, at, "bare LF after chunk data", out) {
                            return n;
                        }
                        self.state = State::SizeStart;
                    }
                    _ => {
                        let msg = format!("chunk data runs past its size of {}", self.size);
                        return self.fail(i, at, Kind::ChunkDataOverrun, msg, out);
                    }
                },
                State::DataLf => {
                    if b != b'\n' {
                        let msg = "CR after chunk data not followed by LF";
                        return self.fail(i, at, Kind::ChunkDataOverrun, msg, out);
                    }
                    self.state = State::SizeStart;
                }
                State::TrailerStart => match b {
                    b'\r' => self.state = State::EndLf,
                    b'\n' => {
                        let msg = "bare LF ends the chunked body";
                        if let Some(n) = self.bare_lf(i, at, msg, out) {
                            return n;
                        }
                        self.state = State::Done;
                        return i + 1;
                    }
                    _ => {
                        self.trailer.clear();
                        self.trailer.push(b);
                        self.trailer_start = at;
                        self.state = State::Trailer;
                    }
                },
                State::Trailer => match b {
                    b'\r' => self.state = State::TrailerLf,
                    b'\n' => {
                        let msg = "bare LF ends a trailer line";
                        if let Some(n) = self.bare_lf(i, at, msg, out) {
                            return n;
                        }
                        self.check_trailer(out);
                        self.state = State::TrailerStart;
                    }
                    _ => {
                        if self.trailer.len() < TRAILER_LINE_LIMIT {
                            self.trailer.push(b);
                        }
                    }
                },
                State::TrailerLf => {
                    if b != b'\n' {
                        let msg = "CR not followed by LF in the trailer section";
                        return self.fail(i, at, Kind::ChunkBareLf, msg, out);
                    }
                    self.check_trailer(out);
                    self.state = State::TrailerStart;
                }
                State::EndLf => {
                    if b != b'\n' {
                        let msg = "CR not followed by LF at the end of the chunked body";
                        return self.fail(i, at, Kind::ChunkBareLf, msg, out);
                    }
                    self.state = State::Done;
                    return i + 1;
                }
            }
            i += 1;
        }
        input.len()
    }

    fn after_size(&mut self, b: u8, i: usize, at: u64, out: &mut Vec<Finding>) {
        match b {
            b'\r' => self.state = State::SizeLf,
            b'\n' => {
                if self
                    .bare_lf(i, at, "bare LF after the chunk-size", out)
                    .is_none()
                {
                    self.check_ext(out);
                    self.start_data();
                }
            }
            b';' => {
                if self.warned_ext {
                    self.ext = None;
                } else {
                    let mut ext = self.ext.take().unwrap_or_default();
                    ext.clear();
                    ext.push(b';');
                    self.ext = Some(ext);
                    self.ext_start = at;
                }
                self.state = State::Ext;
            }
            b' ' | b'\t' => {
                if !self.warned_ws {
                    self.warned_ws = true;
                    out.push(Finding::at(
                        Kind::ChunkSizeTrailingWs,
                        at,
                        "whitespace after the chunk-size",
                    ));
                }
                self.state = State::SizeWs;
            }
            _ => {
                let msg = format!("{} after the chunk-size digits", show(b));
                self.fail(i, at, Kind::ChunkSizeInvalid, msg, out);
            }
        }
    }

    /// Reports the first chunk extension of the body that is not `;name[=value]`.
    fn check_ext(&mut self, out: &mut Vec<Finding>) {
        let Some(ext) = &self.ext else {
            return;
        };
        if !valid_ext(ext) {
            self.warned_ext = true;
            out.push(Finding::at(
                Kind::ChunkExtInvalid,
                self.ext_start,
                format!(
                    "chunk extension `{}` is not `;name[=value]`",
                    crate::escape::escape(&ext[..ext.len().min(40)])
                ),
            ));
        }
        self.ext = None;
    }

    fn start_data(&mut self) {
        if self.size == 0 {
            self.state = State::TrailerStart;
        } else {
            self.chunks += 1;
            self.remaining = self.size;
            self.state = State::Data;
        }
    }

    fn check_trailer(&mut self, out: &mut Vec<Finding>) {
        let line = &self.trailer;
        let valid = match memchr::memchr(b':', line) {
            Some(colon) if colon > 0 => line[..colon].iter().all(|&b| is_token(b)),
            _ => false,
        };
        if !valid {
            out.push(Finding::at(
                Kind::ChunkTrailerInvalid,
                self.trailer_start,
                format!(
                    "malformed trailer line `{}`",
                    String::from_utf8_lossy(&line[..line.len().min(40)])
                ),
            ));
        }
    }

    /// A bare LF where CRLF belongs: fails the body (`Some`, the bytes consumed) unless this
    /// decoder lets it end the line, in which case only the first is reported.
    fn bare_lf(
        &mut self,
        i: usize,
        at: u64,
        msg: &'static str,
        out: &mut Vec<Finding>,
    ) -> Option<usize> {
        if !self.bare_lf_ends_lines {
            return Some(self.fail(i, at, Kind::ChunkBareLf, msg, out));
        }
        if !self.warned_lf {
            self.warned_lf = true;
            out.push(Finding::at(Kind::ChunkBareLf, at, msg));
        }
        None
    }

    fn fail(
        &mut self,
        i: usize,
        at: u64,
        kind: Kind,
        msg: impl Into<Cow<'static, str>>,
        out: &mut Vec<Finding>,
    ) -> usize {
        out.push(Finding::at(kind, at, msg));
        self.state = State::Failed;
        i
    }
}

/// `chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )`, `ext-name = token`,
/// `ext-val = token / quoted-string` (RFC 9112 §7.1.1); whitespace at the end is let pass.
fn valid_ext(ext: &[u8]) -> bool {
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < ext.len() && is_ows(ext[*i]) {
            *i += 1;
        }
    };
    let token = |i: &mut usize| {
        let start = *i;
        while *i < ext.len() && is_token(ext[*i]) {
            *i += 1;
        }
        *i > start
    };
    loop {
        skip_ws(&mut i);
        if i == ext.len() {
            return i > 0;
        }
        if ext[i] != b';' {
            return false;
        }
        i += 1;
        skip_ws(&mut i);
        if !token(&mut i) {
            return false;
        }
        skip_ws(&mut i);
        if ext.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        skip_ws(&mut i);
        if ext.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match ext.get(i) {
                    None => return false,
                    Some(b'"') => break,
                    Some(b'\\') => i += 2,
                    Some(&b) if b == b'\t' || b >= b' ' && b != 0x7f => i += 1,
                    Some(_) => return false,
                }
            }
            i += 1;
        } else if !token(&mut i) {
            return false;
        }
    }
}

fn hex(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some((b - b'0') as u64),
        b'a'..=b'f' => Some((b - b'a' + 10) as u64),
        b'A'..=b'F' => Some((b - b'A' + 10) as u64),
        _ => None,
    }
}

fn show(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("`{}`", b as char)
    } else {
        format!("byte {b:#04x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &[u8]) -> (Vec<u8>, Vec<Kind>, bool, usize) {
        let mut d = ChunkedDecoder::default();
        let mut data = Vec::new();
        let mut out = Vec::new();
        let used = d.feed(input, 0, &mut |b| data.extend_from_slice(b), &mut out);
        (data, out.iter().map(|f| f.id).collect(), d.is_done(), used)
    }

    #[test]
    fn decodes_a_valid_body_with_extension_and_trailer() {
        let (data, kinds, done, used) =
            decode(b"2;name=\"a;b\"\r\nok\r\n3\r\n!!!\r\n0\r\nX-T: 1\r\n\r\nEXTRA");
        assert_eq!(data, b"ok!!!");
        assert!(kinds.is_empty(), "{kinds:?}");
        assert!(done);
        assert_eq!(used, 39);
    }

    #[test]
    fn grammar_errors() {
        let cases: &[(&[u8], Kind)] = &[
            (b"zz\r\n", Kind::ChunkSizeInvalid),
            (b"0x2\r\n", Kind::ChunkSizeInvalid),
            (b"\r\nok", Kind::ChunkSizeEmpty),
            (b"fffffffffffffffff\r\n", Kind::ChunkSizeOverflow),
            (b"8000000000000000\r\n", Kind::ChunkSizeOverflow),
            (b"2\nok\r\n", Kind::ChunkBareLf),
            (b"2\r\nok\n0\r\n\r\n", Kind::ChunkBareLf),
            (b"2;a\nb\r\n", Kind::ChunkExtNewline),
            (b"2;a=\"x\r\ny\"\r\n", Kind::ChunkExtNewline),
            (b"2\r\nokXX\r\n", Kind::ChunkDataOverrun),
        ];
        for (input, kind) in cases {
            let (_, kinds, done, _) = decode(input);
            assert_eq!(
                kinds.first(),
                Some(kind),
                "{:?}",
                String::from_utf8_lossy(input)
            );
            assert!(!done);
        }
    }

    #[test]
    fn bare_lf_ends_lines_when_the_peer_allows_it() {
        let input = b"2\nok\n3\r\nabc\r\n0\nX-T: 1\n\nEXTRA";
        let mut d = ChunkedDecoder::new(true);
        let (mut data, mut out) = (Vec::new(), Vec::new());
        let used = d.feed(input, 0, &mut |b| data.extend_from_slice(b), &mut out);
        assert_eq!(data, b"okabc");
        assert_eq!(
            out.iter().map(|f| f.id).collect::<Vec<_>>(),
            [Kind::ChunkBareLf]
        );
        assert_eq!(
            (out[0].offset, d.is_done(), used),
            (1, true, input.len() - 5)
        );
        // A CR that is not followed by LF stays fatal.
        let mut d = ChunkedDecoder::new(true);
        d.feed(b"0\r\n\rX", 0, &mut |_| {}, &mut out);
        assert!(d.is_failed());
    }

    #[test]
    fn warnings_do_not_stop_decoding() {
        let (data, kinds, done, _) = decode(b"2 \r\nok\r\n0\r\nbad trailer\r\n\r\n");
        assert_eq!(data, b"ok");
        assert_eq!(
            kinds,
            [Kind::ChunkSizeTrailingWs, Kind::ChunkTrailerInvalid]
        );
        assert!(done);
    }

    #[test]
    fn leading_zeros_do_not_count_toward_overflow() {
        let (data, kinds, done, _) = decode(b"00000000000000000002\r\nok\r\n0\r\n\r\n");
        assert_eq!(data, b"ok");
        assert!(kinds.is_empty());
        assert!(done);
    }

    #[test]
    fn any_split_gives_the_same_result() {
        let input: &[u8] = b"4;x=\"q\\\"\"\r\nwiki\r\n5\r\npedia\r\n0\r\nA: b\r\n\r\n";
        let whole = decode(input);
        for split in 0..input.len() {
            let mut d = ChunkedDecoder::default();
            let mut data = Vec::new();
            let mut out = Vec::new();
            let a = d.feed(
                &input[..split],
                0,
                &mut |b| data.extend_from_slice(b),
                &mut out,
            );
            let b = d.feed(
                &input[split..],
                split as u64,
                &mut |b| data.extend_from_slice(b),
                &mut out,
            );
            assert_eq!(data, whole.0);
            assert!(d.is_done());
            assert_eq!(a + b, whole.3);
        }
    }
}
