//! The one socket layer between `originlens-wire` (which judges bytes and does no I/O) and the
//! programs that talk to origins: the probe, its keep-alive checks, and the edge.
//!
//! Start with [`dial`]: resolve, TCP connect and TLS under one [`TlsPolicy`], the only place a
//! connect error becomes a cause. Then [`Exchange`]: writes a request and feeds every read into
//! `originlens_wire::Reader`, the only place a read error becomes a reader event
//! ([`read_end`]). [`tls`] builds the one rustls client configuration and its certificate
//! verifier; [`handshake`] names why a handshake failed.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod dial;
pub mod exchange;
pub mod handshake;
pub mod tap;
pub mod tls;

pub use dial::{dial, DialFailure, DialTimings, Dialed, Endpoint, Stream, Timeouts, TlsTo};
pub use exchange::{idle_now, read_end, watch_idle, Exchange, IdleEvent, Scratch};
pub use handshake::{Handshake, HandshakeFailure, HandshakeReason, Negotiated};
pub use rustls::pki_types::{CertificateDer, ServerName};
pub use tls::{
    alpn_h2_and_http11, load_ca_file, load_ca_pem, load_client_cert, root_store, ClientCert,
    PemError, SslMode, TlsClient, TlsPolicy, TlsSetupError,
};
