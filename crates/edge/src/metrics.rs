//! Prometheus metrics (OpenMetrics text), served on the admin listener.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

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
    pub responses: Family<ResponseLabels, Counter>,
    /// Time from the request to the response head, seconds.
    pub head_latency: Histogram,
    /// Requests refused before reaching the origin, by reason.
    pub refused: Family<EventLabels, Counter>,
    /// Upstream connection events: `connect`, `reuse`, `retry`, and discards by reason.
    pub upstream: Family<EventLabels, Counter>,
    /// Idle pooled connections, all origins.
    pub pool_idle: Gauge,
    /// Incidents committed to the store.
    pub incidents_written: Counter,
    /// Incidents lost because the writer was behind or failing.
    pub incidents_dropped: Counter,
    /// Downstream responses cut off because the body broke after the head was sent.
    pub bodies_aborted: Counter,
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
    upstream: [OnceLock<Counter>; UPSTREAM_EVENTS.len()],
    /// `responses{status, cause="none", generated_by="origin"}` by status.
    clean: Box<[OnceLock<Counter>]>,
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
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("originlens_edge");
        let responses = Family::<ResponseLabels, Counter>::default();
        registry.register(
            "responses",
            "Visitor responses by status, cause and who generated them",
            responses.clone(),
        );
        let head_latency = Histogram::new([
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            30.0, 125.0,
        ]);
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
        let upstream = Family::<EventLabels, Counter>::default();
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
        Metrics {
            registry,
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

    /// Counts an upstream connection event.
    pub fn upstream_event(&self, event: &'static str) {
        match UPSTREAM_EVENTS.iter().position(|&e| e == event) {
            Some(i) => self.cache.upstream[i]
                .get_or_init(|| self.upstream.get_or_create(&EventLabels { event }).clone())
                .inc(),
            None => self.upstream.get_or_create(&EventLabels { event }).inc(),
        };
    }

    /// Counts a visitor response.
    pub fn response(&self, labels: ResponseLabels) {
        let slot = (labels.cause == "none" && labels.generated_by == "origin")
            .then(|| labels.status.checked_sub(STATUS_BASE))
            .flatten()
            .and_then(|i| self.cache.clean.get(usize::from(i)));
        match slot {
            Some(slot) => slot
                .get_or_init(|| self.responses.get_or_create(&labels).clone())
                .inc(),
            None => self.responses.get_or_create(&labels).inc(),
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
        let m = Metrics::new();
        m.responses
            .get_or_create(&ResponseLabels {
                status: 520,
                cause: "response.empty",
                generated_by: "edge",
            })
            .inc();
        m.upstream_event("reuse");
        m.upstream_event("reuse");
        m.upstream_event("odd");
        m.response(ResponseLabels {
            status: 200,
            cause: "none",
            generated_by: "origin",
        });
        m.response(ResponseLabels {
            status: 200,
            cause: "none",
            generated_by: "origin",
        });
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
}
