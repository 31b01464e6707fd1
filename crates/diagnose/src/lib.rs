//! `originlens diagnose` and `originlens verify`: the 520 runbook in one call.
//!
//! [`run()`] runs the steps (direct exchanges with TLS under both SSL modes, the head budget,
//! keep-alive, a burst, logs, configuration, a host snapshot, the edge's own records), each
//! under its own time limit and concurrently where they are independent, and draws one
//! [`Diagnosis`]: the verdict, ranked causes with evidence and fixes, one timeline joining the
//! probe's events with log lines, and the runbook's Verification checklist. The text printer
//! lives in the CLI; [`html::render`] writes the self-contained HTML page; the JSON is the
//! document itself (`originlens.diagnose/1`, schema in `schemas/diagnose.json`).
//!
//! Calls into the other crates are kept in [`adapters`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod adapters;
pub mod checklist;
pub mod conclusion;
pub mod document;
pub mod html;
pub mod options;
pub mod run;
pub mod steps;
pub mod timeline;

pub use document::{CheckId, CheckStatus, Diagnosis, Mode, SCHEMA};
pub use options::{Burst, Inputs, Options};
pub use run::{run, ProgressEvent};
