//! `originlens load`: drive the origin like the edge does, judge every response, and tell which
//! failures happened, how often, on which connections and why.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use originlens_load::{LoadOptions, LoadReport, Model, RequestSpec, Route, Snapshot};
use originlens_net::{load_ca_file, SslMode, TlsPolicy};
use originlens_probe::Target;
use originlens_wire::Profile;

use crate::args::{self, Format};
use crate::exit::Exit;

mod parse;
mod text;

/// Arguments of `originlens load`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: 0 nothing failed (or the failures stay under \
--max-error-rate) and --max-p99 holds, 1 a request failed or a threshold was crossed, 2 usage \
or local error.\n\nOnly load your own origin or the loopback lab: every run stops by itself \
(-n, --duration, at most 1 hour)."
)]
pub struct Args {
    /// The site URL(s): the first one's host is sent as Host and SNI; several URLs are sent in
    /// turn and the failures are told per route.
    pub urls: Vec<String>,
    /// Read more URLs from this file, one per line (`#` starts a comment).
    #[arg(long = "urls", value_name = "FILE")]
    pub urls_file: Option<PathBuf>,
    /// Connect to HOST[:PORT] instead of the URL's host (the origin's IP behind the edge).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub connect_to: Option<String>,
    /// Connections (closed model), or most requests in flight with -q.
    #[arg(short = 'c', long, default_value_t = 50)]
    pub connections: usize,
    /// Open model: this many requests per second whatever the origin does; latency is also
    /// measured from each request's intended send time (coordinated omission corrected).
    #[arg(short = 'q', long = "rate", value_name = "PER_SEC")]
    pub rate: Option<f64>,
    /// Stop after this many requests.
    #[arg(short = 'n', long = "requests")]
    pub requests: Option<u64>,
    /// Stop after this long (`30s`, `2m`, `500ms`; default 10s without -n).
    #[arg(long, value_name = "DURATION", value_parser = args::duration)]
    pub duration: Option<Duration>,
    /// Connections (closed) or the rate (open) grow from zero over this time.
    #[arg(long, value_name = "DURATION", value_parser = args::duration)]
    pub ramp: Option<Duration>,
    /// Open a new connection for every request (`Connection: close`).
    #[arg(long)]
    pub no_keepalive: bool,
    /// Speak HTTP/2 (https only; `h2` offered by ALPN): -c connections, each carrying
    /// --streams requests at once.
    #[arg(long)]
    pub http2: bool,
    /// With --http2: requests at once on each connection.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "http2")]
    pub streams: usize,
    /// Leave each connection idle this long before reusing it, as the edge's pool does.
    #[arg(long, value_name = "DURATION", value_parser = args::duration)]
    pub idle: Option<Duration>,
    /// Pause only before every n-th reuse of a connection (with --idle).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub idle_every: u32,
    /// Request method.
    #[arg(short = 'X', long, default_value = "GET")]
    pub method: String,
    /// Extra request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Request body (sent with Content-Length).
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    pub data: Option<String>,
    /// The edge whose verdict says what a failure is.
    #[arg(long, default_value = "cloudflare", value_parser = args::profile)]
    pub profile: &'static Profile,
    /// Time allowed to connect, seconds or a duration (default: the profile's).
    #[arg(long, value_name = "SECS", value_parser = args::seconds)]
    pub connect_timeout: Option<Duration>,
    /// Longest silence allowed while reading a response (default: the profile's).
    #[arg(long, value_name = "SECS", value_parser = args::seconds)]
    pub read_timeout: Option<Duration>,
    /// The edge's SSL/TLS mode toward an https origin.
    #[arg(long, value_enum, default_value_t = SslModeArg::Strict)]
    pub ssl_mode: SslModeArg,
    /// Also trust the certificates in this PEM file.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Raw exchanges kept per cause, as evidence.
    #[arg(long, value_name = "K", default_value_t = 3)]
    pub evidence: usize,
    /// Compare with an earlier run's `--format json` output.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Fail (exit 1) only when more than this share of requests failed (`0.1%`, `0.001`).
    #[arg(long, value_name = "RATE", value_parser = parse::fraction)]
    pub max_error_rate: Option<f64>,
    /// Fail (exit 1) when the p99 latency is above this (`200ms`, `1s`).
    #[arg(long, value_name = "DURATION", value_parser = args::duration)]
    pub max_p99: Option<Duration>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `--ssl-mode` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslModeArg {
    /// TLS, certificate not verified.
    Full,
    /// TLS, certificate verified.
    Strict,
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<Exit> {
    let opts = options(&args)?;
    let baseline = match &args.baseline {
        None => None,
        Some(path) => {
            let text = std::fs::read(path)
                .with_context(|| format!("reading --baseline {}", path.display()))?;
            let base: LoadReport = serde_json::from_slice(&text).map_err(|e| {
                anyhow::anyhow!(
                    "--baseline {}:{}:{}: not an originlens.load/1 document: {e}",
                    path.display(),
                    e.line(),
                    e.column()
                )
            })?;
            Some(base)
        }
    };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let bar = std::io::stderr()
        .is_terminal()
        .then(indicatif::ProgressBar::new_spinner);
    let mut report = {
        let mut show = |s: &Snapshot| {
            if let Some(bar) = &bar {
                bar.set_message(text::progress(s));
                bar.tick();
            }
        };
        let progress: Option<&mut (dyn FnMut(&Snapshot) + Send)> =
            if bar.is_some() { Some(&mut show) } else { None };
        rt.block_on(originlens_load::run(opts, progress))?
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(base) = &baseline {
        report.baseline = Some(report.compare(base));
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Text => text::print(&mut out, &report)?,
    }
    out.flush()?;
    let too_slow = args
        .max_p99
        .is_some_and(|max| report.latency_ms.p99 > max.as_secs_f64() * 1000.0);
    let too_many = match args.max_error_rate {
        Some(max) => report.error_rate > max,
        None => report.failed > 0,
    };
    Ok(if too_slow || too_many {
        Exit::Problem
    } else {
        Exit::Clean
    })
}

/// The library's options from the flags.
fn options(args: &Args) -> anyhow::Result<LoadOptions> {
    let mut urls = args.urls.clone();
    if let Some(path) = &args.urls_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --urls {}", path.display()))?;
        urls.extend(parse::url_lines(&text));
    }
    let Some(first) = urls.first() else {
        bail!("give a URL to load (or --urls FILE)");
    };
    let connect_to = args.connect_to.as_deref();
    let target = Target::parse(first, connect_to).with_context(|| format!("URL `{first}`"))?;
    let mut headers = Vec::new();
    for h in &args.headers {
        headers.push(args::header(h).map_err(anyhow::Error::msg)?);
    }
    let spec = RequestSpec {
        method: args.method.clone(),
        headers,
        body: args.data.as_ref().map(|d| d.clone().into_bytes()),
    };
    let keepalive = !args.no_keepalive;
    let mut routes = Vec::new();
    for url in &urls {
        let t = Target::parse(url, connect_to).with_context(|| format!("URL `{url}`"))?;
        if (t.tls, &t.host, t.connect_port) != (target.tls, &target.host, target.connect_port) {
            bail!("URL `{url}`: every URL of a run must go to the same origin as `{first}`");
        }
        routes.push(Route::build(&t, &spec, keepalive, args.http2)?);
    }
    let extra_roots = match &args.ca_file {
        None => Vec::new(),
        Some(path) => load_ca_file(path).map_err(|e| anyhow::anyhow!("--ca-file: {e}"))?,
    };
    let tls = TlsPolicy {
        mode: match args.ssl_mode {
            SslModeArg::Full => SslMode::Full,
            SslModeArg::Strict => SslMode::Strict,
        },
        extra_roots,
        ..TlsPolicy::default()
    };
    let limits = &args.profile.limits;
    Ok(LoadOptions {
        target,
        routes,
        model: match args.rate {
            Some(rate) => Model::Open { rate },
            None => Model::Closed,
        },
        connections: args.connections,
        http2: args.http2,
        streams: args.streams,
        requests: args.requests,
        duration: args.duration,
        ramp: args.ramp.unwrap_or_default(),
        keepalive,
        idle: args.idle,
        idle_every: args.idle_every,
        profile: args.profile,
        connect_timeout: args.connect_timeout.unwrap_or(limits.connect_timeout),
        read_timeout: args.read_timeout.unwrap_or(limits.read_timeout),
        tls,
        evidence_per_cause: args.evidence,
    })
}
