//! `originlens probe --lab`: start the embedded lab and probe one route, or every HTTP route and
//! every TLS and HTTP/2 listener.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use originlens_lab::{routes, LabHandle, Route, TlsCase, LAB_HOST};
use originlens_probe::judged::probe_and_judge;
use originlens_probe::tls_check::load_ca_pem;
use originlens_probe::{ProbeOptions, SslMode, Target, TlsOptions};
use originlens_wire::{profile, Cause, GeneratedBy, Kind, Verdict};
use serde::Serialize;

use super::document::VerdictDoc;
use super::{exit_for, report, run_probe_watched, text::peer_cell, Args};
use crate::args::Format;
use crate::exit::Exit;

/// The schema id of the tour's JSON document (`schemas/lab-tour.json`).
pub const SCHEMA: &str = "originlens.lab-tour/1";
/// Probes at once.
const PARALLEL: usize = 16;

/// What the lab documents for one stop of the tour.
#[derive(Clone, Copy, Serialize)]
struct Expect {
    status: u16,
    generated_by: GeneratedBy,
    cause: Option<Cause>,
    finding: Option<Kind>,
}

/// One stop: an HTTP route or a TLS/h2 listener.
struct Stop {
    kind: &'static str,
    name: String,
    summary: &'static str,
    expect: Expect,
    opts: anyhow::Result<ProbeOptions>,
    tls: Arc<TlsOptions>,
}

#[derive(Serialize)]
struct Row<'a> {
    /// `http` for a route, `tls` for a TLS or HTTP/2 listener.
    kind: &'static str,
    /// The route's path, or the listener's name.
    route: &'a str,
    summary: &'static str,
    expect: Expect,
    matches: bool,
    verdict: Option<VerdictDoc<'a>>,
    error: Option<String>,
}

#[derive(Serialize)]
struct TourDoc<'a> {
    schema: &'static str,
    profile: &'static str,
    lab: String,
    routes: Vec<Row<'a>>,
    agreed: usize,
    total: usize,
}

fn route_options(
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
        method: if args.method.is_none() && args.data.is_none() && !args.head {
            route.hint.method.to_owned()
        } else {
            args.method()
        },
        headers: headers.to_vec(),
        body: args.body(),
        connect_timeout: connect,
        read_timeout: route
            .hint
            .read_timeout
            .map_or(read, |short| short.min(read)),
    })
}

fn matches(e: &Expect, v: &Verdict) -> bool {
    v.status == Some(e.status) && v.generated_by == e.generated_by && v.cause == e.cause
}

/// Every stop of the tour: the HTTP routes, then the TLS and h2 listeners in strict mode with
/// the lab root trusted.
fn stops(
    lab: &LabHandle,
    args: &Args,
    headers: &[(String, String)],
    connect: Duration,
    read: Duration,
) -> anyhow::Result<Vec<Stop>> {
    let plain = Arc::new(TlsOptions::default());
    let mut out: Vec<Stop> = routes()
        .iter()
        .map(|r| Stop {
            kind: "http",
            name: r.path.to_owned(),
            summary: r.summary,
            expect: Expect {
                status: r.expect.status,
                generated_by: r.expect.generated_by,
                cause: r.expect.cause,
                finding: r.expect.finding,
            },
            opts: route_options(lab.addr(), r, args, headers, connect, read),
            tls: plain.clone(),
        })
        .collect();
    let roots = load_ca_pem(lab.ca_pem().as_bytes())
        .map_err(|e| anyhow::anyhow!("the lab's own CA: {e}"))?;
    let strict = Arc::new(TlsOptions {
        mode: SslMode::Strict,
        extra_roots: roots,
        check_without_sni: true,
        offer_h2: true,
        client_cert: None,
    });
    for &case in TlsCase::ALL {
        let Some(addr) = lab.tls_addr(case) else {
            continue;
        };
        let e = case.expect();
        let url = format!("https://{LAB_HOST}:{}/", addr.port());
        let opts = Target::parse(&url, Some(&addr.to_string()))
            .map_err(anyhow::Error::from)
            .map(|target| ProbeOptions {
                target,
                method: args.method(),
                headers: headers.to_vec(),
                body: args.body(),
                connect_timeout: connect,
                read_timeout: read.min(Duration::from_secs(5)),
            });
        out.push(Stop {
            kind: "tls",
            name: case.name().to_owned(),
            summary: case.summary(),
            expect: Expect {
                status: e.status,
                generated_by: if e.cause.is_some() {
                    GeneratedBy::Edge
                } else {
                    GeneratedBy::Origin
                },
                cause: e.cause,
                finding: e.finding,
            },
            opts,
            tls: strict.clone(),
        });
    }
    Ok(out)
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
        let progress = args.format() == Format::Text && std::io::stdout().is_terminal();
        let probed = run_probe_watched(
            route_options(addr, route, args, &headers, connect, read)?,
            &TlsOptions::default(),
            args.profile,
            progress,
        )?;
        report(args, &probed)?;
        return Ok(exit_for(&probed));
    }

    let stops = stops(&lab, args, &headers, connect, read)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let chosen = args.profile;
    let verdicts: Vec<anyhow::Result<Verdict>> = rt.block_on(async {
        let mut tasks = Vec::new();
        for stop in &stops {
            let opts = stop.opts.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"));
            let opts = opts.cloned();
            let tls = stop.tls.clone();
            let limit = limit.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = limit.acquire().await;
                let judged = probe_and_judge(opts?, &tls, chosen).await?;
                anyhow::Ok(judged.verdict)
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(
                t.await
                    .unwrap_or_else(|e| Err(anyhow::anyhow!("probe task: {e}"))),
            );
        }
        out
    });
    drop(lab);

    // The lab documents what Cloudflare does; under another profile only errors are marked.
    let judged_by_lab = chosen.name == profile::CLOUDFLARE.name;
    let agrees = |s: &Stop, v: &anyhow::Result<Verdict>| {
        v.as_ref()
            .is_ok_and(|v| !judged_by_lab || matches(&s.expect, v))
    };
    let agreed = stops
        .iter()
        .zip(&verdicts)
        .filter(|(s, v)| agrees(s, v))
        .count();
    let mut out = anstream::stdout().lock();
    if args.format() == Format::Json {
        let rows = stops
            .iter()
            .zip(&verdicts)
            .map(|(s, v)| Row {
                kind: s.kind,
                route: &s.name,
                summary: s.summary,
                expect: s.expect,
                matches: agrees(s, v),
                verdict: v.as_ref().ok().map(VerdictDoc::of),
                error: v.as_ref().err().map(|e| format!("{e:#}")),
            })
            .collect();
        let doc = TourDoc {
            schema: SCHEMA,
            profile: chosen.name,
            lab: addr.to_string(),
            routes: rows,
            agreed,
            total: stops.len(),
        };
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        let cells: Vec<[String; 3]> = stops
            .iter()
            .zip(&verdicts)
            .map(|(s, v)| match v {
                Ok(v) => [
                    s.name.clone(),
                    peer_cell(v),
                    v.finding.map_or("-", |k| k.as_str()).to_owned(),
                ],
                Err(e) => [s.name.clone(), format!("error: {e:#}"), "-".to_owned()],
            })
            .collect();
        // Each column as wide as its widest cell, so no row pushes the next column over.
        let width = |i: usize, title: &str| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([title.len()])
                .max()
                .unwrap_or(0)
        };
        let (w0, w1, w2) = (
            width(0, "route"),
            width(1, "visitor sees"),
            width(2, "finding"),
        );
        writeln!(
            out,
            "lab on {addr}: {} routes and {} TLS/h2 listeners probed, verdicts under {}",
            routes().len(),
            stops.len() - routes().len(),
            chosen.title
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "  {:<w0$} {:<w1$} {:<w2$} what the origin does",
            "route", "visitor sees", "finding"
        )?;
        let mut last_kind = "http";
        for ((s, v), c) in stops.iter().zip(&verdicts).zip(&cells) {
            let mark = if agrees(s, v) { " " } else { "✗" };
            if s.kind != last_kind {
                last_kind = s.kind;
                writeln!(
                    out,
                    "  {DIM}TLS and HTTP/2 listeners (https://{LAB_HOST}/, ssl-mode strict, lab root trusted){DIM:#}"
                )?;
            }
            writeln!(
                out,
                "{mark} {:<w0$} {:<w1$} {:<w2$} {}",
                c[0], c[1], c[2], s.summary
            )?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "{agreed} of {} routes gave the verdict the lab documents (✗ marks the others).",
            stops.len()
        )?;
        writeln!(out, "Details of one route: originlens probe --lab /empty   All routes: originlens lab --list")?;
    }
    Ok(if agreed == stops.len() {
        Exit::Clean
    } else {
        Exit::Problem
    })
}

const DIM: anstyle::Style = anstyle::Style::new().dimmed();
