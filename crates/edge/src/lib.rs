//! `originlens edge`: a reverse proxy that behaves like the edge and records why.
//!
//! Visitors talk to a hyper server ([`server`]); each request is checked for smuggling vectors
//! ([`request`]), then forwarded by our own HTTP/1.1 client ([`proxy`], [`exchange`]) over pooled
//! keep-alive connections ([`pool`], [`connect`]). Every byte the origin sends goes through
//! `originlens_wire::Reader`, and `originlens_wire::judge` decides, under the origin's profile,
//! whether the visitor gets the origin's response ([`response`], streamed by [`body`]) or the
//! edge's own error ([`page`]). Bad exchanges become incidents ([`incident`]) written to SQLite
//! off the request path ([`store`]); counters go to Prometheus ([`metrics`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod body;
pub mod config;
pub mod connect;
pub mod exchange;
pub mod file;
pub mod incident;
pub mod metrics;
pub mod page;
pub mod pool;
pub mod proxy;
pub mod request;
pub mod response;
pub mod server;
pub mod sniff;
pub mod store;

pub use config::{EdgeConfig, OriginConfig, OriginUrl, SslMode};
pub use incident::Incident;
pub use server::{Edge, StartError};
