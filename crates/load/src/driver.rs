//! One task per connection slot: take a ticket, (re)use or open a connection, send, read, judge
//! with the profile exactly as the probe does, and record the sample.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use originlens_wire::{judge, End, Finding, JudgeContext, ReaderOptions, Report, Verdict};

use crate::options::{LoadOptions, EVIDENCE_BYTES};
use crate::schedule::{Schedule, Ticket};
use crate::socket::{Conn, Dialer};
use crate::stats::{Aggregate, Sample};

/// What every slot shares.
pub(crate) struct Shared {
    pub opts: LoadOptions,
    pub schedule: Schedule,
    pub dialer: Dialer,
    pub stats: Mutex<Aggregate>,
}

/// A connection with its history.
struct Pooled {
    conn: Conn,
    /// Exchanges it carried.
    uses: u32,
    /// When its last exchange ended.
    last_done: Instant,
}

/// The loop of slot `slot` of `slots`.
pub(crate) async fn slot(shared: Arc<Shared>, slot: usize, slots: usize) {
    let deadline = shared.schedule.deadline();
    let opts = &shared.opts;
    let start = shared.schedule.connection_start(slot, slots);
    if tokio::time::timeout_at(deadline.into(), tokio::time::sleep_until(start.into()))
        .await
        .is_err()
    {
        return;
    }
    let mut pooled: Option<Pooled> = None;
    let mut capture = Vec::with_capacity(EVIDENCE_BYTES);
    loop {
        if let (Some(idle), Some(p)) = (opts.idle, &pooled) {
            if p.uses % opts.idle_every == 0 {
                let wake = (p.last_done + idle).into();
                let pause = tokio::time::sleep_until(wake);
                if tokio::time::timeout_at(deadline.into(), pause)
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        let Some(ticket) = shared.schedule.take() else {
            return;
        };
        if let Some(at) = ticket.intended {
            tokio::time::sleep_until(at.into()).await;
        }
        let one = exchange(&shared, ticket, &mut pooled, &mut capture);
        if tokio::time::timeout_at(deadline.into(), one).await.is_err() {
            // The run ended with this request in flight: not the origin's failure.
            lock(&shared.stats).aborted += 1;
            return;
        }
    }
}

fn lock(m: &Mutex<Aggregate>) -> std::sync::MutexGuard<'_, Aggregate> {
    // A panic elsewhere cannot leave the counters half-written in a way that matters here.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn exchange(
    shared: &Shared,
    ticket: Ticket,
    pooled: &mut Option<Pooled>,
    capture: &mut Vec<u8>,
) {
    let opts = &shared.opts;
    let route_i = (ticket.index % opts.routes.len() as u64) as usize;
    let route = &opts.routes[route_i];
    let begun = Instant::now();
    capture.clear();
    let (conn, earlier, last_done) = match pooled.take() {
        Some(p) => (p.conn, p.uses, p.last_done),
        None => match shared.dialer.dial(opts.read_timeout).await {
            Ok(conn) => {
                lock(&shared.stats).connections_opened += 1;
                (conn, 0, begun)
            }
            Err(finding) => {
                let report = failed_connect(finding);
                let verdict = judge(&report, opts.profile, JudgeContext::default());
                let done = Instant::now();
                let at = Timing { from: begun, done };
                record(shared, ticket, route_i, at, &report, &verdict, 0, None, b"");
                return;
            }
        },
    };
    let idle = (earlier > 0).then(|| begun.saturating_duration_since(last_done));
    let reader_opts = ReaderOptions {
        request: route.info,
        reused_connection: earlier > 0,
        ..ReaderOptions::default()
    };
    let ex = conn
        .exchange(
            &route.request,
            reader_opts,
            opts.read_timeout,
            capture,
            EVIDENCE_BYTES,
        )
        .await;
    let done = Instant::now();
    let report = ex.reader.into_report();
    let ctx = JudgeContext {
        waited: (report.end == Some(End::Timeout)).then_some(opts.read_timeout),
    };
    let verdict = judge(&report, opts.profile, ctx);
    let reusable = opts.keepalive
        && verdict.cause.is_none()
        && report.end == Some(End::Complete)
        && report
            .head
            .as_ref()
            .is_some_and(|h| h.keeps_connection_open());
    // Latency counts from the connect for a new connection, from the write for a reused one.
    let from = if earlier == 0 { begun } else { ex.sent };
    let at = Timing { from, done };
    record(
        shared, ticket, route_i, at, &report, &verdict, earlier, idle, capture,
    );
    if reusable {
        *pooled = Some(Pooled {
            conn: ex.conn,
            uses: earlier + 1,
            last_done: done,
        });
    }
}

/// When an exchange began (for its latency) and ended.
struct Timing {
    from: Instant,
    done: Instant,
}

/// A report holding only the connection failure, judged like the probe judges one.
fn failed_connect(finding: Finding) -> Report {
    Report {
        findings: vec![finding],
        ..Report::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    shared: &Shared,
    ticket: Ticket,
    route: usize,
    at: Timing,
    report: &Report,
    verdict: &Verdict,
    earlier: u32,
    idle: Option<Duration>,
    response: &[u8],
) {
    let message = verdict.finding.and_then(|kind| {
        report
            .findings
            .iter()
            .chain(&verdict.limit_findings)
            .find(|f| f.id == kind)
            .map(|f| f.message.as_str())
    });
    let sample = Sample {
        route,
        done: at.done,
        latency: at.done.saturating_duration_since(at.from),
        corrected: ticket
            .intended
            .map(|due| at.done.saturating_duration_since(due)),
        status: verdict.status,
        cause: verdict.cause,
        finding: verdict.finding,
        message,
        earlier,
        idle,
        end: report.end,
        request: &shared.opts.routes[route].request,
        response,
        response_bytes: report.bytes,
    };
    lock(&shared.stats).record(&sample);
}
