//! One visitor request, from either protocol of [`crate::visitor`]: pick the origin, take or
//! open a connection, write the request, read the head through the wire reader, then either
//! answer the edge's error or hand the origin's response back for forwarding, and record the
//! exchange when it was bad.

use std::sync::Arc;
use std::time::{Duration, Instant};

use originlens_net::Exchange;
use originlens_wire::encoding::Coding;
use originlens_wire::{
    judge, Cause, End, Finding, Framing, GeneratedBy, JudgeContext, Profile, ReaderOptions, Report,
    RequestInfo, Verdict,
};

use crate::incident::Id;
use crate::metrics::EventLabels;
use crate::page::{self, Failure, Format, Page};
use crate::record::{ms, Afterwards, ConnFacts, Draft, Evidence, Exchanged};
use crate::request::{self, Fields, Forwarding};
use crate::shared::Shared;

/// Proxy write timeout (Cloudflare: 30 s, then 524).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of the origin's stream kept as evidence.
const CAPTURE_LIMIT: usize = 256 * 1024;
/// A content-coded body up to this size is read whole before the head is sent, so that a body
/// that does not fit its coding becomes the edge's 502, as Cloudflare documents.
const CODED_BUFFER_LIMIT: usize = 1024 * 1024;

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
    let draft = Draft::new(
        req.id,
        req.worker,
        req.started,
        [req.method, req.target, req.host],
    );
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
    if let Some((status, cause)) = edge_error(report, &verdict, profile) {
        Exchanged {
            shared,
            origin: oi,
            draft: &draft,
            facts: &facts,
        }
        .record(Evidence::of(&ex), &verdict, status, GeneratedBy::Edge);
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

/// The status and cause of the edge's own answer, or `None` when the origin's head goes to the
/// visitor. Besides the verdict's edge errors, this edge answers itself for what it cannot
/// relay: a head that never completed, or one without a status code it can send (nginx relays
/// such bytes raw, as HTTP/0.9; a proxy on hyper cannot), with the profile's error status.
fn edge_error(report: &Report, verdict: &Verdict, profile: &Profile) -> Option<(u16, Cause)> {
    let expressible = report
        .head
        .as_ref()
        .and_then(|h| h.code)
        .is_some_and(|c| (100..=999).contains(&c));
    if report.head_complete && !verdict.is_edge_error() && expressible {
        return None;
    }
    let status = verdict
        .status
        .filter(|_| verdict.is_edge_error())
        .unwrap_or(profile.error_status);
    Some((status, verdict.cause.unwrap_or(Cause::StartLineInvalid)))
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
    Exchanged {
        shared,
        origin: oi,
        draft,
        facts: &facts,
    }
    .record(Evidence::none(&report), &verdict, status, GeneratedBy::Edge);
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

#[cfg(test)]
mod tests {
    use super::*;
    use originlens_wire::profile::{CLOUDFLARE, NGINX};

    fn read(bytes: &[u8], end: End) -> Report {
        originlens_wire::read_all(bytes, end, ReaderOptions::default())
    }

    #[test]
    fn the_edge_answers_itself_only_for_what_it_cannot_relay() {
        // (origin bytes, how the connection ended, profile, the edge's own answer)
        type Case = (&'static [u8], End, &'static Profile, Option<(u16, Cause)>);
        let table: &[Case] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                End::Complete,
                &CLOUDFLARE,
                None,
            ),
            // The origin's own 5xx goes through.
            (
                b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n",
                End::Complete,
                &CLOUDFLARE,
                None,
            ),
            (
                b"",
                End::Eof,
                &CLOUDFLARE,
                Some((520, Cause::ResponseEmpty)),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Le",
                End::Eof,
                &CLOUDFLARE,
                Some((520, Cause::HeadTruncated)),
            ),
            (
                b"",
                End::Timeout,
                &CLOUDFLARE,
                Some((524, Cause::ResponseTimeout)),
            ),
            // nginx relays a head without a status line as HTTP/0.9; this edge cannot, so it
            // answers the profile's error status with the verdict's cause.
            (
                b"hello\r\n\r\n",
                End::Eof,
                &NGINX,
                Some((502, Cause::StartLineInvalid)),
            ),
        ];
        for (bytes, end, profile, want) in table {
            let report = read(bytes, *end);
            let verdict = judge(&report, profile, JudgeContext::default());
            assert_eq!(
                edge_error(&report, &verdict, profile),
                *want,
                "{} {:?}",
                profile.name,
                String::from_utf8_lossy(bytes)
            );
        }
    }
}
