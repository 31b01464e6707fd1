//! Load that explains itself: drive an origin like the edge does (a pool of keep-alive
//! connections, or a fixed request rate), read every response with `originlens-wire`, judge it
//! with the chosen profile exactly as the probe does, and report each failure by cause, visitor
//! status, connection reuse, idle age and route, with the first raw exchanges as evidence.
//!
//! Start reading at [`run`]; the options are in [`options`], the document in [`report`].
//!
//! - `schedule.rs`: the tickets (`-n`) and the open model's intended send times (with `--ramp`).
//! - `driver.rs`: one task per connection slot; `socket.rs`: connect and the read loop.
//! - `h2.rs`: `--http2`, several streams on each connection, each response judged as HTTP/1.
//! - `stats.rs`: histograms (HdrHistogram), counters, the per-second series, evidence.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod driver;
mod h2;
pub mod options;
pub mod report;
mod schedule;
mod socket;
mod stats;

pub use h2::H2Request;
pub use options::{LoadOptions, Model, OptionsError, RequestSpec, Route};
pub use report::{Comparison, LoadReport, Percentiles, SCHEMA};
pub use socket::SetupError;

use originlens_wire::Cause;

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Bad options.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// A local set-up problem.
    #[error(transparent)]
    Setup(#[from] SetupError),
}

/// How the run is going, for a progress line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Time since the start.
    pub elapsed: Duration,
    /// The run's time limit.
    pub limit: Duration,
    /// Responses judged.
    pub requests: u64,
    /// Of which failed.
    pub failed: u64,
    /// Failures by cause, most first.
    pub by_cause: Vec<(Cause, u64)>,
    /// p99 so far, ms.
    pub p99_ms: f64,
}

/// How often the progress callback is called.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Runs the load described by `opts` to its end (`-n` requests or the time limit, whichever
/// comes first), calling `progress` every [`PROGRESS_EVERY`].
pub async fn run(
    opts: LoadOptions,
    mut progress: Option<&mut (dyn FnMut(&Snapshot) + Send)>,
) -> Result<LoadReport, LoadError> {
    let limit = opts.validate()?;
    let t = &opts.target;
    let sni = t.tls.then_some(t.host.as_str());
    let mut tls = opts.tls.clone();
    if opts.http2 {
        // As the edge offers it: the origin may pick either, and must pick h2 here.
        tls.alpn = originlens_net::alpn_h2_and_http11();
    }
    let dialer = socket::Dialer::new(
        &t.connect_host,
        t.connect_port,
        sni,
        &tls,
        opts.connect_timeout,
    )
    .await?;
    if opts.http2 {
        dialer.check_h2().await?;
    }
    let start = Instant::now();
    let deadline = start + limit;
    let names: Vec<String> = opts.routes.iter().map(|r| r.name.clone()).collect();
    let run = report::RunInfo {
        url: format!(
            "{}://{}{}",
            if t.tls { "https" } else { "http" },
            t.host_header(),
            t.path
        ),
        connect: dialer.addr().to_string(),
        profile: opts.profile.name.into(),
        model: match opts.model {
            Model::Closed => "closed".into(),
            Model::Open { .. } => "open".into(),
        },
        connections: opts.connections,
        protocol: if opts.http2 { "h2" } else { "http/1.1" }.into(),
        streams: if opts.http2 { opts.streams } else { 1 },
        target_rate: match opts.model {
            Model::Closed => None,
            Model::Open { rate } => Some(rate),
        },
        keepalive: opts.keepalive,
        idle_s: opts.idle.map(|d| d.as_secs_f64()),
        ramp_s: opts.ramp.as_secs_f64(),
        read_timeout_s: opts.read_timeout.as_secs_f64(),
    };
    let open = matches!(opts.model, Model::Open { .. });
    let stats = stats::Aggregate::new(start, open, names.clone(), opts.evidence_per_cause);
    let h2_pool = if opts.http2 { opts.connections } else { 0 };
    let shared = Arc::new(driver::Shared {
        schedule: schedule::Schedule::new(start, deadline, opts.model, opts.ramp, opts.requests),
        dialer,
        stats: Mutex::new(stats),
        h2: (0..h2_pool).map(|_| Default::default()).collect(),
        opts,
    });
    let slots = shared.opts.slots();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..slots {
        tasks.spawn(driver::slot(shared.clone(), i, slots));
    }
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            joined = tasks.join_next() => if joined.is_none() { break },
            _ = tick.tick() => if let Some(cb) = progress.as_mut() {
                cb(&snapshot(&shared, start, limit));
            },
        }
    }
    let elapsed = start.elapsed();
    let shared = Arc::into_inner(shared).expect("every slot has ended");
    let agg = shared.stats.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(LoadReport::from_aggregate(agg, run, &names, elapsed))
}

fn snapshot(shared: &driver::Shared, start: Instant, limit: Duration) -> Snapshot {
    let a = shared.stats.lock().unwrap_or_else(|e| e.into_inner());
    let mut by_cause: std::collections::BTreeMap<Cause, u64> = Default::default();
    for (k, n) in &a.failures {
        *by_cause.entry(k.cause).or_insert(0) += n;
    }
    let mut by_cause: Vec<(Cause, u64)> = by_cause.into_iter().collect();
    by_cause.sort_by_key(|c| std::cmp::Reverse(c.1));
    Snapshot {
        elapsed: start.elapsed(),
        limit,
        requests: a.requests,
        failed: a.failed,
        by_cause,
        p99_ms: if a.latency.is_empty() {
            0.0
        } else {
            a.latency.value_at_quantile(0.99) as f64 / 1000.0
        },
    }
}
