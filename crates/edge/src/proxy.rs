//! One visitor request, from either protocol of [`crate::visitor`]: pick the origin, take or
//! open a connection, write the request, read the head through the wire reader, then either
//! answer the edge's error or hand the origin's response back for forwarding, and record the
//! exchange when it was bad.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use originlens_wire::encoding::Coding;
use originlens_wire::{
    judge, Cause, End, Finding, Framing, GeneratedBy, JudgeContext, ReaderOptions, Report,
    RequestInfo, Verdict,
};

use crate::config::{EdgeConfig, OriginConfig};
use crate::connect::Connector;
use crate::incident::{redact, FindingRecord, Id, IdGen, Incident};
use crate::metrics::{EventLabels, Metrics, ResponseLabels};
use crate::page::{self, Failure, Format, Page};
use crate::pool::{Pool, Pooled};
use crate::request::{self, Fields, Forwarding};
use crate::store::Writer;
use originlens_net::Exchange;

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
    /// Idle connections, one pool per worker thread: a connection is only ever used on the
    /// thread whose runtime registered it, so its readiness never crosses threads.
    pub pools: Vec<Pool>,
}

impl OriginRuntime {
    /// The pool of worker `worker`.
    pub fn pool(&self, worker: usize) -> &Pool {
        &self.pools[worker % self.pools.len()]
    }
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
    /// Builds the runtime state of `config` for `workers` worker threads.
    pub fn new(
        config: EdgeConfig,
        metrics: Arc<Metrics>,
        store: Option<Writer>,
        workers: usize,
    ) -> Result<Shared, crate::config::ConfigError> {
        let workers = workers.max(1);
        config.validate()?;
        let origins = config
            .origins
            .iter()
            .map(|o| {
                Ok(OriginRuntime {
                    connector: Connector::new(o)?,
                    pools: (0..workers)
                        .map(|_| {
                            Pool::new(
                                o.idle_timeout(),
                                config.max_idle_per_origin.div_ceil(workers),
                                config.reuse_check,
                            )
                        })
                        .collect(),
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
        self.origins
            .iter()
            .flat_map(|o| &o.pools)
            .map(Pool::idle_count)
            .sum()
    }
}

/// What the request looked like, for the incident.
#[derive(Debug, Clone)]
struct Draft {
    id: Id,
    /// The worker thread serving the request.
    worker: usize,
    at_ms: i64,
    /// Method, target and host, one after the other (one allocation per request).
    line: String,
    method_end: usize,
    target_end: usize,
    started: Instant,
}

impl Draft {
    fn new(req: &VisitorRequest<'_>) -> Draft {
        let mut line = String::with_capacity(req.method.len() + req.target.len() + req.host.len());
        line.push_str(req.method);
        line.push_str(req.target);
        line.push_str(req.host);
        Draft {
            id: req.id,
            worker: req.worker,
            at_ms: now_ms(),
            line,
            method_end: req.method.len(),
            target_end: req.method.len() + req.target.len(),
            started: req.started,
        }
    }

    fn method(&self) -> &str {
        &self.line[..self.method_end]
    }

    fn target(&self) -> &str {
        &self.line[self.method_end..self.target_end]
    }

    fn host(&self) -> &str {
        &self.line[self.target_end..]
    }
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
    /// The verdict given when the head was judged, if the reader had already read everything
    /// then: the report cannot have changed since.
    final_verdict: Option<Verdict>,
}

impl Afterwards {
    /// The exchange ended; `visitor_got_all` is false when the visitor's response was cut.
    pub(crate) fn done(self, ex: Box<Exchange>, visitor_got_all: bool) {
        let origin = &self.shared.origins[self.origin];
        let report = ex.reader.report();
        let verdict = match self.final_verdict {
            Some(v) => v,
            None => judge(report, &origin.cfg.profile, JudgeContext::default()),
        };
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
            Evidence::of(&ex),
            &verdict,
            self.visitor_status,
            false,
        );
        if reuse {
            let (conn, scratch) = ex.into_parts();
            origin.pool(self.draft.worker).put(Pooled {
                conn,
                scratch: Some(scratch),
                opened: self.facts.opened,
                uses: self.facts.uses + 1,
                idle_since: Instant::now(),
            });
        } else {
            self.shared
                .metrics
                .upstream_event(self.draft.worker, "close");
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
    head.keeps_connection_open()
}

/// The cause id of a broken body, for the error hyper logs.
pub(crate) fn body_cause(report: &Report) -> &'static str {
    report
        .findings
        .iter()
        .find(|f| f.severity == originlens_wire::Severity::Error)
        .map_or(Cause::BodyTruncated, |f| f.cause)
        .as_str()
}

/// What the origin sent, as far as it got: the reader's report and the bytes kept as evidence.
struct Evidence<'a> {
    report: &'a Report,
    capture: &'a [u8],
    received: u64,
    capture_truncated: bool,
}

impl<'a> Evidence<'a> {
    fn of(ex: &'a Exchange) -> Evidence<'a> {
        Evidence {
            report: ex.reader.report(),
            capture: ex.capture(),
            received: ex.received(),
            capture_truncated: ex.capture_truncated(),
        }
    }

    /// No byte came: the connection was never opened.
    fn none(report: &'a Report) -> Evidence<'a> {
        Evidence {
            report,
            capture: &[],
            received: 0,
            capture_truncated: false,
        }
    }
}

/// Counts the response and, when the exchange had a cause, sends the incident to the store.
#[allow(clippy::too_many_arguments)]
fn record(
    shared: &Shared,
    origin: usize,
    draft: &Draft,
    facts: &ConnFacts,
    evidence: Evidence<'_>,
    verdict: &Verdict,
    visitor_status: u16,
    edge_generated: bool,
) {
    let report = evidence.report;
    let cause = verdict.cause;
    let generated_by = if edge_generated {
        GeneratedBy::Edge
    } else {
        GeneratedBy::Origin
    };
    shared.metrics.response(
        draft.worker,
        ResponseLabels {
            status: visitor_status,
            cause: cause.map_or("none", Cause::as_str),
            generated_by: generated_by.as_str(),
        },
    );
    let Some(cause) = cause else {
        return;
    };
    let findings = report
        .findings
        .iter()
        .chain(&verdict.limit_findings)
        .map(FindingRecord::from)
        .collect();
    let mut raw = evidence.capture.to_vec();
    let redacted = shared.config.redact;
    if redacted {
        redact(&mut raw);
    }
    let incident = Incident {
        id: draft.id.to_string(),
        at_ms: draft.at_ms,
        method: draft.method().to_owned(),
        target: draft.target().to_owned(),
        host: draft.host().to_owned(),
        origin: shared.origins[origin].cfg.url.authority(),
        profile: verdict.profile.to_owned(),
        cause,
        finding: verdict.finding.map(|k| k.as_str().to_owned()),
        findings,
        origin_status: report.status(),
        visitor_status,
        generated_by,
        end: report.end,
        connect_ms: facts.connect_ms,
        first_byte_ms: report.gaps.first_byte.map(ms),
        total_ms: ms(draft.started.elapsed()),
        reused: facts.reused,
        conn_uses: facts.uses,
        conn_age_ms: facts.opened.elapsed().as_millis() as u64,
        retried: facts.retried,
        bytes: evidence.received,
        raw,
        raw_truncated: evidence.capture_truncated,
        redacted,
    };
    deliver(shared, incident);
}

/// Logs the incident on stderr and queues it for the store. A closed stderr is no reason to
/// fail a request, so the write is not checked.
fn deliver(shared: &Shared, incident: Incident) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
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

/// A visitor's request, as either protocol hands it over (already checked for smuggling
/// vectors, its body read whole).
pub struct VisitorRequest<'a> {
    /// The ray id, also the incident id if the exchange goes wrong.
    pub id: Id,
    /// The worker thread serving the visitor (its upstream connections are that thread's).
    pub worker: usize,
    /// When the request head was complete.
    pub started: Instant,
    /// The method, as sent.
    pub method: &'a str,
    /// The request target (path and query).
    pub target: &'a str,
    /// The visitor's `Host` (or `:authority`); empty when absent.
    pub host: &'a str,
    /// Every field of the request.
    pub fields: &'a (dyn Fields + Sync),
    /// The visitor's address, for `X-Forwarded-For`.
    pub client_ip: &'a str,
    /// The page format the visitor accepts.
    pub format: Format,
    /// The visitor asked for a protocol upgrade.
    pub upgrade: bool,
    /// The visitor declared a body (`Content-Length` or `Transfer-Encoding`), maybe empty.
    pub body_declared: bool,
}

/// What the visitor gets.
// Moved once per request: boxing the large variant would cost an allocation per response.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Answer {
    /// The edge's own response.
    Page(Page),
    /// The origin's response: its head was judged good; the body is read from the exchange as
    /// it is forwarded.
    Origin(Forward),
}

/// An origin response on its way to the visitor.
#[derive(Debug)]
pub struct Forward {
    /// The exchange, head complete; body data waits in it or is still to be read.
    pub ex: Box<Exchange>,
    /// What to do once the body has been forwarded.
    pub after: Afterwards,
    /// The framing of the origin's body.
    pub framing: Framing,
}

/// The edge's answer to a request refused before it reached an origin: the connection closes
/// afterwards, since the framing of whatever follows on it cannot be trusted.
pub fn refuse(
    shared: &Shared,
    status: u16,
    reason: &'static str,
    host: &str,
    format: Format,
) -> Page {
    shared
        .metrics
        .refused
        .get_or_create(&EventLabels { event: reason })
        .inc();
    let mut page = page::respond(
        &Failure {
            status,
            cause: reason,
            incident: None,
            host,
        },
        format,
    );
    page.close = true;
    page
}

/// Forwards one visitor request to its origin. `scratch` is reused for the upstream head.
pub async fn forward(
    shared: &Arc<Shared>,
    req: &VisitorRequest<'_>,
    body: &[u8],
    scratch: &mut Vec<u8>,
) -> Answer {
    let host = req.host;
    let Some(oi) = shared.config.route(Some(host).filter(|h| !h.is_empty())) else {
        return Answer::Page(refuse(shared, 421, "no-origin", host, req.format));
    };
    let origin = &shared.origins[oi];
    let upstream_host: std::borrow::Cow<'_, str> = match &origin.cfg.host_header {
        Some(h) => h.as_str().into(),
        None if host.is_empty() => origin.cfg.url.authority().into(),
        None => host.into(),
    };
    request::upstream_head(
        req.method,
        req.target,
        req.fields,
        &Forwarding {
            host: &upstream_host,
            client_ip: req.client_ip,
            proto: "http",
            upgrade: req.upgrade,
        },
        (req.body_declared || !body.is_empty()).then_some(body.len()),
        scratch,
    );
    let draft = Draft::new(req);
    let opts = ReaderOptions {
        request: RequestInfo {
            head: req.method == "HEAD",
            upgrade: req.upgrade,
            ..RequestInfo::default()
        },
        ..ReaderOptions::default()
    };
    exchange(shared, oi, draft, scratch, body, opts, req.format).await
}

#[allow(clippy::too_many_arguments)]
async fn exchange(
    shared: &Arc<Shared>,
    oi: usize,
    draft: Draft,
    head: &[u8],
    body: &[u8],
    opts: ReaderOptions,
    format: Format,
) -> Answer {
    let origin = &shared.origins[oi];
    let profile = &origin.cfg.profile;
    let metrics = &shared.metrics;
    let worker = draft.worker;
    let mut retried = false;
    // Connections are opened, pooled and taken per TLS server name.
    let server_name = origin.connector.server_name(draft.host());
    let (mut ex, facts) = loop {
        // The retry opens a fresh connection: another pooled one could be stale as well, and
        // a second failure there would be blamed on the race again instead of the origin.
        let pool = (!retried).then(|| origin.pool(worker));
        let pooled = pool.and_then(|pool| {
            pool.take(server_name.as_ref(), &mut |d| {
                metrics.upstream_event(
                    worker,
                    match d {
                        crate::pool::Discard::Expired => "discard-expired",
                        crate::pool::Discard::Closed => "discard-closed",
                        crate::pool::Discard::StrayBytes => "discard-stray-bytes",
                    },
                )
            })
        });
        let (conn, scratch, facts) = match pooled {
            Some(p) => {
                metrics.upstream_event(worker, "reuse");
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
                metrics.upstream_event(worker, "connect");
                match origin.connector.connect(server_name.as_ref()).await {
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
        // Boxed: it is handed on several times and is large (the reader and its report).
        let mut ex = Box::new(Exchange::new(
            conn,
            scratch,
            ReaderOptions {
                reused_connection: facts.reused,
                ..opts
            },
            Instant::now(),
            profile.limits.read_timeout,
            CAPTURE_LIMIT,
        ));
        // A failed write: whatever the origin sent before it is still read below.
        ex.send(head, body, WRITE_TIMEOUT).await;
        while !ex.reader.report().head_complete && !ex.reader.is_done() {
            ex.step().await;
        }
        let failed_before_any_byte =
            ex.received() == 0 && matches!(ex.reader.report().end, Some(End::Eof | End::Reset));
        if facts.reused && failed_before_any_byte && shared.config.retry && !retried {
            // Pingora's rule: a reused connection that failed before any byte is retried once.
            metrics.upstream_event(worker, "retry");
            retried = true;
            continue;
        }
        break (ex, facts);
    };
    // Under TLS 1.3 an origin that refuses the edge's client certificate (or its absence)
    // says so on the first read: the handshake failed, a 525, not an empty reply.
    if let Some(f) = ex.late_handshake_failure().cloned() {
        let failure = crate::connect::ConnectFailure {
            kind: f.reason.kind(),
            message: f.message,
            remote: None,
            timings: Default::default(),
            handshake: None,
        };
        return connect_failed(shared, oi, &draft, failure, retried, format);
    }

    // A coded body is read whole (up to a limit) so that a broken coding can still be a 502.
    if ex.reader.report().head_complete && !ex.reader.is_done() && is_coded(ex.reader.report()) {
        while !ex.reader.is_done() && ex.pending().len() <= CODED_BUFFER_LIMIT {
            ex.step().await;
        }
    }

    let report = ex.reader.report();
    let verdict = judge(report, profile, JudgeContext::default());
    let framing = report.framing.unwrap_or(Framing::CloseDelimited);
    let expressible = report
        .head
        .as_ref()
        .and_then(|h| h.code)
        .is_some_and(|c| (100..=999).contains(&c));
    if !report.head_complete || verdict.is_edge_error() || !expressible {
        let status = verdict
            .status
            .filter(|_| verdict.is_edge_error())
            .unwrap_or(profile.error_status);
        let cause = verdict.cause.unwrap_or(Cause::StartLineInvalid);
        record(
            shared,
            oi,
            &draft,
            &facts,
            Evidence::of(&ex),
            &verdict,
            status,
            true,
        );
        return edge_answer(shared, &draft, status, cause, format);
    }
    let visitor_status = report.status().unwrap_or(0);
    let final_verdict = ex.reader.is_done().then_some(verdict);
    Answer::Origin(Forward {
        ex,
        after: Afterwards {
            shared: shared.clone(),
            origin: oi,
            draft,
            facts,
            visitor_status,
            final_verdict,
        },
        framing,
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
) -> Answer {
    let profile = &shared.origins[oi].cfg.profile;
    let mut report = Report::default();
    report
        .findings
        .push(Finding::at(failure.kind, 0, failure.message));
    let mut verdict = judge(&report, profile, JudgeContext::default());
    let status = verdict.status.unwrap_or(profile.error_status);
    // A connection that could not be opened always has its cause, whatever the profile says.
    let cause = *verdict.cause.get_or_insert(failure.kind.cause());
    let facts = ConnFacts {
        opened: Instant::now(),
        uses: 0,
        reused: false,
        retried,
        connect_ms: Some(ms(draft.started.elapsed())),
    };
    record(
        shared,
        oi,
        draft,
        &facts,
        Evidence::none(&report),
        &verdict,
        status,
        true,
    );
    edge_answer(shared, draft, status, cause, format)
}

/// The edge's own answer to a recorded exchange: its page, naming the incident when a store
/// keeps it.
fn edge_answer(
    shared: &Shared,
    draft: &Draft,
    status: u16,
    cause: Cause,
    format: Format,
) -> Answer {
    Answer::Page(page::respond(
        &Failure {
            status,
            cause: cause.as_str(),
            incident: shared.store.as_ref().map(|_| draft.id),
            host: draft.host(),
        },
        format,
    ))
}
