//! A short burst to catch the intermittent failure: concurrent probe exchanges behind this one
//! function, each response judged like the direct ones. It does not drive `originlens_load` yet
//! (that engine reuses connections like the edge, but reports failures without the start time
//! the timeline joins on); until it does, the burst opens a connection per request.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use originlens_probe::ProbeOptions;
use originlens_wire::Cause;

use crate::adapters;
use crate::document::BurstRecord;
use crate::options::{Burst, Options};

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
pub fn limit(opts: &Options, burst: Burst) -> std::time::Duration {
    let rounds = burst.requests.div_ceil(burst.concurrency.max(1)).min(10);
    (opts.connect_timeout + opts.read_timeout) * rounds + std::time::Duration::from_secs(2)
}

/// Sends `burst.requests` GETs, `burst.concurrency` at a time.
pub async fn run(opts: &Options, burst: Burst) -> (BurstRecord, Vec<BurstFailure>) {
    let probe = Arc::new(ProbeOptions {
        target: opts.target.clone(),
        method: "GET".into(),
        headers: opts.headers.clone(),
        body: Vec::new(),
        connect_timeout: opts.connect_timeout,
        read_timeout: opts.read_timeout,
    });
    let tls = Arc::new(opts.tls.clone());
    let gate = Arc::new(tokio::sync::Semaphore::new(burst.concurrency as usize));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..burst.requests {
        let (probe, tls, gate, profile) = (probe.clone(), tls.clone(), gate.clone(), opts.profile);
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.ok()?;
            let started = Timestamp::now();
            let (_, v) = adapters::exchange(&probe, &tls, profile).await.ok()?;
            Some((started, v))
        });
    }
    let mut record = BurstRecord {
        requests: burst.requests,
        concurrency: burst.concurrency,
        failed: 0,
        by_cause: BTreeMap::new(),
        statuses: BTreeMap::new(),
        engine: "concurrent probe exchanges, one connection each (not the load engine)".into(),
    };
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let Ok(Some((started, v))) = done else {
            continue;
        };
        let status = v.status.map_or("none".to_owned(), |s| s.to_string());
        *record.statuses.entry(status).or_default() += 1;
        let failed = !v.delivered();
        if let (true, Some(cause)) = (failed, v.cause) {
            record.failed += 1;
            *record
                .by_cause
                .entry(cause.as_str().to_owned())
                .or_default() += 1;
            failures.push(BurstFailure {
                started,
                cause,
                status: v.status,
            });
        }
    }
    failures.sort_by_key(|f| f.started);
    (record, failures)
}
