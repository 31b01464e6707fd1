//! Opening connections to an origin: resolve, TCP connect within the profile's connect timeout,
//! TLS for `https://` origins. Failures come back as the finding kind the edge reports
//! (refused → 521, timeout → 522, unreachable → 523, handshake → 525, certificate → 526,
//! DNS → 530).
//!
//! A TLS connection goes out under one server name, sent as SNI and checked against the
//! certificate: the configured one, or for an IP URL without one, the visitor's host name (as
//! Cloudflare sends it). The connection remembers that name so that the pool never hands it to a
//! request for another.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use originlens_wire::Kind;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, DnsName, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::config::{strip_port, ConfigError, OriginConfig, SslMode};

/// An upstream connection, plain or TLS.
#[derive(Debug)]
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsConn>),
}

/// A TLS connection and the server name it was opened with.
#[derive(Debug)]
pub struct TlsConn {
    stream: TlsStream<TcpStream>,
    server_name: ServerName<'static>,
}

impl Conn {
    /// The TLS server name the connection was opened with (`None` for plain TCP): it may only
    /// carry requests sent under that name.
    pub fn server_name(&self) -> Option<&ServerName<'static>> {
        match self {
            Conn::Plain(_) => None,
            Conn::Tls(t) => Some(&t.server_name),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(t) => Pin::new(&mut t.stream).poll_read(cx, buf),
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
            Conn::Tls(t) => Pin::new(&mut t.stream).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(t) => Pin::new(&mut t.stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(t) => Pin::new(&mut t.stream).poll_shutdown(cx),
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
    tls: Option<Tls>,
}

/// The TLS side of a connector.
struct Tls {
    connector: TlsConnector,
    /// The configured server name, else (an IP URL) the IP: no SNI, the certificate must name it.
    name: ServerName<'static>,
    /// The visitor's host name, when it is one, comes before `name`.
    visitor_first: bool,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("authority", &self.authority)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Tls {
    fn new(origin: &OriginConfig) -> Result<Tls, ConfigError> {
        let invalid = |why: String| ConfigError::Origin {
            url: origin.url.authority(),
            why,
        };
        let config = client_config(origin.ssl_mode, &origin.extra_roots)
            .map_err(|e| invalid(format!("TLS configuration: {e}")))?;
        let (name, visitor_first) = match origin.server_name()? {
            Some(name) => (name, false),
            None => (
                ServerName::try_from(origin.url.host.clone())
                    .map_err(|_| invalid(format!("`{}` is not an IP address", origin.url.host)))?,
                true,
            ),
        };
        Ok(Tls {
            connector: TlsConnector::from(config),
            name,
            visitor_first,
        })
    }
}

impl Connector {
    /// A connector for `origin`, with its TLS server name and certificate checking.
    pub fn new(origin: &OriginConfig) -> Result<Connector, ConfigError> {
        let tls = if origin.url.tls {
            Some(Tls::new(origin)?)
        } else {
            None
        };
        Ok(Connector {
            authority: origin.url.authority(),
            timeout: origin.profile.limits.connect_timeout,
            tls,
        })
    }

    /// The TLS server name of a request whose visitor asked for `host` (`None` for plain
    /// HTTP): the configured name, else the visitor's host name, else the URL's IP. It also
    /// decides which pooled connections the request may use.
    pub fn server_name<'a>(&'a self, host: &'a str) -> Option<ServerName<'a>> {
        let tls = self.tls.as_ref()?;
        let visitor = tls.visitor_first.then(|| visitor_name(host)).flatten();
        Some(visitor.unwrap_or_else(|| borrowed(&tls.name)))
    }

    /// Opens a new connection; TLS goes out under `server_name` (see
    /// [`Connector::server_name`]), or when `None` the name a visitor without one would get.
    pub async fn connect(
        &self,
        server_name: Option<&ServerName<'_>>,
    ) -> Result<Conn, ConnectFailure> {
        let started = Instant::now();
        let tcp = self.tcp().await?;
        let Some(tls) = &self.tls else {
            return Ok(Conn::Plain(tcp));
        };
        let name = server_name.unwrap_or(&tls.name).to_owned();
        let left = self.timeout.saturating_sub(started.elapsed());
        let stream = handshake(&tls.connector, &name, tcp, left).await?;
        Ok(Conn::Tls(Box::new(TlsConn {
            stream,
            server_name: name,
        })))
    }

    /// Resolves and opens the TCP connection within the connect timeout.
    async fn tcp(&self) -> Result<TcpStream, ConnectFailure> {
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
        Ok(tcp)
    }
}

/// The TLS handshake under `name`, within `left` of the connect timeout.
async fn handshake(
    connector: &TlsConnector,
    name: &ServerName<'static>,
    tcp: TcpStream,
    left: Duration,
) -> Result<TlsStream<TcpStream>, ConnectFailure> {
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
        Ok(Ok(s)) => Ok(s),
    }
}

/// The visitor's host as a server name: without port or final dot, lower-cased; `None` for an
/// IP literal, an empty host or anything else that is not a DNS name.
fn visitor_name(host: &str) -> Option<ServerName<'_>> {
    let dns = DnsName::try_from(strip_port(host)).ok()?;
    let lower = if host.bytes().any(|b| b.is_ascii_uppercase()) {
        dns.to_lowercase_owned()
    } else {
        dns
    };
    Some(ServerName::DnsName(lower))
}

/// `name` borrowed, so that the usual request allocates no server name.
fn borrowed<'a>(name: &'a ServerName<'static>) -> ServerName<'a> {
    match name {
        ServerName::DnsName(d) => {
            let d: &'a DnsName<'a> = d;
            ServerName::DnsName(d.borrow())
        }
        other => other.clone(),
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::OriginUrl;
    use originlens_lab::{TlsCase, TlsLab, LAB_HOST};
    use rustls::pki_types::pem::PemObject;

    /// An origin on the lab's valid TLS listener, named by its IP, in `mode` with the lab root
    /// trusted. Its leaf names `LAB_HOST`, `localhost` and 127.0.0.1.
    pub(crate) async fn lab_origin(mode: SslMode) -> OriginConfig {
        let lab = TlsLab::bind([127, 0, 0, 1].into()).await.unwrap();
        let (_, addr) = lab
            .addrs()
            .into_iter()
            .find(|(c, _)| *c == TlsCase::Valid)
            .unwrap();
        let roots = CertificateDer::pem_slice_iter(lab.root_pem().as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        tokio::spawn(lab.serve());
        let url = OriginUrl::parse(&format!("https://{addr}")).unwrap();
        let mut origin = OriginConfig::new(url, "cloudflare").unwrap();
        origin.ssl_mode = mode;
        origin.extra_roots = roots;
        origin
    }

    fn origin(url: &str) -> OriginConfig {
        OriginConfig::new(OriginUrl::parse(url).unwrap(), "cloudflare").unwrap()
    }

    /// `connector.server_name(host)` as text, `None` for plain HTTP.
    fn name_for(connector: &Connector, host: &str) -> Option<String> {
        connector.server_name(host).map(|n| n.to_str().into_owned())
    }

    /// Opens a connection for a visitor asking for `host`.
    pub(crate) async fn open(connector: &Connector, host: &str) -> Result<Conn, ConnectFailure> {
        connector
            .connect(connector.server_name(host).as_ref())
            .await
    }

    #[test]
    fn ip_origins_take_the_visitor_name_unless_it_is_no_dns_name() {
        let ip = Connector::new(&origin("https://127.0.0.1:8443")).unwrap();
        for (host, expected) in [
            ("shop.example", "shop.example"),
            ("Shop.EXAMPLE.:8443", "shop.example"),
            ("shop.example.", "shop.example"),
            ("", "127.0.0.1"),
            ("198.51.100.7", "127.0.0.1"),
            ("198.51.100.7:80", "127.0.0.1"),
            ("[::1]:80", "127.0.0.1"),
            ("shop example", "127.0.0.1"),
            ("shop.example..", "127.0.0.1"),
        ] {
            assert_eq!(name_for(&ip, host).as_deref(), Some(expected), "{host:?}");
        }
        let v6 = Connector::new(&origin("https://[::1]:8443")).unwrap();
        assert_eq!(name_for(&v6, "").as_deref(), Some("::1"));
    }

    #[test]
    fn configured_names_win_over_the_visitor_name() {
        let mut header = origin("https://127.0.0.1:8443");
        header.host_header = Some("internal.example".into());
        let mut sni = header.clone();
        sni.sni = Some("sni.example".into());
        for (config, expected) in [
            (header, Some("internal.example")),
            (sni, Some("sni.example")),
            (origin("https://origin.example"), Some("origin.example")),
            (origin("http://127.0.0.1:8080"), None),
        ] {
            let c = Connector::new(&config).unwrap();
            assert_eq!(name_for(&c, "shop.example").as_deref(), expected);
        }
    }

    #[tokio::test]
    async fn strict_mode_checks_the_certificate_against_the_visitor_name() {
        let connector = Connector::new(&lab_origin(SslMode::Strict).await).unwrap();
        let lab = open(&connector, "LAB.originlens.test").await.unwrap();
        let sent = lab.server_name().map(|n| n.to_str().into_owned());
        assert_eq!(sent.as_deref(), Some(LAB_HOST));
        // No name from the visitor: no SNI, and the leaf names 127.0.0.1.
        let ip = open(&connector, "").await.unwrap();
        assert_eq!(
            ip.server_name(),
            Some(&ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()))
        );
        let wrong = open(&connector, "www.example.test").await.unwrap_err();
        assert_eq!(wrong.kind, Kind::TlsCertificate, "{}", wrong.message);
        assert!(
            wrong.message.contains("www.example.test"),
            "{}",
            wrong.message
        );
    }
}
