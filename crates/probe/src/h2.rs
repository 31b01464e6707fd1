//! HTTP/2 toward the origin, used when the origin picks `h2` by ALPN, as the edge does.
//!
//! The edge offers `h2` to the origin and uses it whenever the origin agrees; an origin that
//! agrees and then breaks the protocol gets a 520 (`h2.protocol`). Here the request is made with
//! the `h2` crate's client over the TLS stream, the first bytes the origin sends are kept to
//! tell *why* it broke (HTTP/1 after agreeing `h2`, a first frame that is not SETTINGS), and the
//! h2 error is named: GOAWAY with its code, RST_STREAM (REFUSED_STREAM apart), or invalid frames
//! the client itself rejected.
//!
//! A clean h2 response is rendered as HTTP/1.1 text (status line, the decoded fields, the body
//! chunked unless the origin sent a Content-Length) and judged by the same wire reader as an
//! HTTP/1 response, so size limits, timeouts and content-coding checks apply unchanged.

use std::io;

use bytes::Bytes;
use std::time::{Duration, Instant};

use originlens_wire::escape::escape;
use originlens_wire::{End, Finding, Kind, Reader};

use crate::{Exchange, Io, ProbeError, ProbeOptions, MAX_CAPTURE};
use originlens_net::tap::Recorder;

/// Largest header list accepted from the origin, by RFC 9113 §6.5.2 accounting (name + value +
/// 32 per field); larger lists are a stream error. Well above the edge's 128 KB, so the profile's
/// own limit decides.
const MAX_HEADER_LIST: u32 = 1024 * 1024;
/// Bytes kept from the start of the origin's stream to recognise what it speaks.
const FIRST_BYTES: usize = 64;
/// Frame types (RFC 9113 §6).
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
/// Header fields HTTP/2 forbids in a request (RFC 9113 §8.2.2); the caller's are dropped.
const CONNECTION_SPECIFIC: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// What the HTTP/2 exchange gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct H2Summary {
    /// The response status, when a response head arrived.
    pub status: Option<u16>,
    /// The response's header list size by RFC 9113 accounting (name + value + 32 per field).
    pub header_list_size: Option<usize>,
    /// Response header fields.
    pub fields: Option<usize>,
    /// DATA bytes received.
    pub body_bytes: u64,
    /// Did the response end with END_STREAM?
    pub complete: bool,
    /// Why the exchange broke, if it did.
    pub error: Option<H2Failure>,
    /// The response as the HTTP/1.1 text the wire reader judged (offsets of the reader's
    /// findings point into it; [`Exchange::response`] keeps the raw h2 bytes).
    pub rendered: Vec<u8>,
}

/// How the HTTP/2 exchange broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct H2Failure {
    /// The finding it became (`h2.goaway`, `h2.refused-stream`, ...), or a body one when the
    /// head had already arrived.
    pub kind: Kind,
    /// The HTTP/2 error code, if one was sent or received.
    pub code: Option<u32>,
    /// Its name, e.g. `PROTOCOL_ERROR`.
    pub code_name: Option<String>,
    /// Who ended it: `origin` (a frame it sent), `probe` (the client rejected what it got), or
    /// `connection` (closed, reset, or not HTTP/2 at all).
    pub by: &'static str,
    /// For people.
    pub message: String,
}

/// The request as HTTP/2 sends it: `:authority` from the Host (the caller's, else the URL's),
/// the edge-like headers of [`crate::build_request`] minus the connection-specific ones.
pub fn build_request(opts: &ProbeOptions) -> Result<http::Request<()>, ProbeError> {
    // Validates the method and the headers exactly as for HTTP/1.
    crate::build_request(opts)?;
    let authority = opts
        .headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map_or_else(|| opts.target.host_header(), |(_, v)| v.clone());
    let uri = format!("https://{authority}{}", opts.target.path);
    let mut req = http::Request::builder()
        .method(opts.method.trim())
        .uri(uri.as_str());
    let mut fields: Vec<(String, String)> = vec![
        (
            "user-agent".into(),
            concat!("originlens/", env!("CARGO_PKG_VERSION")).into(),
        ),
        ("accept".into(), "*/*".into()),
        ("accept-encoding".into(), "br, gzip".into()),
    ];
    for (name, value) in &opts.headers {
        let name = name.to_ascii_lowercase();
        if CONNECTION_SPECIFIC.contains(&name.as_str()) || (name == "te" && value != "trailers") {
            continue;
        }
        match fields.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value.clone(),
            None => fields.push((name, value.clone())),
        }
    }
    if !opts.body.is_empty() && !fields.iter().any(|(n, _)| n == "content-length") {
        fields.push(("content-length".into(), opts.body.len().to_string()));
    }
    for (n, v) in fields {
        req = req.header(n, v);
    }
    req.body(())
        .map_err(|e| ProbeError::Request(format!("`{uri}` as an HTTP/2 request: {e}")))
}

/// Makes the request over HTTP/2 on `io` (TLS with `h2` agreed), feeding `reader` the response
/// rendered as HTTP/1.1, and fills the exchange's raw bytes, timings and findings.
pub(crate) async fn exchange(
    io: Box<dyn Io>,
    opts: &ProbeOptions,
    ex: &mut Exchange,
    reader: &mut Reader,
    start: Instant,
) -> Result<H2Summary, ProbeError> {
    let request = build_request(opts)?;
    let (tap, capture) = Recorder::new(io, MAX_CAPTURE);
    let mut summary = H2Summary::default();
    let body = bytes::Bytes::copy_from_slice(&opts.body);
    let outcome = talk(
        tap,
        (request, body),
        opts.read_timeout,
        ex,
        reader,
        &mut summary,
        start,
    )
    .await;
    if let Ok(c) = capture.lock() {
        ex.response = c.bytes.clone();
        ex.response_bytes = c.total;
    }
    let sent = ex.timings.request_sent.unwrap_or_default();
    let since_sent = start.elapsed().saturating_sub(sent);
    match outcome {
        Outcome::Done => {}
        Outcome::TimedOut => {
            ex.waited = Some(opts.read_timeout);
            if !reader.is_done() {
                reader.on_end_at(End::Timeout, since_sent);
            }
        }
        Outcome::Failed(e) => {
            let failure = classify(&e, &ex.response, ex.response_bytes);
            if summary.status.is_some() || ex.response_bytes == 0 {
                // After the head the visitor gets a cut body; before any byte the origin simply
                // closed or reset: the reader names both.
                let end = match e.get_io() {
                    // h2 tells its streams of the connection's EOF as a broken pipe.
                    Some(io) if io.kind() == io::ErrorKind::BrokenPipe => End::Eof,
                    Some(io) => originlens_net::read_end(io),
                    None if e.reason().is_some() => End::Reset,
                    None => End::Eof,
                };
                if !reader.is_done() {
                    reader.on_end_at(end, since_sent);
                }
            } else {
                ex.report
                    .findings
                    .push(failure_finding(&failure, &ex.response));
            }
            summary.error = Some(failure);
        }
    }
    if ex.timings.total.is_none() {
        ex.timings.total = Some(start.elapsed());
    }
    Ok(summary)
}

enum Outcome {
    Done,
    TimedOut,
    Failed(h2::Error),
}

async fn talk(
    tap: Recorder<Box<dyn Io>>,
    request: (http::Request<()>, Bytes),
    wait: Duration,
    ex: &mut Exchange,
    reader: &mut Reader,
    summary: &mut H2Summary,
    start: Instant,
) -> Outcome {
    let mut builder = h2::client::Builder::new();
    builder.max_header_list_size(MAX_HEADER_LIST);
    let (client, conn) = match tokio::time::timeout(wait, builder.handshake::<_, Bytes>(tap)).await
    {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => return Outcome::Failed(e),
        Err(_) => return Outcome::TimedOut,
    };
    // The connection is driven on its own task; its errors reach the stream below.
    let driver = tokio::spawn(conn);
    let outcome = request_response(client, request, wait, ex, reader, summary, start).await;
    driver.abort();
    outcome
}

async fn request_response(
    client: h2::client::SendRequest<Bytes>,
    (request, body): (http::Request<()>, Bytes),
    wait: Duration,
    ex: &mut Exchange,
    reader: &mut Reader,
    summary: &mut H2Summary,
    start: Instant,
) -> Outcome {
    let mut client = match tokio::time::timeout(wait, client.ready()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Outcome::Failed(e),
        Err(_) => return Outcome::TimedOut,
    };
    let head_only = request.method() == http::Method::HEAD;
    let response = match client.send_request(request, body.is_empty()) {
        Ok((response, mut stream)) => {
            if !body.is_empty() {
                // The body goes as DATA as far as the peer's window lets it; the rest is the
                // peer's to refuse, which the response (or its reset) tells.
                stream.reserve_capacity(body.len());
                if let Err(e) = stream.send_data(body, true) {
                    return Outcome::Failed(e);
                }
            }
            response
        }
        Err(e) => return Outcome::Failed(e),
    };
    let sent = start.elapsed();
    ex.timings.request_sent = Some(sent);
    let since_sent = move || start.elapsed().saturating_sub(sent);

    let response = match tokio::time::timeout(wait, response).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Outcome::Failed(e),
        Err(_) => return Outcome::TimedOut,
    };
    let (parts, mut body) = response.into_parts();
    let status = parts.status.as_u16();
    summary.status = Some(status);
    summary.fields = Some(parts.headers.len());
    summary.header_list_size = Some(
        parts
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 32)
            .sum::<usize>()
            + ":status".len()
            + 3
            + 32,
    );
    let has_length = parts.headers.contains_key(http::header::CONTENT_LENGTH);
    let bodiless = head_only || status < 200 || status == 204 || status == 304;
    let chunked = !has_length && !bodiless;
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\n",
        parts.status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    if chunked {
        head.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let mut feed = |bytes: &[u8], summary: &mut H2Summary| {
        let room = crate::MAX_CAPTURE.saturating_sub(summary.rendered.len());
        summary
            .rendered
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        reader.feed_at(bytes, since_sent());
    };
    feed(&head, summary);

    loop {
        match tokio::time::timeout(wait, body.data()).await {
            Ok(Some(Ok(chunk))) => {
                let _ = body.flow_control().release_capacity(chunk.len());
                summary.body_bytes += chunk.len() as u64;
                if chunk.is_empty() {
                    continue;
                }
                if chunked {
                    feed(format!("{:x}\r\n", chunk.len()).as_bytes(), summary);
                    feed(&chunk, summary);
                    feed(b"\r\n", summary);
                } else {
                    feed(&chunk, summary);
                }
            }
            Ok(Some(Err(e))) => return Outcome::Failed(e),
            Ok(None) => break,
            Err(_) => return Outcome::TimedOut,
        }
    }
    summary.complete = true;
    if chunked {
        feed(b"0\r\n\r\n", summary);
    }
    ex.timings.total = Some(start.elapsed());
    if !reader.is_done() {
        reader.on_end_at(End::Eof, since_sent());
    }
    Outcome::Done
}

/// The finding for a failure before the response head: at the start of the origin's stream, or
/// at the GOAWAY or RST_STREAM frame that ended the exchange.
fn failure_finding(f: &H2Failure, raw: &[u8]) -> Finding {
    let span = match f.kind {
        Kind::H2Http1AfterAlpn => {
            let line = raw
                .iter()
                .position(|&b| b == b'\r' || b == b'\n')
                .unwrap_or(raw.len());
            0..line as u64
        }
        Kind::H2BadPreface => 0..raw.len().min(9) as u64,
        Kind::H2Goaway => frame_span(raw, GOAWAY).unwrap_or(0..0),
        Kind::H2RstStream | Kind::H2RefusedStream => frame_span(raw, RST_STREAM).unwrap_or(0..0),
        _ => 0..0,
    };
    Finding::new(f.kind, span, f.message.clone())
}

/// Where the first frame of type `kind` sits in the origin's raw stream (its 9-byte header).
fn frame_span(raw: &[u8], kind: u8) -> Option<std::ops::Range<u64>> {
    let mut at = 0usize;
    while let Some(head) = raw.get(at..at + 9) {
        if head[3] == kind {
            return Some(at as u64..(at + 9) as u64);
        }
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        at = at.checked_add(9 + len)?;
    }
    None
}

/// A frame type's name (RFC 9113 §6).
fn frame_type(t: u8) -> String {
    match t {
        0x0 => "DATA".into(),
        0x1 => "HEADERS".into(),
        0x2 => "PRIORITY".into(),
        0x3 => "RST_STREAM".into(),
        0x4 => "SETTINGS".into(),
        0x5 => "PUSH_PROMISE".into(),
        0x6 => "PING".into(),
        0x7 => "GOAWAY".into(),
        0x8 => "WINDOW_UPDATE".into(),
        0x9 => "CONTINUATION".into(),
        other => format!("unknown type 0x{other:02x}"),
    }
}

/// Names why the exchange broke, from the h2 error and the first bytes the origin sent.
pub fn classify(e: &h2::Error, first: &[u8], total: u64) -> H2Failure {
    let reason = e.reason();
    let code = reason.map(u32::from);
    let code_name = reason.map(|r| format!("{r:?}"));
    let named = code_name.clone().unwrap_or_default();
    let fail = |kind, by, message: String| H2Failure {
        kind,
        code,
        code_name: code_name.clone(),
        by,
        message,
    };
    let first = &first[..first.len().min(FIRST_BYTES)];
    if first.starts_with(b"HTTP/") {
        let end = first
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(first.len());
        return fail(
            Kind::H2Http1AfterAlpn,
            "connection",
            format!(
                "the origin agreed h2 by ALPN, then answered in HTTP/1 (`{}`): it offers h2 \
                 but does not speak it",
                escape(&first[..end])
            ),
        );
    }
    if first.len() >= 9 {
        let stream = u32::from_be_bytes([first[5], first[6], first[7], first[8]]) & 0x7fff_ffff;
        if first[3] != SETTINGS || stream != 0 {
            return fail(
                Kind::H2BadPreface,
                "connection",
                format!(
                    "the origin's first frame is {} on stream {stream}, not the SETTINGS frame \
                     that must open an HTTP/2 connection (`{}`)",
                    frame_type(first[3]),
                    escape(&first[..first.len().min(24)])
                ),
            );
        }
    } else if !first.is_empty() && total < 9 {
        return fail(
            Kind::H2BadPreface,
            "connection",
            format!(
                "the origin sent {total} bytes (`{}`), less than one frame header, instead of \
                 its SETTINGS frame",
                escape(first)
            ),
        );
    }
    if e.is_go_away() && e.is_remote() {
        let how = if reason == Some(h2::Reason::NO_ERROR) {
            "closed the connection (GOAWAY NO_ERROR) without answering the request".to_owned()
        } else {
            format!(
                "sent GOAWAY {named} ({}) before answering",
                code.unwrap_or_default()
            )
        };
        return fail(Kind::H2Goaway, "origin", format!("the origin {how}: {e}"));
    }
    if e.is_go_away() {
        return fail(
            Kind::H2Protocol,
            "probe",
            format!(
                "the origin sent frames that break HTTP/2; the client closed the connection \
                 with GOAWAY {named} ({e})"
            ),
        );
    }
    if e.is_reset() && e.is_remote() {
        if reason == Some(h2::Reason::REFUSED_STREAM) {
            return fail(
                Kind::H2RefusedStream,
                "origin",
                "the origin refused the request's stream (RST_STREAM REFUSED_STREAM); the edge \
                 retries on another connection and answers 520 when the retry is refused too"
                    .into(),
            );
        }
        let extra = if reason == Some(h2::Reason::HTTP_1_1_REQUIRED) {
            " (HTTP_1_1_REQUIRED: the origin wants HTTP/1.1 for this request)"
        } else {
            ""
        };
        return fail(
            Kind::H2RstStream,
            "origin",
            format!(
                "the origin reset the request's stream with RST_STREAM {named} ({}){extra}",
                code.unwrap_or_default()
            ),
        );
    }
    if e.is_reset() {
        return fail(
            Kind::H2Protocol,
            "probe",
            format!("the origin's response breaks HTTP/2; the client reset the stream ({e})"),
        );
    }
    fail(
        Kind::H2Protocol,
        "connection",
        format!("the HTTP/2 connection failed: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Target;

    fn opts(headers: Vec<(String, String)>) -> ProbeOptions {
        ProbeOptions {
            target: Target::parse("https://example.com/a?b", Some("127.0.0.1:1")).unwrap(),
            method: "GET".into(),
            headers,
            body: Vec::new(),
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn request_uses_the_host_as_authority_and_drops_connection_fields() {
        let req = build_request(&opts(vec![
            ("Host".into(), "other.test".into()),
            ("Connection".into(), "close".into()),
            ("X-A".into(), "b".into()),
        ]))
        .unwrap();
        assert_eq!(req.uri().to_string(), "https://other.test/a?b");
        assert!(req.headers().get("connection").is_none());
        assert!(req.headers().get("host").is_none());
        assert_eq!(req.headers()["x-a"], "b");
        assert_eq!(req.headers()["accept-encoding"], "br, gzip");
        assert!(build_request(&opts(vec![("X".into(), "a\r\nB: c".into())])).is_err());
    }

    #[test]
    fn first_bytes_name_the_failure() {
        let e = h2::Error::from(h2::Reason::FRAME_SIZE_ERROR);
        let f = classify(&e, b"HTTP/1.1 400 Bad Request\r\n\r\n", 28);
        assert_eq!(f.kind, Kind::H2Http1AfterAlpn);
        assert!(
            f.message.contains("HTTP/1.1 400 Bad Request"),
            "{}",
            f.message
        );
        // A DATA frame on stream 0 instead of SETTINGS.
        let f = classify(&e, &[0, 0, 1, 0, 0, 0, 0, 0, 0, b'x'], 10);
        assert_eq!(f.kind, Kind::H2BadPreface);
        assert!(f.message.contains("DATA on stream 0"), "{}", f.message);
        let f = classify(&e, b"\x15\x03", 2);
        assert_eq!(f.kind, Kind::H2BadPreface);
        // A proper SETTINGS frame first: the error itself decides.
        let f = classify(&e, &[0, 0, 0, 4, 0, 0, 0, 0, 0], 9);
        assert_eq!(f.kind, Kind::H2Protocol);
        assert_eq!(f.code_name.as_deref(), Some("FRAME_SIZE_ERROR"));
        assert_eq!(f.code, Some(6));
    }

    #[test]
    fn frames_are_found_by_type_in_the_raw_stream() {
        let raw = [
            &[0, 0, 0, 4, 0, 0, 0, 0, 0][..],
            &[0, 0, 0, 4, 1, 0, 0, 0, 0],
            &[0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 7],
        ]
        .concat();
        assert_eq!(frame_span(&raw, RST_STREAM), Some(18..27));
        assert_eq!(frame_span(&raw, GOAWAY), None);
        // A length running past the end stops the walk.
        assert_eq!(
            frame_span(&[0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0], GOAWAY),
            None
        );
    }
}
