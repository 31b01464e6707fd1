//! A deliberately broken origin for reproducing every cause.
//!
//! `originlens lab` serves one route per cause and per interesting HTTP/1 malformation, plus
//! clean routes, so that `originlens-probe` and the edge proxy can be tested over real sockets.
//! The route table ([`routes`]) is the documentation: each [`Route`] names the raw bytes the
//! origin sends ([`Behaviour`]) and what the Cloudflare edge makes of them ([`Expect`]).
//!
//! [`TlsLab`] adds one TLS listener per certificate or handshake problem ([`TlsCase`]), with
//! certificates made at start-up, and listeners that advertise `h2` by ALPN and then break
//! HTTP/2 in one way each.
//!
//! [`Mix`] answers every request with a route drawn from a weighted mix instead, for soaks.
//!
//! [`Lab`] is the bound listener for an existing tokio runtime; [`LabHandle`] runs one on its own
//! thread, for tests and `originlens probe --lab`.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//!
//! use originlens_lab::{route, LabHandle};
//! use originlens_wire::Cause;
//!
//! let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
//! let mut s = TcpStream::connect(lab.addr()).unwrap();
//! s.write_all(b"GET /empty HTTP/1.1\r\nHost: lab\r\n\r\n").unwrap();
//! let mut got = Vec::new();
//! s.read_to_end(&mut got).unwrap();
//! assert!(got.is_empty()); // FIN before any byte...
//! let expect = route("/empty").unwrap().expect;
//! assert_eq!((expect.status, expect.cause), (520, Some(Cause::ResponseEmpty))); // ...is a 520
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod behaviour;
pub mod flaky;
mod h2;
pub mod mix;
mod request;
pub mod routes;
mod server;
pub mod tls;

pub use behaviour::{Behaviour, End, Step};
pub use flaky::RestartingOrigin;
pub use mix::{Mix, DEFAULT_MIX};
pub use request::MAX_HEAD;
pub use routes::{route, routes, Expect, ProbeHint, Route};
pub use server::{Lab, LabHandle, MixSink};
pub use tls::{ClientPem, TlsCase, TlsExpect, TlsLab, LAB_HOST};
