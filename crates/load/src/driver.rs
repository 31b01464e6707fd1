//! One task per connection slot: take a ticket, (re)use or open a connection, send, read, judge
//! with the profile exactly as the probe does, and record the sample.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use originlens_wire::{judge, End, Finding, JudgeContext, ReaderOptions, Report, Verdict};

use crate::h2::{self, H2Conn};
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
    /// With `--http2`: one connection per `-c`, shared by the slots of its streams.
    pub h2: Vec<tokio::sync::Mutex<Option<Arc<H2Conn>>>>,
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
    // One timer for the whole run of the slot, not one per request.
    let stop = tokio::time::sleep_until(deadline.into());
    tokio::pin!(stop);
    let start = shared.schedule.connection_start(slot, slots);
    tokio::select! {
        biased;
        () = &mut stop => return,
        () = tokio::time::sleep_until(start.into()) => {}
    }
    let mut pooled: Option<Pooled> = None;
    let mut capture = Vec::with_capacity(EVIDENCE_BYTES);
    loop {
        if let (Some(idle), Some(p)) = (opts.idle, &pooled) {
            if p.uses % opts.idle_every == 0 {
                tokio::select! {
                    biased;
                    () = &mut stop => return,
                    () = tokio::time::sleep_until((p.last_done + idle).into()) => {}
                }
            }
        }
        let Some(ticket) = shared.schedule.take() else {
            return;
        };
        if let Some(at) = ticket.intended {
            tokio::time::sleep_until(at.into()).await;
        }
        let finished = if opts.http2 {
            let group = slot % shared.h2.len().max(1);
            let one = h2_exchange(&shared, group, ticket, &mut capture);
            tokio::select! {
                biased;
                () = one => true,
                () = &mut stop => false,
            }
        } else {
            let one = exchange(&shared, ticket, &mut pooled, &mut capture);
            tokio::select! {
                biased;
                () = one => true,
                () = &mut stop => false,
            }
        };
        if !finished {
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

/// The connection of `group`, opened (or opened again) when it has none that can take a
/// stream; the bool says it was opened now.
async fn h2_conn(shared: &Shared, group: usize) -> Result<(Arc<H2Conn>, bool), Finding> {
    let mut held = shared.h2[group].lock().await;
    if let Some(c) = held.as_ref().filter(|c| !c.is_closed()) {
        return Ok((c.clone(), false));
    }
    *held = None;
    let conn = Arc::new(shared.dialer.dial_h2(shared.opts.read_timeout).await?);
    lock(&shared.stats).connections_opened += 1;
    *held = Some(conn.clone());
    Ok((conn, true))
}

/// Forgets `conn` as the connection of `group` (it broke).
async fn h2_drop(shared: &Shared, group: usize, conn: &Arc<H2Conn>) {
    let mut held = shared.h2[group].lock().await;
    if held.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
        *held = None;
    }
}

async fn h2_exchange(shared: &Shared, group: usize, ticket: Ticket, capture: &mut Vec<u8>) {
    let opts = &shared.opts;
    let route_i = (ticket.index % opts.routes.len() as u64) as usize;
    let route = &opts.routes[route_i];
    let Some(request) = route.h2.as_ref() else {
        return;
    };
    let begun = Instant::now();
    let reader_opts = ReaderOptions {
        request: route.info,
        ..ReaderOptions::default()
    };
    // A pooled connection the origin has just closed (GOAWAY, FIN) takes no stream: like the
    // edge, open another and send there; only a request that went out is counted.
    let mut tries = 0;
    let (conn, fresh, ex) = loop {
        tries += 1;
        capture.clear();
        let (conn, fresh) = match h2_conn(shared, group).await {
            Ok(c) => c,
            Err(finding) => {
                let report = failed_connect(finding);
                let verdict = judge(&report, opts.profile, JudgeContext::default());
                let at = Timing {
                    from: begun,
                    done: Instant::now(),
                };
                record(shared, ticket, route_i, at, &report, &verdict, 0, None, b"");
                return;
            }
        };
        let ex = h2::exchange(
            &conn,
            request,
            reader_opts,
            opts.read_timeout,
            capture,
            EVIDENCE_BYTES,
        )
        .await;
        if ex.connection_failed {
            h2_drop(shared, group, &conn).await;
        }
        if ex.not_sent && !fresh && tries < 2 {
            continue;
        }
        break (conn, fresh, ex);
    };
    drop(conn);
    let done = Instant::now();
    let report = ex.report;
    let ctx = JudgeContext {
        waited: (report.end == Some(End::Timeout)).then_some(opts.read_timeout),
    };
    let verdict = judge(&report, opts.profile, ctx);
    // Latency counts from the connect for a new connection, from the send on an open one.
    let from = if fresh { begun } else { ex.sent };
    let at = Timing { from, done };
    record(
        shared, ticket, route_i, at, &report, &verdict, ex.earlier, ex.idle, capture,
    );
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
    let message = verdict.deciding.as_ref().map(|f| &*f.message);
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
