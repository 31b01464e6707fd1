//! JSON wire format: one JSON object per line, `{"type": ..., "data": ...}`, in this order:
//! `begin`, every `event` (time order), every `incident`, every `cause` summary row, every
//! `note`, then `end` with the totals. Field names are a public contract, like cause ids.

use std::io::{self, Write};

use serde::Serialize;

use crate::correlate::Incident;
use crate::event::Event;
use crate::report::{Analysis, CauseSummary, Totals};
use crate::sink::{InputStats, Note};

/// Version of the wire format.
pub const FORMAT_VERSION: u32 = 1;

/// One line of JSON output.
#[derive(Serialize)]
#[serde(tag = "type", content = "data", rename_all = "lowercase")]
pub enum Message<'a> {
    /// Opens the stream.
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
    End(&'a Totals),
}

/// Writes the analysis as JSON lines.
pub fn write<W: Write>(analysis: &Analysis, mut w: W) -> io::Result<()> {
    let mut line = |m: Message<'_>| -> io::Result<()> {
        serde_json::to_writer(&mut w, &m)?;
        w.write_all(b"\n")
    };
    line(Message::Begin {
        version: FORMAT_VERSION,
        inputs: &analysis.inputs,
    })?;
    for e in &analysis.timeline {
        line(Message::Event(e))?;
    }
    for i in &analysis.incidents {
        line(Message::Incident(i))?;
    }
    for c in &analysis.summary {
        line(Message::Cause(c))?;
    }
    for n in &analysis.notes {
        line(Message::Note(n))?;
    }
    line(Message::End(&analysis.totals))?;
    w.flush()
}
