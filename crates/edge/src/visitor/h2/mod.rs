//! HTTP/2 toward visitors (prior knowledge), served by hyper: each request is handed to the
//! same [`proxy::forward`] as HTTP/1 ones, and the answer becomes a hyper response whose body
//! streams from the upstream exchange ([`EdgeBody`]). The edge's visitor timeouts are kept by
//! [`watch`]: hyper's h2 server has none of them.

mod watch;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderValue};
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use originlens_wire::End;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, MissedTickBehavior};

use crate::body::EdgeBody;
use crate::config::EdgeConfig;
use crate::page::{self, Failure, Format};
use crate::proxy::{self, Answer, Forward, VisitorRequest};
use crate::record::body_cause;
use crate::request;
use crate::response::forward_head;
use crate::shared::Shared;
use watch::{Expired, Limits, Watch, WatchedBody, WatchedIo};

/// How long a connection that ran out of its header or idle timeout has to take its GOAWAY.
const GOAWAY_GRACE: Duration = Duration::from_secs(1);

/// Serves an h2 connection accepted at `accepted` whose preface was already read.
pub(super) async fn serve(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    accepted: Instant,
    client_ip: String,
    shared: Arc<Shared>,
    worker: usize,
) {
    let watch = Watch::new(accepted);
    let limits = Limits::of(&shared.config);
    let service = {
        let (shared, watch) = (shared.clone(), watch.clone());
        let client_ip: Arc<str> = client_ip.into();
        service_fn(move |req: Request<Incoming>| {
            let in_service = watch.begin();
            let shared = shared.clone();
            let client_ip = client_ip.clone();
            async move {
                let resp = handle(&shared, req, &client_ip, worker).await;
                Ok::<_, Infallible>(resp.map(|body| WatchedBody::new(body, in_service)))
            }
        })
    };
    let io = TokioIo::new(WatchedIo::new(stream, watch.clone()));
    let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut ticks = tokio::time::interval(limits.tick());
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            // Errors here are the visitor's (reset, protocol errors) or a body the edge aborted.
            _ = conn.as_mut() => return,
            _ = ticks.tick() => {
                let Some(expired) = watch.expired(Instant::now(), &limits) else {
                    continue;
                };
                shared.metrics.timed_out(expired.as_str());
                if expired != Expired::Send {
                    // Nothing is in service: a GOAWAY tells the visitor not to retry on this
                    // connection. A visitor that does not read it is dropped after the grace.
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(GOAWAY_GRACE, conn.as_mut()).await;
                }
                return;
            }
        }
    }
}

async fn handle(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    client_ip: &str,
    worker: usize,
) -> Response<EdgeBody> {
    let started = std::time::Instant::now();
    let id = shared.ids.next();
    let format = Format::from_accept(req.headers().get(header::ACCEPT).map(|v| v.as_bytes()));
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
        })
        .unwrap_or("")
        .to_owned();
    let head_request = req.method() == Method::HEAD;
    let checked = request::validate(req.method().as_str().as_bytes(), false, req.headers())
        .map_err(|r| (r.status(), r.as_str()))
        .and_then(|()| match req.uri().scheme_str() {
            // As for HTTP/1 absolute-form targets: the edge speaks for http and https only.
            None | Some("http" | "https") => Ok(()),
            Some(_) => Err((400, "target-invalid")),
        })
        .and_then(|()| match host.as_str() {
            // RFC 9113 §8.3.1: `:authority` or `Host`, naming a host.
            "" => Err((400, "host-missing")),
            h if !request::valid_host(h.as_bytes()) => Err((400, "host-invalid")),
            _ => Ok(()),
        });
    let mut resp = match checked {
        Err((status, reason)) => {
            proxy::refuse(shared, status, reason, &host, format).into_response()
        }
        Ok(()) => {
            let (parts, body) = req.into_parts();
            let declared = parts.headers.contains_key(header::CONTENT_LENGTH);
            match read_body(body, &shared.config).await {
                Err(BodyRefused::TimedOut) => {
                    // 408 on its stream, where HTTP/1 closes the connection: other streams
                    // share this one.
                    shared.metrics.timed_out("body");
                    own_page(408, "body-timeout", &host, format)
                }
                Err(BodyRefused::Status(status, reason)) => {
                    proxy::refuse(shared, status, reason, &host, format).into_response()
                }
                Ok(body) => {
                    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                    let req = VisitorRequest {
                        id,
                        worker,
                        started,
                        method: parts.method.as_str(),
                        target,
                        host: &host,
                        fields: &parts.headers,
                        client_ip,
                        format,
                        upgrade: false,
                        body_declared: declared,
                    };
                    match proxy::forward(shared, &req, &body, &mut Vec::new()).await {
                        Answer::Page(p) => p.into_response(),
                        Answer::Origin(fwd) => origin_response(fwd, head_request, format),
                    }
                }
            }
        }
    };
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        resp.headers_mut().insert("originlens-ray", v);
    }
    shared
        .metrics
        .head_latency
        .observe(worker, started.elapsed().as_secs_f64());
    resp
}

/// Why a request body was not taken.
enum BodyRefused {
    /// The visitor sent nothing more for the body timeout.
    TimedOut,
    Status(u16, &'static str),
}

/// The whole request body, at most `max_request_body` bytes, each frame within the body timeout
/// of the last (as HTTP/1 bodies: a slow upload goes on as long as it moves).
async fn read_body(mut body: Incoming, config: &EdgeConfig) -> Result<Bytes, BodyRefused> {
    // A body in one DATA frame, the usual case, is kept as it came, without a copy.
    let mut single = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    loop {
        let frame = match tokio::time::timeout(config.body_timeout, body.frame()).await {
            Err(_) => return Err(BodyRefused::TimedOut),
            Ok(None) => return Ok(joined.map_or(single, BytesMut::freeze)),
            Ok(Some(Err(_))) => return Err(BodyRefused::Status(400, "body-unreadable")),
            Ok(Some(Ok(frame))) => frame,
        };
        // Trailers are not forwarded.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let so_far = joined.as_ref().map_or(single.len(), BytesMut::len);
        if so_far + data.len() > config.max_request_body {
            return Err(BodyRefused::Status(413, "body-too-large"));
        }
        match &mut joined {
            Some(j) => j.extend_from_slice(&data),
            None if single.is_empty() => single = data,
            None => {
                let mut j = BytesMut::from(&single[..]);
                j.extend_from_slice(&data);
                joined = Some(j);
            }
        }
    }
}

/// The origin's response as a hyper response; its body streams from the exchange.
fn origin_response(fwd: Forward, head_request: bool, format: Format) -> Response<EdgeBody> {
    let Forward {
        mut ex,
        after,
        framing,
    } = fwd;
    let report = ex.reader.report();
    let Some(builder) = report
        .head
        .as_ref()
        .and_then(|h| forward_head(h, framing, head_request))
    else {
        after.done(ex, false);
        return invalid(format);
    };
    let body = if ex.reader.is_done() {
        let complete = report.end == Some(End::Complete);
        let cause = body_cause(report);
        let data = ex.next_data().unwrap_or_default();
        after.done(ex, true);
        if complete {
            EdgeBody::full(data)
        } else {
            EdgeBody::broken(data, cause)
        }
    } else {
        EdgeBody::stream(ex, after)
    };
    builder.body(body).unwrap_or_else(|_| invalid(format))
}

/// An answer of the edge's own with no incident.
fn own_page(status: u16, cause: &str, host: &str, format: Format) -> Response<EdgeBody> {
    page::respond(
        &Failure {
            status,
            cause,
            incident: None,
            host,
        },
        format,
    )
    .into_response()
}

fn invalid(format: Format) -> Response<EdgeBody> {
    own_page(
        502,
        originlens_wire::Cause::StartLineInvalid.as_str(),
        "",
        format,
    )
}
