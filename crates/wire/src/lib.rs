//! Sans-io HTTP/1 response reader and classifier.
//!
//! Bytes and connection events go in; a parsed head with byte spans, the body framing and a list
//! of findings come out. Nothing here touches a socket: `originlens-probe` and `originlens-edge`
//! drive the [`Reader`], the way a socket loop drives a TLS engine.
//!
//! ```
//! use originlens_wire::{judge, profile, Cause, JudgeContext, Reader, ReaderOptions};
//!
//! let mut reader = Reader::new(ReaderOptions::default());
//! reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel");
//! reader.on_eof();
//! let report = reader.into_report();
//! let verdict = judge(&report, &profile::CLOUDFLARE, JudgeContext::default());
//! assert_eq!(verdict.status, Some(200));
//! assert_eq!(verdict.cause, Some(Cause::BodyTruncated));
//! ```
// `unsafe` only in `simd`, which says why it is sound.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod bytes;
pub mod cause;
pub mod cause_table;
pub mod chunked;
pub mod encoding;
pub mod escape;
pub mod finding;
pub mod framing;
pub mod head;
pub mod names;
pub mod outcome;
pub mod profile;
pub mod reader;
pub(crate) mod scan;
#[allow(unsafe_code)]
mod simd;
pub mod verdict;

pub use cause::{Cause, Phase};
pub use cause_table::{CauseInfo, VisitorOutcome};
pub use finding::{Finding, Kind, Severity};
pub use framing::{Framing, FramingRules, LengthRules, RequestInfo};
pub use head::{Field, Head, Version};
pub use names::UnknownName;
pub use outcome::GeneratedBy;
pub use profile::{Disposition, Profile};
pub use reader::{End, Progress, Reader, ReaderOptions, Report};
pub use verdict::{judge, JudgeContext, Verdict};

/// Reads a whole captured response: feeds `bytes`, then the connection's `end` event (none for
/// `End::Complete`). Convenient for tests and for re-judging stored evidence.
pub fn read_all(bytes: &[u8], end: End, opts: ReaderOptions) -> Report {
    let mut reader = Reader::new(opts);
    reader.feed(bytes);
    match end {
        End::Eof => {
            reader.on_eof();
        }
        End::Reset => {
            reader.on_reset();
        }
        End::Timeout => {
            reader.on_timeout();
        }
        _ => {}
    }
    reader.into_report()
}
