//! The result of a run as one typed document (`originlens.load/1`, `schemas/load.json`), the
//! sentence that tells the failure story, and the comparison with an earlier run.

use std::collections::BTreeMap;
use std::time::Duration;

use originlens_wire::{Cause, End, Kind};
use serde::{Deserialize, Serialize};

use crate::stats::{percentiles, Aggregate, IdleBucket, ReuseBucket};

/// The schema id of [`LoadReport`].
pub const SCHEMA: &str = "originlens.load/1";

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Responses measured.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// 99.99th percentile.
    pub p9999: f64,
    /// Slowest.
    pub max: f64,
}

/// What was run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The first URL.
    pub url: String,
    /// The address connected to.
    pub connect: String,
    /// The profile that judged every response.
    pub profile: String,
    /// `closed` or `open`.
    pub model: String,
    /// Connections (closed) or most requests in flight (open); with h2, connections.
    pub connections: usize,
    /// `http/1.1` or `h2`.
    #[serde(default)]
    pub protocol: String,
    /// Requests at once on each connection (1 for HTTP/1.1).
    #[serde(default)]
    pub streams: usize,
    /// The open model's target rate per second.
    pub target_rate: Option<f64>,
    /// Connections were reused.
    pub keepalive: bool,
    /// The pause before reuse, in seconds.
    pub idle_s: Option<f64>,
    /// The ramp, in seconds.
    pub ramp_s: f64,
    /// The read timeout, in seconds.
    pub read_timeout_s: f64,
}

/// Failures sharing a cause, visitor status and route, with where they happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureGroup {
    /// The cause id.
    pub cause: Cause,
    /// The status the visitor sees (the profile's); `None` for an empty reply.
    pub status: Option<u16>,
    /// The route.
    pub route: String,
    /// How many.
    pub count: u64,
    /// How many were on reused connections.
    pub on_reused: u64,
    /// By the connection's use: `new`, `2nd`, `3rd-10th`, `11th-100th`, `101st+`.
    pub by_reuse: BTreeMap<String, u64>,
    /// By how long the connection sat idle before the request: `new`, `<100ms`, `100ms-1s`,
    /// `1-5s`, `5-30s`, `>=30s`.
    pub by_idle: BTreeMap<String, u64>,
}

/// One URL's counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteCount {
    /// The path.
    pub route: String,
    /// Requests judged.
    pub requests: u64,
    /// Of which failed.
    pub failed: u64,
}

/// One second of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecondRow {
    /// Seconds since the start.
    pub t: u64,
    /// Responses that ended in this second.
    pub requests: u64,
    /// Failures by cause id.
    pub failures: BTreeMap<Cause, u64>,
    /// The second's p99 latency (uncorrected), ms.
    pub p99_ms: Option<f64>,
}

/// One raw failed exchange, escaped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The cause.
    pub cause: Cause,
    /// The deciding finding's fine id.
    #[serde(default, deserialize_with = "skip_kind")]
    pub finding: Option<Kind>,
    /// What the finding says.
    pub message: Option<String>,
    /// The status the visitor sees.
    pub status: Option<u16>,
    /// The route.
    pub route: String,
    /// Seconds since the start of the run.
    pub at_s: f64,
    /// Exchanges the connection carried before this one.
    pub reuse: u32,
    /// How long the connection sat idle before this request (reused connections).
    pub idle_s: Option<f64>,
    /// How reading ended.
    #[serde(default, deserialize_with = "skip_end")]
    pub end: Option<End>,
    /// The request, escaped.
    pub request: String,
    /// The first bytes of the response, escaped.
    pub response: String,
    /// Response bytes received in all.
    pub response_bytes: u64,
}

// A stored run is read back for its numbers; the fine ids are not needed for the comparison.
fn skip_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Kind>, D::Error> {
    let _ = serde::de::IgnoredAny::deserialize(d)?;
    Ok(None)
}

fn skip_end<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<End>, D::Error> {
    let _ = serde::de::IgnoredAny::deserialize(d)?;
    Ok(None)
}

/// What changed since a baseline run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Requests per second then and now.
    pub rate: (f64, f64),
    /// p99 latency then and now, ms.
    pub p99_ms: (f64, f64),
    /// Error rate then and now (fraction).
    pub error_rate: (f64, f64),
    /// Causes seen now and not then.
    pub new_causes: Vec<Cause>,
    /// Causes seen then and not now.
    pub gone_causes: Vec<Cause>,
    /// Failures per cause then and now, for every cause seen in either run.
    pub by_cause: BTreeMap<Cause, (u64, u64)>,
}

/// The whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// `originlens.load/1`.
    pub schema: String,
    /// What was run.
    pub run: RunInfo,
    /// The failure story in one sentence.
    pub summary: String,
    /// Responses judged (aborted ones not counted).
    pub requests: u64,
    /// Of which the profile found nothing wrong.
    pub ok: u64,
    /// Of which had a cause.
    pub failed: u64,
    /// `failed / requests`.
    pub error_rate: f64,
    /// Requests cut off by the end of the run (not failures, not timeouts).
    pub aborted_at_deadline: u64,
    /// Failures that were read timeouts (`response.timeout`, `body.timeout`).
    pub timeouts: u64,
    /// Connections opened.
    pub connections_opened: u64,
    /// Wall time of the run, seconds.
    pub duration_s: f64,
    /// Responses per second.
    pub rate: f64,
    /// Visitor status counts (`none` for an empty reply).
    pub status_counts: BTreeMap<String, u64>,
    /// Failures per cause id.
    pub failures_by_cause: BTreeMap<Cause, u64>,
    /// Failures by cause, status, route, reuse and idle age.
    pub failures: Vec<FailureGroup>,
    /// Latency from the request's send (or connect) to the response's end.
    pub latency_ms: Percentiles,
    /// Open model: latency from each request's intended send time.
    pub corrected_latency_ms: Option<Percentiles>,
    /// Latency per outcome: `ok` or the cause id.
    pub latency_by_outcome: BTreeMap<String, Percentiles>,
    /// Per-route counts.
    pub routes: Vec<RouteCount>,
    /// One row per second.
    pub series: Vec<SecondRow>,
    /// The first raw exchanges of each cause.
    pub evidence: Vec<Evidence>,
    /// The comparison with `--baseline`, when given.
    pub baseline: Option<Comparison>,
}

impl LoadReport {
    pub(crate) fn from_aggregate(
        mut a: Aggregate,
        run: RunInfo,
        routes: &[String],
        elapsed: Duration,
    ) -> LoadReport {
        a.finish_series();
        let secs = elapsed.as_secs_f64().max(1e-9);
        let mut groups: BTreeMap<(Cause, Option<u16>, usize), FailureGroup> = BTreeMap::new();
        for (key, &n) in &a.failures {
            let g = groups
                .entry((key.cause, key.status, key.route))
                .or_insert_with(|| FailureGroup {
                    cause: key.cause,
                    status: key.status,
                    route: routes.get(key.route).cloned().unwrap_or_default(),
                    count: 0,
                    on_reused: 0,
                    by_reuse: BTreeMap::new(),
                    by_idle: BTreeMap::new(),
                });
            g.count += n;
            if key.reuse != ReuseBucket::New {
                g.on_reused += n;
            }
            *g.by_reuse.entry(key.reuse.as_str().into()).or_insert(0) += n;
            *g.by_idle.entry(key.idle.as_str().into()).or_insert(0) += n;
        }
        let mut failures: Vec<FailureGroup> = groups.into_values().collect();
        failures.sort_by(|x, y| y.count.cmp(&x.count).then(x.cause.cmp(&y.cause)));
        let mut by_cause = BTreeMap::new();
        for g in &failures {
            *by_cause.entry(g.cause).or_insert(0) += g.count;
        }
        let status_counts = a
            .status_counts
            .iter()
            .map(|(s, n)| (s.map_or_else(|| "none".to_owned(), |s| s.to_string()), *n))
            .collect();
        let latency_by_outcome = a
            .by_outcome
            .iter()
            .map(|(c, h)| (c.map_or("ok", Cause::as_str).to_owned(), percentiles(h)))
            .collect();
        let series = a
            .series
            .iter()
            .enumerate()
            .map(|(t, s)| SecondRow {
                t: t as u64,
                requests: s.requests,
                failures: s.failures.clone(),
                p99_ms: s.p99.map(|d| d.as_secs_f64() * 1000.0),
            })
            .collect();
        let routes = routes
            .iter()
            .zip(&a.route_counts)
            .map(|(r, &(requests, failed))| RouteCount {
                route: r.clone(),
                requests,
                failed,
            })
            .collect();
        let mut report = LoadReport {
            schema: SCHEMA.into(),
            run,
            summary: String::new(),
            requests: a.requests,
            ok: a.requests - a.failed,
            failed: a.failed,
            error_rate: if a.requests == 0 {
                0.0
            } else {
                a.failed as f64 / a.requests as f64
            },
            aborted_at_deadline: a.aborted,
            timeouts: a.timeouts,
            connections_opened: a.connections_opened,
            duration_s: secs,
            rate: a.requests as f64 / secs,
            status_counts,
            failures_by_cause: by_cause,
            failures,
            latency_ms: percentiles(&a.latency),
            corrected_latency_ms: a.corrected.as_ref().map(percentiles),
            latency_by_outcome,
            routes,
            series,
            evidence: std::mem::take(&mut a.evidence),
            baseline: None,
        };
        report.summary = story(&report, &a.idle_ranges);
        report
    }

    /// Compares this run with `base`.
    pub fn compare(&self, base: &LoadReport) -> Comparison {
        let mut by_cause: BTreeMap<Cause, (u64, u64)> = BTreeMap::new();
        for (c, n) in &base.failures_by_cause {
            by_cause.entry(*c).or_default().0 = *n;
        }
        for (c, n) in &self.failures_by_cause {
            by_cause.entry(*c).or_default().1 = *n;
        }
        Comparison {
            rate: (base.rate, self.rate),
            p99_ms: (base.latency_ms.p99, self.latency_ms.p99),
            error_rate: (base.error_rate, self.error_rate),
            new_causes: by_cause
                .iter()
                .filter(|(_, &(b, n))| b == 0 && n > 0)
                .map(|(c, _)| *c)
                .collect(),
            gone_causes: by_cause
                .iter()
                .filter(|(_, &(b, n))| b > 0 && n == 0)
                .map(|(c, _)| *c)
                .collect(),
            by_cause,
        }
    }
}

/// "3 of 30,000 failed: 2 `response.empty` on connections reused after 5 s idle, 1
/// `head.too-large` on /cart".
fn story(r: &LoadReport, idle: &BTreeMap<Cause, crate::stats::IdleRange>) -> String {
    if r.requests == 0 {
        return "no response was judged".into();
    }
    if r.failed == 0 {
        return format!("all {} requests passed", thousands(r.requests));
    }
    let several_routes = r.routes.len() > 1;
    let mut parts = Vec::new();
    for (&cause, &n) in sorted_causes(&r.failures_by_cause).iter() {
        let groups: Vec<&FailureGroup> = r.failures.iter().filter(|g| g.cause == cause).collect();
        let reused: u64 = groups.iter().map(|g| g.on_reused).sum();
        let mut s = format!("{} `{}`", thousands(n), cause);
        let statuses: Vec<Option<u16>> = dedup(groups.iter().map(|g| g.status));
        if let [one] = statuses.as_slice() {
            s.push_str(&match one {
                Some(code) => format!(" ({code})"),
                None => " (empty reply)".into(),
            });
        }
        if reused == n {
            s.push_str(" on reused connections");
            if let Some(min) = idle.get(&cause).and_then(|r| r.min) {
                if min >= Duration::from_millis(100) {
                    s.push_str(&format!(" after {} idle", seconds(min)));
                }
            }
        } else if reused == 0 {
            if groups
                .iter()
                .all(|g| g.by_idle.contains_key(IdleBucket::New.as_str()))
            {
                s.push_str(" on new connections");
            }
        } else {
            s.push_str(&format!(", {} on reused connections", thousands(reused)));
        }
        if several_routes {
            let routes = dedup(groups.iter().map(|g| g.route.as_str()));
            if let [one] = routes.as_slice() {
                s.push_str(&format!(" on {one}"));
            }
        }
        parts.push(s);
    }
    format!(
        "{} of {} failed: {}",
        thousands(r.failed),
        thousands(r.requests),
        parts.join(", ")
    )
}

fn sorted_causes(m: &BTreeMap<Cause, u64>) -> Vec<(&Cause, &u64)> {
    let mut v: Vec<_> = m.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v
}

fn dedup<T: PartialEq>(it: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for x in it {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// `1.5 s`, `250 ms`.
pub fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// `30,000`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(30_000), "30,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
