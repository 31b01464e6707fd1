//! The socket side of a load run: connect (with TLS for https), write a request, and feed what
//! comes back into a `wire::Reader`, turning socket errors into reader events the way the probe
//! does (FIN or a TLS close without `close_notify` is EOF; resets, aborts and broken pipes are a
//! reset; silence past the read timeout is a timeout).
//!
//! This is the only file of the crate that touches a socket, so that it can be replaced by the
//! shared socket layer (`crates/net`) without changing the driver.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use originlens_probe::tls::{client_config_with, ClientOptions, RecordingVerifier};
use originlens_probe::{SslMode, TlsOptions};
use originlens_wire::{End, Finding, Kind, Reader};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Bytes read per call.
const READ_CHUNK: usize = 16 * 1024;

/// How to reach the origin: one resolved address, and the TLS client when the URL is https.
pub(crate) struct Dialer {
    addr: SocketAddr,
    connect_timeout: Duration,
    tls: Option<TlsClient>,
}

struct TlsClient {
    connector: TlsConnector,
    name: ServerName<'static>,
    verifier: Arc<RecordingVerifier>,
    strict: bool,
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
    /// Resolves `host:port` once (every connection of the run goes to the same address) and
    /// builds the TLS client when `sni` is given.
    pub(crate) async fn new(
        host: &str,
        port: u16,
        sni: Option<&str>,
        tls: &TlsOptions,
        connect_timeout: Duration,
    ) -> Result<Dialer, SetupError> {
        let lookup = tokio::time::timeout(connect_timeout, tokio::net::lookup_host((host, port)));
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
                let client = ClientOptions {
                    extra_roots: tls.extra_roots.clone(),
                    no_sni: false,
                };
                let (config, verifier) =
                    client_config_with(&client).map_err(|e| SetupError::Tls(e.to_string()))?;
                let bare = sni.trim_start_matches('[').trim_end_matches(']');
                let name = ServerName::try_from(bare.to_owned())
                    .map_err(|e| SetupError::Tls(format!("`{sni}`: {e}")))?;
                Some(TlsClient {
                    connector: TlsConnector::from(config),
                    name,
                    verifier,
                    strict: tls.mode == SslMode::Strict,
                })
            }
        };
        Ok(Dialer {
            addr,
            connect_timeout,
            tls,
        })
    }

    /// The address every connection goes to.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Opens one connection; a failure is the finding that names its cause (connect.refused,
    /// connect.timeout, connect.unreachable, tls.handshake, tls.certificate).
    pub(crate) async fn dial(&self) -> Result<Conn, Finding> {
        let addr = self.addr;
        let tcp = match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let kind = match e.kind() {
                    io::ErrorKind::ConnectionRefused => Kind::ConnectRefused,
                    io::ErrorKind::TimedOut => Kind::ConnectTimeout,
                    _ => Kind::ConnectUnreachable,
                };
                return Err(Finding::at(kind, 0, format!("connecting to {addr}: {e}")));
            }
            Err(_) => {
                let msg = format!(
                    "no answer from {addr} within {:.1} s",
                    self.connect_timeout.as_secs_f64()
                );
                return Err(Finding::at(Kind::ConnectTimeout, 0, msg));
            }
        };
        let _ = tcp.set_nodelay(true);
        let Some(tls) = &self.tls else {
            return Ok(Conn::new(Stream::Plain(tcp)));
        };
        let shake = tls.connector.connect(tls.name.clone(), tcp);
        let stream = match tokio::time::timeout(self.connect_timeout, shake).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let msg = format!("TLS handshake with {addr} failed: {e}");
                return Err(Finding::at(Kind::TlsHandshake, 0, msg));
            }
            Err(_) => {
                let msg = format!("TLS handshake with {addr} did not finish in time");
                return Err(Finding::at(Kind::TlsHandshake, 0, msg));
            }
        };
        if tls.strict {
            if let Some(e) = tls.verifier.error() {
                let msg = format!("certificate not valid: {e}");
                return Err(Finding::at(Kind::TlsCertificate, 0, msg));
            }
        }
        Ok(Conn::new(Stream::Tls(Box::new(stream))))
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    fn io(&mut self) -> &mut (dyn Io + '_) {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &mut **s,
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One open connection to the origin.
pub(crate) struct Conn {
    stream: Stream,
    buf: Box<[u8]>,
}

/// What one exchange left behind.
pub(crate) struct Exchanged {
    /// When the request was written (or its write failed).
    pub sent: Instant,
    /// The read timeout ended the exchange.
    pub timed_out: bool,
}

impl Conn {
    fn new(stream: Stream) -> Conn {
        Conn {
            stream,
            buf: vec![0u8; READ_CHUNK].into_boxed_slice(),
        }
    }

    /// Writes `request` and reads one response into `reader` until it is complete, the
    /// connection ends, or the origin is silent for `read_timeout`. The first `capture_max`
    /// response bytes are copied to `capture`, as evidence.
    pub(crate) async fn exchange(
        &mut self,
        request: &[u8],
        reader: &mut Reader,
        read_timeout: Duration,
        capture: &mut Vec<u8>,
        capture_max: usize,
    ) -> Exchanged {
        let io = self.stream.io();
        let sent = Instant::now();
        if let Err(e) = io.write_all(request).await {
            // The origin already closed or reset the connection: on a reused one the reader
            // makes this the keep-alive race.
            reader.on_end_at(end_of(&e), Duration::ZERO);
            return Exchanged {
                sent,
                timed_out: false,
            };
        }
        loop {
            match tokio::time::timeout(read_timeout, io.read(&mut self.buf)).await {
                Ok(Ok(0)) => {
                    reader.on_end_at(End::Eof, sent.elapsed());
                    break;
                }
                Ok(Ok(n)) => {
                    let got = &self.buf[..n];
                    let room = capture_max.saturating_sub(capture.len());
                    capture.extend_from_slice(&got[..n.min(room)]);
                    if reader.feed_at(got, sent.elapsed()) == originlens_wire::Progress::Done {
                        break;
                    }
                }
                Ok(Err(e)) => {
                    reader.on_end_at(end_of(&e), sent.elapsed());
                    break;
                }
                Err(_) => {
                    reader.on_end_at(End::Timeout, sent.elapsed());
                    return Exchanged {
                        sent,
                        timed_out: true,
                    };
                }
            }
        }
        Exchanged {
            sent,
            timed_out: false,
        }
    }
}

/// The reader event for a socket error: rustls reports a close without `close_notify` as
/// `UnexpectedEof` (the peer closed); everything else ends the stream like a reset.
fn end_of(e: &io::Error) -> End {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        End::Eof
    } else {
        End::Reset
    }
}
