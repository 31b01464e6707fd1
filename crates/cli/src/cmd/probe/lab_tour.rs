//! `originlens probe --lab`: start the embedded lab and probe one route, or all of them.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use originlens_lab::{routes, LabHandle, Route};
use originlens_probe::{probe, ProbeOptions, Target};
use originlens_wire::{judge, profile, JudgeContext, Verdict};
use serde_json::json;

use super::{exit_for, report, run_probe, text::peer_cell, Args};
use crate::args::Format;
use crate::exit::Exit;

/// Routes probed at once.
const PARALLEL: usize = 16;

fn options(
    addr: SocketAddr,
    route: &Route,
    args: &Args,
    headers: &[(String, String)],
    connect: Duration,
    read: Duration,
) -> anyhow::Result<ProbeOptions> {
    let url = format!("http://{addr}{}", route.path);
    Ok(ProbeOptions {
        target: Target::parse(&url, None)?,
        method: if args.method == "GET" {
            route.hint.method.to_owned()
        } else {
            args.method.clone()
        },
        headers: headers.to_vec(),
        connect_timeout: connect,
        read_timeout: route
            .hint
            .read_timeout
            .map_or(read, |short| short.min(read)),
    })
}

fn matches(route: &Route, v: &Verdict) -> bool {
    v.status == Some(route.expect.status)
        && v.generated_by == route.expect.generated_by
        && v.cause == route.expect.cause
}

/// Runs the lab tour.
pub fn run(
    args: &Args,
    headers: Vec<(String, String)>,
    connect: Duration,
    read: Duration,
) -> anyhow::Result<Exit> {
    let lab = LabHandle::start("127.0.0.1:0".parse().expect("literal address"))
        .context("starting the embedded lab")?;
    let addr = lab.addr();
    if let Some(path) = args.url.as_deref() {
        let path = path.strip_prefix(&format!("http://{addr}")).unwrap_or(path);
        let route = originlens_lab::route(path)
            .with_context(|| format!("no lab route `{path}` (see `originlens lab --list`)"))?;
        let probed = run_probe(
            options(addr, route, args, &headers, connect, read)?,
            args.profile,
        )?;
        report(args, &probed)?;
        return Ok(exit_for(&probed.verdict));
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let chosen = args.profile;
    let results: Vec<(&'static Route, anyhow::Result<Verdict>)> = rt.block_on(async {
        let mut tasks = Vec::new();
        for route in routes() {
            let opts = options(addr, route, args, &headers, connect, read);
            let limit = limit.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = limit.acquire().await;
                let v = match opts {
                    Ok(o) => probe(&o)
                        .await
                        .map_err(anyhow::Error::from)
                        .map(|ex| judge(&ex.report, chosen, JudgeContext { waited: ex.waited })),
                    Err(e) => Err(e),
                };
                (route, v)
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("probe task panicked"));
        }
        out
    });
    drop(lab);

    let expected = results
        .iter()
        .filter(|(r, v)| {
            v.as_ref()
                .is_ok_and(|v| chosen.name != profile::CLOUDFLARE.name || matches(r, v))
        })
        .count();
    let mut out = anstream::stdout().lock();
    if args.format == Format::Json {
        let rows: Vec<_> = results.iter().map(|(r, v)| json!({
            "route": r.path,
            "summary": r.summary,
            "expect": {"status": r.expect.status, "generated_by": r.expect.generated_by.as_str(),
                "cause": r.expect.cause.map(|c| c.as_str())},
            "verdict": v.as_ref().ok().map(|v| json!({"status": v.status,
                "generated_by": v.generated_by.as_str(), "cause": v.cause.map(|c| c.as_str()),
                "finding": v.finding.map(|k| k.as_str())})),
            "error": v.as_ref().err().map(|e| format!("{e:#}")),
        })).collect();
        serde_json::to_writer_pretty(
            &mut out,
            &json!({"schema": "originlens.lab-tour/1",
            "profile": chosen.name, "routes": rows}),
        )?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "lab on {addr}: {} routes probed, verdicts under {}",
            results.len(),
            chosen.title
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "  {:<28} {:<34} {:<28} what the origin does",
            "route", "visitor sees", "finding"
        )?;
        for (r, v) in &results {
            match v {
                Ok(v) => {
                    let mark = if chosen.name != profile::CLOUDFLARE.name || matches(r, v) {
                        " "
                    } else {
                        "✗"
                    };
                    writeln!(
                        out,
                        "{mark} {:<28} {:<34} {:<28} {}",
                        r.path,
                        peer_cell(v),
                        v.finding.map_or("-", |k| k.as_str()),
                        r.summary
                    )?;
                }
                Err(e) => writeln!(out, "✗ {:<28} error: {e:#}", r.path)?,
            }
        }
        writeln!(out)?;
        writeln!(
            out,
            "{expected} of {} routes gave the verdict the lab documents (✗ marks the others).",
            results.len()
        )?;
        writeln!(out, "Details of one route: originlens probe --lab /empty   All routes: originlens lab --list")?;
    }
    Ok(if expected == results.len() {
        Exit::Clean
    } else {
        Exit::Problem
    })
}
