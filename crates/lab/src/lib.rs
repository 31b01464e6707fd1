//! A deliberately broken origin for reproducing every cause.
//!
//! `originlens lab` serves one route per cause and per interesting HTTP/1 malformation, plus
//! clean routes, so that `originlens-probe` and the edge proxy can be tested over real sockets.
//! The route table ([`routes`]) is the documentation: each [`Route`] names the raw bytes the
//! origin sends ([`Behaviour`]) and what the Cloudflare edge makes of them ([`Expect`]).
//!
//! [`Lab`] is the bound listener for an existing tokio runtime; [`LabHandle`] runs one on its own
//! thread, for tests and `originlens probe --lab`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod behaviour;
mod request;
pub mod routes;
mod server;

pub use behaviour::{Behaviour, End, Step};
pub use request::MAX_HEAD;
pub use routes::{route, routes, Expect, ProbeHint, Route};
pub use server::{Lab, LabHandle};
