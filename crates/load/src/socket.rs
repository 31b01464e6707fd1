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
use originlens_wire::{Finding, Kind, Reader, ReaderOptions};

use crate::h2::H2Conn;

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
    /// `--http2`, and the origin does not agree `h2` by ALPN.
    #[error("--http2: the origin does not agree h2 by ALPN (it agreed {0}); run without --http2")]
    NoH2(String),
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
        Ok(Conn {
            stream: self.dial_stream().await?,
            scratch: Scratch::new(read_timeout),
        })
    }

    /// Opens one connection (TCP, and TLS for https).
    pub(crate) async fn dial_stream(&self) -> Result<Stream, Finding> {
        let tls = self
            .tls
            .as_ref()
            .map(|(client, name)| TlsTo { client, name });
        match dial(&self.endpoint, self.timeouts, tls).await {
            Ok(dialed) => Ok(dialed.stream),
            Err(f) => Err(Finding::at(f.kind, 0, f.message)),
        }
    }

    /// Opens one HTTP/2 connection: TLS with `h2` agreed by ALPN, then the HTTP/2 handshake.
    pub(crate) async fn dial_h2(&self, read_timeout: Duration) -> Result<H2Conn, Finding> {
        let stream = self.dial_stream().await?;
        if stream.alpn() != Some(b"h2") {
            return Err(Finding::at(
                Kind::H2Protocol,
                0,
                "the origin did not agree h2 by ALPN on this connection",
            ));
        }
        H2Conn::open(stream, read_timeout).await
    }

    /// Before an HTTP/2 run: does the origin agree `h2`? A connection that cannot be opened is
    /// left for the run to count; one on which the origin picks no `h2` stops the run.
    pub(crate) async fn check_h2(&self) -> Result<(), SetupError> {
        match self.dial_stream().await {
            Ok(stream) if stream.alpn() != Some(b"h2") => Err(SetupError::NoH2(
                stream.alpn().map_or("no protocol".into(), |p| {
                    String::from_utf8_lossy(p).into_owned()
                }),
            )),
            _ => Ok(()),
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
