//! One call from operands to an [`Analysis`]: expands paths, opens each input (gzip, binary
//! sniffing, rotation checks), scans it into a [`Report`] and says what could not be read. The
//! CLI is flags -> [`run`] -> a printer; an [`Observer`] sees progress and, for streaming
//! output, every kept event as soon as its line is read.

use std::io::{BufRead, BufReader, Read};

use crate::event::Event;
use crate::input::{self, InputSpec};
use crate::report::{Analysis, Report, ReportOptions};
use crate::scan::Scanner;
use crate::sink::{InputStats, LineMatch, Note, NoteKind, Sink};
use crate::timestamp::TimeContext;

/// What [`run`] needs besides the operands.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Time filter, window and limits.
    pub report: ReportOptions,
    /// Zone, boot time and year for stamps.
    pub time: TimeContext,
}

/// Sees what happens while inputs are scanned. Every method has a default that does nothing.
pub trait Observer {
    /// Called once before the first input, with the total size of the files (stdin counts 0).
    fn start(&mut self, _total_bytes: u64) {}
    /// An input is about to be scanned.
    fn input(&mut self, _name: &str) {}
    /// `bytes` of all inputs so far have been scanned.
    fn progress(&mut self, _bytes: u64) {}
    /// A matched line was kept (in input order, before correlation).
    fn event(&mut self, _event: &Event) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// Forwards scanner output to the report and the observer.
struct Forward<'a> {
    report: &'a mut Report,
    observer: &'a mut dyn Observer,
    done: u64,
    size: u64,
}

impl Sink for Forward<'_> {
    fn matched(&mut self, m: &LineMatch<'_>) {
        if let Some(e) = self.report.keep(m) {
            self.observer.event(e);
        }
    }
    fn note(&mut self, note: Note) {
        self.report.note(note);
    }
    fn progress(&mut self, bytes: u64) {
        let within = if self.size > 0 {
            bytes.min(self.size)
        } else {
            bytes
        };
        self.observer.progress(self.done + within);
    }
    fn finish(&mut self, stats: &InputStats) {
        self.report.finish(stats);
    }
}

/// Scans every operand (`-` is standard input, which is scanned as a stream: matches reach the
/// observer as lines arrive) and correlates. Inputs that cannot be read are notes and count in
/// [`crate::Totals::failed_inputs`]; the analysis covers every input that could be read.
pub fn run(operands: &[String], options: &RunOptions, observer: &mut dyn Observer) -> Analysis {
    let (inputs, open_notes) = input::expand(operands);
    let mut report = Report::new(options.report.clone());
    for note in open_notes {
        if note.kind == NoteKind::ReadError {
            report.unreadable(note);
        } else {
            report.note(note);
        }
    }
    let sizes: Vec<u64> = inputs
        .iter()
        .map(|i| match i {
            InputSpec::Path(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            InputSpec::Stdin => 0,
        })
        .collect();
    observer.start(sizes.iter().sum());
    let scanner = Scanner::new(options.time.clone());
    let stream = Scanner::new(options.time.clone())
        .with_threads(1)
        .streaming(true);
    let mut done = 0u64;
    for (spec, size) in inputs.iter().zip(sizes) {
        let name = spec.name();
        observer.input(&name);
        match spec {
            InputSpec::Stdin => match input::decode(std::io::stdin().lock()) {
                Ok(reader) => {
                    scan_one(&stream, &mut report, observer, &name, reader, done, 0);
                }
                Err(e) => report.unreadable(Note::read_error(
                    &name,
                    format!("cannot read standard input: {e}"),
                )),
            },
            InputSpec::Path(path) => match input::open(path) {
                Err(e) => report.unreadable(Note::read_error(&name, format!("cannot read: {e}"))),
                Ok(opened) => {
                    let compressed = opened.compression != input::Compression::None;
                    let bytes = scan_one(
                        &scanner,
                        &mut report,
                        observer,
                        &name,
                        opened.reader,
                        done,
                        size,
                    );
                    if let Some(note) = opened
                        .identity
                        .and_then(|id| input::rotation_note(path, id, bytes, compressed))
                    {
                        report.note(note);
                    }
                }
            },
        }
        done += size;
    }
    report.finish()
}

/// Scans one (decompressed) input after a look at its first bytes: empty inputs, journalctl's
/// "nothing here" messages and binary files become notes instead of a scan. Returns the bytes
/// read.
fn scan_one<R: Read>(
    scanner: &Scanner,
    report: &mut Report,
    observer: &mut dyn Observer,
    name: &str,
    reader: R,
    done: u64,
    size: u64,
) -> u64 {
    let mut reader = BufReader::with_capacity(64 << 10, reader);
    let head = match reader.fill_buf() {
        Ok(head) => head,
        Err(e) => {
            report.unreadable(Note::read_error(name, format!("cannot read: {e}")));
            return 0;
        }
    };
    if let Some(note) = input::nothing_to_scan(name, head) {
        let stats = InputStats {
            name: name.to_owned(),
            bytes: head.len() as u64,
            ..InputStats::default()
        };
        if note.kind == NoteKind::ReadError {
            report.unreadable(note);
        } else {
            report.note(note);
        }
        Sink::finish(report, &stats);
        return stats.bytes;
    }
    let index = report.input(name);
    let mut sink = Forward {
        report,
        observer,
        done,
        size,
    };
    scanner.scan(index, name, reader, &mut sink).bytes
}
