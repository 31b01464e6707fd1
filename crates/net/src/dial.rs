//! Opening a connection to an origin: resolve, TCP connect, TLS. This is the only place where
//! an `io::Error` of connecting becomes a cause: refused → 521 `connect.refused`, no answer →
//! 522 `connect.timeout`, unreachable → 523, DNS → 530, handshake → 525, refused certificate →
//! 526.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use originlens_wire::Kind;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::handshake::{classify, negotiated, Handshake, HandshakeFailure, HandshakeReason};
use crate::tap::Tap;
use crate::tls::TlsClient;

/// The first bytes the origin sent during the handshake, kept to recognise plain HTTP.
const FIRST_BYTES: usize = 256;

/// Where to connect: a host name or IP literal (brackets allowed) and a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP literal.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Endpoint {
    /// `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Endpoint {
        let host = host.into();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .map(str::to_owned)
            .unwrap_or(host);
        Endpoint { host, port }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// How long each phase may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Resolving plus the TCP connection.
    pub connect: Duration,
    /// The TLS handshake; `None`: what is left of `connect` (the edge's budget).
    pub handshake: Option<Duration>,
}

/// TLS for one connection: the client and the server name (sent as SNI when it is a DNS name,
/// and checked against the certificate).
#[derive(Clone, Copy, Debug)]
pub struct TlsTo<'a> {
    /// The client.
    pub client: &'a TlsClient,
    /// The server name.
    pub name: &'a ServerName<'a>,
}

/// An open connection, plain or TLS.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsConn>),
}

/// A TLS connection and the server name it was opened with.
#[derive(Debug)]
pub struct TlsConn {
    stream: TlsStream<Tap<TcpStream>>,
    server_name: ServerName<'static>,
}

impl Stream {
    /// The TLS server name the connection was opened with (`None` for plain TCP): it may only
    /// carry requests sent under that name.
    pub fn server_name(&self) -> Option<&ServerName<'static>> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(t) => Some(&t.server_name),
        }
    }

    /// The address connected to.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Stream::Plain(s) => s.peer_addr(),
            Stream::Tls(t) => t.stream.get_ref().0.get_ref().peer_addr(),
        }
    }

    /// The ALPN protocol agreed, if any.
    pub fn alpn(&self) -> Option<&[u8]> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(t) => t.stream.get_ref().1.alpn_protocol(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(t) => Pin::new(&mut t.stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(t) => Pin::new(&mut t.stream).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(t) => Pin::new(&mut t.stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(t) => Pin::new(&mut t.stream).poll_shutdown(cx),
        }
    }
}

/// When each phase ended, measured from the start of [`dial`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DialTimings {
    /// Name resolution.
    pub resolve: Option<Duration>,
    /// TCP connection established.
    pub connect: Option<Duration>,
    /// TLS handshake done.
    pub tls: Option<Duration>,
}

/// A connection that is open.
#[derive(Debug)]
pub struct Dialed {
    /// The stream.
    pub stream: Stream,
    /// The address connected to.
    pub remote: SocketAddr,
    /// Phase timings.
    pub timings: DialTimings,
    /// The TLS handshake, for TLS connections.
    pub handshake: Option<Handshake>,
}

/// A connection that could not be opened.
#[derive(Debug)]
pub struct DialFailure {
    /// The finding it is (`connect.refused`, `tls.handshake`, ...).
    pub kind: Kind,
    /// What happened, for the evidence (it names the origin: never shown to visitors).
    pub message: String,
    /// The address tried, once resolved.
    pub remote: Option<SocketAddr>,
    /// The phases that finished.
    pub timings: DialTimings,
    /// The failed TLS handshake, when it got that far.
    pub handshake: Option<Handshake>,
}

impl fmt::Display for DialFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DialFailure {}

/// What a failed TCP connect is. A reset answering the SYN (a listener that closed with the
/// connection still in its queue) is a refusal too: the host is there, nothing accepts.
pub fn connect_kind(e: &io::Error) -> Kind {
    match e.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => Kind::ConnectRefused,
        io::ErrorKind::TimedOut => Kind::ConnectTimeout,
        _ => Kind::ConnectUnreachable,
    }
}

/// Resolves `to`, connects to its first address within `timeouts.connect`, and shakes hands
/// when `tls` is given.
pub async fn dial(
    to: &Endpoint,
    timeouts: Timeouts,
    tls: Option<TlsTo<'_>>,
) -> Result<Dialed, DialFailure> {
    let start = Instant::now();
    let deadline = tokio::time::Instant::from_std(start + timeouts.connect);
    let mut timings = DialTimings::default();
    let fail = |kind, message, remote, timings, handshake| DialFailure {
        kind,
        message,
        remote,
        timings,
        handshake,
    };
    let host = to.host.as_str();
    let lookup = tokio::time::timeout_at(deadline, tokio::net::lookup_host((host, to.port)));
    let addr = match lookup.await {
        Ok(Ok(mut addrs)) => addrs.next(),
        Ok(Err(e)) => {
            let msg = format!("{host} does not resolve: {e}");
            return Err(fail(Kind::DnsUnresolved, msg, None, timings, None));
        }
        Err(_) => {
            let msg = format!("{host} did not resolve in time");
            return Err(fail(Kind::DnsUnresolved, msg, None, timings, None));
        }
    };
    let Some(addr) = addr else {
        let msg = format!("{host} has no address");
        return Err(fail(Kind::DnsUnresolved, msg, None, timings, None));
    };
    timings.resolve = Some(start.elapsed());
    let tcp = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let msg = format!("connecting to {addr}: {e}");
            return Err(fail(connect_kind(&e), msg, Some(addr), timings, None));
        }
        Err(_) => {
            let secs = timeouts.connect.as_secs_f64();
            let msg = format!("no answer from {addr} within {secs:.1} s");
            return Err(fail(Kind::ConnectTimeout, msg, Some(addr), timings, None));
        }
    };
    timings.connect = Some(start.elapsed());
    let _ = tcp.set_nodelay(true);
    let Some(tls) = tls else {
        return Ok(Dialed {
            stream: Stream::Plain(tcp),
            remote: addr,
            timings,
            handshake: None,
        });
    };
    let budget = timeouts
        .handshake
        .unwrap_or_else(|| timeouts.connect.saturating_sub(start.elapsed()));
    match handshake(tcp, tls, budget).await {
        Ok((conn, hs)) => {
            timings.tls = Some(start.elapsed());
            Ok(Dialed {
                stream: Stream::Tls(Box::new(conn)),
                remote: addr,
                timings,
                handshake: Some(hs),
            })
        }
        Err(hs) => {
            let (kind, why) = match &hs.outcome {
                Err(f) => (f.reason.kind(), f.message.clone()),
                Ok(_) => (Kind::TlsHandshake, "no stream".into()),
            };
            let msg = format!("TLS handshake with {addr} failed: {why}");
            Err(fail(kind, msg, Some(addr), timings, Some(hs)))
        }
    }
}

/// The TLS handshake over `tcp` within `budget`: the connection, or the failed handshake.
async fn handshake(
    tcp: TcpStream,
    tls: TlsTo<'_>,
    budget: Duration,
) -> Result<(TlsConn, Handshake), Handshake> {
    let name = tls.name.to_owned();
    let sni = match &name {
        ServerName::DnsName(d) if tls.client.policy().send_sni => Some(d.as_ref().to_owned()),
        _ => None,
    };
    let mut hs = Handshake {
        sni,
        outcome: Err(HandshakeFailure {
            reason: HandshakeReason::Timeout,
            alert: None,
            message: format!(
                "the handshake did not finish within {:.1} s",
                budget.as_secs_f64()
            ),
        }),
        chain: Vec::new(),
        certificate_error: None,
    };
    let (config, verifier) = match tls.client.config() {
        Ok(c) => c,
        Err(e) => {
            hs.outcome = Err(HandshakeFailure {
                reason: HandshakeReason::ProtocolError,
                alert: None,
                message: e.to_string(),
            });
            return Err(hs);
        }
    };
    let connect = TlsConnector::from(config)
        .connect(name.clone(), Tap::new(tcp, FIRST_BYTES))
        .into_fallible();
    let result = tokio::time::timeout(budget, connect).await;
    if let Some(v) = &verifier {
        hs.chain = v.chain();
        hs.certificate_error = v.error().map(|e| e.to_string());
    }
    match result {
        Ok(Ok(mut stream)) => {
            hs.outcome = Ok(negotiated(stream.get_ref().1));
            stream.get_mut().0.stop();
            Ok((
                TlsConn {
                    stream,
                    server_name: name,
                },
                hs,
            ))
        }
        Ok(Err((e, tap))) => {
            hs.outcome = Err(classify(&e, tap.first()));
            Err(hs)
        }
        Err(_) => Err(hs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    fn quick() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(2),
            handshake: Some(Duration::from_secs(2)),
        }
    }

    #[tokio::test]
    async fn a_closed_port_is_refused() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let e = dial(&Endpoint::new("127.0.0.1", addr.port()), quick(), None)
            .await
            .unwrap_err();
        assert_eq!(e.kind, Kind::ConnectRefused, "{}", e.message);
        assert_eq!(e.remote, Some(addr));
        assert!(e.timings.resolve.is_some() && e.timings.connect.is_none());
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_dns() {
        let e = dial(&Endpoint::new("no-such-host.invalid", 80), quick(), None)
            .await
            .unwrap_err();
        assert_eq!(e.kind, Kind::DnsUnresolved, "{}", e.message);
        assert!(e.message.contains("no-such-host.invalid"), "{}", e.message);
    }

    #[tokio::test]
    async fn plain_http_on_the_tls_port_is_named() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
            let _ = s.shutdown().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        });
        let client = TlsClient::new(crate::TlsPolicy::default()).unwrap();
        let name = ServerName::try_from("origin.example").unwrap();
        let tls = TlsTo {
            client: &client,
            name: &name,
        };
        let e = dial(&Endpoint::new("127.0.0.1", port), quick(), Some(tls))
            .await
            .unwrap_err();
        assert_eq!(e.kind, Kind::TlsHandshake);
        let hs = e.handshake.unwrap();
        assert_eq!(hs.sni.as_deref(), Some("origin.example"));
        assert_eq!(hs.outcome.unwrap_err().reason, HandshakeReason::PlainHttp);
    }

    #[test]
    fn endpoints_print_v6_in_brackets() {
        assert_eq!(Endpoint::new("[::1]", 8443).to_string(), "[::1]:8443");
        assert_eq!(Endpoint::new("::1", 80).host, "::1");
        assert_eq!(Endpoint::new("a.example", 80).to_string(), "a.example:80");
    }

    #[test]
    fn a_reset_answering_the_connect_is_a_refusal() {
        let kind = |k| connect_kind(&io::Error::from(k));
        assert_eq!(kind(io::ErrorKind::ConnectionRefused), Kind::ConnectRefused);
        assert_eq!(kind(io::ErrorKind::ConnectionReset), Kind::ConnectRefused);
        assert_eq!(kind(io::ErrorKind::TimedOut), Kind::ConnectTimeout);
        assert_eq!(
            kind(io::ErrorKind::HostUnreachable),
            Kind::ConnectUnreachable
        );
    }
}
