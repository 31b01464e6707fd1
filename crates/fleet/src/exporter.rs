//! The exporter's HTTP side: `/probe` runs one scrape, `/metrics` shows the exporter's own
//! counters, `/` says how to use it. One probe per scrape, as blackbox_exporter does, so
//! Prometheus spreads the targets by relabelling and owns the schedule.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::exposition::{self, CONTENT_TYPE};
use crate::module::{Modules, DEFAULT_MODULE};
use crate::scrape::{scrape, ScrapeRequest};

/// Prometheus sends its scrape timeout in this header.
pub const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";
/// Longest wait for a visitor's request head on the exporter's own port.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How to run the exporter.
#[derive(Clone, Debug)]
pub struct ExporterOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Modules by name.
    pub modules: Modules,
    /// Listen on a non-loopback address.
    pub allow_public: bool,
    /// Probes run at once at most; more scrapes wait.
    pub max_concurrent: usize,
}

/// The exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    /// A non-loopback address without `--allow-public`.
    #[error("{0} is not a loopback address: pass --allow-public to listen there")]
    Public(SocketAddr),
    /// Binding failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProbeLabels {
    module: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabels {
    module: String,
    cause: &'static str,
}

/// The exporter's own counters, for `/metrics`.
struct OwnMetrics {
    registry: Registry,
    probes: Family<ProbeLabels, Counter>,
    causes: Family<CauseLabels, Counter>,
    in_flight: Gauge,
    probe_seconds: Counter<f64, AtomicU64>,
}

impl OwnMetrics {
    fn new() -> OwnMetrics {
        let mut registry = Registry::default();
        let probes = Family::<ProbeLabels, Counter>::default();
        let causes = Family::<CauseLabels, Counter>::default();
        let in_flight = Gauge::default();
        let probe_seconds = Counter::<f64, AtomicU64>::default();
        registry.register(
            "originlens_exporter_probes",
            "Probes run, by module and result (success, failure, error)",
            probes.clone(),
        );
        registry.register(
            "originlens_exporter_causes",
            "Failed probes by module and cause id",
            causes.clone(),
        );
        registry.register(
            "originlens_exporter_probes_in_flight",
            "Probes running now",
            in_flight.clone(),
        );
        registry.register(
            "originlens_exporter_probe_seconds",
            "Time spent probing",
            probe_seconds.clone(),
        );
        OwnMetrics {
            registry,
            probes,
            causes,
            in_flight,
            probe_seconds,
        }
    }
}

struct Shared {
    modules: Modules,
    metrics: OwnMetrics,
    slots: Semaphore,
}

/// A bound exporter, ready to serve.
pub struct Exporter {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Exporter {
    /// Binds the listener (loopback only unless `allow_public`).
    pub async fn bind(opts: ExporterOptions) -> Result<Exporter, ExporterError> {
        if !opts.listen.ip().is_loopback() && !opts.allow_public {
            return Err(ExporterError::Public(opts.listen));
        }
        let listener =
            TcpListener::bind(opts.listen)
                .await
                .map_err(|source| ExporterError::Bind {
                    addr: opts.listen,
                    source,
                })?;
        Ok(Exporter {
            listener,
            shared: Arc::new(Shared {
                modules: opts.modules,
                metrics: OwnMetrics::new(),
                slots: Semaphore::new(opts.max_concurrent.max(1)),
            }),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the task is dropped.
    pub async fn serve(self) {
        loop {
            let Ok((stream, _)) = self.listener.accept().await else {
                // Out of descriptors or similar: wait a moment rather than spin.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let shared = self.shared.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let shared = shared.clone();
                    async move { Ok::<_, Infallible>(route(&shared, &req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }
}

async fn route(shared: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    match req.uri().path() {
        "/probe" => probe(shared, req).await,
        "/metrics" => {
            let mut out = String::new();
            let _ = prometheus_client::encoding::text::encode(&mut out, &shared.metrics.registry);
            respond(StatusCode::OK, CONTENT_TYPE, out)
        }
        "/" => respond(StatusCode::OK, "text/plain; charset=utf-8", landing(shared)),
        _ => respond(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: try /probe?target=URL&module=NAME or /metrics\n".to_owned(),
        ),
    }
}

fn landing(shared: &Shared) -> String {
    let modules: Vec<&str> = shared.modules.names().collect();
    format!(
        "originlens exporter\n\n\
         GET /probe?target=URL[&module=NAME][&connect_to=HOST:PORT | &hostname=NAME]\n\
         GET /metrics   the exporter's own counters\n\n\
         modules: {}\n",
        modules.join(", ")
    )
}

async fn probe(shared: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let query: HashMap<String, String> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let text = "text/plain; charset=utf-8";
    let Some(target) = query.get("target").filter(|t| !t.is_empty()) else {
        return respond(
            StatusCode::BAD_REQUEST,
            text,
            "Target parameter is missing\n".to_owned(),
        );
    };
    let name = query
        .get("module")
        .map(String::as_str)
        .unwrap_or(DEFAULT_MODULE);
    let Some(module) = shared.modules.get(name) else {
        return respond(
            StatusCode::BAD_REQUEST,
            text,
            format!("Unknown module \"{name}\"\n"),
        );
    };
    let scrape_timeout = req
        .headers()
        .get(SCRAPE_TIMEOUT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 86_400.0)
        .map(Duration::from_secs_f64);
    let request = ScrapeRequest {
        target: target.clone(),
        connect_to: query.get("connect_to").cloned().filter(|s| !s.is_empty()),
        hostname: query.get("hostname").cloned().filter(|s| !s.is_empty()),
        scrape_timeout,
    };
    let Ok(_slot) = shared.slots.acquire().await else {
        return respond(
            StatusCode::SERVICE_UNAVAILABLE,
            text,
            "shutting down\n".to_owned(),
        );
    };
    let m = &shared.metrics;
    m.in_flight.inc();
    let result = scrape(module, &request).await;
    m.in_flight.dec();
    let labels = |result| ProbeLabels {
        module: module.name.clone(),
        result,
    };
    match result {
        Ok(s) => {
            m.probe_seconds.inc_by(s.duration_s);
            m.probes
                .get_or_create(&labels(if s.success { "success" } else { "failure" }))
                .inc();
            if let Some(cause) = s.cause {
                m.causes
                    .get_or_create(&CauseLabels {
                        module: module.name.clone(),
                        cause: cause.as_str(),
                    })
                    .inc();
            }
            respond(StatusCode::OK, CONTENT_TYPE, exposition::render(&s))
        }
        Err(e) => {
            m.probes.get_or_create(&labels("error")).inc();
            respond(StatusCode::BAD_REQUEST, text, format!("{e}\n"))
        }
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    resp
}
