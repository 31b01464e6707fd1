//! `originlens edge`: a reverse proxy that behaves like the edge and records why.
//!
//! Visitors connect to [`server`]; [`visitor`] speaks HTTP/1.1 to them itself (h2 through
//! hyper), checks each request for smuggling vectors ([`request`]), and hands it to [`proxy`],
//! which forwards it with our own HTTP/1.1 client (`originlens_net::Exchange`) over pooled keep-alive
//! connections ([`pool`], [`connect`]). Every byte the origin sends goes through
//! `originlens_wire::Reader`, and `originlens_wire::judge` decides, under the origin's profile,
//! whether the visitor gets the origin's response ([`response`]; [`body`] for h2) or the edge's
//! own error ([`page`]). What every request shares lives in [`shared`]; what an exchange
//! leaves behind ([`record`]) is counted for Prometheus ([`metrics`]) and, when it went wrong,
//! becomes an incident ([`incident`]) written to SQLite or PostgreSQL off the request path
//! ([`store`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod body;
pub mod check;
pub mod config;
pub mod connect;
pub mod file;
pub mod health;
pub mod incident;
pub mod incident_source;
pub mod metrics;
pub mod page;
pub mod pool;
pub mod proxy;
pub mod record;
pub mod request;
pub mod response;
pub mod server;
pub mod shared;
pub mod store;
pub mod store_postgres;
pub mod visitor;

pub use config::{EdgeConfig, OriginConfig, OriginUrl, SslMode};
pub use incident::Incident;
pub use server::{Edge, StartError};
