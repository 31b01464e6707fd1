//! HTTP/2 toward an https origin (`--http2`): `-c` connections, each carrying `--streams`
//! requests at once, as an edge that multiplexes. Every response is rendered as HTTP/1.1 text
//! (status line, the decoded fields, the body chunked unless a Content-Length came) and judged
//! by the same wire reader and profile as an HTTP/1 response, as the probe does; a stream or
//! connection that breaks is named by the probe's h2 classification (`h2.goaway`,
//! `h2.refused-stream`, `h2.rst-stream`, `h2.protocol`, ...).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use originlens_net::tap::{Captured, Recorder};
use originlens_probe::h2::classify;
use originlens_wire::{End, Finding, Kind, Reader, ReaderOptions, Report};

use crate::options::EVIDENCE_BYTES;

/// Largest header list accepted from the origin (RFC 9113 §6.5.2 accounting), well above the
/// edge's limit so that the profile decides, as in the probe.
const MAX_HEADER_LIST: u32 = 1024 * 1024;
/// Bytes kept from the start of each connection, to tell why it broke.
const FIRST_BYTES: usize = 64;

/// One request as HTTP/2 sends it (the probe's pseudo-headers and fields), and its body.
#[derive(Clone, Debug)]
pub struct H2Request {
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: Bytes,
}

impl H2Request {
    /// From the request the probe builds, with `body`.
    pub(crate) fn new(request: http::Request<()>, body: Option<&[u8]>) -> H2Request {
        let (parts, ()) = request.into_parts();
        H2Request {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body: body.map_or_else(Bytes::new, Bytes::copy_from_slice),
        }
    }

    fn request(&self) -> http::Request<()> {
        let mut r = http::Request::new(());
        *r.method_mut() = self.method.clone();
        *r.uri_mut() = self.uri.clone();
        *r.headers_mut() = self.headers.clone();
        r
    }

    /// The request as text, for the evidence: `GET https://host/path HTTP/2` and the fields.
    pub(crate) fn text(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/2\r\n", self.method, self.uri).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body[..self.body.len().min(EVIDENCE_BYTES)]);
        out
    }
}

/// One HTTP/2 connection shared by the streams of its slots.
pub(crate) struct H2Conn {
    send: h2::client::SendRequest<Bytes>,
    driver: tokio::task::JoinHandle<()>,
    first: Arc<Mutex<Captured>>,
    /// Streams it carried.
    streams: std::sync::atomic::AtomicU32,
    /// When its last stream ended (or it was opened).
    last_done: Mutex<Instant>,
}

impl Drop for H2Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl H2Conn {
    /// Shakes hands over `io` (TLS with `h2` agreed); a failure is the finding that names it.
    pub(crate) async fn open<T>(io: T, wait: Duration) -> Result<H2Conn, Finding>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (tap, first) = Recorder::new(io, FIRST_BYTES);
        let mut builder = h2::client::Builder::new();
        builder.max_header_list_size(MAX_HEADER_LIST);
        let (send, conn) = match tokio::time::timeout(wait, builder.handshake(tap)).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(finding(&e, &first)),
            Err(_) => {
                return Err(Finding::at(
                    Kind::ResponseTimeout,
                    0,
                    "no HTTP/2 handshake before the read timeout",
                ))
            }
        };
        let driver = tokio::spawn(async move {
            // Its errors reach the streams.
            let _ = conn.await;
        });
        Ok(H2Conn {
            send,
            driver,
            first,
            streams: Default::default(),
            last_done: Mutex::new(Instant::now()),
        })
    }

    /// The connection can take no new stream (closed, GOAWAY, broken).
    pub(crate) fn is_closed(&self) -> bool {
        self.driver.is_finished()
    }
}

/// What one stream gave.
pub(crate) struct Streamed {
    pub report: Report,
    /// When the request left.
    pub sent: Instant,
    /// The connection broke (not only this stream): it must not carry more.
    pub connection_failed: bool,
    /// The connection took no stream: the request never left.
    pub not_sent: bool,
    /// Streams the connection carried before this one, and how long it sat without any.
    pub earlier: u32,
    pub idle: Option<Duration>,
}

/// Sends `req` on `conn` and reads its response into a reader of `opts`, keeping the first
/// `capture_max` bytes of the rendered response in `capture`.
pub(crate) async fn exchange(
    conn: &H2Conn,
    req: &H2Request,
    opts: ReaderOptions,
    read_timeout: Duration,
    capture: &mut Vec<u8>,
    capture_max: usize,
) -> Streamed {
    let begun = Instant::now();
    let earlier = conn
        .streams
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let idle = (earlier > 0).then(|| {
        let last = *conn.last_done.lock().unwrap_or_else(|e| e.into_inner());
        begun.saturating_duration_since(last)
    });
    let opts = ReaderOptions {
        reused_connection: earlier > 0,
        ..opts
    };
    let mut reader = Reader::new(opts);
    let mut s = Reading {
        reader: &mut reader,
        capture,
        capture_max,
        sent: begun,
    };
    let outcome = s.run(conn, req, read_timeout).await;
    let sent = s.sent;
    let since_sent = sent.elapsed();
    let mut extra = None;
    let mut connection_failed = false;
    let mut not_sent = false;
    match outcome {
        Outcome::Done => {}
        Outcome::NotSent(error) => {
            connection_failed = true;
            not_sent = true;
            extra = Some(finding(&error, &conn.first));
        }
        Outcome::TimedOut => {
            if !reader.is_done() {
                reader.on_end_at(End::Timeout, since_sent);
            }
        }
        Outcome::Failed { error, .. } if graceful_goaway(&error) => {
            // A stream above the last one a graceful GOAWAY accepts was not processed: it is
            // sent again on a new connection, as the edge does (RFC 9113 §6.8).
            connection_failed = true;
            not_sent = true;
            extra = Some(finding(&error, &conn.first));
        }
        Outcome::Failed { error, head_seen } => {
            connection_failed = !error.is_reset();
            let io_end = error.get_io().map(|io| match io.kind() {
                // h2 tells its streams of the connection's EOF as a broken pipe.
                std::io::ErrorKind::BrokenPipe => End::Eof,
                _ => originlens_net::read_end(io),
            });
            if head_seen || io_end.is_some() {
                // A cut body, or a connection closed or reset under the stream before its head
                // (an empty reply for the edge): the reader names it, as for HTTP/1.
                let end = io_end.unwrap_or(if error.reason().is_some() {
                    End::Reset
                } else {
                    End::Eof
                });
                if !reader.is_done() {
                    reader.on_end_at(end, since_sent);
                }
            } else {
                extra = Some(finding(&error, &conn.first));
            }
        }
    }
    *conn.last_done.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    let mut report = reader.into_report();
    report.findings.extend(extra);
    Streamed {
        report,
        sent,
        connection_failed,
        not_sent,
        earlier,
        idle,
    }
}

enum Outcome {
    Done,
    /// The connection took no new stream.
    NotSent(h2::Error),
    TimedOut,
    Failed {
        error: h2::Error,
        head_seen: bool,
    },
}

struct Reading<'a> {
    reader: &'a mut Reader,
    capture: &'a mut Vec<u8>,
    capture_max: usize,
    sent: Instant,
}

impl Reading<'_> {
    fn feed(&mut self, bytes: &[u8]) {
        let room = self.capture_max.saturating_sub(self.capture.len());
        self.capture
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.reader.feed_at(bytes, self.sent.elapsed());
    }

    async fn run(&mut self, conn: &H2Conn, req: &H2Request, wait: Duration) -> Outcome {
        let failed = |error| Outcome::Failed {
            error,
            head_seen: false,
        };
        let mut send = match tokio::time::timeout(wait, conn.send.clone().ready()).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Outcome::NotSent(e),
            Err(_) => return Outcome::TimedOut,
        };
        let head_only = req.method == http::Method::HEAD;
        let (response, mut body_tx) = match send.send_request(req.request(), req.body.is_empty()) {
            Ok(pair) => pair,
            Err(e) => return Outcome::NotSent(e),
        };
        if !req.body.is_empty() {
            if let Err(e) = body_tx.send_data(req.body.clone(), true) {
                return failed(e);
            }
        }
        self.sent = Instant::now();
        let response = match tokio::time::timeout(wait, response).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return failed(e),
            Err(_) => return Outcome::TimedOut,
        };
        let (parts, mut body) = response.into_parts();
        let status = parts.status.as_u16();
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
        self.feed(&head);
        loop {
            match tokio::time::timeout(wait, body.data()).await {
                Ok(Some(Ok(chunk))) => {
                    let _ = body.flow_control().release_capacity(chunk.len());
                    if chunk.is_empty() {
                        continue;
                    }
                    if chunked {
                        self.feed(format!("{:x}\r\n", chunk.len()).as_bytes());
                        self.feed(&chunk);
                        self.feed(b"\r\n");
                    } else {
                        self.feed(&chunk);
                    }
                }
                Ok(Some(Err(error))) => {
                    return Outcome::Failed {
                        error,
                        head_seen: true,
                    }
                }
                Ok(None) => break,
                Err(_) => return Outcome::TimedOut,
            }
        }
        if chunked {
            self.feed(b"0\r\n\r\n");
        }
        if !self.reader.is_done() {
            self.reader.on_end_at(End::Eof, self.sent.elapsed());
        }
        Outcome::Done
    }
}

/// GOAWAY NO_ERROR from the origin: it closes the connection gracefully.
fn graceful_goaway(e: &h2::Error) -> bool {
    e.is_go_away() && e.is_remote() && e.reason() == Some(h2::Reason::NO_ERROR)
}

/// The finding for an h2 failure before the response head, named from the connection's first
/// bytes as the probe names it.
fn finding(e: &h2::Error, first: &Mutex<Captured>) -> Finding {
    let (bytes, total) = match first.lock() {
        Ok(c) => (c.bytes.clone(), c.total),
        Err(_) => (Vec::new(), 0),
    };
    let f = classify(e, &bytes, total);
    Finding::at(f.kind, 0, f.message)
}
