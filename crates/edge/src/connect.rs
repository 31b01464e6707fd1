//! Opening connections to an origin: resolve, TCP connect within the profile's connect timeout,
//! TLS for `https://` origins. Failures come back as the finding kind the edge reports
//! (refused → 521, timeout → 522, unreachable → 523, handshake → 525, certificate → 526,
//! DNS → 530).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use originlens_wire::Kind;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::config::{OriginConfig, SslMode};

/// An upstream connection, plain or TLS.
#[derive(Debug)]
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A connection that could not be opened: the finding kind and a message for the evidence.
#[derive(Debug)]
pub struct ConnectFailure {
    /// The finding the edge reports.
    pub kind: Kind,
    /// What happened, for the incident (never shown to visitors: it may name the origin).
    pub message: String,
}

/// Opens connections to one origin.
pub struct Connector {
    authority: String,
    timeout: Duration,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("authority", &self.authority)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Connector {
    /// A connector for `origin`, with its TLS server name and certificate checking.
    pub fn new(origin: &OriginConfig) -> Result<Connector, crate::config::ConfigError> {
        let tls = if origin.url.tls {
            let server_name = origin.server_name()?;
            let config = client_config(origin.ssl_mode, &origin.extra_roots).map_err(|e| {
                crate::config::ConfigError::Origin {
                    url: origin.url.authority(),
                    why: format!("TLS configuration: {e}"),
                }
            })?;
            Some((TlsConnector::from(config), server_name))
        } else {
            None
        };
        Ok(Connector {
            authority: origin.url.authority(),
            timeout: origin.profile.limits.connect_timeout,
            tls,
        })
    }

    /// Opens a new connection.
    pub async fn connect(&self) -> Result<Conn, ConnectFailure> {
        let started = Instant::now();
        let addrs: Vec<_> = match tokio::net::lookup_host(&self.authority).await {
            Ok(a) => a.collect(),
            Err(e) => {
                return Err(ConnectFailure {
                    kind: Kind::DnsUnresolved,
                    message: format!("{} does not resolve: {e}", self.authority),
                })
            }
        };
        let Some(&addr) = addrs.first() else {
            return Err(ConnectFailure {
                kind: Kind::DnsUnresolved,
                message: format!("{} has no address", self.authority),
            });
        };
        let tcp = match tokio::time::timeout(self.timeout, TcpStream::connect(addr)).await {
            Err(_) => {
                return Err(ConnectFailure {
                    kind: Kind::ConnectTimeout,
                    message: format!(
                        "no SYN-ACK from {addr} within {:.1} s",
                        self.timeout.as_secs_f64()
                    ),
                })
            }
            Ok(Err(e)) => {
                let kind = match e.kind() {
                    io::ErrorKind::ConnectionRefused => Kind::ConnectRefused,
                    io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                        Kind::ConnectUnreachable
                    }
                    io::ErrorKind::TimedOut => Kind::ConnectTimeout,
                    _ => Kind::ConnectUnreachable,
                };
                return Err(ConnectFailure {
                    kind,
                    message: format!("connecting to {addr}: {e}"),
                });
            }
            Ok(Ok(s)) => s,
        };
        let _ = tcp.set_nodelay(true);
        let Some((connector, name)) = &self.tls else {
            return Ok(Conn::Plain(tcp));
        };
        let left = self.timeout.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, connector.connect(name.clone(), tcp)).await {
            Err(_) => Err(ConnectFailure {
                kind: Kind::TlsHandshake,
                message: "the TLS handshake did not finish in time".into(),
            }),
            Ok(Err(e)) => {
                let cert = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_)));
                Err(ConnectFailure {
                    kind: if cert {
                        Kind::TlsCertificate
                    } else {
                        Kind::TlsHandshake
                    },
                    message: format!("TLS: {e}"),
                })
            }
            Ok(Ok(s)) => Ok(Conn::Tls(Box::new(s))),
        }
    }
}

fn client_config(
    mode: SslMode,
    extra_roots: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = match mode {
        SslMode::Strict => {
            let mut roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            for cert in extra_roots {
                roots.add(cert.clone())?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        SslMode::Full => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
    };
    // The edge speaks HTTP/1.1 to origins.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Cloudflare's "Full" mode: any certificate, but the handshake signatures are still checked.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
