//! HTTP/1.1 toward visitors, written directly on the socket: keep-alive, pipelined requests in
//! order, request bodies read whole (`Content-Length` or chunked, `Expect: 100-continue`
//! answered), and the origin's response written as it arrives: its interim 1xx heads, the final
//! head with the edge's framing, the body (`Content-Length` when known, chunked otherwise, until
//! close for HTTP/1.0 visitors), and a 101 turned into a tunnel.
//!
//! Writing the origin's head ourselves keeps it as the origin sent it (field order, case,
//! reason phrase) and costs no header map; a body that breaks after the head was sent ends the
//! visitor's response the way the edge does: a chunked response without its last chunk, a
//! sized one short, and the connection closed.

use std::borrow::Cow;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use originlens_wire::chunked::ChunkedDecoder;
use originlens_wire::{End, Framing, Head};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::head::{HeadView, Parse, RequestHead};
use crate::incident::Id;
use crate::metrics::Metrics;
use crate::page::{push_field, Format, Page};
use crate::proxy::{self, Answer, Forward, VisitorRequest};
use crate::request::{self, itoa_u64};
use crate::response::{visitor_length, write_forwarded_fields};
use crate::shared::Shared;

/// Room kept free in the read buffer before each read.
const READ_SIZE: usize = 16 * 1024;
/// Output is written out once this much is buffered.
const WRITE_AT: usize = 64 * 1024;
/// A read or body buffer grown beyond this (a large body) is shrunk between requests.
const KEEP_BUFFER: usize = 64 * 1024;

/// How the request's body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RequestBody {
    None,
    Length(u64),
    Chunked,
}

/// How the visitor's response body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyMode {
    /// No body.
    None,
    /// As it comes, its length announced.
    Sized,
    /// Chunked by the edge.
    Chunked,
    /// As it comes, ended by closing (HTTP/1.0 visitors, unknown length).
    UntilClose,
    /// A 101: both directions are copied until either side closes.
    Tunnel,
}

/// What the visitor is waiting to send, which decides how long it may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// The first byte of the next request on a kept-alive connection.
    Idle,
    /// The rest of a request head: the header timeout runs from its start.
    Head,
    /// More of a request body: the body timeout runs from the last read.
    Body,
}

impl Wait {
    fn as_str(self) -> &'static str {
        match self {
            Wait::Idle => "idle",
            Wait::Head => "header",
            Wait::Body => "body",
        }
    }
}

/// What the request head said, copied out so that the buffer can be read into again.
#[derive(Clone, Copy, Debug)]
struct Facts {
    body: RequestBody,
    keep_alive: bool,
    upgrade: bool,
    http10: bool,
    head_request: bool,
    expect_continue: bool,
    format: Format,
}

/// One visitor connection.
pub(crate) struct Connection {
    stream: TcpStream,
    shared: Arc<Shared>,
    worker: usize,
    client_ip: String,
    /// Bytes read and not yet used; requests start at index 0.
    buf: Vec<u8>,
    /// Bytes to write.
    out: Vec<u8>,
    head: RequestHead,
    /// A chunked request body, decoded.
    body: Vec<u8>,
    /// The upstream request head.
    upstream: Vec<u8>,
    /// Fires no later than the current wait's deadline; moved only when it fires early or a
    /// wait with an earlier deadline begins, so that a read costs no timer update.
    timer: Pin<Box<Sleep>>,
    /// The last read, or the end of the last answer.
    last_read: tokio::time::Instant,
    /// When the current request's head began (its first byte; the accept for the first
    /// request); `None` while waiting for the next request.
    head_started: Option<tokio::time::Instant>,
}

impl Connection {
    /// A connection accepted at `accepted` whose first bytes are already in `buf`.
    pub(crate) fn new(
        stream: TcpStream,
        buf: Vec<u8>,
        accepted: tokio::time::Instant,
        client_ip: String,
        shared: Arc<Shared>,
        worker: usize,
    ) -> Connection {
        let first_head_due = accepted + shared.config.header_timeout;
        Connection {
            stream,
            shared,
            worker,
            client_ip,
            buf,
            // Allocated with the first answer: a slow client that never completes a request
            // costs its read buffer only.
            out: Vec::new(),
            head: RequestHead::default(),
            body: Vec::new(),
            upstream: Vec::with_capacity(1024),
            timer: Box::pin(tokio::time::sleep_until(first_head_due)),
            last_read: tokio::time::Instant::now(),
            head_started: Some(accepted),
        }
    }

    /// Serves requests until either side closes. I/O errors end the connection: they are the
    /// visitor's (a reset, a timeout), never the origin's.
    pub(crate) async fn serve(mut self) {
        while let Ok(true) = self.one().await {
            // The idle wait starts when the answer is out, however long it took.
            self.head_started = None;
            self.last_read = tokio::time::Instant::now();
        }
    }

    /// When waiting for `wait` ends.
    fn due(&self, wait: Wait) -> tokio::time::Instant {
        let config = &self.shared.config;
        match (wait, self.head_started) {
            (Wait::Head, Some(started)) => started + config.header_timeout,
            (Wait::Body, _) => self.last_read + config.body_timeout,
            (Wait::Idle | Wait::Head, _) => self.last_read + config.visitor_idle_timeout,
        }
    }

    /// Reads more of the visitor's bytes; false on EOF or when `wait`'s time runs out (the
    /// connection is then closed without an answer, as nginx closes it).
    async fn read_more(&mut self, wait: Wait) -> io::Result<bool> {
        if self.buf.capacity() - self.buf.len() < READ_SIZE / 4 {
            self.buf.reserve(READ_SIZE);
        }
        let due = self.due(wait);
        if due < self.timer.deadline() {
            self.timer.as_mut().reset(due);
        }
        loop {
            tokio::select! {
                biased;
                read = self.stream.read_buf(&mut self.buf) => {
                    self.last_read = tokio::time::Instant::now();
                    return read.map(|n| n > 0);
                }
                () = &mut self.timer => {
                    if due <= tokio::time::Instant::now() {
                        self.shared.metrics.timed_out(wait.as_str());
                        return Ok(false);
                    }
                    self.timer.as_mut().reset(due);
                }
            }
        }
    }

    /// One request and its response; true when the connection stays open for the next.
    async fn one(&mut self) -> io::Result<bool> {
        let len = loop {
            match self.head.parse(&self.buf) {
                Parse::Complete(len) => break len,
                Parse::Partial => {
                    let wait = if self.head_started.is_some() {
                        Wait::Head
                    } else if self.buf.is_empty() {
                        Wait::Idle
                    } else {
                        // Its first bytes came with the last read.
                        self.head_started = Some(self.last_read);
                        Wait::Head
                    };
                    if !self.read_more(wait).await? {
                        return Ok(false);
                    }
                }
                Parse::Invalid(_) => return self.refuse(400, "request-invalid", None).await,
                Parse::TooLarge => {
                    return self.refuse(431, "request-head-too-large", None).await;
                }
            }
        };
        let started = Instant::now();
        let id = self.shared.ids.next();
        let facts = {
            let view = self.head.view(&self.buf[..len]);
            match facts_of(&view, self.shared.config.max_request_body) {
                Ok(f) => f,
                Err((status, reason)) => {
                    let format = Format::from_accept(view.first("accept"));
                    let host = host_and_target(&view).0.to_owned();
                    let page = proxy::refuse(&self.shared, status, reason, &host, format);
                    return self.write_page(&page, id, false, None).await;
                }
            }
        };
        if facts.expect_continue && self.buf.len() == len && facts.body != RequestBody::None {
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        let consumed = match self.read_body(len, facts.body).await? {
            Ok(consumed) => consumed,
            Err((status, reason)) => return self.refuse(status, reason, Some(facts)).await,
        };

        let answer = {
            let view = self.head.view(&self.buf[..len]);
            let body: &[u8] = match facts.body {
                RequestBody::None => &[],
                RequestBody::Length(_) => &self.buf[len..consumed],
                RequestBody::Chunked => &self.body,
            };
            let (host, target) = host_and_target(&view);
            let req = VisitorRequest {
                id,
                worker: self.worker,
                started,
                method: view.method(),
                target: &target,
                host,
                fields: &view,
                client_ip: &self.client_ip,
                format: facts.format,
                upgrade: facts.upgrade,
                body_declared: facts.body != RequestBody::None,
            };
            proxy::forward(&self.shared, &req, body, &mut self.upstream).await
        };
        self.buf.drain(..consumed);
        if self.buf.capacity() > KEEP_BUFFER && self.buf.len() < READ_SIZE {
            self.buf.shrink_to(READ_SIZE);
        }
        self.body.clear();
        if self.body.capacity() > KEEP_BUFFER {
            self.body = Vec::new();
        }
        self.shared
            .metrics
            .head_latency
            .observe(self.worker, started.elapsed().as_secs_f64());
        match answer {
            Answer::Page(page) => {
                let keep = facts.keep_alive && !page.close;
                self.write_page(&page, id, keep, facts).await
            }
            Answer::Origin(fwd) => self.write_origin(fwd, id, facts).await,
        }
    }

    /// Reads the request body after a head of `len` bytes; returns where the next request
    /// starts, or the refusal for a chunked body that is broken or too large.
    async fn read_body(
        &mut self,
        len: usize,
        body: RequestBody,
    ) -> io::Result<Result<usize, (u16, &'static str)>> {
        match body {
            RequestBody::None => Ok(Ok(len)),
            RequestBody::Length(n) => {
                let end = len + n as usize;
                self.buf.reserve(end.saturating_sub(self.buf.len()));
                while self.buf.len() < end {
                    if !self.read_more(Wait::Body).await? {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
                Ok(Ok(end))
            }
            RequestBody::Chunked => {
                let mut decoder = ChunkedDecoder::default();
                let mut findings = Vec::new();
                let mut at = len;
                loop {
                    let body = &mut self.body;
                    at += decoder.feed(
                        &self.buf[at..],
                        at as u64,
                        &mut |d| body.extend_from_slice(d),
                        &mut findings,
                    );
                    if self.body.len() > self.shared.config.max_request_body {
                        return Ok(Err((413, "body-too-large")));
                    }
                    if decoder.is_done() {
                        return Ok(Ok(at));
                    }
                    if decoder.is_failed() {
                        return Ok(Err((400, "body-unreadable")));
                    }
                    if !self.read_more(Wait::Body).await? {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
            }
        }
    }

    /// Answers a request the edge cannot read, then closes.
    async fn refuse(
        &mut self,
        status: u16,
        reason: &'static str,
        facts: Option<Facts>,
    ) -> io::Result<bool> {
        let format = facts.map_or(Format::Html, |f| f.format);
        let page = proxy::refuse(&self.shared, status, reason, "", format);
        let id = self.shared.ids.next();
        self.write_page(&page, id, false, facts).await
    }

    /// Writes one of the edge's pages; false (close) unless `keep_alive`.
    async fn write_page(
        &mut self,
        page: &Page,
        id: Id,
        keep_alive: bool,
        facts: impl Into<Option<Facts>>,
    ) -> io::Result<bool> {
        let facts = facts.into();
        let http10 = facts.is_some_and(|f| f.http10);
        let head_request = facts.is_some_and(|f| f.head_request);
        self.out.clear();
        let connection: &[u8] = match (keep_alive, http10) {
            (false, _) => b"close",
            (true, true) => b"keep-alive",
            (true, false) => b"",
        };
        let mut extra = vec![("originlens-ray", id.as_str().as_bytes())];
        if !connection.is_empty() {
            extra.push(("connection", connection));
        }
        page.write_h1(&mut self.out, &extra, head_request);
        let out = std::mem::take(&mut self.out);
        let sent = self.send(&out).await;
        self.out = out;
        sent.map(|()| keep_alive)
    }

    /// Writes the origin's response as it arrives; true when the connection stays open.
    async fn write_origin(&mut self, fwd: Forward, id: Id, facts: Facts) -> io::Result<bool> {
        let Forward {
            mut ex,
            after,
            framing,
        } = fwd;
        let report = ex.reader.report();
        let Some(head) = report.head.as_ref() else {
            after.done(ex, false);
            return Ok(false);
        };
        // A body already complete goes out with its length, whatever its framing was.
        let whole = ex.reader.is_done() && report.end == Some(End::Complete);
        let mode = match framing {
            Framing::NoBody => BodyMode::None,
            Framing::Length(_) => BodyMode::Sized,
            Framing::Tunnel => BodyMode::Tunnel,
            _ if whole => BodyMode::Sized,
            _ if facts.http10 => BodyMode::UntilClose,
            _ => BodyMode::Chunked,
        };
        let keep_alive = facts.keep_alive && mode != BodyMode::UntilClose;
        self.out.clear();
        if !facts.http10 {
            for interim in &report.interim {
                write_head(&mut self.out, interim);
                self.out.extend_from_slice(b"\r\n");
            }
        }
        write_head(&mut self.out, head);
        match mode {
            BodyMode::Sized if !matches!(framing, Framing::Length(_)) => {
                let mut digits = [0; 20];
                let n = itoa_u64(ex.pending().len() as u64, &mut digits);
                push_field(&mut self.out, b"content-length", n);
            }
            BodyMode::Chunked => push_field(&mut self.out, b"transfer-encoding", b"chunked"),
            BodyMode::Tunnel => {
                push_field(&mut self.out, b"connection", b"upgrade");
                for u in head.fields_named("upgrade") {
                    push_field(&mut self.out, b"upgrade", head.value(u));
                }
            }
            _ => {
                if let Some(v) = visitor_length(head, framing, facts.head_request) {
                    push_field(&mut self.out, b"content-length", &v);
                }
            }
        }
        push_field(&mut self.out, b"originlens-ray", id.as_str().as_bytes());
        if mode != BodyMode::Tunnel {
            match (keep_alive, facts.http10) {
                (false, _) => push_field(&mut self.out, b"connection", b"close"),
                (true, true) => push_field(&mut self.out, b"connection", b"keep-alive"),
                (true, false) => {}
            }
        }
        self.out.extend_from_slice(b"\r\n");

        if mode == BodyMode::Tunnel {
            return self.tunnel(ex, after).await;
        }
        let complete = loop {
            let data = ex.pending();
            if !data.is_empty() {
                if mode == BodyMode::Chunked {
                    let mut hex = [0u8; 16];
                    self.out.extend_from_slice(hex_len(data.len(), &mut hex));
                    self.out.extend_from_slice(b"\r\n");
                    self.out.extend_from_slice(data);
                    self.out.extend_from_slice(b"\r\n");
                } else {
                    self.out.extend_from_slice(data);
                }
                ex.clear_pending();
                if self.out.len() >= WRITE_AT {
                    if let Err(e) = self.flush().await {
                        after.done(ex, false);
                        return Err(e);
                    }
                }
            }
            if ex.reader.is_done() || mode == BodyMode::None {
                break mode == BodyMode::None || ex.reader.report().end == Some(End::Complete);
            }
            // Whatever is ready goes out before waiting on the origin.
            if let Err(e) = self.flush().await {
                after.done(ex, false);
                return Err(e);
            }
            ex.step().await;
        };
        if complete && mode == BodyMode::Chunked {
            self.out.extend_from_slice(b"0\r\n\r\n");
        }
        let written = self.flush().await;
        after.done(ex, complete && written.is_ok());
        written.map(|()| complete && keep_alive)
    }

    /// Copies bytes both ways after a 101, until either side closes.
    async fn tunnel(
        &mut self,
        mut ex: Box<originlens_net::Exchange>,
        after: crate::record::Afterwards,
    ) -> io::Result<bool> {
        self.out.extend_from_slice(ex.pending());
        ex.clear_pending();
        let result = async {
            self.flush().await?;
            // The visitor's bytes that came after its request belong to the new protocol.
            if !self.buf.is_empty() {
                ex.conn.write_all(&self.buf).await?;
                self.buf.clear();
            }
            tokio::io::copy_bidirectional(&mut self.stream, &mut ex.conn).await
        }
        .await;
        after.done(ex, false);
        result.map(|_| false)
    }

    async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            let out = std::mem::take(&mut self.out);
            let sent = self.send(&out).await;
            self.out = out;
            sent?;
            self.out.clear();
        }
        Ok(())
    }

    /// Writes `bytes` to the visitor; fails when a write makes no progress for the send
    /// timeout (a visitor that stopped reading), as nginx's `send_timeout`.
    async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        write_within(
            &mut self.stream,
            bytes,
            self.shared.config.send_timeout,
            &self.shared.metrics,
        )
        .await
    }
}

/// Writes all of `bytes`, waiting at most `timeout` each time the socket is not writable.
async fn write_within(
    stream: &mut TcpStream,
    mut bytes: &[u8],
    timeout: std::time::Duration,
    metrics: &Metrics,
) -> io::Result<()> {
    while !bytes.is_empty() {
        match stream.try_write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                match tokio::time::timeout(timeout, stream.writable()).await {
                    Ok(ready) => ready?,
                    Err(_) => {
                        metrics.timed_out("send");
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The request facts, or the refusal for a request the edge does not forward.
fn facts_of(view: &HeadView<'_>, max_body: usize) -> Result<Facts, (u16, &'static str)> {
    let method = view.method();
    if let Err(r) = request::validate(method.as_bytes(), view.http10(), view) {
        return Err((r.status(), r.as_str()));
    }
    let known = view.known();
    // RFC 9112 §3.2: exactly one valid Host in HTTP/1.1, at most one in HTTP/1.0.
    match (known.hosts, known.host) {
        (2.., _) => return Err((400, "host-duplicate")),
        (_, None) if !known.http10 => return Err((400, "host-missing")),
        (_, Some(b"")) => return Err((400, "host-empty")),
        (_, Some(h)) if !request::valid_host(h) => return Err((400, "host-invalid")),
        _ => {}
    }
    check_target(view)?;
    let body = if known.transfer_encoding.is_some() {
        RequestBody::Chunked
    } else if let Some(v) = known.content_length {
        // `validate` admitted only plain digits that fit.
        let n: u64 = std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or((400, "cl-invalid"))?;
        if n > max_body as u64 {
            return Err((413, "body-too-large"));
        }
        RequestBody::Length(n)
    } else {
        RequestBody::None
    };
    Ok(Facts {
        body,
        keep_alive: known.keep_alive(),
        upgrade: known.upgrade(),
        http10: known.http10,
        head_request: method == "HEAD",
        expect_continue: known.expect_continue(),
        format: Format::from_accept(known.accept),
    })
}

/// The request target must be one the edge and the origin read alike (RFC 9112 §3.2): origin
/// form, `*` for OPTIONS, or absolute form with `http`/`https` and a valid host. Another scheme
/// (`ftp://b.test/x`) would leave the edge routing by one host while the origin reads another.
fn check_target(view: &HeadView<'_>) -> Result<(), (u16, &'static str)> {
    let target = view.target();
    if target.starts_with('/') || (target == "*" && view.method() == "OPTIONS") {
        return Ok(());
    }
    match absolute_form(target) {
        Some(rest) => {
            let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
            let host = authority.rsplit('@').next().unwrap_or(authority);
            if request::valid_host(host.as_bytes()) {
                Ok(())
            } else {
                Err((400, "target-host-invalid"))
            }
        }
        None => Err((400, "target-invalid")),
    }
}

/// What follows `http://` or `https://` (any case) in an absolute-form target.
fn absolute_form(target: &str) -> Option<&str> {
    ["http://", "https://"].iter().find_map(|scheme| {
        let prefix = target.get(..scheme.len())?;
        prefix
            .eq_ignore_ascii_case(scheme)
            .then(|| &target[scheme.len()..])
    })
}

/// The host the request is for and its target in origin form. An absolute-form target
/// (`GET http://a.example/x`) names the host itself and wins over `Host` (RFC 9112 §3.2.2).
fn host_and_target<'b>(view: &HeadView<'b>) -> (&'b str, Cow<'b, str>) {
    let target = view.target();
    if let Some(rest) = absolute_form(target) {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        // Userinfo is never forwarded.
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let path = match path.as_bytes().first() {
            Some(b'/') => Cow::Borrowed(path),
            _ => Cow::Owned(format!("/{path}")),
        };
        return (authority, path);
    }
    let host = view
        .first("host")
        .and_then(|h| std::str::from_utf8(h).ok())
        .unwrap_or("");
    (host, Cow::Borrowed(target))
}

/// Writes the status line and the forwarded fields of `head` (no empty line).
fn write_head(out: &mut Vec<u8>, head: &Head) {
    let code = head.code.unwrap_or(502);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(itoa_u64(u64::from(code), &mut [0; 20]));
    out.push(b' ');
    let reason = head.bytes(&head.reason);
    if !reason.is_empty()
        && reason
            .iter()
            .all(|&b| b == b'\t' || (b >= b' ' && b != 0x7f))
    {
        out.extend_from_slice(reason);
    } else if let Some(r) = http::StatusCode::from_u16(code)
        .ok()
        .and_then(|c| c.canonical_reason())
    {
        out.extend_from_slice(r.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    write_forwarded_fields(head, out);
}

/// `n` in lower-case hex.
fn hex_len(mut n: usize, buf: &mut [u8; 16]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Everything the edge derives from a request head, for whatever bytes arrive.
    fn derive_all(raw: &[u8]) {
        let mut head = RequestHead::default();
        if let Parse::Complete(len) = head.parse(raw) {
            let view = head.view(&raw[..len]);
            if facts_of(&view, 1024).is_ok() {
                let (host, target) = host_and_target(&view);
                let fwd = request::Forwarding {
                    host,
                    client_ip: "192.0.2.1",
                    proto: "http",
                    upgrade: view.known().upgrade(),
                };
                let mut out = Vec::new();
                request::upstream_head(view.method(), &target, &view, &fwd, Some(0), &mut out);
                assert!(out.ends_with(b"\r\n\r\n"));
            }
        }
    }

    proptest! {
        #[test]
        fn hostile_request_heads_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
            derive_all(&raw);
        }

        #[test]
        fn request_like_heads_never_panic(
            method in "[A-Z]{1,8}",
            target in "(http://|https://|/|\\*)[ -~]{0,40}",
            fields in proptest::collection::vec(("[A-Za-z-]{1,20}", "[ -~\t]{0,40}"), 0..8),
        ) {
            let mut raw = format!("{method} {target} HTTP/1.1\r\n");
            for (n, v) in fields {
                raw.push_str(&format!("{n}: {v}\r\n"));
            }
            raw.push_str("\r\n");
            derive_all(raw.as_bytes());
        }
    }

    fn facts(raw: &[u8]) -> Result<(String, String), (u16, &'static str)> {
        let mut head = RequestHead::default();
        let Parse::Complete(len) = head.parse(raw) else {
            panic!("not a head");
        };
        let view = head.view(&raw[..len]);
        facts_of(&view, 1024)?;
        let (host, target) = host_and_target(&view);
        Ok((host.to_owned(), target.into_owned()))
    }

    #[test]
    fn host_rules_of_rfc_9112() {
        let ok = |h: &str, t: &str| Ok((h.to_owned(), t.to_owned()));
        assert_eq!(
            facts(b"GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n"),
            ok("a.test", "/a")
        );
        assert_eq!(facts(b"GET /a HTTP/1.0\r\n\r\n"), ok("", "/a"));
        assert_eq!(
            facts(b"GET /a HTTP/1.1\r\n\r\n"),
            Err((400, "host-missing"))
        );
        assert_eq!(
            facts(b"GET /a HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n"),
            Err((400, "host-duplicate"))
        );
        assert_eq!(
            facts(b"GET /a HTTP/1.1\r\nHost: a.test/x\r\n\r\n"),
            Err((400, "host-invalid"))
        );
        assert_eq!(
            facts(b"GET HTTP://u@b.test:8080?q=1 HTTP/1.1\r\nHost: a.test\r\n\r\n"),
            ok("b.test:8080", "/?q=1")
        );
        assert_eq!(
            facts(b"GET https://b.test/x/y HTTP/1.0\r\n\r\n"),
            ok("b.test", "/x/y")
        );
        assert_eq!(
            facts(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2048\r\n\r\n"),
            Err((413, "body-too-large"))
        );
        for (raw, reason) in [
            (&b"GET / HTTP/1.1\r\nHost:\r\n\r\n"[..], "host-empty"),
            (b"GET / HTTP/1.0\r\nHost: \r\n\r\n", "host-empty"),
            (
                b"GET ftp://b.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n",
                "target-invalid",
            ),
            (
                b"GET a.test:80 HTTP/1.1\r\nHost: a.test\r\n\r\n",
                "target-invalid",
            ),
            (b"GET * HTTP/1.1\r\nHost: a.test\r\n\r\n", "target-invalid"),
            (
                b"GET http:///x HTTP/1.1\r\nHost: a.test\r\n\r\n",
                "target-host-invalid",
            ),
            (
                b"GET http://u@/x HTTP/1.1\r\nHost: a.test\r\n\r\n",
                "target-host-invalid",
            ),
        ] {
            assert_eq!(facts(raw), Err((400, reason)), "{}", raw.escape_ascii());
        }
        assert_eq!(
            facts(b"OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n"),
            ok("a.test", "*")
        );
    }

    #[test]
    fn h2c_is_never_an_upgrade() {
        for up in ["h2c", "H2C", "websocket, h2c", "h2c/1"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: {up}\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n");
            let mut head = RequestHead::default();
            let Parse::Complete(len) = head.parse(raw.as_bytes()) else {
                panic!("not a head");
            };
            let view = head.view(&raw.as_bytes()[..len]);
            let f = facts_of(&view, 1024).unwrap();
            assert!(!f.upgrade, "{up}");
            let fwd = request::Forwarding {
                host: "a",
                client_ip: "192.0.2.1",
                proto: "http",
                upgrade: f.upgrade,
            };
            let mut out = Vec::new();
            request::upstream_head("GET", "/", &view, &fwd, None, &mut out);
            let sent = String::from_utf8_lossy(&out).to_ascii_lowercase();
            assert!(!sent.contains("upgrade:"), "{sent}");
            assert!(!sent.contains("http2-settings"), "{sent}");
        }
    }
}
