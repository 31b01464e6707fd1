//! Direct origin probe: resolve, connect, TLS, send one request, keep every byte and the time it
//! arrived, and run `originlens-wire` on the stream.
//!
//! The exchange record (raw bytes, per-phase timings, FIN vs RST vs timeout) is kept apart from
//! its interpretation: [`Exchange::report`] is the wire reader's, and verdicts come from
//! [`originlens_wire::judge`] so that one capture can be judged under every profile.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use originlens_net::{dial, Endpoint, ServerName, Timeouts, TlsClient, TlsTo};
use originlens_wire::{End, Finding, Kind, Reader, ReaderOptions, Report, RequestInfo};
use tokio::io::{AsyncRead, AsyncWrite};

pub mod advice;
pub mod certs;
pub mod h2;
pub mod judged;
pub mod keepalive;
pub mod target;
pub mod tls_check;
pub mod watch;

pub use judged::judge_exchange;
pub use target::{Target, TargetError};
pub use tls_check::{SslMode, TlsOptions, TlsReport};
pub use watch::{Phase, Watch};

/// How long to keep reading after a complete response, to catch bytes the origin should not
/// have sent (after the last chunk, beyond Content-Length, on a HEAD or 204).
pub const EXCESS_LINGER: Duration = Duration::from_millis(150);
/// Raw response bytes kept for display and evidence; the reader still sees everything.
pub const MAX_CAPTURE: usize = 4 * 1024 * 1024;

/// What to send and how long to wait.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// Where and what.
    pub target: Target,
    /// Request method.
    pub method: String,
    /// Extra request headers; a `Host` here replaces the URL's.
    pub headers: Vec<(String, String)>,
    /// The request body (`-d`), sent with its `Content-Length`; empty for none.
    pub body: Vec<u8>,
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
    /// Protocol version, e.g. `TLS 1.3`.
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
    /// The options `report` was read with (the request it answers).
    pub reader_options: ReaderOptions,
    /// The read timeout that ended the exchange, if one did.
    pub waited: Option<Duration>,
    /// The HTTP/2 exchange, when the origin picked `h2` by ALPN (then `request` is the same
    /// request rendered as HTTP/1.1 and `response` holds the raw h2 frames).
    pub h2: Option<h2::H2Summary>,
    /// When [`Watch::stop`] ended the exchange early (Ctrl-C): the time from the start. The
    /// exchange then ends as if the read timeout had expired at that moment.
    pub interrupted: Option<Duration>,
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
/// `Accept-Encoding: br, gzip`, plus the caller's headers, then the body with its length.
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
    let framed = |n: &str| lines.iter().any(|(l, _)| l.eq_ignore_ascii_case(n));
    if !opts.body.is_empty() && !framed("content-length") && !framed("transfer-encoding") {
        lines.push(("Content-Length".into(), opts.body.len().to_string()));
    }
    let mut req = format!("{method} {} HTTP/1.1\r\n", opts.target.path);
    for (n, v) in lines {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut req = req.into_bytes();
    req.extend_from_slice(&opts.body);
    Ok(req)
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
    name: &ServerName<'_>,
) -> Option<originlens_net::Handshake> {
    if !tls.check_without_sni || matches!(name, ServerName::IpAddress(_)) {
        return None;
    }
    let client = TlsClient::new(tls.policy(false)).ok()?;
    let timeouts = Timeouts {
        connect: opts.connect_timeout,
        handshake: Some(opts.read_timeout),
    };
    let to = Endpoint::new(addr.ip().to_string(), addr.port());
    let tls = TlsTo {
        client: &client,
        name,
    };
    match dial(&to, timeouts, Some(tls)).await {
        Ok(d) => d.handshake,
        Err(f) => f.handshake,
    }
}

/// Probes the origin once, with TLS judged under `tls.mode` and trusting `tls.extra_roots`.
pub async fn probe_with(opts: &ProbeOptions, tls: &TlsOptions) -> Result<Exchange, ProbeError> {
    probe_watched(opts, tls, &Watch::new()).await
}

/// [`probe_with`], telling `watch` where it is and stopping early when asked: the exchange then
/// ends with what was received, as if the edge stopped waiting at that moment.
pub async fn probe_watched(
    opts: &ProbeOptions,
    tls: &TlsOptions,
    watch: &Watch,
) -> Result<Exchange, ProbeError> {
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
        reader_options: ReaderOptions::default(),
        waited: None,
        h2: None,
        interrupted: None,
    };
    watch.set_phase(Phase::Connecting);
    let t = &opts.target;
    let client = if t.tls {
        Some(TlsClient::new(tls.policy(true)).map_err(|e| ProbeError::TlsSetup(e.to_string()))?)
    } else {
        None
    };
    let bare = t.host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(bare.to_owned())
        .map_err(|e| ProbeError::TlsSetup(format!("`{}`: {e}", t.host)))?;
    let timeouts = Timeouts {
        connect: opts.connect_timeout,
        handshake: Some(opts.read_timeout),
    };
    let to_tls = client.as_ref().map(|client| TlsTo {
        client,
        name: &name,
    });
    let endpoint = Endpoint::new(t.connect_host.clone(), t.connect_port);
    let dialed = tokio::select! {
        d = dial(&endpoint, timeouts, to_tls) => d,
        _ = watch.stopped() => {
            let after = start.elapsed();
            ex.interrupted = Some(after);
            ex.timings.total = Some(after);
            watch.set_phase(Phase::Done);
            let msg = format!(
                "stopped after {:.1} s while connecting to {endpoint}: no connection yet",
                after.as_secs_f64()
            );
            return Ok(failed(ex, Kind::ConnectTimeout, msg));
        }
    };
    let (dial_timings, remote, handshake) = match &dialed {
        Ok(d) => (d.timings, Some(d.remote), d.handshake.clone()),
        Err(f) => (f.timings, f.remote, f.handshake.clone()),
    };
    ex.remote = remote;
    // dial started right after `start`: its timings are the probe's.
    ex.timings.resolve = dial_timings.resolve;
    ex.timings.connect = dial_timings.connect;
    ex.timings.tls = dial_timings.tls;
    if let (Some(hs), Some(addr)) = (handshake, remote) {
        if let Ok(n) = &hs.outcome {
            ex.tls = Some(TlsSummary {
                version: n.version.clone(),
                cipher: n.cipher.clone(),
                alpn: n.alpn.clone(),
                certificate_error: hs.certificate_error.clone(),
            });
        }
        let without = without_sni(addr, opts, tls, &name).await;
        ex.tls_report = Some(tls_check::report(&t.host, tls, hs, without));
    }
    let stream = match dialed {
        Ok(d) => d.stream,
        Err(f) => return Ok(failed(ex, f.kind, f.message)),
    };

    let info = RequestInfo {
        head: opts.method.eq_ignore_ascii_case("HEAD"),
        connect: opts.method.eq_ignore_ascii_case("CONNECT"),
        upgrade: opts
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("upgrade")),
    };
    let reader_opts = ReaderOptions {
        request: info,
        ..ReaderOptions::default()
    };
    ex.reader_options = reader_opts;
    let alpn_h2 = ex.tls.as_ref().and_then(|s| s.alpn.as_deref()) == Some("h2");
    watch.set_phase(Phase::WaitingFirstByte);
    if alpn_h2 {
        let mut reader = Reader::new(reader_opts);
        let summary = h2::exchange(Box::new(stream), opts, &mut ex, &mut reader, start).await?;
        ex.h2 = Some(summary);
        watch.set_phase(Phase::Done);
        return Ok(finish(ex, reader));
    }

    let sent = start.elapsed();
    let mut net = originlens_net::Exchange::new(
        stream,
        None,
        reader_opts,
        Instant::now(),
        opts.read_timeout,
        MAX_CAPTURE,
    );
    net.send(&ex.request, b"", opts.read_timeout).await;
    ex.timings.request_sent = Some(sent);
    read_watched(&mut net, watch, start).await;
    ex.timings.total = Some(start.elapsed());
    // Under TLS 1.3 an origin that refuses the client (no certificate) says so on the first
    // read: the handshake failed after all, as the edge sees it.
    let late = net.late_handshake_failure().cloned().map(|failure| {
        let finding = Finding::at(failure.reason.kind(), 0, failure.message.clone());
        if let Some(r) = ex.tls_report.as_mut() {
            r.handshake.outcome = Err(failure);
        }
        finding
    });
    if watch.was_stopped()
        && ex.interrupted.is_none()
        && net.reader.report().end == Some(End::Timeout)
    {
        ex.interrupted = ex.timings.total;
    }
    match net.reader.report().end {
        Some(End::Timeout) if ex.interrupted.is_some() => {}
        Some(End::Timeout) => ex.waited = Some(opts.read_timeout),
        Some(End::Eof | End::Reset) => {}
        _ => net.linger(EXCESS_LINGER).await,
    }
    ex.response = net.capture().to_vec();
    ex.response_bytes = net.received();
    let mut ex = finish(ex, net.reader);
    if let Some(f) = late {
        ex.report.findings.insert(0, f);
    }
    Ok(ex)
}

/// Reads to the end of the response, telling `watch` the phase and the bytes so far; a stop
/// ends the exchange as a read timeout at that moment.
async fn read_watched(net: &mut originlens_net::Exchange, watch: &Watch, start: Instant) {
    while !net.reader.is_done() {
        tokio::select! {
            _ = net.step() => net.clear_pending(),
            _ = watch.stopped() => {
                if !net.reader.is_done() {
                    net.end(End::Timeout);
                }
                break;
            }
        }
        watch.set_received(net.received(), start.elapsed());
        let report = net.reader.report();
        watch.set_phase(if report.head_complete {
            Phase::ReadingBody
        } else if net.received() > 0 {
            Phase::ReadingHead
        } else {
            Phase::WaitingFirstByte
        });
    }
    watch.set_phase(Phase::Done);
}

/// The reader's report with the certificate refusal first, and the head timings.
fn finish(mut ex: Exchange, reader: Reader) -> Exchange {
    let sent = ex.timings.request_sent.unwrap_or_default();
    let mut report = reader.into_report();
    // Findings made outside the reader (the HTTP/2 exchange's) stay, in stream order.
    report.findings.append(&mut ex.report.findings);
    report.findings.sort_by_key(|f| f.offset);
    if let Some(tls) = &ex.tls_report {
        let mut certificate = tls_check::certificate_findings(tls);
        certificate.append(&mut report.findings);
        report.findings = certificate;
    }
    ex.timings.first_byte = report.gaps.first_byte.map(|d| d + sent);
    ex.timings.head_complete = report.gaps.head_complete.map(|d| d + sent);
    ex.report = report;
    ex
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
            body: Vec::new(),
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
