//! A scrape in the OpenMetrics text format: blackbox_exporter's names, meanings and units, so
//! dashboards and alerts built for it keep working, plus the `originlens_*` series that say why.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use originlens_wire::{Cause, GeneratedBy};

use crate::scrape::Scrape;

/// What `prometheus-client` writes: the OpenMetrics text format, which Prometheus reads.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabel {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabel {
    cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByLabel {
    by: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabel {
    severity: &'static str,
}

fn gauge_i(registry: &mut Registry, name: &str, help: &str, v: i64) {
    let g = Gauge::<i64>::default();
    g.set(v);
    registry.register(name, help, g);
}

fn gauge_f(registry: &mut Registry, name: &str, help: &str, v: f64) {
    let g = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
    g.set(v);
    registry.register(name, help, g);
}

/// Renders one scrape.
pub fn render(s: &Scrape) -> String {
    let mut r = Registry::default();
    gauge_i(
        &mut r,
        "probe_success",
        "Displays whether or not the probe was a success",
        s.success as i64,
    );
    gauge_f(
        &mut r,
        "probe_duration_seconds",
        "Returns how long the probe took to complete in seconds",
        s.duration_s,
    );
    gauge_i(
        &mut r,
        "probe_http_status_code",
        "Response HTTP status code",
        i64::from(s.origin_status),
    );
    let phases = Family::<PhaseLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    for (phase, v) in [
        ("resolve", s.phases.resolve),
        ("connect", s.phases.connect),
        ("tls", s.phases.tls),
        ("processing", s.phases.processing),
        ("transfer", s.phases.transfer),
    ] {
        phases.get_or_create(&PhaseLabel { phase }).set(v);
    }
    r.register(
        "probe_http_duration_seconds",
        "Duration of http request by phase, summed over all redirects",
        phases,
    );
    gauge_i(
        &mut r,
        "probe_http_ssl",
        "Indicates if SSL was used for the final redirect",
        s.tls as i64,
    );
    if let Some(expiry) = s.earliest_cert_expiry {
        gauge_i(
            &mut r,
            "probe_ssl_earliest_cert_expiry",
            "Returns last SSL chain expiry in unixtime",
            expiry,
        );
    }
    gauge_i(
        &mut r,
        "originlens_visitor_status",
        "The status the visitor sees through the module's edge profile (0: none)",
        i64::from(s.visitor_status),
    );
    let causes = Family::<CauseLabel, Gauge>::default();
    if let Some(cause) = s.cause {
        causes
            .get_or_create(&CauseLabel {
                cause: cause.as_str(),
            })
            .set(1);
    }
    r.register(
        "originlens_cause",
        "The cause id (CAUSES.md) of a failed probe, 1 for the cause found; absent when clean",
        causes,
    );
    let by = Family::<ByLabel, Gauge>::default();
    by.get_or_create(&ByLabel {
        by: s.generated_by.as_str(),
    })
    .set(1);
    r.register(
        "originlens_generated_by",
        "Who generated the status the visitor sees: origin or edge",
        by,
    );
    if let Some(bytes) = s.head_bytes {
        gauge_i(
            &mut r,
            "originlens_head_bytes",
            "Size of the origin's response head in bytes",
            bytes as i64,
        );
    }
    let findings = Family::<SeverityLabel, Gauge>::default();
    for (severity, n) in ["info", "warning", "error"].into_iter().zip(s.findings) {
        findings
            .get_or_create(&SeverityLabel { severity })
            .set(n as i64);
    }
    r.register(
        "originlens_findings",
        "Findings about the exchange by severity",
        findings,
    );
    if let Some(k) = &s.keepalive {
        gauge_i(
            &mut r,
            "originlens_keepalive_race",
            "1 when the origin drops idle connections the edge would still reuse",
            k.race as i64,
        );
        if let Some(idle) = k.idle_close_s {
            gauge_f(
                &mut r,
                "originlens_keepalive_idle_close_seconds",
                "Idle time after which the origin closed a keep-alive connection",
                idle,
            );
        }
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &r);
    out
}

/// The `originlens_cause` label values a scrape can carry.
pub fn cause_labels() -> impl Iterator<Item = &'static str> {
    Cause::ALL.iter().map(|c| c.as_str())
}

/// `generated_by` label values.
pub fn generated_by_labels() -> [&'static str; 2] {
    [GeneratedBy::Origin.as_str(), GeneratedBy::Edge.as_str()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::Phases;

    fn scrape() -> Scrape {
        Scrape {
            success: false,
            duration_s: 0.25,
            origin_status: 0,
            visitor_status: 520,
            generated_by: GeneratedBy::Edge,
            cause: Some(Cause::ResponseEmpty),
            phases: Phases {
                connect: 0.001,
                ..Phases::default()
            },
            tls: false,
            earliest_cert_expiry: Some(1_800_000_000),
            head_bytes: None,
            findings: [0, 0, 1],
            keepalive: None,
        }
    }

    #[test]
    fn blackbox_names_and_the_cause() {
        let text = render(&scrape());
        for line in [
            "probe_success 0",
            "probe_duration_seconds 0.25",
            "probe_http_status_code 0",
            "probe_http_duration_seconds{phase=\"connect\"} 0.001",
            "probe_ssl_earliest_cert_expiry 1800000000",
            "originlens_visitor_status 520",
            "originlens_cause{cause=\"response.empty\"} 1",
            "originlens_generated_by{by=\"edge\"} 1",
            "originlens_findings{severity=\"error\"} 1",
            "# TYPE probe_success gauge",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn a_clean_probe_has_no_cause_series() {
        let mut s = scrape();
        s.success = true;
        s.cause = None;
        s.generated_by = GeneratedBy::Origin;
        let text = render(&s);
        assert!(text.contains("probe_success 1"));
        assert!(!text.contains("originlens_cause{"));
        assert!(cause_labels().any(|c| c == "response.empty"));
        assert_eq!(generated_by_labels(), ["origin", "edge"]);
    }
}
