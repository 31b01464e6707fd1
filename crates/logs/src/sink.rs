//! The push interface between the scanner and whatever consumes its matches (the correlating
//! [`crate::Report`], a printer, a test).

use jiff::Timestamp;
use serde::Serialize;

use crate::catalog::{Signature, Verdict};
use crate::fields::Fields;

/// Where a matched line's time came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum TimeSource {
    /// The line's own stamp.
    Line,
    /// The line has no stamp; the time is that of the nearest stamped line.
    Neighbour {
        /// That line's number.
        line: u64,
    },
    /// The line has a stamp that could not be resolved (dmesg without `--boot-time`).
    Unresolved,
    /// Neither the line nor its neighbours carry a stamp.
    Missing,
}

/// One line that matched a signature, as the scanner pushes it.
#[derive(Debug)]
pub struct LineMatch<'a> {
    /// Index of the input in the order the caller scanned them.
    pub input: usize,
    /// 1-based line number.
    pub line_number: u64,
    /// Byte offset of the line's first byte (after decompression for `.gz`).
    pub offset: u64,
    /// The line, without its newline.
    pub line: &'a [u8],
    /// The signature that matched.
    pub signature: &'static Signature,
    /// What the line means.
    pub verdict: Verdict,
    /// What the line says.
    pub fields: Fields,
    /// When it happened, if known.
    pub time: Option<Timestamp>,
    /// Where [`LineMatch::time`] came from.
    pub time_source: TimeSource,
}

/// Kinds of notes about the input itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NoteKind {
    /// The input could not be opened or read.
    ReadError,
    /// NUL bytes: binary data or a file with holes (often after a crash).
    Binary,
    /// Bytes that are not UTF-8 in a matched line (shown with U+FFFD).
    InvalidUtf8,
    /// A line longer than the scanner's limit was split.
    LongLine,
    /// The last line has no newline (still being written, or cut off).
    TruncatedLastLine,
    /// The file was rotated, truncated or replaced while it was read.
    Rotated,
    /// Compressed data is corrupt or cut off.
    Compression,
    /// A stamp could not be turned into a time.
    Time,
    /// Lines without a stamp took a neighbour's time.
    NeighbourTime,
    /// Output was limited (too many events to keep).
    Limit,
    /// The input held nothing to read (empty, or journalctl found no entries).
    Empty,
    /// Lines left out on purpose (units outside the web stack).
    Ignored,
}

/// A remark about the input, never fatal: the scan goes on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Note {
    /// What kind of remark.
    pub kind: NoteKind,
    /// The input's name.
    pub input: String,
    /// Line number, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Byte offset, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Human-readable text.
    pub message: String,
}

impl Note {
    /// An input that could not be read (or found), as a whole.
    pub fn read_error(input: &str, message: String) -> Note {
        Note {
            kind: NoteKind::ReadError,
            input: input.to_owned(),
            line: None,
            offset: None,
            message,
        }
    }
}

/// Totals for one scanned input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InputStats {
    /// The input's name.
    pub name: String,
    /// Bytes read (after decompression).
    pub bytes: u64,
    /// Lines read.
    pub lines: u64,
    /// Lines that matched a signature.
    pub matches: u64,
    /// The read stopped on an error.
    pub failed: bool,
}

/// Receives what the scanner finds, in input order.
pub trait Sink {
    /// A line matched a signature.
    fn matched(&mut self, m: &LineMatch<'_>);
    /// A remark about the input.
    fn note(&mut self, note: Note);
    /// `bytes` of the current input have been scanned.
    fn progress(&mut self, _bytes: u64) {}
    /// An input is done.
    fn finish(&mut self, _stats: &InputStats) {}
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn matched(&mut self, m: &LineMatch<'_>) {
        (**self).matched(m)
    }
    fn note(&mut self, note: Note) {
        (**self).note(note)
    }
    fn progress(&mut self, bytes: u64) {
        (**self).progress(bytes)
    }
    fn finish(&mut self, stats: &InputStats) {
        (**self).finish(stats)
    }
}
