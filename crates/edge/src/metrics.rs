//! Prometheus metrics (OpenMetrics text), served on the admin listener.
//!
//! What the request path counts is kept per worker thread ([`WorkerCounter`],
//! [`WorkerHistogram`]) and summed when encoded: a worker never writes a cache line another
//! worker writes, and never waits on another's lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

/// One worker's slot, alone on its cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot<T>(T);

/// A counter with one slot per worker thread, summed when encoded.
#[derive(Clone, Debug)]
pub struct WorkerCounter {
    slots: Arc<[Slot<AtomicU64>]>,
}

impl WorkerCounter {
    /// A counter for `workers` worker threads.
    pub fn new(workers: usize) -> WorkerCounter {
        WorkerCounter {
            slots: (0..workers.max(1)).map(|_| Slot::default()).collect(),
        }
    }

    /// Adds one for worker `worker`.
    pub fn inc(&self, worker: usize) {
        self.slots[worker % self.slots.len()]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The total over the workers.
    pub fn get(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

impl TypedMetric for WorkerCounter {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for WorkerCounter {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&self.get(), None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// Makes the [`WorkerCounter`]s of a family.
#[derive(Clone, Copy, Debug)]
pub struct Workers(pub usize);

impl MetricConstructor<WorkerCounter> for Workers {
    fn new_metric(&self) -> WorkerCounter {
        WorkerCounter::new(self.0)
    }
}

/// A histogram with one set of buckets per worker thread, merged when encoded.
#[derive(Clone, Debug)]
pub struct WorkerHistogram {
    /// Upper bounds, the last one `+Inf`.
    bounds: Arc<[f64]>,
    slots: Arc<[Slot<HistogramSlot>]>,
}

#[derive(Debug)]
struct HistogramSlot {
    /// The sum as `f64` bits: only this slot's worker writes it, one task at a time.
    sum: AtomicU64,
    count: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

impl WorkerHistogram {
    /// A histogram with these upper bounds (`+Inf` is added), for `workers` worker threads.
    pub fn new(bounds: &[f64], workers: usize) -> WorkerHistogram {
        let bounds: Arc<[f64]> = bounds.iter().copied().chain([f64::INFINITY]).collect();
        let slots = (0..workers.max(1))
            .map(|_| {
                Slot(HistogramSlot {
                    sum: AtomicU64::new(0f64.to_bits()),
                    count: AtomicU64::new(0),
                    buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
                })
            })
            .collect();
        WorkerHistogram { bounds, slots }
    }

    /// Records `v` for worker `worker`.
    pub fn observe(&self, worker: usize, v: f64) {
        let slot = &self.slots[worker % self.slots.len()].0;
        let bucket = self
            .bounds
            .iter()
            .position(|&b| v <= b)
            .unwrap_or(self.bounds.len() - 1);
        slot.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        slot.count.fetch_add(1, Ordering::Relaxed);
        let sum = f64::from_bits(slot.sum.load(Ordering::Relaxed)) + v;
        slot.sum.store(sum.to_bits(), Ordering::Relaxed);
    }

    /// Sum, count and per-bucket counts over the workers.
    fn merged(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut buckets: Vec<(f64, u64)> = self.bounds.iter().map(|&b| (b, 0)).collect();
        let (mut sum, mut count) = (0.0, 0);
        for Slot(s) in self.slots.iter() {
            sum += f64::from_bits(s.sum.load(Ordering::Relaxed));
            count += s.count.load(Ordering::Relaxed);
            for (total, n) in buckets.iter_mut().zip(s.buckets.iter()) {
                total.1 += n.load(Ordering::Relaxed);
            }
        }
        (sum, count, buckets)
    }
}

impl TypedMetric for WorkerHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for WorkerHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (sum, count, buckets) = self.merged();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// Labels of a visitor response.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResponseLabels {
    /// The status the visitor got.
    pub status: u16,
    /// The cause id, `none` for a clean exchange.
    pub cause: &'static str,
    /// `origin` or `edge`.
    pub generated_by: &'static str,
}

/// A label naming one event.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// The event.
    pub event: &'static str,
}

/// Every metric the edge keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Visitor responses by status, cause and who generated them.
    pub responses: Family<ResponseLabels, WorkerCounter, Workers>,
    /// Time from the request to the response head, seconds.
    pub head_latency: WorkerHistogram,
    /// Requests refused before reaching the origin, by reason.
    pub refused: Family<EventLabels, Counter>,
    /// Upstream connection events: `connect`, `reuse`, `retry`, and discards by reason.
    pub upstream: Family<EventLabels, WorkerCounter, Workers>,
    /// Idle pooled connections, all origins.
    pub pool_idle: Gauge,
    /// Incidents committed to the store.
    pub incidents_written: Counter,
    /// Incidents lost because the writer was behind or failing.
    pub incidents_dropped: Counter,
    /// Downstream responses cut off because the body broke after the head was sent.
    pub bodies_aborted: Counter,
    /// Visitor connections open now.
    pub visitor_connections: Gauge,
    /// Visitor connections closed by a timeout, by phase: `idle` (between requests), `header`,
    /// `body`, `send`.
    pub visitor_timeouts: Family<EventLabels, Counter>,
    /// The counters of the hot label sets, filled on first use (a counter only appears in the
    /// output once it was counted, as with `get_or_create`), so that the request path does not
    /// hash labels and take the family's lock.
    cache: Cache,
}

/// Upstream events with a cached counter, in the order of [`Cache::upstream`].
const UPSTREAM_EVENTS: [&str; 7] = [
    "connect",
    "reuse",
    "retry",
    "close",
    "discard-expired",
    "discard-closed",
    "discard-stray-bytes",
];

/// Status codes of clean origin responses with a cached counter: 100 to 599.
const STATUS_BASE: u16 = 100;
const STATUS_COUNT: usize = 500;

#[derive(Debug)]
struct Cache {
    upstream: [OnceLock<WorkerCounter>; UPSTREAM_EVENTS.len()],
    /// `responses{status, cause="none", generated_by="origin"}` by status.
    clean: Box<[OnceLock<WorkerCounter>]>,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            upstream: Default::default(),
            clean: (0..STATUS_COUNT).map(|_| OnceLock::new()).collect(),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(1)
    }
}

impl Metrics {
    /// Registers every metric, for `workers` worker threads.
    pub fn new(workers: usize) -> Metrics {
        let mut registry = Registry::with_prefix("originlens_edge");
        let responses = Family::new_with_constructor(Workers(workers));
        registry.register(
            "responses",
            "Visitor responses by status, cause and who generated them",
            responses.clone(),
        );
        let head_latency = WorkerHistogram::new(
            &[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0, 125.0,
            ],
            workers,
        );
        registry.register(
            "response_head_seconds",
            "Time from the visitor's request to the response head",
            head_latency.clone(),
        );
        let refused = Family::<EventLabels, Counter>::default();
        registry.register(
            "refused_requests",
            "Visitor requests refused before reaching the origin",
            refused.clone(),
        );
        let upstream = Family::new_with_constructor(Workers(workers));
        registry.register(
            "upstream_connection_events",
            "Upstream connections opened, reused, retried and discarded",
            upstream.clone(),
        );
        let pool_idle = Gauge::default();
        registry.register(
            "pool_idle_connections",
            "Idle upstream connections in the pool",
            pool_idle.clone(),
        );
        let incidents_written = Counter::default();
        registry.register(
            "incidents_written",
            "Incidents committed to the store",
            incidents_written.clone(),
        );
        let incidents_dropped = Counter::default();
        registry.register(
            "incidents_dropped",
            "Incidents lost because the store writer was behind or failing",
            incidents_dropped.clone(),
        );
        let bodies_aborted = Counter::default();
        registry.register(
            "bodies_aborted",
            "Visitor responses cut off after the head because the origin's body broke",
            bodies_aborted.clone(),
        );
        let visitor_connections = Gauge::default();
        registry.register(
            "visitor_connections",
            "Visitor connections open",
            visitor_connections.clone(),
        );
        let visitor_timeouts = Family::<EventLabels, Counter>::default();
        registry.register(
            "visitor_timeouts",
            "Visitor connections closed by the idle, header, body or send timeout",
            visitor_timeouts.clone(),
        );
        Metrics {
            registry,
            visitor_connections,
            visitor_timeouts,
            responses,
            head_latency,
            refused,
            upstream,
            pool_idle,
            incidents_written,
            incidents_dropped,
            bodies_aborted,
            cache: Cache::default(),
        }
    }

    /// Counts an upstream connection event on worker `worker`.
    pub fn upstream_event(&self, worker: usize, event: &'static str) {
        match UPSTREAM_EVENTS.iter().position(|&e| e == event) {
            Some(i) => self.cache.upstream[i]
                .get_or_init(|| self.upstream.get_or_create(&EventLabels { event }).clone())
                .inc(worker),
            None => self
                .upstream
                .get_or_create(&EventLabels { event })
                .inc(worker),
        };
    }

    /// Counts a visitor connection closed by the `phase` timeout.
    pub fn timed_out(&self, phase: &'static str) {
        self.visitor_timeouts
            .get_or_create(&EventLabels { event: phase })
            .inc();
    }

    /// Counts a visitor response on worker `worker`.
    pub fn response(&self, worker: usize, labels: ResponseLabels) {
        let slot = (labels.cause == "none" && labels.generated_by == "origin")
            .then(|| labels.status.checked_sub(STATUS_BASE))
            .flatten()
            .and_then(|i| self.cache.clean.get(usize::from(i)));
        match slot {
            Some(slot) => slot
                .get_or_init(|| self.responses.get_or_create(&labels).clone())
                .inc(worker),
            None => self.responses.get_or_create(&labels).inc(worker),
        };
    }

    /// The OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The content type of [`Metrics::encode`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_labelled_counters() {
        let m = Metrics::new(2);
        m.responses
            .get_or_create(&ResponseLabels {
                status: 520,
                cause: "response.empty",
                generated_by: "edge",
            })
            .inc(1);
        m.upstream_event(0, "reuse");
        m.upstream_event(1, "reuse");
        m.upstream_event(0, "odd");
        let clean = ResponseLabels {
            status: 200,
            cause: "none",
            generated_by: "origin",
        };
        m.response(0, clean.clone());
        m.response(1, clean);
        let text = m.encode();
        assert!(text.contains(
            "originlens_edge_responses_total{status=\"200\",cause=\"none\",generated_by=\"origin\"} 2"
        ), "{text}");
        assert!(text.contains("originlens_edge_upstream_connection_events_total{event=\"odd\"} 1"));
        assert!(!text.contains("event=\"connect\""));
        assert!(text.contains(
            "originlens_edge_responses_total{status=\"520\",cause=\"response.empty\",generated_by=\"edge\"} 1"
        ), "{text}");
        assert!(
            text.contains("originlens_edge_upstream_connection_events_total{event=\"reuse\"} 2")
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn worker_histograms_merge_into_one() {
        let m = Metrics::new(3);
        m.head_latency.observe(0, 0.0004);
        m.head_latency.observe(1, 0.002);
        m.head_latency.observe(2, 0.002);
        m.head_latency.observe(7, 500.0);
        let text = m.encode();
        for line in [
            "originlens_edge_response_head_seconds_count 4",
            "originlens_edge_response_head_seconds_bucket{le=\"0.0005\"} 1",
            "originlens_edge_response_head_seconds_bucket{le=\"0.0025\"} 3",
            "originlens_edge_response_head_seconds_bucket{le=\"125.0\"} 3",
            "originlens_edge_response_head_seconds_bucket{le=\"+Inf\"} 4",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        let sum: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("originlens_edge_response_head_seconds_sum "))
            .unwrap()
            .parse()
            .unwrap();
        assert!((sum - 500.0044).abs() < 1e-9, "{sum}");
    }
}
