//! Origin log reader: finds the lines in nginx, Apache, PHP-FPM, PHP, kernel, systemd, Node,
//! gunicorn, uWSGI, Puma and Unicorn logs that explain a 520/502/504 at the edge, names their
//! cause (ids from `originlens-wire`), and joins the lines of one failure into an incident.
//!
//! The shape follows a searcher/sink/printer split:
//!
//! - [`catalog`] holds every signature as data (literal, regex, cause, role, example line).
//! - [`Scanner`] streams any [`std::io::Read`] (or a byte slice) in large chunks, searches the
//!   catalogue's literals over the whole chunk first, and only runs regexes and stamp parsing on
//!   the lines that hit. It pushes [`LineMatch`]es and [`Note`]s into a [`Sink`].
//! - [`Report`] is the sink that filters by time, tallies causes, keeps a bounded timeline, and
//!   [`correlate`]s it into incidents ([`Analysis`]).
//! - [`jsont`] writes the analysis as JSON lines; human rendering lives in the CLI.
//!
//! ```
//! use originlens_logs::{Report, ReportOptions, Scanner, TimeContext};
//!
//! let log = b"2024/01/02 03:04:05 [error] 7#7: *1 upstream sent too big header while reading response header from upstream, client: 1.2.3.4\n";
//! let scanner = Scanner::new(TimeContext::default());
//! let mut report = Report::new(ReportOptions::default());
//! let input = report.input("error.log");
//! scanner.scan_bytes(input, "error.log", log, &mut report);
//! let analysis = report.finish();
//! assert_eq!(analysis.incidents[0].cause.as_str(), "head.too-large");
//! assert_eq!(analysis.incidents[0].status, "502");
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod bound;
pub mod catalog;
pub mod correlate;
pub mod event;
pub mod fields;
pub mod fix;
pub mod input;
pub mod jsont;
pub mod otlp;
pub mod report;
pub mod run;
pub mod scan;
pub mod sink;
pub mod source;
pub mod timestamp;
pub mod wrap;

pub use catalog::{Role, Signature, Verdict, SIGNATURES};
pub use correlate::{correlate, Incident};
pub use event::Event;
pub use fields::Fields;
/// The instant type used throughout (re-exported so callers need not depend on jiff).
pub use jiff::Timestamp;
pub use report::{Analysis, CauseSummary, Report, ReportOptions, Totals};
pub use run::{run, Observer, RunOptions};
pub use scan::Scanner;
pub use sink::{InputStats, LineMatch, Note, NoteKind, Sink, TimeSource};
pub use source::{Layer, Source};
pub use timestamp::{Stamp, StampFormat, TimeContext};
