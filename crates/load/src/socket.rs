//! The load run's use of the shared socket layer (`originlens-net`): one resolved address, one
//! TLS client for the whole run, [`originlens_net::dial`] for every new connection (the only
//! place a connect error becomes a cause) and [`originlens_net::Exchange`] for every request
//! (the only place a read error becomes a reader event), so that every verdict is the probe's
//! and the edge's.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use originlens_net::{
    dial, Endpoint, Exchange, Scratch, ServerName, Stream, Timeouts, TlsClient, TlsPolicy, TlsTo,
};
use originlens_wire::{Finding, Reader, ReaderOptions};

/// How to reach the origin: one resolved address, and the TLS client when the URL is https.
pub(crate) struct Dialer {
    endpoint: Endpoint,
    addr: SocketAddr,
    timeouts: Timeouts,
    tls: Option<(TlsClient, ServerName<'static>)>,
}

/// A local problem that stops the run before any request (not the origin's fault).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The origin's address did not resolve.
    #[error("cannot resolve {0}")]
    Resolve(String),
    /// The TLS client could not be built.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

impl Dialer {
    /// Resolves `host:port` once (every connection of the run goes to the same address, and a
    /// run is not a DNS benchmark) and builds the TLS client when `sni` is given.
    pub(crate) async fn new(
        host: &str,
        port: u16,
        sni: Option<&str>,
        tls: &TlsPolicy,
        connect_timeout: Duration,
    ) -> Result<Dialer, SetupError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let lookup = tokio::time::timeout(connect_timeout, tokio::net::lookup_host((bare, port)));
        let addr = match lookup.await {
            Ok(Ok(mut addrs)) => addrs
                .next()
                .ok_or_else(|| SetupError::Resolve(format!("{host}: no address")))?,
            Ok(Err(e)) => return Err(SetupError::Resolve(format!("{host}: {e}"))),
            Err(_) => return Err(SetupError::Resolve(format!("{host}: timed out"))),
        };
        let tls = match sni {
            None => None,
            Some(sni) => {
                let client =
                    TlsClient::new(tls.clone()).map_err(|e| SetupError::Tls(e.to_string()))?;
                let bare = sni.trim_start_matches('[').trim_end_matches(']');
                let name = ServerName::try_from(bare.to_owned())
                    .map_err(|e| SetupError::Tls(format!("`{sni}`: {e}")))?;
                Some((client, name))
            }
        };
        Ok(Dialer {
            endpoint: Endpoint::new(addr.ip().to_string(), addr.port()),
            addr,
            timeouts: Timeouts {
                connect: connect_timeout,
                handshake: None,
            },
            tls,
        })
    }

    /// The address every connection goes to.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Opens one connection; a failure is the finding that names its cause.
    pub(crate) async fn dial(&self, read_timeout: Duration) -> Result<Conn, Finding> {
        let tls = self
            .tls
            .as_ref()
            .map(|(client, name)| TlsTo { client, name });
        match dial(&self.endpoint, self.timeouts, tls).await {
            Ok(dialed) => Ok(Conn {
                stream: dialed.stream,
                scratch: Scratch::new(read_timeout),
            }),
            Err(f) => Err(Finding::at(f.kind, 0, f.message)),
        }
    }
}

/// One open connection with its read buffer and timer.
pub(crate) struct Conn {
    stream: Stream,
    scratch: Scratch,
}

/// What one exchange left behind.
pub(crate) struct Exchanged {
    /// The connection, to pool again if the response allows it.
    pub conn: Conn,
    /// The reader, done.
    pub reader: Reader,
    /// When the request was written.
    pub sent: Instant,
}

impl Conn {
    /// Writes `request` and reads one response until the reader is done (complete, closed,
    /// reset, or silent for `read_timeout`). The first `capture_max` response bytes are copied
    /// into `capture`, as evidence.
    pub(crate) async fn exchange(
        self,
        request: &[u8],
        opts: ReaderOptions,
        read_timeout: Duration,
        capture: &mut Vec<u8>,
        capture_max: usize,
    ) -> Exchanged {
        let sent = Instant::now();
        let mut ex = Exchange::new(
            self.stream,
            Some(self.scratch),
            opts,
            sent,
            read_timeout,
            capture_max,
        );
        ex.send(request, b"", read_timeout).await;
        ex.read_to_end().await;
        capture.extend_from_slice(ex.capture());
        let reader = std::mem::replace(&mut ex.reader, Reader::new(ReaderOptions::default()));
        let (stream, scratch) = ex.into_parts();
        Exchanged {
            conn: Conn { stream, scratch },
            reader,
            sent,
        }
    }
}
