//! Direct exchanges: the user's request plus GET and HEAD of the URL, all at once. On https the
//! probe offers `h2, http/1.1` by ALPN as the edge does, and judges TLS with and without SNI.

use std::time::Duration;

use jiff::Timestamp;
use originlens_probe::{Exchange, ProbeOptions};
use originlens_wire::escape::{escape, excerpt};
use originlens_wire::Verdict;

use crate::adapters;
use crate::document::{Excerpt, ExchangeRecord, PhaseTimes, TlsRecord};
use crate::options::Options;

/// One exchange with its verdict and wall-clock start.
pub struct Probed {
    /// `GET /`, `HEAD /`, `request POST /x`.
    pub label: String,
    /// The method sent.
    pub method: String,
    /// When it started.
    pub started: Timestamp,
    /// The evidence.
    pub exchange: Exchange,
    /// The edge's verdict.
    pub verdict: Verdict,
}

impl Probed {
    /// When the exchange ended (or its start, when it never did).
    pub fn ended(&self) -> Timestamp {
        let total = self.exchange.timings.total.unwrap_or_default();
        self.started
            .checked_add(jiff::SignedDuration::try_from(total).unwrap_or_default())
            .unwrap_or(self.started)
    }

    /// Whether the visitor would get an error for it.
    pub fn failed(&self) -> bool {
        !self.verdict.delivered()
    }
}

/// One planned exchange: its label, the request, and whether `h2` is offered by ALPN.
pub struct Planned {
    /// What the report calls it.
    pub label: String,
    /// The request.
    pub probe: ProbeOptions,
    /// Offer `h2` as the edge does (`false`: HTTP/1.1 only).
    pub offer_h2: bool,
}

/// The requests to make: the user's first (when it is not a plain GET, or carries a body), then
/// GET and HEAD; on https, GET once more offering HTTP/1.1 only, since the edge falls back to it.
pub fn plan(opts: &Options, with_head: bool) -> Vec<Planned> {
    let base = ProbeOptions {
        target: opts.target.clone(),
        method: "GET".into(),
        headers: opts.headers.clone(),
        body: Vec::new(),
        connect_timeout: opts.connect_timeout,
        read_timeout: opts.read_timeout,
    };
    let path = &opts.target.path;
    let planned = |label: String, probe: ProbeOptions| Planned {
        label,
        probe,
        offer_h2: true,
    };
    let mut out = Vec::new();
    let user = opts.method.to_ascii_uppercase();
    if (user != "GET" && user != "HEAD") || !opts.body.is_empty() {
        let mut p = base.clone();
        p.method = user.clone();
        p.body = opts.body.clone();
        let sent = if opts.body.is_empty() {
            String::new()
        } else {
            format!(", {} B body", opts.body.len())
        };
        out.push(planned(format!("{user} {path} (as given{sent})"), p));
    }
    out.push(planned(format!("GET {path}"), base.clone()));
    if with_head || user == "HEAD" {
        let mut p = base.clone();
        p.method = "HEAD".into();
        out.push(planned(format!("HEAD {path}"), p));
    }
    if opts.target.tls {
        out.push(Planned {
            label: format!("GET {path} (HTTP/1.1 only)"),
            probe: base,
            offer_h2: false,
        });
    }
    out
}

/// The step's time limit: connecting, two read timeouts and the TLS check without SNI.
pub fn limit(opts: &Options) -> Duration {
    opts.connect_timeout * 2 + opts.read_timeout * 2 + Duration::from_secs(2)
}

/// Runs every planned exchange at once.
pub async fn run(opts: &Options, with_head: bool) -> Result<Vec<Probed>, String> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, planned) in plan(opts, with_head).into_iter().enumerate() {
        let Planned {
            label,
            probe,
            offer_h2,
        } = planned;
        let mut tls = opts.tls.clone();
        if !offer_h2 {
            // The TLS checks (with and without SNI) are the first exchanges' to make.
            tls.offer_h2 = false;
            tls.check_without_sni = false;
        }
        let profile = opts.profile;
        tasks.spawn(async move {
            let started = Timestamp::now();
            let r = adapters::exchange(&probe, &tls, profile).await;
            (i, label, probe.method, started, r)
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, label, method, started, r) = joined.map_err(|e| e.to_string())?;
        let (exchange, verdict) = r.map_err(|e| e.to_string())?;
        out.push((
            i,
            Probed {
                label,
                method,
                started,
                exchange,
                verdict,
            },
        ));
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

fn ms(d: Option<Duration>) -> Option<f64> {
    d.map(|d| (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0)
}

/// The escaped bytes around the deciding defect.
pub fn defect_excerpt(p: &Probed) -> Option<Excerpt> {
    let f = p.verdict.deciding.as_ref()?;
    let bytes = &p.exchange.response;
    let e = excerpt(bytes, f.offset as usize, 48);
    Some(Excerpt {
        before: e.before,
        at: e.at,
        after: e.after,
    })
}

/// The document's record of one exchange.
pub fn record(p: &Probed) -> ExchangeRecord {
    let ex = &p.exchange;
    let t = &ex.timings;
    let tls = ex.tls_report.as_ref().map(|r| {
        let ok = r.handshake.outcome.as_ref().ok();
        TlsRecord {
            version: ok.map(|n| n.version.clone()),
            alpn: ok.and_then(|n| n.alpn.clone()),
            full_ok: ok.is_some(),
            strict_ok: ok.is_some() && r.refusal().is_none(),
            strict_refusal: r.refusal(),
            without_sni: match &r.without_sni {
                None => "not tried (the host is an IP address)".into(),
                Some(w) => match &w.handshake.outcome {
                    Ok(_) if w.same_certificate => "ok, same certificate".into(),
                    Ok(_) if w.name_matches => "ok, another certificate for the name".into(),
                    Ok(_) => "ok, but the certificate is for another name".into(),
                    Err(f) => format!("failed: {}", f.message),
                },
            },
        }
    });
    let raw = &ex.response[..ex.response.len().min(2048)];
    ExchangeRecord {
        label: p.label.clone(),
        method: p.method.clone(),
        protocol: if ex.h2.is_some() { "h2" } else { "HTTP/1.1" }.into(),
        started_at: crate::timeline::rfc3339(p.started),
        origin_status: ex.report.status(),
        visitor_status: p.verdict.status,
        generated_by: p.verdict.generated_by,
        cause: p.verdict.cause,
        finding: p.verdict.deciding.as_ref().map(|f| f.message.to_string()),
        timings: PhaseTimes {
            connect_ms: ms(t.connect),
            tls_ms: ms(t.tls),
            sent_ms: ms(t.request_sent),
            first_byte_ms: ms(t.first_byte),
            head_ms: ms(t.head_complete),
            total_ms: ms(t.total),
        },
        head_bytes: ex
            .report
            .head
            .as_ref()
            .filter(|_| ex.report.head_complete)
            .map(|h| h.len()),
        response_bytes: ex.response_bytes,
        tls,
        excerpt: defect_excerpt(p),
        raw_start: escape(raw),
    }
}
