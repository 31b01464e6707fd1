//! `originlens probe --targets FILE`: the batch loop of `originlens_fleet::batch` printed as one
//! `originlens.probe/1` document a line, then the summary by cause on stderr.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use originlens_fleet::batch::{self, BatchOptions, Failed, Probed, Shard, Summary, TargetLine};
use originlens_wire::Cause;
use serde::Serialize;

use super::document::{self, ProbeDoc};
use super::text::peer_cell;
use super::{tls_options, Args, SslModeArg};
use crate::args::Format;
use crate::exit::Exit;

/// Results waiting for the printer, beyond the probes in flight.
const QUEUE: usize = 256;

/// A probe document with the targets line it answers, so a reader can join the two.
#[derive(Serialize)]
struct BatchLine<'a> {
    #[serde(flatten)]
    doc: ProbeDoc<'a>,
    batch: BatchDoc<'a>,
}

/// `batch`: the line of the targets file as written.
#[derive(Serialize)]
struct BatchDoc<'a> {
    line: usize,
    url: &'a str,
    connect_to: Option<&'a str>,
}

/// The shard from `--shard I/N`, or `--shards N` with `JOB_COMPLETION_INDEX`.
fn shard(args: &Args) -> anyhow::Result<Shard> {
    if let Some(s) = args.shard {
        return Ok(s);
    }
    match args.shards {
        None => Ok(Shard::ALL),
        Some(n) => {
            let index = std::env::var("JOB_COMPLETION_INDEX").ok();
            Shard::from_job_index(index.as_deref(), n).map_err(anyhow::Error::msg)
        }
    }
}

/// Runs the batch.
pub fn run(
    args: &Args,
    path: &Path,
    headers: Vec<(String, String)>,
    connect_timeout: Duration,
    read_timeout: Duration,
) -> anyhow::Result<Exit> {
    let shard = shard(args)?;
    let targets = batch::read_targets(path)?;
    if args.ssl_mode() == SslModeArg::Flexible {
        if let Some(t) = targets.iter().find(|t| t.url.starts_with("https:")) {
            bail!(
                "{}:{}:1: --ssl-mode flexible talks plain HTTP to port 80 and never uses TLS; \
                 give http:// targets with it",
                path.display(),
                t.line
            );
        }
    }
    let total = targets.len();
    let targets = shard.select(targets);
    let opts = BatchOptions {
        profile: args.profile,
        method: args.method(),
        headers,
        connect_timeout,
        read_timeout,
        tls: batch_tls(args)?,
        concurrency: args.concurrency,
    };
    let selected = targets.len();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let started = Instant::now();
    let format = args.format();
    let raw = args.raw;
    let summary = runtime.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel(QUEUE);
        let runner = tokio::spawn(batch::run(targets, opts, tx));
        let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let mut summary = Summary::default();
        while let Some(result) = rx.recv().await {
            summary.add(&result);
            match &result {
                Ok(p) => print_one(&mut out, format, p, raw)?,
                Err(f) => print_failed(path, f),
            }
            // Flush whenever the printer catches up, so a reader sees each result promptly
            // without a write per line when results pour in.
            if rx.is_empty() {
                out.flush()?;
            }
        }
        out.flush()?;
        runner.await.context("the batch runner")?;
        anyhow::Ok(summary)
    })?;
    print_summary(&summary, shard, total, selected, started.elapsed())?;
    Ok(if summary.all_delivered() {
        Exit::Clean
    } else {
        Exit::Problem
    })
}

fn print_one(out: &mut impl Write, format: Format, p: &Probed, raw: bool) -> anyhow::Result<()> {
    let t: &TargetLine = &p.target;
    match format {
        Format::Json => {
            let line = BatchLine {
                doc: document::build(&p.judged, raw),
                batch: BatchDoc {
                    line: t.line,
                    url: &t.url,
                    connect_to: t.connect_to.as_deref(),
                },
            };
            serde_json::to_writer(&mut *out, &line)?;
            writeln!(out)?;
        }
        Format::Text => {
            let target = &p.judged.opts.target;
            writeln!(
                out,
                "{:>6}  {}  via {}:{}  {}",
                t.line,
                t.url,
                target.connect_host,
                target.connect_port,
                peer_cell(&p.judged.verdict)
            )?;
        }
    }
    Ok(())
}

/// A target that could not be probed at all is named on stderr; stdout keeps only documents.
fn print_failed(path: &Path, f: &Failed) {
    eprintln!(
        "originlens: {}:{}: {}: not probed: {}",
        path.display(),
        f.target.line,
        f.target.url,
        f.message
    );
}

/// The summary by cause, on stderr so stdout stays one document a line.
fn print_summary(
    s: &Summary,
    shard: Shard,
    total: usize,
    selected: usize,
    took: Duration,
) -> std::io::Result<()> {
    let mut err = std::io::stderr().lock();
    let of = if shard == Shard::ALL {
        String::new()
    } else {
        format!(" (shard {}/{} of {total})", shard.index, shard.count)
    };
    writeln!(
        err,
        "{selected} target{}{of} in {:.1} s: {} delivered, {} not delivered, {} not probed",
        if selected == 1 { "" } else { "s" },
        took.as_secs_f64(),
        s.delivered,
        s.probed - s.delivered,
        s.failed
    )?;
    writeln!(
        err,
        "  {} clean, {} with a cause, {} answered by the edge's own error",
        s.clean,
        s.probed - s.clean,
        s.edge_errors
    )?;
    let ranked: Vec<(Cause, u64)> = s.ranked();
    if !ranked.is_empty() {
        let width = ranked.iter().map(|(c, _)| c.as_str().len()).max();
        let width = width.unwrap_or(0);
        writeln!(err, "  by cause")?;
        for (cause, n) in ranked {
            writeln!(
                err,
                "  {n:>8}  {:<width$}  {}",
                cause.as_str(),
                cause.meaning()
            )?;
        }
    }
    Ok(())
}

/// The TLS options of a batch: `--ssl-mode` (or `-k`), `--ca-file`, `--cert`/`--key`.
fn batch_tls(args: &Args) -> anyhow::Result<originlens_probe::TlsOptions> {
    let mut tls = tls_options(args.ssl_mode(), args.ca_file.as_deref())?;
    tls.client_cert = super::client_cert(args.cert.as_deref(), args.key.as_deref())?;
    Ok(tls)
}
