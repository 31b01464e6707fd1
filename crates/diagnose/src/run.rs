//! The run: independent steps at once, each under its own time limit, then the conclusion.
//!
//! Phase 1 (direct exchanges, `--via`, host snapshot, edge records) and phase 2 (keep-alive,
//! burst, configuration linted with the measured head size) are each run concurrently; the logs
//! are read last so they hold the lines the probe's own requests caused.

use std::future::Future;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use originlens_probe::ProbeOptions;

use crate::checklist;
use crate::conclusion;
use crate::document::*;
use crate::options::{Inputs, Options};
use crate::steps::{budget, burst, config, edge, exchanges, host, keepalive, logs};
use crate::timeline;

/// What a caller hears while the run goes on.
#[derive(Clone, Debug)]
pub enum ProgressEvent {
    /// A step started, with its time limit.
    Started(&'static str, Duration),
    /// A step ended.
    Finished(StepRecord),
}

/// Runs a future under a time limit and records the step.
async fn step<T, F>(
    name: &'static str,
    limit: Duration,
    progress: &(dyn Fn(ProgressEvent) + Sync),
    fut: F,
) -> (Option<T>, StepRecord)
where
    F: Future<Output = Result<(T, String, Vec<String>), String>>,
{
    progress(ProgressEvent::Started(name, limit));
    let start = Instant::now();
    let out = tokio::time::timeout(limit, fut).await;
    let took_s = (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    let (value, status, detail, not_checked) = match out {
        Err(_) => (
            None,
            StepStatus::TimedOut,
            format!("stopped at its {:.1} s limit", limit.as_secs_f64()),
            vec![format!(
                "{name}: did not finish within {:.1} s",
                limit.as_secs_f64()
            )],
        ),
        Ok(Err(why)) if why == "skipped" => (
            None,
            StepStatus::Skipped,
            "not asked for".into(),
            Vec::new(),
        ),
        Ok(Err(why)) => (
            None,
            StepStatus::Failed,
            why.clone(),
            vec![format!("{name}: {why}")],
        ),
        Ok(Ok((v, detail, not_checked))) => {
            let status = if not_checked.is_empty() {
                StepStatus::Ok
            } else {
                StepStatus::Partial
            };
            (Some(v), status, detail, not_checked)
        }
    };
    let rec = StepRecord {
        name,
        limit_s: limit.as_secs_f64(),
        took_s,
        status,
        detail,
        not_checked,
    };
    progress(ProgressEvent::Finished(rec.clone()));
    (value, rec)
}

fn skipped(name: &'static str, why: &str) -> StepRecord {
    StepRecord {
        name,
        limit_s: 0.0,
        took_s: 0.0,
        status: StepStatus::Skipped,
        detail: why.to_owned(),
        not_checked: Vec::new(),
    }
}

/// Whether an address is this machine's: loopback, or one of its own addresses.
pub fn is_local(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host == "localhost" {
        return true;
    }
    let Ok(ip) = host.parse::<std::net::IpAddr>() else {
        return false;
    };
    if ip.is_loopback() || ip.is_unspecified() {
        return true;
    }
    // An address this machine can bind is one of its own.
    std::net::UdpSocket::bind((ip, 0)).is_ok()
}

/// Runs `diagnose` or `verify` to the end on a runtime of its own.
pub fn run(opts: &Options, progress: &(dyn Fn(ProgressEvent) + Sync)) -> Result<Diagnosis, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    rt.block_on(run_async(opts, progress))
}

/// Runs on the caller's runtime.
pub async fn run_async(
    opts: &Options,
    progress: &(dyn Fn(ProgressEvent) + Sync),
) -> Result<Diagnosis, String> {
    let started = Timestamp::now();
    let verify = opts.mode == Mode::Verify;
    let local = is_local(&opts.target.connect_host);
    let since_span =
        jiff::SignedDuration::try_from(opts.since).unwrap_or(jiff::SignedDuration::from_hours(1));
    let since = started.checked_sub(since_span).unwrap_or(started);
    // Fail early on requests the probe cannot build (a bad -X or -H): a usage error.
    originlens_probe::build_request(&ProbeOptions {
        target: opts.target.clone(),
        method: opts.method.clone(),
        headers: opts.headers.clone(),
        body: Vec::new(),
        connect_timeout: opts.connect_timeout,
        read_timeout: opts.read_timeout,
    })
    .map_err(|e| e.to_string())?;

    // Phase 1.
    let ex_step = step("exchanges", exchanges::limit(opts), progress, async {
        let probed = exchanges::run(opts, !verify).await?;
        let detail = format!(
            "{} exchange(s): {}",
            probed.len(),
            probed
                .iter()
                .map(|p| format!(
                    "{} → {}",
                    p.label,
                    p.verdict.status.map_or("none".into(), |s| s.to_string())
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut nc = Vec::new();
        if opts.target.tls {
            nc.push("HTTP/1.1 over TLS when the origin picks h2: the probe offers h2 as the edge does and speaks what the origin picks".into());
        }
        Ok((probed, detail, nc))
    });
    let via_step = async {
        match &opts.via {
            None => (None, skipped("via", "no --via URL")),
            Some(url) => {
                let url = url.clone();
                step("via", exchanges::limit(opts), progress, async move {
                    let target = originlens_probe::Target::parse(&url, None)
                        .map_err(|e| format!("--via {url}: {e}"))?;
                    let probe = ProbeOptions {
                        target,
                        method: "GET".into(),
                        headers: opts.headers.clone(),
                        body: Vec::new(),
                        connect_timeout: opts.connect_timeout,
                        read_timeout: opts.read_timeout,
                    };
                    let started = Timestamp::now();
                    let (exchange, verdict) = crate::adapters::exchange(
                        &probe,
                        &originlens_probe::TlsOptions::default(),
                        opts.profile,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                    let p = exchanges::Probed {
                        label: format!("GET {url} (via the edge)"),
                        method: "GET".into(),
                        started,
                        exchange,
                        verdict,
                    };
                    let detail = format!(
                        "{} → {}",
                        p.label,
                        p.exchange
                            .report
                            .status()
                            .map_or("no response".into(), |s| s.to_string())
                    );
                    Ok((p, detail, Vec::new()))
                })
                .await
            }
        }
    };
    let host_step = async {
        if verify {
            (None, skipped("host", "not part of verify"))
        } else if !local {
            (None, skipped("host", "the target is not on this machine"))
        } else {
            step("host", host::LIMIT, progress, async {
                let snap = tokio::task::spawn_blocking(host::run)
                    .await
                    .map_err(|e| e.to_string())?;
                let detail = format!("{} processes listed", snap.top.len());
                Ok((snap, detail, Vec::new()))
            })
            .await
        }
    };
    let edge_step = async {
        if opts.edge_logs.is_none() && opts.store.is_none() {
            return (None, skipped("edge-records", "no --edge-logs or --store"));
        }
        let (logs, store) = (opts.edge_logs.clone(), opts.store.clone());
        step("edge-records", edge::LIMIT, progress, async move {
            let out = tokio::task::spawn_blocking(move || {
                let mut rec = EdgeRecord::default();
                let mut hits = Vec::new();
                if let Some(p) = &logs {
                    edge::logpush(p, since, &mut rec, &mut hits);
                }
                if let Some(p) = &store {
                    edge::store(p, since, &mut rec, &mut hits);
                }
                rec.hits = hits.iter().map(|h| h.hit.clone()).collect();
                (rec, hits)
            })
            .await
            .map_err(|e| e.to_string())?;
            let detail = format!("{} records, {} 52x", out.0.requests, edge::errors(&out.0));
            let nc = out.0.notes.clone();
            Ok((out, detail, nc))
        })
        .await
    };
    let ((probed, ex_rec), (via, via_rec), (host_snap, host_rec), (edge_out, edge_rec)) =
        tokio::join!(ex_step, via_step, host_step, edge_step);
    let probed = probed.unwrap_or_default();
    let budget = budget::measure(&probed);

    // Phase 2.
    let ka_step = async {
        if verify {
            (None, skipped("keepalive", "not part of verify"))
        } else if opts.keepalive_max.is_zero() {
            (None, skipped("keepalive", "--keepalive-max 0"))
        } else {
            step("keepalive", keepalive::limit(opts), progress, async {
                let (_, rec) = keepalive::run(opts).await?;
                let detail = rec.summary.clone();
                Ok((rec, detail, Vec::new()))
            })
            .await
        }
    };
    let burst_step = async {
        match (verify, opts.burst) {
            (true, _) => (None, skipped("burst", "not part of verify")),
            (false, None) => (None, skipped("burst", "--burst none")),
            (false, Some(b)) => {
                step("burst", burst::limit(opts, b), progress, async move {
                    let out = burst::run(opts, b).await?;
                    let detail = format!(
                        "{} of {} failed ({})",
                        out.0.failed, out.0.requests, out.0.engine
                    );
                    Ok((out, detail, Vec::new()))
                })
                .await
            }
        }
    };
    let head_bytes = budget.as_ref().map(|b| b.head_bytes as u64);
    let config_inputs = match (&opts.config, local) {
        (Inputs::Auto, false) => None,
        (i, _) => Some(i.clone()),
    };
    let config_step = async {
        if verify {
            return (None, skipped("config", "not part of verify"));
        }
        if config_inputs == Some(Inputs::None) {
            return (None, skipped("config", "--config none"));
        }
        let Some(inputs) = config_inputs else {
            return (
                None,
                skipped(
                    "config",
                    "the target is not on this machine; give --config PATH",
                ),
            );
        };
        let profile = opts.profile;
        step("config", config::LIMIT, progress, async move {
            let rec =
                tokio::task::spawn_blocking(move || config::run(&inputs, head_bytes, profile))
                    .await
                    .map_err(|e| e.to_string())??;
            let detail = format!(
                "{} file(s), {} finding(s)",
                rec.files.len(),
                rec.findings.len()
            );
            let nc = rec.errors.clone();
            Ok((rec, detail, nc))
        })
        .await
    };
    let ((ka, ka_rec), (burst_out, burst_rec), (cfg, cfg_rec)) =
        tokio::join!(ka_step, burst_step, config_step);

    // Phase 3: the logs, now that they hold what the probe caused.
    let log_inputs = match (&opts.logs, local) {
        (Inputs::Auto, false) => None,
        (i, _) => Some(i.clone()),
    };
    let (logs_out, logs_rec) = match log_inputs {
        Some(Inputs::None) => (None, skipped("logs", "--logs none")),
        None => (
            None,
            skipped(
                "logs",
                "the target is not on this machine; give --logs PATH",
            ),
        ),
        Some(inputs) => {
            let tz = opts.tz.clone();
            step("logs", logs::LIMIT, progress, async move {
                let since_age = opts.since;
                let (a, rec) = logs::run(&inputs, since, since_age, tz.as_deref()).await?;
                let failed: Vec<String> = rec
                    .inputs
                    .iter()
                    .filter(|i| i.failed)
                    .map(|i| format!("{}: could not be read", i.name))
                    .collect();
                let detail = format!(
                    "{} input(s), {} matched line(s), {} incident(s)",
                    rec.inputs.len(),
                    rec.events,
                    rec.incidents
                );
                Ok(((a, rec), detail, failed))
            })
            .await
        }
    };

    // The conclusion.
    let (burst_rec_doc, burst_failures) = match burst_out {
        Some((r, f)) => (Some(r), f),
        None => (None, Vec::new()),
    };
    let (edge_doc, edge_hits) = match edge_out {
        Some((r, h)) => (Some(r), h),
        None => (None, Vec::new()),
    };
    let probe_events = timeline::probe_events(&probed, &burst_failures);
    let analysis = logs_out.as_ref().map(|(a, _)| a);
    let (timeline, joined_logs) = timeline::build(&probe_events, analysis, &edge_hits, opts.skew);
    let causes = conclusion::causes(&conclusion::Inputs {
        probed: &probed,
        budget: budget.as_ref(),
        keepalive: ka.as_ref(),
        burst: burst_rec_doc.as_ref(),
        logs: analysis,
        joined_logs: &joined_logs,
        config: cfg.as_ref(),
    });
    let burst_failed = burst_failures
        .first()
        .map(|f| (f.status.unwrap_or(opts.profile.error_status), f.cause));
    let verdict = conclusion::verdict(&probed, burst_failed, &causes);

    let unreadable: Vec<String> = logs_out
        .as_ref()
        .map(|(_, r)| {
            r.inputs
                .iter()
                .filter(|i| i.failed)
                .map(|i| i.name.clone())
                .collect()
        })
        .unwrap_or_default();
    let logs_reason = || match (&opts.logs, local) {
        (Inputs::None, _) => "--logs none".to_owned(),
        (Inputs::Auto, false) => format!(
            "{} is not this machine: run on the origin host or give --logs PATH",
            opts.target.connect_host
        ),
        _ => format!("the logs step did not finish ({})", logs_rec.detail),
    };
    let via_reason = || match &opts.via {
        None => {
            "no --via URL: give the public URL (through the real edge) or a staging originlens edge"
                .to_owned()
        }
        Some(_) => format!("the --via request did not run ({})", via_rec.detail),
    };
    let edge_reason = || match (&opts.edge_logs, &opts.store) {
        (None, None) => "no --edge-logs (Cloudflare Logpush http_requests) or --store".to_owned(),
        _ => format!("the edge records could not be read ({})", edge_rec.detail),
    };
    let primary_missing = if probed.is_empty() {
        Some(format!("no exchange: {}", ex_rec.detail))
    } else {
        None
    };
    let checklist = checklist::build(&checklist::Inputs {
        primary: conclusion::primary(&probed),
        primary_missing,
        logs: analysis.ok_or_else(logs_reason),
        unreadable_logs: &unreadable,
        via: via.as_ref().ok_or_else(via_reason),
        budget: budget.as_ref(),
        edge: edge_doc.as_ref().ok_or_else(edge_reason),
    });

    // Step 9 when something failed on the wire but the logs say nothing of that moment.
    let probe_failed = probed.iter().any(|p| p.failed()) || !burst_failures.is_empty();
    let logging_advice =
        (probe_failed && analysis.is_some() && joined_logs.is_empty()).then(|| {
            let server = probed.iter().find_map(|p| {
                p.exchange
                    .report
                    .head
                    .as_ref()?
                    .first("server")
                    .map(|s| String::from_utf8_lossy(s).into_owned())
            });
            conclusion::logging_advice(server.as_deref())
        });

    let mut host_doc = host_snap;
    if let (Some(h), Some(a)) = (host_doc.as_mut(), analysis) {
        h.events = a
            .timeline
            .iter()
            .filter(|e| {
                matches!(
                    e.cause,
                    originlens_wire::Cause::OomKill
                        | originlens_wire::Cause::CrashSignal
                        | originlens_wire::Cause::ProcessRestart
                )
            })
            .take(20)
            .map(|e| format!("{}:{}: {} ({})", e.file, e.line, e.text, e.cause))
            .collect();
    }
    let mut edge_doc = edge_doc;
    if let Some(v) = &via {
        edge_doc.get_or_insert_with(EdgeRecord::default).via = Some(exchanges::record(v));
    }

    let failed_item = checklist.iter().any(|c| c.status == CheckStatus::Fail);
    let direct_ok = checklist
        .first()
        .is_some_and(|c| c.status == CheckStatus::Pass);
    let exit_status = match opts.mode {
        Mode::Verify => u8::from(failed_item || !direct_ok),
        Mode::Diagnose => u8::from(failed_item || verdict.cause.is_some()),
    };
    Ok(Diagnosis {
        schema: SCHEMA,
        mode: opts.mode,
        target: TargetInfo {
            url: opts.url.clone(),
            connect: format!("{}:{}", opts.target.connect_host, opts.target.connect_port),
            local,
        },
        started_at: timeline::rfc3339(started),
        verdict,
        checklist,
        causes,
        timeline,
        steps: vec![
            ex_rec, via_rec, host_rec, edge_rec, ka_rec, burst_rec, cfg_rec, logs_rec,
        ],
        exchanges: probed.iter().map(exchanges::record).collect(),
        head_budget: budget,
        keepalive: ka,
        burst: burst_rec_doc,
        host: host_doc,
        logs: logs_out.map(|(_, r)| r),
        config: cfg,
        edge: edge_doc,
        logging_advice,
        exit_status,
    })
}
