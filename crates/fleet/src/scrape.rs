//! One probe as a scrape sees it: the figures blackbox_exporter reports, plus why it failed.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use originlens_probe::keepalive::{self, KeepaliveOptions};
use originlens_probe::tls_check::load_ca_pem;
use originlens_probe::{probe_with, Exchange, ProbeOptions, Target, TlsOptions};
use originlens_wire::{Cause, GeneratedBy, Severity};

use crate::module::Module;

/// Time kept back from the scrape's own timeout so the answer reaches Prometheus in time
/// (blackbox_exporter's default `--timeout-offset`).
pub const TIMEOUT_MARGIN: Duration = Duration::from_millis(500);
/// The shortest budget a probe is given, however short the scrape timeout.
const MIN_BUDGET: Duration = Duration::from_millis(200);

/// What to probe.
#[derive(Clone, Debug)]
pub struct ScrapeRequest {
    /// The site URL (`target=`).
    pub target: String,
    /// Where to connect instead of the URL's host (`connect_to=HOST:PORT`).
    pub connect_to: Option<String>,
    /// Send this name as Host and SNI and connect to the URL's host (`hostname=`).
    pub hostname: Option<String>,
    /// Prometheus' scrape timeout, from `X-Prometheus-Scrape-Timeout-Seconds`.
    pub scrape_timeout: Option<Duration>,
}

/// How long each phase took, in blackbox_exporter's phases.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Phases {
    /// Name resolution.
    pub resolve: f64,
    /// TCP connect.
    pub connect: f64,
    /// TLS handshake.
    pub tls: f64,
    /// Request sent until the first response byte.
    pub processing: f64,
    /// First response byte until the end.
    pub transfer: f64,
}

/// The keep-alive check's result.
#[derive(Clone, Debug, PartialEq)]
pub struct KeepaliveFigures {
    /// Seconds after which the origin closed an idle connection, when it did.
    pub idle_close_s: Option<f64>,
    /// The origin drops connections the edge would still reuse.
    pub race: bool,
}

/// Everything one scrape reports.
#[derive(Clone, Debug)]
pub struct Scrape {
    /// The visitor would get the origin's complete, non-5xx response.
    pub success: bool,
    /// Wall time of the whole probe, seconds.
    pub duration_s: f64,
    /// The origin's status code (0 when it sent none).
    pub origin_status: u16,
    /// The status the visitor sees under the module's profile (0 when none).
    pub visitor_status: u16,
    /// Who generated that status.
    pub generated_by: GeneratedBy,
    /// The cause, `None` when clean.
    pub cause: Option<Cause>,
    /// Phase durations.
    pub phases: Phases,
    /// The exchange went over TLS.
    pub tls: bool,
    /// Earliest `notAfter` of the served chain, Unix seconds.
    pub earliest_cert_expiry: Option<i64>,
    /// Size of the final response head.
    pub head_bytes: Option<u64>,
    /// Findings by severity: info, warning, error.
    pub findings: [u64; 3],
    /// The keep-alive check, when the module asks for one.
    pub keepalive: Option<KeepaliveFigures>,
}

/// A scrape that could not run at all (Prometheus gets a 400 with the message).
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// The target or connect-to is not usable.
    #[error("{0}")]
    Target(String),
    /// A local problem (TLS set-up, CA file).
    #[error("{0}")]
    Local(String),
}

/// The time a probe may take: the module's timeout, shortened to fit the scrape's.
pub fn budget(module: &Module, scrape_timeout: Option<Duration>) -> Duration {
    let from_scrape = scrape_timeout
        .map(|t| t.saturating_sub(TIMEOUT_MARGIN).max(MIN_BUDGET))
        .unwrap_or(module.timeout);
    module.timeout.min(from_scrape)
}

/// The probe target: `hostname` (when given) is the site name, connecting to the URL's host.
pub fn target(req: &ScrapeRequest) -> Result<Target, ScrapeError> {
    let bad = |e: originlens_probe::TargetError| ScrapeError::Target(e.to_string());
    match (&req.hostname, &req.connect_to) {
        (Some(_), Some(_)) => Err(ScrapeError::Target(
            "give connect_to or hostname, not both".to_owned(),
        )),
        (Some(name), None) => {
            let url = Target::parse(&req.target, None).map_err(bad)?;
            let scheme = if url.tls { "https" } else { "http" };
            let site = format!("{scheme}://{name}:{}{}", url.port, url.path);
            let connect = format!("{}:{}", bracket(&url.connect_host), url.connect_port);
            Target::parse(&site, Some(&connect)).map_err(bad)
        }
        (None, connect_to) => Target::parse(&req.target, connect_to.as_deref()).map_err(bad),
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// Runs one probe for a scrape.
pub async fn scrape(module: &Module, req: &ScrapeRequest) -> Result<Scrape, ScrapeError> {
    let target = target(req)?;
    let budget = budget(module, req.scrape_timeout);
    let limits = module.profile.limits;
    let opts = ProbeOptions {
        target,
        method: module.method.clone(),
        headers: module.headers.clone(),
        body: Vec::new(),
        connect_timeout: limits.connect_timeout.min(budget),
        read_timeout: limits.read_timeout.min(budget),
    };
    let tls = tls_options(module)?;
    let start = Instant::now();
    // The probe's own timeouts fit the budget, so it normally ends with its own verdict; this
    // bound only catches an origin that trickles bytes slower than the read timeout notices.
    let hard_stop = budget + TIMEOUT_MARGIN / 2;
    let exchange = match tokio::time::timeout(hard_stop, probe_with(&opts, &tls)).await {
        Ok(Ok(ex)) => Some(ex),
        Ok(Err(e)) => return Err(ScrapeError::Local(e.to_string())),
        Err(_) => None,
    };
    let mut scrape = match &exchange {
        Some(ex) => from_exchange(module, ex),
        None => out_of_time(module),
    };
    if module.keepalive && scrape.success {
        let left = budget.saturating_sub(start.elapsed());
        scrape.keepalive = keepalive_check(module, &opts, left).await;
        if scrape.keepalive.as_ref().is_some_and(|k| k.race) {
            scrape.success = false;
            scrape.cause = Some(Cause::KeepaliveRace);
        }
    }
    scrape.duration_s = start.elapsed().as_secs_f64();
    Ok(scrape)
}

fn tls_options(module: &Module) -> Result<TlsOptions, ScrapeError> {
    let extra_roots = match &module.ca_file {
        None => Vec::new(),
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                ScrapeError::Local(format!("module `{}`: {}: {e}", module.name, path.display()))
            })?;
            load_ca_pem(&pem).map_err(|e| {
                ScrapeError::Local(format!("module `{}`: {}: {e}", module.name, path.display()))
            })?
        }
    };
    Ok(TlsOptions {
        mode: module.ssl_mode,
        extra_roots,
        check_without_sni: false,
        offer_h2: true,
        client_cert: None,
    })
}

fn from_exchange(module: &Module, ex: &Exchange) -> Scrape {
    let verdict = originlens_probe::judge_exchange(ex, module.profile);
    let t = &ex.timings;
    let secs = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64());
    let delta = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) if b >= a => (b - a).as_secs_f64(),
        _ => 0.0,
    };
    let before_request = t.tls.or(t.connect);
    let phases = Phases {
        resolve: secs(t.resolve),
        connect: delta(t.resolve.or(Some(Duration::ZERO)), t.connect),
        tls: delta(t.connect, t.tls),
        processing: delta(t.request_sent.or(before_request), t.first_byte),
        transfer: delta(t.first_byte, t.total),
    };
    let mut findings = [0u64; 3];
    for f in ex.report.findings.iter().chain(&verdict.limit_findings) {
        findings[match f.severity {
            Severity::Info => 0,
            Severity::Warning => 1,
            Severity::Error => 2,
        }] += 1;
    }
    let earliest_cert_expiry = ex
        .tls_report
        .as_ref()
        .and_then(|r| r.check.certs.iter().map(|c| c.not_after).min());
    Scrape {
        success: verdict.delivered(),
        duration_s: 0.0,
        origin_status: ex.report.status().unwrap_or(0),
        visitor_status: verdict.status.unwrap_or(0),
        generated_by: verdict.generated_by,
        cause: verdict.cause,
        phases,
        tls: ex.tls.is_some(),
        earliest_cert_expiry,
        head_bytes: ex.report.head.as_ref().map(|h| h.len() as u64),
        findings,
        keepalive: None,
    }
}

/// The probe ran out of the scrape's time: the edge would still be waiting, so the cause is the
/// timeout the edge would reach first.
fn out_of_time(module: &Module) -> Scrape {
    let cause = Cause::ResponseTimeout;
    Scrape {
        success: false,
        duration_s: 0.0,
        origin_status: 0,
        visitor_status: module.profile.status_for(cause).unwrap_or(0),
        generated_by: GeneratedBy::Edge,
        cause: Some(cause),
        phases: Phases::default(),
        tls: false,
        earliest_cert_expiry: None,
        head_bytes: None,
        findings: [0, 0, 1],
        keepalive: None,
    }
}

async fn keepalive_check(
    module: &Module,
    probe: &ProbeOptions,
    left: Duration,
) -> Option<KeepaliveFigures> {
    if left < Duration::from_millis(300) {
        return None;
    }
    let max = left - Duration::from_millis(200);
    let mut idle_times: Vec<Duration> = [1, 2, 5, 10, 30, 60]
        .into_iter()
        .map(Duration::from_secs)
        .filter(|t| *t < max)
        .collect();
    idle_times.push(max);
    let opts = KeepaliveOptions {
        probe: probe.clone(),
        idle_times,
        max_requests: 20,
        edge_idle: module.profile.limits.idle_pool,
    };
    let report = tokio::time::timeout(left, keepalive::measure(&opts, &|_| {}))
        .await
        .ok()?
        .ok()?;
    Some(KeepaliveFigures {
        idle_close_s: report.idle.closed_after.map(|d| d.as_secs_f64()),
        race: report.race,
    })
}

/// Unix seconds now.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_follows_the_scrape_timeout_minus_a_margin() {
        let m = Module::builtin();
        assert_eq!(budget(&m, None), Duration::from_secs(10));
        assert_eq!(
            budget(&m, Some(Duration::from_secs(3))),
            Duration::from_millis(2500)
        );
        assert_eq!(budget(&m, Some(Duration::from_secs(60))), m.timeout);
        assert_eq!(budget(&m, Some(Duration::from_millis(100))), MIN_BUDGET);
    }

    #[test]
    fn hostname_is_the_site_and_the_target_is_where_to_connect() {
        let req = ScrapeRequest {
            target: "https://192.0.2.7:8443/health".to_owned(),
            connect_to: None,
            hostname: Some("www.example.com".to_owned()),
            scrape_timeout: None,
        };
        let t = target(&req).unwrap();
        assert_eq!(t.host, "www.example.com");
        assert_eq!(t.connect_host, "192.0.2.7");
        assert_eq!(t.connect_port, 8443);
        assert_eq!(t.path, "/health");
        assert!(t.tls);
        let both = ScrapeRequest {
            connect_to: Some("127.0.0.1:1".to_owned()),
            ..req
        };
        assert!(target(&both).is_err());
    }
}
