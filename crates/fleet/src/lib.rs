//! Many origins from one binary: a Prometheus exporter that speaks blackbox_exporter's names and
//! adds the cause, and batch probing of a targets file, sharded for Kubernetes Indexed Jobs.
//!
//! Both run the same probe and the same verdict as `originlens probe`; this crate only
//! decides what to probe, how many at once, and how to report it.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod batch;
pub mod exporter;
pub mod exposition;
pub mod module;
pub mod scrape;

pub use exporter::{Exporter, ExporterError, ExporterOptions};
pub use module::{Module, Modules, ModulesError};
pub use scrape::{scrape, Scrape, ScrapeError, ScrapeRequest};
