//! One visitor request, start to end: validate, pick the origin, take or open a connection,
//! write the request, read the head through the wire reader, then either answer the edge's
//! error or forward the origin's response, and record the exchange when it was bad.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use originlens_wire::encoding::Coding;
use originlens_wire::{
    judge, Cause, End, Finding, Framing, JudgeContext, ReaderOptions, Report, RequestInfo, Verdict,
};
use tokio::io::AsyncWriteExt;

use crate::body::EdgeBody;
use crate::config::{EdgeConfig, OriginConfig};
use crate::connect::Connector;
use crate::exchange::Exchange;
use crate::incident::{redact, FindingRecord, Id, IdGen, Incident};
use crate::metrics::{EventLabels, Metrics, ResponseLabels};
use crate::page::{self, Failure, Format};
use crate::pool::{Pool, Pooled};
use crate::request::{self, Forwarding};
use crate::response::forward_head;
use crate::store::Writer;

/// Proxy write timeout (Cloudflare: 30 s, then 524).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of the origin's stream kept as evidence.
const CAPTURE_LIMIT: usize = 256 * 1024;
/// A content-coded body up to this size is read whole before the head is sent, so that a body
/// that does not fit its coding becomes the edge's 502, as Cloudflare documents.
const CODED_BUFFER_LIMIT: usize = 1024 * 1024;

/// An origin with its connector and pool.
#[derive(Debug)]
pub struct OriginRuntime {
    /// Its configuration.
    pub cfg: OriginConfig,
    /// Opens connections.
    pub connector: Connector,
    /// Idle connections.
    pub pool: Pool,
}

/// State shared by every request.
#[derive(Debug)]
pub struct Shared {
    /// The configuration.
    pub config: EdgeConfig,
    /// One runtime per configured origin, same order.
    pub origins: Vec<OriginRuntime>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The incident writer, if a store is configured.
    pub store: Option<Writer>,
    /// Incident ids.
    pub ids: IdGen,
}

impl Shared {
    /// Builds the runtime state of `config`.
    pub fn new(
        config: EdgeConfig,
        metrics: Arc<Metrics>,
        store: Option<Writer>,
    ) -> Result<Shared, crate::config::ConfigError> {
        config.validate()?;
        let origins = config
            .origins
            .iter()
            .map(|o| {
                Ok(OriginRuntime {
                    connector: Connector::new(o)?,
                    pool: Pool::new(
                        o.idle_timeout(),
                        config.max_idle_per_origin,
                        config.reuse_check,
                    ),
                    cfg: o.clone(),
                })
            })
            .collect::<Result<_, crate::config::ConfigError>>()?;
        Ok(Shared {
            config,
            origins,
            metrics,
            store,
            ids: IdGen::default(),
        })
    }

    /// Idle pooled connections over all origins.
    pub fn idle_connections(&self) -> usize {
        self.origins.iter().map(|o| o.pool.idle_count()).sum()
    }
}

/// What the request looked like, for the incident.
#[derive(Debug, Clone)]
struct Draft {
    id: Id,
    at_ms: i64,
    method: Method,
    target: String,
    host: String,
    started: Instant,
}

/// Connection facts for the incident and the pool.
#[derive(Debug, Clone, Copy)]
struct ConnFacts {
    opened: Instant,
    uses: u32,
    reused: bool,
    retried: bool,
    connect_ms: Option<f64>,
}

/// What to do once a forwarded response has ended: pool the connection, count, record.
#[derive(Debug)]
pub struct Afterwards {
    shared: Arc<Shared>,
    origin: usize,
    draft: Draft,
    facts: ConnFacts,
    visitor_status: u16,
}

impl Afterwards {
    /// The exchange ended; `visitor_got_all` is false when the visitor's response was cut.
    pub(crate) fn done(self, ex: Exchange, visitor_got_all: bool) {
        let origin = &self.shared.origins[self.origin];
        let report = ex.reader.report();
        let verdict = judge(report, &origin.cfg.profile, JudgeContext::default());
        let complete = report.end == Some(End::Complete);
        if !complete && ex.reader.is_done() {
            self.shared.metrics.bodies_aborted.inc();
        }
        let reuse = visitor_got_all
            && complete
            && verdict.cause.is_none_or(|c| c == Cause::OriginError)
            && reusable(report);
        record(
            &self.shared,
            self.origin,
            &self.draft,
            &self.facts,
            &ex,
            &verdict,
            self.visitor_status,
            false,
        );
        if reuse {
            let (conn, scratch) = ex.into_parts();
            origin.pool.put(Pooled {
                conn,
                scratch: Some(scratch),
                opened: self.facts.opened,
                uses: self.facts.uses + 1,
                idle_since: Instant::now(),
            });
        } else {
            self.shared.metrics.upstream_event("close");
        }
    }
}

/// May the connection carry another request after this response?
fn reusable(report: &Report) -> bool {
    let Some(head) = &report.head else {
        return false;
    };
    if report.body.excess > 0 {
        return false;
    }
    if !matches!(
        report.framing,
        Some(Framing::Length(_) | Framing::Chunked | Framing::NoBody)
    ) {
        return false;
    }
    let tokens = request::connection_listed(head.fields_named("connection").map(|f| head.value(f)));
    let has = |t: &[u8]| tokens.iter().any(|x| x.eq_ignore_ascii_case(t));
    match head.version {
        Some(v) if v.major == 1 && v.minor == 0 => has(b"keep-alive") && !has(b"close"),
        Some(_) => !has(b"close"),
        None => false,
    }
}

/// The cause id of a broken body, for the error hyper logs.
pub(crate) fn body_cause(report: &Report) -> &'static str {
    report
        .findings
        .iter()
        .find(|f| f.severity == originlens_wire::Severity::Error)
        .map_or("body.truncated", |f| f.cause.as_str())
}

/// Counts the response and, when the exchange had a cause, sends the incident to the store.
#[allow(clippy::too_many_arguments)]
fn record(
    shared: &Shared,
    origin: usize,
    draft: &Draft,
    facts: &ConnFacts,
    ex: &Exchange,
    verdict: &Verdict,
    visitor_status: u16,
    edge_generated: bool,
) {
    let report = ex.reader.report();
    let cause = verdict.cause;
    shared.metrics.response(ResponseLabels {
        status: visitor_status,
        cause: cause.map_or("none", Cause::as_str),
        generated_by: if edge_generated { "edge" } else { "origin" },
    });
    let Some(cause) = cause else {
        return;
    };
    let findings = report
        .findings
        .iter()
        .chain(&verdict.limit_findings)
        .map(FindingRecord::from)
        .collect();
    let mut raw = ex.capture().to_vec();
    let redacted = shared.config.redact;
    if redacted {
        redact(&mut raw);
    }
    let incident = Incident {
        id: draft.id.to_string(),
        at_ms: draft.at_ms,
        method: draft.method.as_str().to_owned(),
        target: draft.target.clone(),
        host: draft.host.clone(),
        origin: shared.origins[origin].cfg.url.authority(),
        profile: verdict.profile.to_owned(),
        cause: cause.as_str().to_owned(),
        finding: verdict.finding.map(|k| k.as_str().to_owned()),
        findings,
        origin_status: report.status(),
        visitor_status,
        generated_by: if edge_generated { "edge" } else { "origin" }.to_owned(),
        end: report.end.map(|e| e.as_str().to_owned()),
        connect_ms: facts.connect_ms,
        first_byte_ms: report.gaps.first_byte.map(ms),
        total_ms: ms(draft.started.elapsed()),
        reused: facts.reused,
        conn_uses: facts.uses,
        conn_age_ms: facts.opened.elapsed().as_millis() as u64,
        retried: facts.retried,
        bytes: ex.received(),
        raw,
        raw_truncated: ex.capture_truncated(),
        redacted,
    };
    deliver(shared, incident);
}

/// Logs the incident on stderr and queues it for the store.
fn deliver(shared: &Shared, incident: Incident) {
    eprintln!(
        "originlens edge: incident {} {} {} {} {} {}",
        incident.id,
        incident.visitor_status,
        incident.cause,
        incident.method,
        incident.host,
        incident.target
    );
    if let Some(store) = &shared.store {
        store.send(incident);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Handles one visitor request.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    client_ip: &str,
    sniffed: &crate::sniff::Verdicts,
) -> Response<EdgeBody> {
    let started = Instant::now();
    let format = Format::from_accept(req.headers().get(header::ACCEPT).map(|v| v.as_bytes()));
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("")
        .to_owned();
    let id = shared.ids.next();
    // HTTP/1 requests were read along on the way in, in order: one verdict each.
    let raw_refusal = if req.version() <= http::Version::HTTP_11 {
        sniffed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
            .flatten()
    } else {
        None
    };
    let mut resp = match raw_refusal {
        Some(r) => refuse(&shared, r.status(), r.as_str(), &host, format),
        None => handle_inner(&shared, req, client_ip, &host, id, format, started).await,
    };
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        resp.headers_mut().insert("originlens-ray", v);
    }
    shared
        .metrics
        .head_latency
        .observe(started.elapsed().as_secs_f64());
    resp
}

fn refuse(
    shared: &Shared,
    status: u16,
    reason: &'static str,
    host: &str,
    format: Format,
) -> Response<EdgeBody> {
    shared
        .metrics
        .refused
        .get_or_create(&EventLabels { event: reason })
        .inc();
    let mut resp = page::respond(
        &Failure {
            status,
            cause: reason,
            incident: None,
            host,
        },
        format,
    );
    // The framing of whatever follows on this connection cannot be trusted.
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

async fn handle_inner(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    client_ip: &str,
    host: &str,
    id: Id,
    format: Format,
    started: Instant,
) -> Response<EdgeBody> {
    if let Err(r) = request::validate(req.method(), req.version(), req.headers()) {
        return refuse(shared, r.status(), r.as_str(), host, format);
    }
    let Some(oi) = shared.config.route(Some(host).filter(|h| !h.is_empty())) else {
        return refuse(shared, 421, "no-origin", host, format);
    };
    let (parts, body) = req.into_parts();
    let declared_body = parts.headers.contains_key(header::CONTENT_LENGTH)
        || parts.headers.contains_key(header::TRANSFER_ENCODING);
    let body = match http_body_util::Limited::new(body, shared.config.max_request_body)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return refuse(shared, 413, "body-too-large", host, format)
        }
        Err(_) => return refuse(shared, 400, "body-unreadable", host, format),
    };
    let origin = &shared.origins[oi];
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let upstream_host: std::borrow::Cow<'_, str> = match &origin.cfg.host_header {
        Some(h) => h.as_str().into(),
        None if host.is_empty() => origin.cfg.url.authority().into(),
        None => host.into(),
    };
    let head = request::upstream_head(
        &parts.method,
        &target,
        &parts.headers,
        &Forwarding {
            host: &upstream_host,
            client_ip,
            proto: "http",
        },
        (declared_body || !body.is_empty()).then_some(body.len()),
    );
    let draft = Draft {
        id,
        at_ms: now_ms(),
        method: parts.method.clone(),
        target,
        host: host.to_owned(),
        started,
    };
    let opts = ReaderOptions {
        request: RequestInfo {
            head: parts.method == Method::HEAD,
            ..RequestInfo::default()
        },
        ..ReaderOptions::default()
    };
    exchange(shared, oi, draft, &head, &body, opts, format).await
}

#[allow(clippy::too_many_arguments)]
async fn exchange(
    shared: &Arc<Shared>,
    oi: usize,
    draft: Draft,
    head: &[u8],
    body: &Bytes,
    opts: ReaderOptions,
    format: Format,
) -> Response<EdgeBody> {
    let origin = &shared.origins[oi];
    let profile = &origin.cfg.profile;
    let metrics = &shared.metrics;
    let mut retried = false;
    let (mut ex, facts) = loop {
        let pooled = origin.pool.take(&mut |d| {
            metrics.upstream_event(match d {
                crate::pool::Discard::Expired => "discard-expired",
                crate::pool::Discard::Closed => "discard-closed",
                crate::pool::Discard::StrayBytes => "discard-stray-bytes",
            })
        });
        let (conn, scratch, facts) = match pooled {
            Some(p) => {
                metrics.upstream_event("reuse");
                let facts = ConnFacts {
                    opened: p.opened,
                    uses: p.uses,
                    reused: true,
                    retried,
                    connect_ms: None,
                };
                (p.conn, p.scratch, facts)
            }
            None => {
                let t = Instant::now();
                metrics.upstream_event("connect");
                match origin.connector.connect().await {
                    Ok(c) => (
                        c,
                        None,
                        ConnFacts {
                            opened: t,
                            uses: 0,
                            reused: false,
                            retried,
                            connect_ms: Some(ms(t.elapsed())),
                        },
                    ),
                    Err(f) => {
                        return connect_failed(shared, oi, &draft, f, retried, format);
                    }
                }
            }
        };
        let mut ex = Exchange::new(
            conn,
            scratch,
            ReaderOptions {
                reused_connection: facts.reused,
                ..opts
            },
            Instant::now(),
            profile.limits.read_timeout,
            CAPTURE_LIMIT,
        );
        let write = async {
            ex.conn.write_all(head).await?;
            if !body.is_empty() {
                ex.conn.write_all(body).await?;
            }
            ex.conn.flush().await
        };
        match tokio::time::timeout(WRITE_TIMEOUT, write).await {
            Ok(Ok(())) => ex.restart_timer(),
            // A failed write: whatever the origin sent before it is still read below.
            Ok(Err(_)) => {}
            Err(_) => ex.end(End::Timeout),
        }
        while !ex.reader.report().head_complete && !ex.reader.is_done() {
            ex.step().await;
        }
        let failed_before_any_byte =
            ex.received() == 0 && matches!(ex.reader.report().end, Some(End::Eof | End::Reset));
        if facts.reused && failed_before_any_byte && shared.config.retry && !retried {
            // Pingora's rule: a reused connection that failed before any byte is retried once.
            metrics.upstream_event("retry");
            retried = true;
            continue;
        }
        break (ex, facts);
    };

    // A coded body is read whole (up to a limit) so that a broken coding can still be a 502.
    if ex.reader.report().head_complete && !ex.reader.is_done() && is_coded(ex.reader.report()) {
        while !ex.reader.is_done() && ex.pending_len() <= CODED_BUFFER_LIMIT {
            ex.step().await;
        }
    }

    let report = ex.reader.report();
    let verdict = judge(report, profile, JudgeContext::default());
    if !report.head_complete || verdict.is_edge_error() {
        let status = verdict
            .status
            .filter(|_| verdict.is_edge_error())
            .unwrap_or(profile.error_status);
        let cause = verdict.cause.unwrap_or(Cause::StartLineInvalid);
        record(shared, oi, &draft, &facts, &ex, &verdict, status, true);
        return page::respond(
            &Failure {
                status,
                cause: cause.as_str(),
                incident: shared.store.as_ref().map(|_| draft.id.as_str()),
                host: &draft.host,
            },
            format,
        );
    }

    let framing = report.framing.unwrap_or(Framing::CloseDelimited);
    let Some(builder) = report
        .head
        .as_ref()
        .and_then(|h| forward_head(h, framing, opts.request.head))
    else {
        record(
            shared,
            oi,
            &draft,
            &facts,
            &ex,
            &verdict,
            profile.error_status,
            true,
        );
        return page::respond(
            &Failure {
                status: profile.error_status,
                cause: Cause::StartLineInvalid.as_str(),
                incident: shared.store.as_ref().map(|_| draft.id.as_str()),
                host: &draft.host,
            },
            format,
        );
    };
    let visitor_status = report.status().unwrap_or(0);
    let after = Afterwards {
        shared: shared.clone(),
        origin: oi,
        draft,
        facts,
        visitor_status,
    };
    let body = if ex.reader.is_done() {
        let complete = report.end == Some(End::Complete);
        let cause = body_cause(report);
        let data = ex.take_all_data();
        after.done(ex, true);
        if complete {
            EdgeBody::full(data)
        } else {
            EdgeBody::broken(data, cause)
        }
    } else {
        EdgeBody::stream(ex, after)
    };
    builder.body(body).unwrap_or_else(|_| {
        page::respond(
            &Failure {
                status: 502,
                cause: "response.invalid",
                incident: None,
                host: "",
            },
            format,
        )
    })
}

fn is_coded(report: &Report) -> bool {
    report
        .head
        .as_ref()
        .and_then(|h| h.first("content-encoding"))
        .is_some_and(|v| matches!(Coding::from_header(v), Ok(Some(_))))
}

/// The connection could not be opened: the profile's status for the failure (521, 522, ...).
fn connect_failed(
    shared: &Arc<Shared>,
    oi: usize,
    draft: &Draft,
    failure: crate::connect::ConnectFailure,
    retried: bool,
    format: Format,
) -> Response<EdgeBody> {
    let profile = &shared.origins[oi].cfg.profile;
    let mut report = Report::default();
    report
        .findings
        .push(Finding::at(failure.kind, 0, failure.message));
    let verdict = judge(&report, profile, JudgeContext::default());
    let status = verdict.status.unwrap_or(profile.error_status);
    let cause = verdict.cause.unwrap_or(failure.kind.cause());
    let facts = ConnFacts {
        opened: Instant::now(),
        uses: 0,
        reused: false,
        retried,
        connect_ms: Some(ms(draft.started.elapsed())),
    };
    let incident = connect_incident(shared, oi, draft, &facts, &report, &verdict, status);
    shared.metrics.response(ResponseLabels {
        status,
        cause: cause.as_str(),
        generated_by: "edge",
    });
    deliver(shared, incident);
    page::respond(
        &Failure {
            status,
            cause: cause.as_str(),
            incident: shared.store.as_ref().map(|_| draft.id.as_str()),
            host: &draft.host,
        },
        format,
    )
}

fn connect_incident(
    shared: &Shared,
    oi: usize,
    draft: &Draft,
    facts: &ConnFacts,
    report: &Report,
    verdict: &Verdict,
    status: u16,
) -> Incident {
    Incident {
        id: draft.id.to_string(),
        at_ms: draft.at_ms,
        method: draft.method.as_str().to_owned(),
        target: draft.target.clone(),
        host: draft.host.clone(),
        origin: shared.origins[oi].cfg.url.authority(),
        profile: verdict.profile.to_owned(),
        cause: verdict
            .cause
            .map_or("connect.refused", Cause::as_str)
            .to_owned(),
        finding: verdict.finding.map(|k| k.as_str().to_owned()),
        findings: report.findings.iter().map(FindingRecord::from).collect(),
        origin_status: None,
        visitor_status: status,
        generated_by: "edge".into(),
        end: None,
        connect_ms: facts.connect_ms,
        first_byte_ms: None,
        total_ms: ms(draft.started.elapsed()),
        reused: false,
        conn_uses: 0,
        conn_age_ms: 0,
        retried: facts.retried,
        bytes: 0,
        raw: Vec::new(),
        raw_truncated: false,
        redacted: shared.config.redact,
    }
}
