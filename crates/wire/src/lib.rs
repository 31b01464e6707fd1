//! Sans-io HTTP/1 response reader and classifier.
//!
//! Bytes and connection events go in; a parsed head with byte spans, the body framing and a list
//! of findings come out. Nothing here touches a socket: `originlens-probe` and `originlens-edge`
//! drive the reader, the way a socket loop drives a TLS engine.
#![forbid(unsafe_code)]

pub mod cause;
pub mod finding;
pub mod outcome;

pub use cause::{Cause, Phase};
pub use finding::{Finding, Kind, Severity};
pub use outcome::GeneratedBy;
