//! A short burst to catch the intermittent failure, driven by the `load` engine: `C` keep-alive
//! connections reused like the edge's pool until `N` responses are judged, each with the
//! profile's verdict. Failures come back by cause, with how many were on reused connections (a
//! keep-alive race shows there) and the first few with their time for the timeline.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use originlens_load::{LoadOptions, LoadReport, Model, RequestSpec, Route};
use originlens_wire::Cause;

use crate::document::BurstRecord;
use crate::options::{Burst, Options};

/// Failures kept with their time, per cause.
const TIMED_PER_CAUSE: usize = 5;

/// One failed request of the burst.
pub struct BurstFailure {
    /// When it started.
    pub started: Timestamp,
    /// The cause.
    pub cause: Cause,
    /// The visitor's status.
    pub status: Option<u16>,
}

/// The step's time limit: rounds of at most one full exchange each, capped.
pub fn limit(opts: &Options, burst: Burst) -> Duration {
    let rounds = burst.requests.div_ceil(burst.concurrency.max(1)).min(10);
    (opts.connect_timeout + opts.read_timeout) * rounds + Duration::from_secs(2)
}

/// The load run the burst is: GETs of the URL, closed model, keep-alive as the edge's pool.
fn load_options(opts: &Options, burst: Burst) -> Result<LoadOptions, String> {
    let spec = RequestSpec {
        method: "GET".into(),
        headers: opts.headers.clone(),
        body: None,
    };
    let route = Route::build(&opts.target, &spec, true, false).map_err(|e| e.to_string())?;
    let mut tls = opts.tls.policy(true);
    // The engine speaks HTTP/1.1; the edge's certificate verdict is the exchanges' to give.
    tls.alpn = vec![b"http/1.1".to_vec()];
    Ok(LoadOptions {
        target: opts.target.clone(),
        routes: vec![route],
        model: Model::Closed,
        connections: burst.concurrency as usize,
        http2: false,
        streams: 1,
        requests: Some(u64::from(burst.requests)),
        // A little under the step's limit, so the engine stops by itself and reports.
        duration: Some(limit(opts, burst).saturating_sub(Duration::from_secs(1))),
        ramp: Duration::ZERO,
        keepalive: true,
        idle: None,
        idle_every: 1,
        profile: opts.profile,
        connect_timeout: opts.connect_timeout,
        read_timeout: opts.read_timeout,
        tls,
        evidence_per_cause: TIMED_PER_CAUSE,
    })
}

/// Sends `burst.requests` GETs over `burst.concurrency` connections.
pub async fn run(opts: &Options, burst: Burst) -> Result<(BurstRecord, Vec<BurstFailure>), String> {
    let load = load_options(opts, burst)?;
    let started = Timestamp::now();
    let report = originlens_load::run(load, None)
        .await
        .map_err(|e| e.to_string())?;
    Ok((record(&report, burst), timed_failures(&report, started)))
}

fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn record(report: &LoadReport, burst: Burst) -> BurstRecord {
    BurstRecord {
        requests: count(report.requests),
        concurrency: burst.concurrency,
        failed: count(report.failed),
        on_reused: count(report.failures.iter().map(|g| g.on_reused).sum()),
        by_cause: report
            .failures_by_cause
            .iter()
            .map(|(c, n)| (c.as_str().to_owned(), count(*n)))
            .collect(),
        statuses: report
            .status_counts
            .iter()
            .map(|(s, n)| (s.clone(), count(*n)))
            .collect(),
        engine: format!(
            "the load engine: {} keep-alive connections reused as the edge's pool, {} opened",
            burst.concurrency, report.connections_opened
        ),
    }
}

/// The failures the engine kept as evidence, placed in wall-clock time.
fn timed_failures(report: &LoadReport, started: Timestamp) -> Vec<BurstFailure> {
    let mut out: Vec<BurstFailure> = report
        .evidence
        .iter()
        .map(|e| BurstFailure {
            started: started
                .checked_add(SignedDuration::from_secs_f64(e.at_s.max(0.0)))
                .unwrap_or(started),
            cause: e.cause,
            status: e.status,
        })
        .collect();
    out.sort_by_key(|f| f.started);
    out
}
