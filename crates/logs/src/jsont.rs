//! JSON wire format (schema `originlens.logs/1`, `schemas/logs.json`): one JSON object per line,
//! `{"schema": "originlens.logs/1", "type": ..., "data": ...}`, in this order: `begin`, every
//! `event` (time order; input order when streamed), every `incident`, every `cause` summary
//! row, every `note`, then `end` with the totals. Field names are a public contract, like cause
//! ids.

use std::io::{self, Write};

use serde::Serialize;

use crate::correlate::Incident;
use crate::event::Event;
use crate::report::{Analysis, CauseSummary, Totals};
use crate::sink::{InputStats, Note};

/// Version of the wire format.
pub const FORMAT_VERSION: u32 = 1;
/// Schema id carried by every line.
pub const SCHEMA: &str = "originlens.logs/1";

/// One line of JSON output.
#[derive(Serialize)]
#[serde(tag = "type", content = "data", rename_all = "lowercase")]
pub enum Message<'a> {
    /// Opens the stream. When events are streamed the inputs are not known yet: `inputs` is
    /// empty and `end`'s `files` carries them.
    Begin {
        /// Wire format version.
        version: u32,
        /// Inputs scanned.
        inputs: &'a [InputStats],
    },
    /// A line that matters.
    Event(&'a Event),
    /// Events joined into one story.
    Incident(&'a Incident),
    /// A summary row.
    Cause(&'a CauseSummary),
    /// A remark about the input.
    Note(&'a Note),
    /// Closes the stream.
    End(End<'a>),
}

/// The `end` message: the totals, and every input's own figures.
#[derive(Serialize)]
pub struct End<'a> {
    /// Totals over all inputs.
    #[serde(flatten)]
    pub totals: &'a Totals,
    /// Per-input figures (the same as `begin`'s `inputs` when not streamed).
    pub files: &'a [InputStats],
}

/// A message with the schema id.
#[derive(Serialize)]
pub struct Line<'a> {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The message.
    #[serde(flatten)]
    pub message: Message<'a>,
}

fn line<W: Write>(w: &mut W, message: Message<'_>) -> io::Result<()> {
    serde_json::to_writer(
        &mut *w,
        &Line {
            schema: SCHEMA,
            message,
        },
    )?;
    w.write_all(b"\n")
}

/// Writes the analysis as JSON lines.
pub fn write<W: Write>(analysis: &Analysis, mut w: W) -> io::Result<()> {
    line(
        &mut w,
        Message::Begin {
            version: FORMAT_VERSION,
            inputs: &analysis.inputs,
        },
    )?;
    for e in &analysis.timeline {
        line(&mut w, Message::Event(e))?;
    }
    write_tail(analysis, w)
}

/// One `event` line, as the line is read (streaming mode).
pub fn write_event<W: Write>(event: &Event, mut w: W) -> io::Result<()> {
    line(&mut w, Message::Event(event))
}

/// The `begin` line of a streamed run, before any input is read.
pub fn write_begin<W: Write>(mut w: W) -> io::Result<()> {
    line(
        &mut w,
        Message::Begin {
            version: FORMAT_VERSION,
            inputs: &[],
        },
    )
}

/// After streamed events: incidents, causes, notes and `end`, exactly as [`write`] has them
/// after its events.
pub fn write_rest<W: Write>(analysis: &Analysis, w: W) -> io::Result<()> {
    write_tail(analysis, w)
}

fn write_tail<W: Write>(analysis: &Analysis, mut w: W) -> io::Result<()> {
    for i in &analysis.incidents {
        line(&mut w, Message::Incident(i))?;
    }
    for c in &analysis.summary {
        line(&mut w, Message::Cause(c))?;
    }
    for n in &analysis.notes {
        line(&mut w, Message::Note(n))?;
    }
    line(
        &mut w,
        Message::End(End {
            totals: &analysis.totals,
            files: &analysis.inputs,
        }),
    )?;
    w.flush()
}
