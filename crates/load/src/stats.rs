//! Everything counted during a run, behind one lock taken once per response: histograms
//! (HdrHistogram, microseconds), status and failure counts, the per-second series and the first
//! raw exchanges of each cause. Memory stays flat: histograms have fixed bounds, failure groups
//! are keyed by buckets, evidence is capped per cause, and a second's histogram is dropped once
//! its p99 is taken.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use originlens_wire::escape::escape;
use originlens_wire::{Cause, End, Kind};

use crate::options::{EVIDENCE_BYTES, MAX_DURATION};
use crate::report::{Evidence, Percentiles};

/// Latencies are recorded in microseconds up to the longest run.
const MAX_MICROS: u64 = MAX_DURATION.as_micros() as u64;
/// A second's histogram is kept this many seconds after it ended, for late responses.
const SECOND_LAG: usize = 3;

/// How many earlier exchanges the connection carried, in buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ReuseBucket {
    /// The first request on a new connection.
    New,
    /// The second request.
    Once,
    /// The 3rd to 10th.
    Few,
    /// The 11th to 100th.
    Many,
    /// Beyond.
    Lots,
}

impl ReuseBucket {
    pub(crate) fn of(earlier: u32) -> ReuseBucket {
        match earlier {
            0 => ReuseBucket::New,
            1 => ReuseBucket::Once,
            2..=9 => ReuseBucket::Few,
            10..=99 => ReuseBucket::Many,
            _ => ReuseBucket::Lots,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReuseBucket::New => "new",
            ReuseBucket::Once => "2nd",
            ReuseBucket::Few => "3rd-10th",
            ReuseBucket::Many => "11th-100th",
            ReuseBucket::Lots => "101st+",
        }
    }
}

/// How long the reused connection sat idle before the request, in buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum IdleBucket {
    /// Not reused: a new connection.
    New,
    /// Under 100 ms.
    Hot,
    /// 100 ms to 1 s.
    Short,
    /// 1 to 5 s.
    Seconds,
    /// 5 to 30 s.
    Long,
    /// 30 s and more.
    VeryLong,
}

impl IdleBucket {
    pub(crate) fn of(idle: Option<Duration>) -> IdleBucket {
        let Some(d) = idle else {
            return IdleBucket::New;
        };
        match d.as_millis() {
            0..=99 => IdleBucket::Hot,
            100..=999 => IdleBucket::Short,
            1000..=4999 => IdleBucket::Seconds,
            5000..=29_999 => IdleBucket::Long,
            _ => IdleBucket::VeryLong,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            IdleBucket::New => "new",
            IdleBucket::Hot => "<100ms",
            IdleBucket::Short => "100ms-1s",
            IdleBucket::Seconds => "1-5s",
            IdleBucket::Long => "5-30s",
            IdleBucket::VeryLong => ">=30s",
        }
    }
}

/// One judged exchange, as the driver hands it over.
pub(crate) struct Sample<'a> {
    pub route: usize,
    pub done: Instant,
    pub latency: Duration,
    pub corrected: Option<Duration>,
    pub status: Option<u16>,
    pub cause: Option<Cause>,
    pub finding: Option<Kind>,
    pub message: Option<&'a str>,
    pub earlier: u32,
    pub idle: Option<Duration>,
    pub end: Option<End>,
    pub request: &'a [u8],
    pub response: &'a [u8],
    pub response_bytes: u64,
}

/// Failures that share cause, visitor status, route and buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct FailureKey {
    pub cause: Cause,
    pub status: Option<u16>,
    pub route: usize,
    pub reuse: ReuseBucket,
    pub idle: IdleBucket,
}

/// Idle ages seen on failures of one cause (reused connections only).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdleRange {
    pub min: Option<Duration>,
    pub max: Option<Duration>,
}

pub(crate) struct Second {
    pub requests: u64,
    pub failures: BTreeMap<Cause, u64>,
    hist: Option<Histogram<u32>>,
    pub p99: Option<Duration>,
}

/// The counters of a run.
pub(crate) struct Aggregate {
    pub start: Instant,
    pub requests: u64,
    pub failed: u64,
    pub aborted: u64,
    pub timeouts: u64,
    pub connections_opened: u64,
    pub status_counts: BTreeMap<Option<u16>, u64>,
    pub latency: Histogram<u64>,
    pub corrected: Option<Histogram<u64>>,
    pub by_outcome: BTreeMap<Option<Cause>, Histogram<u64>>,
    pub failures: BTreeMap<FailureKey, u64>,
    pub idle_ranges: BTreeMap<Cause, IdleRange>,
    pub route_counts: Vec<(u64, u64)>,
    pub series: Vec<Second>,
    finalized: usize,
    pub evidence: Vec<Evidence>,
    evidence_counts: BTreeMap<Cause, usize>,
    evidence_per_cause: usize,
    route_names: Vec<String>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("fixed bounds are valid")
}

fn second_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("fixed bounds are valid")
}

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, MAX_MICROS)
}

impl Aggregate {
    pub(crate) fn new(
        start: Instant,
        open_model: bool,
        route_names: Vec<String>,
        evidence_per_cause: usize,
    ) -> Aggregate {
        Aggregate {
            start,
            requests: 0,
            failed: 0,
            aborted: 0,
            timeouts: 0,
            connections_opened: 0,
            status_counts: BTreeMap::new(),
            latency: histogram(),
            corrected: open_model.then(histogram),
            by_outcome: BTreeMap::new(),
            failures: BTreeMap::new(),
            idle_ranges: BTreeMap::new(),
            route_counts: vec![(0, 0); route_names.len()],
            series: Vec::new(),
            finalized: 0,
            evidence: Vec::new(),
            evidence_counts: BTreeMap::new(),
            evidence_per_cause,
            route_names,
        }
    }

    pub(crate) fn record(&mut self, s: &Sample<'_>) {
        self.requests += 1;
        let us = micros(s.latency);
        let _ = self.latency.record(us);
        if let (Some(h), Some(c)) = (self.corrected.as_mut(), s.corrected) {
            let _ = h.record(micros(c));
        }
        let _ = self
            .by_outcome
            .entry(s.cause)
            .or_insert_with(histogram)
            .record(us);
        *self.status_counts.entry(s.status).or_insert(0) += 1;
        if let Some(r) = self.route_counts.get_mut(s.route) {
            r.0 += 1;
            r.1 += u64::from(s.cause.is_some());
        }
        self.second(s);
        let Some(cause) = s.cause else {
            return;
        };
        self.failed += 1;
        if matches!(cause, Cause::ResponseTimeout | Cause::BodyTimeout) {
            self.timeouts += 1;
        }
        let key = FailureKey {
            cause,
            status: s.status,
            route: s.route,
            reuse: ReuseBucket::of(s.earlier),
            idle: IdleBucket::of(s.idle),
        };
        *self.failures.entry(key).or_insert(0) += 1;
        if let Some(idle) = s.idle {
            let r = self.idle_ranges.entry(cause).or_default();
            r.min = Some(r.min.map_or(idle, |m| m.min(idle)));
            r.max = Some(r.max.map_or(idle, |m| m.max(idle)));
        }
        self.keep_evidence(cause, s);
    }

    fn second(&mut self, s: &Sample<'_>) {
        let t = s.done.saturating_duration_since(self.start).as_secs() as usize;
        let t = t.min(MAX_DURATION.as_secs() as usize);
        while self.series.len() <= t {
            self.series.push(Second {
                requests: 0,
                failures: BTreeMap::new(),
                hist: Some(second_histogram()),
                p99: None,
            });
        }
        let row = &mut self.series[t];
        row.requests += 1;
        if let Some(c) = s.cause {
            *row.failures.entry(c).or_insert(0) += 1;
        }
        if let Some(h) = row.hist.as_mut() {
            let _ = h.record(micros(s.latency));
        }
        // Seconds long past get their p99 and give their histogram back.
        while self.finalized + SECOND_LAG < t {
            finalize(&mut self.series[self.finalized]);
            self.finalized += 1;
        }
    }

    fn keep_evidence(&mut self, cause: Cause, s: &Sample<'_>) {
        let kept = self.evidence_counts.entry(cause).or_insert(0);
        if *kept >= self.evidence_per_cause {
            return;
        }
        *kept += 1;
        let cut = |b: &[u8]| escape(&b[..b.len().min(EVIDENCE_BYTES)]);
        self.evidence.push(Evidence {
            cause,
            finding: s.finding,
            message: s.message.map(str::to_owned),
            status: s.status,
            route: self.route_names.get(s.route).cloned().unwrap_or_default(),
            at_s: s.done.saturating_duration_since(self.start).as_secs_f64(),
            reuse: s.earlier,
            idle_s: s.idle.map(|d| d.as_secs_f64()),
            end: s.end,
            request: cut(s.request),
            response: cut(s.response),
            response_bytes: s.response_bytes,
        });
    }

    /// Closes every second still open (at the end of the run).
    pub(crate) fn finish_series(&mut self) {
        for row in &mut self.series[self.finalized..] {
            finalize(row);
        }
        self.finalized = self.series.len();
    }
}

fn finalize(row: &mut Second) {
    if let Some(h) = row.hist.take() {
        if !h.is_empty() {
            row.p99 = Some(Duration::from_micros(h.value_at_quantile(0.99)));
        }
    }
}

/// The percentiles of a histogram, in milliseconds.
pub(crate) fn percentiles(h: &Histogram<u64>) -> Percentiles {
    let ms = |us: u64| us as f64 / 1000.0;
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        count: h.len(),
        mean: h.mean() / 1000.0,
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        p9999: ms(h.value_at_quantile(0.9999)),
        max: ms(h.max()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(done: Instant, cause: Option<Cause>, idle: Option<Duration>) -> Sample<'static> {
        Sample {
            route: 0,
            done,
            latency: Duration::from_millis(2),
            corrected: Some(Duration::from_millis(3)),
            status: Some(if cause.is_some() { 520 } else { 200 }),
            cause,
            finding: None,
            message: None,
            earlier: u32::from(idle.is_some()),
            idle,
            end: None,
            request: b"GET / HTTP/1.1\r\n\r\n",
            response: b"",
            response_bytes: 0,
        }
    }

    #[test]
    fn failures_are_grouped_and_evidence_is_capped() {
        let start = Instant::now();
        let mut a = Aggregate::new(start, true, vec!["/".into()], 2);
        for i in 0..10 {
            let idle = Some(Duration::from_millis(1500 + i));
            a.record(&sample(start, Some(Cause::KeepaliveRace), idle));
            a.record(&sample(start, None, None));
        }
        assert_eq!((a.requests, a.failed), (20, 10));
        assert_eq!(a.evidence.len(), 2);
        assert_eq!(a.failures.len(), 1);
        let (key, n) = a.failures.iter().next().unwrap();
        assert_eq!(
            (key.idle, key.reuse, *n),
            (IdleBucket::Seconds, ReuseBucket::Once, 10)
        );
        let r = a.idle_ranges[&Cause::KeepaliveRace];
        assert_eq!(r.min, Some(Duration::from_millis(1500)));
        assert_eq!(r.max, Some(Duration::from_millis(1509)));
        assert_eq!(a.status_counts[&Some(520)], 10);
    }

    #[test]
    fn old_seconds_give_back_their_histogram() {
        let start = Instant::now();
        let mut a = Aggregate::new(start, false, vec!["/".into()], 0);
        for s in 0..10 {
            a.record(&sample(start + Duration::from_secs(s), None, None));
        }
        assert_eq!(a.series.len(), 10);
        assert!(a.series[..6]
            .iter()
            .all(|r| r.hist.is_none() && r.p99.is_some()));
        a.finish_series();
        assert!(a.series.iter().all(|r| r.hist.is_none()));
    }
}
