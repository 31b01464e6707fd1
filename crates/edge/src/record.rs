//! What a forwarded or refused exchange leaves behind: the request's draft, the connection's
//! facts, the evidence, the metrics it counts and, when it went wrong, the incident it stores;
//! and what happens once a forwarded body has ended (pool, count, record).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use originlens_net::Exchange;
use originlens_wire::{judge, Cause, End, Framing, GeneratedBy, JudgeContext, Report, Verdict};

use crate::incident::{redact, FindingRecord, Id, Incident};
use crate::metrics::ResponseLabels;
use crate::pool::Pooled;
use crate::shared::Shared;

/// What the request looked like, for the incident.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub(crate) id: Id,
    /// The worker thread serving the request.
    pub(crate) worker: usize,
    at_ms: i64,
    /// Method, target and host, one after the other (one allocation per request).
    line: String,
    method_end: usize,
    target_end: usize,
    pub(crate) started: Instant,
}

impl Draft {
    /// `[method, target, host]` as the visitor sent them.
    pub(crate) fn new(id: Id, worker: usize, started: Instant, request: [&str; 3]) -> Draft {
        let [method, target, host] = request;
        let mut line = String::with_capacity(method.len() + target.len() + host.len());
        line.push_str(method);
        line.push_str(target);
        line.push_str(host);
        Draft {
            id,
            worker,
            at_ms: now_ms(),
            line,
            method_end: method.len(),
            target_end: method.len() + target.len(),
            started,
        }
    }

    pub(crate) fn method(&self) -> &str {
        &self.line[..self.method_end]
    }

    pub(crate) fn target(&self) -> &str {
        &self.line[self.method_end..self.target_end]
    }

    pub(crate) fn host(&self) -> &str {
        &self.line[self.target_end..]
    }
}

/// Connection facts for the incident and the pool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnFacts {
    pub(crate) opened: Instant,
    pub(crate) uses: u32,
    pub(crate) reused: bool,
    pub(crate) retried: bool,
    pub(crate) connect_ms: Option<f64>,
}

/// What to do once a forwarded response has ended: pool the connection, count, record.
#[derive(Debug)]
pub struct Afterwards {
    pub(crate) shared: Arc<Shared>,
    pub(crate) origin: usize,
    pub(crate) draft: Draft,
    pub(crate) facts: ConnFacts,
    pub(crate) visitor_status: u16,
    /// The verdict given when the head was judged, if the reader had already read everything
    /// then: the report cannot have changed since.
    pub(crate) final_verdict: Option<Verdict>,
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
        Exchanged {
            shared: &self.shared,
            origin: self.origin,
            draft: &self.draft,
            facts: &self.facts,
        }
        .record(
            Evidence::of(&ex),
            &verdict,
            self.visitor_status,
            GeneratedBy::Origin,
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
pub(crate) struct Evidence<'a> {
    report: &'a Report,
    capture: &'a [u8],
    received: u64,
    capture_truncated: bool,
}

impl<'a> Evidence<'a> {
    pub(crate) fn of(ex: &'a Exchange) -> Evidence<'a> {
        Evidence {
            report: ex.reader.report(),
            capture: ex.capture(),
            received: ex.received(),
            capture_truncated: ex.capture_truncated(),
        }
    }

    /// No byte came: the connection was never opened.
    pub(crate) fn none(report: &'a Report) -> Evidence<'a> {
        Evidence {
            report,
            capture: &[],
            received: 0,
            capture_truncated: false,
        }
    }
}

/// Where an exchange went and over what connection: what every record of it shares.
pub(crate) struct Exchanged<'a> {
    pub(crate) shared: &'a Shared,
    /// The origin's index in [`Shared::origins`].
    pub(crate) origin: usize,
    pub(crate) draft: &'a Draft,
    pub(crate) facts: &'a ConnFacts,
}

impl Exchanged<'_> {
    /// Counts the response and, when the exchange had a cause, sends the incident to the store.
    pub(crate) fn record(
        &self,
        evidence: Evidence<'_>,
        verdict: &Verdict,
        visitor_status: u16,
        generated_by: GeneratedBy,
    ) {
        let Exchanged {
            shared,
            origin,
            draft,
            facts,
        } = *self;
        let report = evidence.report;
        let cause = verdict.cause;
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

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use originlens_wire::ReaderOptions;

    fn read(bytes: &[u8], end: End) -> Report {
        originlens_wire::read_all(bytes, end, ReaderOptions::default())
    }

    #[test]
    fn a_connection_is_pooled_only_after_a_framed_keep_alive_response() {
        let table: &[(&[u8], bool)] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                true,
            ),
            (b"HTTP/1.1 204 No Content\r\n\r\n", true),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                false,
            ),
            // HTTP/1.0 closes unless it says keep-alive.
            (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false),
            // Bytes beyond the body would be read as the next response.
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokXX", false),
            // Framed by the close: nothing can follow.
            (b"HTTP/1.1 200 OK\r\n\r\nok", false),
            (b"", false),
        ];
        for (bytes, want) in table {
            let end = if *want { End::Complete } else { End::Eof };
            assert_eq!(
                reusable(&read(bytes, end)),
                *want,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn a_broken_body_is_named_by_its_first_error() {
        let cut = read(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nok", End::Eof);
        assert_eq!(body_cause(&cut), "body.truncated");
        let chunks = read(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            End::Eof,
        );
        assert_eq!(body_cause(&chunks), "chunked.invalid");
        // No error finding at all still names a cut body.
        let clean = read(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            End::Complete,
        );
        assert_eq!(body_cause(&clean), "body.truncated");
    }
}
