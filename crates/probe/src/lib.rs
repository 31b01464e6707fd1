//! Direct origin probe: resolve, connect, TLS, send one request, keep every byte and the time it
//! arrived, and run `originlens-wire` on the stream.
//!
//! The exchange record (raw bytes, per-phase timings, FIN vs RST vs timeout) is kept apart from
//! its interpretation: [`Exchange::report`] is the wire reader's, and verdicts come from
//! [`originlens_wire::judge`] so that one capture can be judged under every profile.
#![deny(missing_docs)]

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use originlens_wire::{End, Finding, Kind, Progress, Reader, ReaderOptions, Report, RequestInfo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub mod advice;
pub mod certs;
pub mod h2;
pub mod judged;
pub mod keepalive;
mod tap;
pub mod target;
pub mod tls;
pub mod tls_check;

pub use target::{Target, TargetError};
pub use tls_check::{SslMode, TlsOptions, TlsReport};

/// How long to keep reading after a complete response, to catch bytes the origin should not
/// have sent (after the last chunk, beyond Content-Length, on a HEAD or 204).
pub const EXCESS_LINGER: Duration = Duration::from_millis(150);
/// Raw response bytes kept for display and evidence; the reader still sees everything.
pub const MAX_CAPTURE: usize = 4 * 1024 * 1024;
/// Bytes read per call.
const READ_CHUNK: usize = 64 * 1024;

/// What to send and how long to wait.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// Where and what.
    pub target: Target,
    /// Request method.
    pub method: String,
    /// Extra request headers; a `Host` here replaces the URL's.
    pub headers: Vec<(String, String)>,
    /// Time allowed for resolving plus connecting.
    pub connect_timeout: Duration,
    /// Longest silence allowed between two reads.
    pub read_timeout: Duration,
}

/// When each phase ended, measured from the start of the probe.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timings {
    /// Name resolution.
    pub resolve: Option<Duration>,
    /// TCP connection established.
    pub connect: Option<Duration>,
    /// TLS handshake done.
    pub tls: Option<Duration>,
    /// Request written.
    pub request_sent: Option<Duration>,
    /// First response byte.
    pub first_byte: Option<Duration>,
    /// Final head complete.
    pub head_complete: Option<Duration>,
    /// Response ended (complete, closed, reset or timed out).
    pub total: Option<Duration>,
}

/// What the TLS handshake negotiated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSummary {
    /// Protocol version, e.g. `TLSv1_3`.
    pub version: String,
    /// Cipher suite.
    pub cipher: String,
    /// ALPN protocol, if one was agreed.
    pub alpn: Option<String>,
    /// The certificate problem webpki found, if any.
    pub certificate_error: Option<String>,
}

/// One request/response exchange with its evidence.
#[derive(Debug)]
pub struct Exchange {
    /// The address connected to.
    pub remote: Option<SocketAddr>,
    /// The request bytes sent.
    pub request: Vec<u8>,
    /// The response bytes received (up to [`MAX_CAPTURE`]).
    pub response: Vec<u8>,
    /// Response bytes received in total.
    pub response_bytes: u64,
    /// Phase timings.
    pub timings: Timings,
    /// TLS details for https targets that got that far.
    pub tls: Option<TlsSummary>,
    /// The whole TLS story for https targets that connected: both handshakes and every
    /// certificate problem.
    pub tls_report: Option<TlsReport>,
    /// The wire reader's report (connection failures appear as findings at offset 0).
    pub report: Report,
    /// The read timeout that ended the exchange, if one did.
    pub waited: Option<Duration>,
    /// The HTTP/2 exchange, when the origin picked `h2` by ALPN (then `request` is the same
    /// request rendered as HTTP/1.1 and `response` holds the raw h2 frames).
    pub h2: Option<h2::H2Summary>,
}

/// A local problem that prevents probing at all (not the origin's fault).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The TLS client could not be set up.
    #[error("cannot set up TLS: {0}")]
    TlsSetup(String),
    /// The request could not be built.
    #[error("invalid request: {0}")]
    Request(String),
}

pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Builds the request bytes: like the edge's, with `Connection: keep-alive` and
/// `Accept-Encoding: br, gzip`, plus the caller's headers.
pub fn build_request(opts: &ProbeOptions) -> Result<Vec<u8>, ProbeError> {
    let method = opts.method.trim();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
        return Err(ProbeError::Request(format!("bad method `{method}`")));
    }
    let mut lines: Vec<(String, String)> = vec![
        ("Host".into(), opts.target.host_header()),
        (
            "User-Agent".into(),
            concat!("originlens/", env!("CARGO_PKG_VERSION")).into(),
        ),
        ("Accept".into(), "*/*".into()),
        ("Accept-Encoding".into(), "br, gzip".into()),
        ("Connection".into(), "keep-alive".into()),
    ];
    for (name, value) in &opts.headers {
        if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == b':' || b >= 0x7f) {
            return Err(ProbeError::Request(format!("bad header name `{name}`")));
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(ProbeError::Request(format!(
                "line break in the value of `{name}`"
            )));
        }
        match lines.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(slot) => slot.1 = value.clone(),
            None => lines.push((name.clone(), value.clone())),
        }
    }
    let mut req = format!("{method} {} HTTP/1.1\r\n", opts.target.path);
    for (n, v) in lines {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    Ok(req.into_bytes())
}

/// Probes the origin once, judging TLS as the edge in Full (strict) mode does.
pub async fn probe(opts: &ProbeOptions) -> Result<Exchange, ProbeError> {
    probe_with(opts, &TlsOptions::default()).await
}

/// The handshake without SNI, on a new connection to `addr`; `None` when the host is an IP
/// address (no SNI is sent then anyway), when not asked for, or when the connection fails.
async fn without_sni(
    addr: SocketAddr,
    opts: &ProbeOptions,
    tls: &TlsOptions,
) -> Option<tls_check::Handshake> {
    let host = opts
        .target
        .host
        .trim_start_matches('[')
        .trim_end_matches(']');
    if !tls.check_without_sni || host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let tcp = tokio::time::timeout(opts.connect_timeout, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let (_, hs) = tls_check::handshake(tcp, &opts.target.host, tls, true, opts.read_timeout)
        .await
        .ok()?;
    Some(hs)
}

/// Probes the origin once, with TLS judged under `tls.mode` and trusting `tls.extra_roots`.
pub async fn probe_with(opts: &ProbeOptions, tls: &TlsOptions) -> Result<Exchange, ProbeError> {
    let request = build_request(opts)?;
    let start = Instant::now();
    let mut ex = Exchange {
        remote: None,
        request,
        response: Vec::new(),
        response_bytes: 0,
        timings: Timings::default(),
        tls: None,
        tls_report: None,
        report: Report::default(),
        waited: None,
        h2: None,
    };
    let deadline = start + opts.connect_timeout;
    let t = &opts.target;

    let addrs = match tokio::time::timeout_at(
        deadline.into(),
        tokio::net::lookup_host((t.connect_host.as_str(), t.connect_port)),
    )
    .await
    {
        Ok(Ok(addrs)) => addrs.collect::<Vec<_>>(),
        Ok(Err(e)) => {
            return Ok(failed(
                ex,
                Kind::DnsUnresolved,
                format!("{}: {e}", t.connect_host),
            ))
        }
        Err(_) => {
            let msg = format!("{} did not resolve in time", t.connect_host);
            return Ok(failed(ex, Kind::DnsUnresolved, msg));
        }
    };
    ex.timings.resolve = Some(start.elapsed());
    let Some(&addr) = addrs.first() else {
        return Ok(failed(
            ex,
            Kind::DnsUnresolved,
            format!("{} has no address", t.connect_host),
        ));
    };
    ex.remote = Some(addr);

    let tcp = match tokio::time::timeout_at(deadline.into(), TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Ok(connect_failed(ex, addr, e)),
        Err(_) => {
            let msg = format!(
                "no answer from {addr} within {:.1} s",
                opts.connect_timeout.as_secs_f64()
            );
            return Ok(failed(ex, Kind::ConnectTimeout, msg));
        }
    };
    ex.timings.connect = Some(start.elapsed());
    let _ = tcp.set_nodelay(true);

    let mut io: Box<dyn Io> = if t.tls {
        // The edge offers h2 to the origin and uses it whenever the origin agrees.
        let (stream, hs) = tls::offering_h2(tls_check::handshake(
            tcp,
            &t.host,
            tls,
            false,
            opts.read_timeout,
        ))
        .await
        .map_err(ProbeError::TlsSetup)?;
        if let Ok(n) = &hs.outcome {
            ex.tls = Some(TlsSummary {
                version: n.version.clone(),
                cipher: n.cipher.clone(),
                alpn: n.alpn.clone(),
                certificate_error: hs.certificate_error.clone(),
            });
            ex.timings.tls = Some(start.elapsed());
        }
        let failure = hs.outcome.as_ref().err().cloned();
        let without = without_sni(addr, opts, tls).await;
        let report = tls_check::report(&t.host, tls, hs, without);
        ex.tls_report = Some(report);
        match (stream, failure) {
            (Some(stream), _) => Box::new(stream),
            (None, failure) => {
                let why = failure.map_or_else(|| "no stream".to_owned(), |f| f.message);
                let msg = format!("TLS handshake with {addr} failed: {why}");
                return Ok(failed(ex, Kind::TlsHandshake, msg));
            }
        }
    } else {
        Box::new(tcp)
    };

    let info = RequestInfo {
        head: opts.method.eq_ignore_ascii_case("HEAD"),
        connect: opts.method.eq_ignore_ascii_case("CONNECT"),
        upgrade: opts
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("upgrade")),
    };
    let mut reader = Reader::new(ReaderOptions {
        request: info,
        ..ReaderOptions::default()
    });
    let alpn_h2 = ex.tls.as_ref().and_then(|s| s.alpn.as_deref()) == Some("h2");
    if alpn_h2 {
        let summary = h2::exchange(io, opts, &mut ex, &mut reader, start).await?;
        ex.h2 = Some(summary);
        return Ok(finish(ex, reader));
    }

    if let Err(e) = io.write_all(&ex.request).await {
        let msg = format!("writing the request failed: {e}");
        let kind = if e.kind() == io::ErrorKind::ConnectionReset {
            Kind::ResponseReset
        } else {
            Kind::ResponseEmpty
        };
        return Ok(failed(ex, kind, msg));
    }
    let sent = start.elapsed();
    ex.timings.request_sent = Some(sent);

    read_response(
        &mut *io,
        &mut reader,
        &mut ex,
        opts.read_timeout,
        start,
        sent,
    )
    .await;
    Ok(finish(ex, reader))
}

/// The reader's report with the certificate refusal first, and the head timings.
fn finish(mut ex: Exchange, reader: Reader) -> Exchange {
    let sent = ex.timings.request_sent.unwrap_or_default();
    let mut report = reader.into_report();
    // Findings made outside the reader (the HTTP/2 exchange's) stay, in stream order.
    report.findings.append(&mut ex.report.findings);
    report.findings.sort_by_key(|f| f.offset);
    // Full mode does not verify: the problems stay in the TLS report as warnings.
    if let Some(why) = ex.tls_report.as_ref().and_then(TlsReport::refusal) {
        report.findings.insert(
            0,
            Finding::at(
                Kind::TlsCertificate,
                0,
                format!("certificate not valid: {why}"),
            ),
        );
    }
    ex.timings.first_byte = report.gaps.first_byte.map(|d| d + sent);
    ex.timings.head_complete = report.gaps.head_complete.map(|d| d + sent);
    ex.report = report;
    ex
}

async fn read_response(
    io: &mut dyn Io,
    reader: &mut Reader,
    ex: &mut Exchange,
    read_timeout: Duration,
    start: Instant,
    sent: Duration,
) {
    let mut buf = vec![0u8; READ_CHUNK];
    let since_sent = |start: Instant| start.elapsed().saturating_sub(sent);
    loop {
        let wait = if reader.is_done() {
            EXCESS_LINGER
        } else {
            read_timeout
        };
        let event = match tokio::time::timeout(wait, io.read(&mut buf)).await {
            Ok(Ok(0)) => Some(End::Eof),
            Ok(Ok(n)) => {
                ex.response_bytes += n as u64;
                let room = MAX_CAPTURE.saturating_sub(ex.response.len());
                ex.response.extend_from_slice(&buf[..n.min(room)]);
                let done_before = reader.is_done();
                if reader.feed_at(&buf[..n], since_sent(start)) == Progress::Done && !done_before {
                    ex.timings.total = Some(start.elapsed());
                }
                None
            }
            // rustls reports a close without close_notify as UnexpectedEof: the peer closed.
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Some(End::Eof),
            Ok(Err(e)) if is_reset(&e) => Some(End::Reset),
            Ok(Err(_)) => Some(End::Reset),
            Err(_) if reader.is_done() => return,
            Err(_) => {
                ex.waited = Some(read_timeout);
                Some(End::Timeout)
            }
        };
        if let Some(end) = event {
            if !reader.is_done() {
                reader.on_end_at(end, since_sent(start));
                ex.timings.total = Some(start.elapsed());
            }
            return;
        }
    }
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

fn connect_failed(ex: Exchange, addr: SocketAddr, e: io::Error) -> Exchange {
    let kind = match e.kind() {
        io::ErrorKind::ConnectionRefused => Kind::ConnectRefused,
        io::ErrorKind::TimedOut => Kind::ConnectTimeout,
        _ => Kind::ConnectUnreachable,
    };
    failed(ex, kind, format!("connecting to {addr}: {e}"))
}

fn failed(mut ex: Exchange, kind: Kind, msg: String) -> Exchange {
    ex.report.findings.push(Finding::at(kind, 0, msg));
    ex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(headers: Vec<(String, String)>) -> ProbeOptions {
        ProbeOptions {
            target: Target::parse("http://example.com/a?b", Some("127.0.0.1:1")).unwrap(),
            method: "GET".into(),
            headers,
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn request_is_edge_like_and_headers_override() {
        let req = build_request(&opts(vec![("host".into(), "other".into())])).unwrap();
        let req = String::from_utf8(req).unwrap();
        assert!(
            req.starts_with("GET /a?b HTTP/1.1\r\nHost: other\r\n"),
            "{req}"
        );
        assert!(req.contains("Accept-Encoding: br, gzip\r\n"));
        assert!(req.ends_with("\r\n\r\n"));
    }

    #[test]
    fn refuses_header_injection() {
        assert!(build_request(&opts(vec![("X".into(), "a\r\nB: c".into())])).is_err());
        assert!(build_request(&opts(vec![("X Y".into(), "a".into())])).is_err());
    }
}
