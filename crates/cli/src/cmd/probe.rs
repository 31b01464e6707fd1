//! `originlens probe`: one request straight to the origin, the exact cause, and what the visitor
//! sees under each peer.

use std::time::Duration;

use anyhow::{bail, Context};
use std::io::IsTerminal;

use originlens_probe::judged::{probe_and_judge_watched, Judged};
use originlens_probe::tls_check::load_ca_pem;
use originlens_probe::{ProbeOptions, SslMode, Target, TlsOptions, Watch};
use originlens_wire::Profile;

use crate::args::{self, Color, Format};
use crate::exit::Exit;

mod batch;
mod document;
mod lab_tour;
mod progress;
mod text;

/// Arguments of `originlens probe`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status (like curl --fail): 0 the visitor gets the origin's complete, \
non-5xx response; 1 the edge answers with its own error, the body is cut or broken, or the \
origin answers 5xx; 2 usage or local error; 130 stopped by Ctrl-C (what was received so far is \
shown, with the verdict the edge would give if it stopped waiting then). With --targets: 0 when \
that holds for every target, 1 when it fails for any, 2 usage (a bad targets line is named \
FILE:LINE:COL)."
)]
pub struct Args {
    /// The site URL: its host is sent as Host and SNI. With --lab: a lab route such as /empty,
    /// or nothing to probe every route.
    pub url: Option<String>,
    /// Connect to HOST[:PORT] instead of the URL's host (the origin's IP behind the edge).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub connect_to: Option<String>,
    /// Probe the embedded lab origin (started on a free loopback port) instead of a URL.
    #[arg(long)]
    pub lab: bool,
    /// Probe every target of FILE (`-`: standard input): one `URL [HOST[:PORT]]` a line, or
    /// JSON lines `{"url": ..., "connect_to": ...}`; `#` comments. Prints one JSON document a
    /// line as each probe ends, then a summary by cause on stderr.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["url", "lab", "connect_to"])]
    pub targets: Option<std::path::PathBuf>,
    /// With --targets: probes at once.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = concurrency)]
    pub concurrency: usize,
    /// With --targets: probe only shard I of N (I from 0 to N-1); target k of the file, in
    /// order, belongs to shard k mod N.
    #[arg(long, value_name = "I/N", value_parser = originlens_fleet::batch::Shard::parse)]
    pub shard: Option<originlens_fleet::batch::Shard>,
    /// With --targets: N shards, this one's index from JOB_COMPLETION_INDEX (a Kubernetes
    /// Indexed Job sets it).
    #[arg(long, value_name = "N", conflicts_with = "shard")]
    pub shards: Option<usize>,
    /// Request method (default GET, or POST with --data).
    #[arg(short = 'X', long)]
    pub method: Option<String>,
    /// Send HEAD (as curl -I).
    #[arg(short = 'I', long = "head", conflicts_with_all = ["method", "data"])]
    pub head: bool,
    /// Extra request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = args::header)]
    pub headers: Vec<(String, String)>,
    /// Request body, sent with its Content-Length: text, `@FILE` or `@-` (standard input).
    #[arg(short = 'd', long = "data", value_name = "DATA", value_parser = args::data)]
    pub data: Option<args::Body>,
    /// The edge whose view decides the verdict and the exit status.
    #[arg(long, default_value = "cloudflare", value_parser = args::profile)]
    pub profile: &'static Profile,
    /// Time allowed to connect: seconds or 250ms, 1.5s, 2m (default: the profile's).
    #[arg(long, value_name = "DURATION", value_parser = args::seconds)]
    pub connect_timeout: Option<Duration>,
    /// Longest silence allowed between reads: seconds or 250ms, 1.5s, 2m (default: the
    /// profile's).
    #[arg(long, value_name = "DURATION", value_parser = args::seconds)]
    pub read_timeout: Option<Duration>,
    /// Output format [default: text; with --targets: json, one document a line].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// When to colour text output.
    #[arg(long, value_enum, default_value_t)]
    pub color: Color,
    /// Print the whole captured exchange, escaped.
    #[arg(long)]
    pub raw: bool,
    /// The edge's SSL/TLS mode toward the origin: strict verifies the certificate (526 when it
    /// fails), full only needs a handshake (certificate problems are warnings), flexible talks
    /// plain HTTP to port 80.
    #[arg(long, value_enum, default_value_t = SslModeArg::Strict)]
    pub ssl_mode: SslModeArg,
    /// The same as --ssl-mode full (as curl -k): the handshake must work, the certificate is
    /// only reported.
    #[arg(short = 'k', long, conflicts_with = "ssl_mode")]
    pub insecure: bool,
    /// Also trust the certificates in this PEM file (e.g. Cloudflare's Origin CA, a private CA).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Present this client certificate chain (PEM) when the origin asks, as Cloudflare's
    /// Authenticated Origin Pulls does; with --key.
    #[arg(long, value_name = "PEM", requires = "key")]
    pub cert: Option<std::path::PathBuf>,
    /// The client certificate's private key (PEM); with --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub key: Option<std::path::PathBuf>,
}

impl Args {
    /// The method sent: `-X`, else POST with `-d`, else GET.
    pub fn method(&self) -> String {
        if self.head {
            return "HEAD".into();
        }
        args::method(self.method.as_deref(), self.data.as_ref())
    }

    /// `--ssl-mode`, with `-k` meaning full.
    pub fn ssl_mode(&self) -> SslModeArg {
        if self.insecure {
            SslModeArg::Full
        } else {
            self.ssl_mode
        }
    }

    /// The body sent (`-d`), empty for none.
    pub fn body(&self) -> Vec<u8> {
        self.data.as_ref().map(|b| b.0.clone()).unwrap_or_default()
    }
}

/// `--concurrency`: at least 1.
fn concurrency(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=100_000).contains(&n) => Ok(n),
        _ => Err(format!("`{s}`: give a number of probes from 1 to 100000")),
    }
}

impl Args {
    /// `--format`, or its default: text for one probe, JSON lines for `--targets`.
    pub fn format(&self) -> Format {
        self.format.unwrap_or(if self.targets.is_some() {
            Format::Json
        } else {
            Format::Text
        })
    }
}

/// `--ssl-mode` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslModeArg {
    /// Plain HTTP to the origin's port 80.
    Flexible,
    /// TLS, certificate not verified.
    Full,
    /// TLS, certificate verified.
    Strict,
}

impl From<SslModeArg> for SslMode {
    fn from(m: SslModeArg) -> SslMode {
        match m {
            // Flexible never reaches TLS (an https:// target is refused with it): the mode
            // only matters for TLS, so any value does.
            SslModeArg::Flexible => SslMode::Full,
            SslModeArg::Full => SslMode::Full,
            SslModeArg::Strict => SslMode::Strict,
        }
    }
}

/// The TLS options from `--ssl-mode` and `--ca-file`.
pub fn tls_options(
    mode: SslModeArg,
    ca_file: Option<&std::path::Path>,
) -> anyhow::Result<TlsOptions> {
    let extra_roots = match ca_file {
        None => Vec::new(),
        Some(path) => {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading --ca-file {}", path.display()))?;
            load_ca_pem(&pem).map_err(|e| anyhow::anyhow!("--ca-file {}: {e}", path.display()))?
        }
    };
    Ok(TlsOptions {
        mode: mode.into(),
        extra_roots,
        check_without_sni: true,
        offer_h2: true,
        client_cert: None,
    })
}

/// The client certificate of `--cert`/`--key`, when given.
pub fn client_cert(
    cert: Option<&std::path::Path>,
    key: Option<&std::path::Path>,
) -> anyhow::Result<Option<originlens_net::ClientCert>> {
    match (cert, key) {
        (Some(cert), Some(key)) => originlens_net::load_client_cert(cert, key)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("--cert {} --key {}: {e}", cert.display(), key.display())),
        _ => Ok(None),
    }
}

/// Probes once with a progress line on a terminal (`progress`), stopping early on Ctrl-C with
/// what was received so far.
pub fn run_probe_watched(
    opts: ProbeOptions,
    tls: &TlsOptions,
    chosen: &'static Profile,
    progress: bool,
) -> anyhow::Result<Judged> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let watch = Watch::new();
    let bar = progress::Bar::new(progress, &opts, chosen);
    let judged = rt.block_on(async {
        let probe = probe_and_judge_watched(opts, tls, chosen, &watch);
        tokio::pin!(probe);
        let mut tick = tokio::time::interval(progress::TICK);
        let mut asked = false;
        loop {
            tokio::select! {
                judged = &mut probe => break judged,
                _ = tokio::signal::ctrl_c(), if !asked => {
                    asked = true;
                    watch.stop();
                }
                _ = tick.tick() => bar.show(&watch),
            }
        }
    });
    bar.clear();
    Ok(judged?)
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<Exit> {
    args.color.apply();
    let headers = args.headers.clone();
    let limits = args.profile.limits;
    let connect_timeout = args.connect_timeout.unwrap_or(limits.connect_timeout);
    let read_timeout = args.read_timeout.unwrap_or(limits.read_timeout);

    if let Some(path) = args.targets.as_deref() {
        return batch::run(&args, path, headers, connect_timeout, read_timeout);
    }
    // Checked here, not with clap's `requires`: clap lets a requirement pass when the required
    // flag conflicts with one present (the URL).
    if args.shard.is_some() || args.shards.is_some() {
        bail!("--shard and --shards split a --targets file: give --targets FILE");
    }
    if args.lab {
        return lab_tour::run(&args, headers, connect_timeout, read_timeout);
    }
    let Some(url) = args.url.as_deref() else {
        bail!(
            "give the site's URL (e.g. https://www.example.com/ --connect-to ORIGIN_IP), or --lab"
        );
    };
    let target = Target::parse(url, args.connect_to.as_deref())?;
    if target.tls && args.ssl_mode() == SslModeArg::Flexible {
        bail!(
            "--ssl-mode flexible: the edge talks plain HTTP to the origin's port 80 and never \
             uses TLS, so there is no TLS story to tell; probe http://{}/ --connect-to {}:80 \
             instead",
            target.host_header(),
            target.connect_host
        );
    }
    let mut tls = tls_options(args.ssl_mode(), args.ca_file.as_deref())?;
    tls.client_cert = client_cert(args.cert.as_deref(), args.key.as_deref())?;
    let opts = ProbeOptions {
        target,
        method: args.method(),
        headers,
        body: args.body(),
        connect_timeout,
        read_timeout,
    };
    let progress = args.format() == Format::Text && std::io::stdout().is_terminal();
    let probed = run_probe_watched(opts, &tls, args.profile, progress)?;
    report(&args, &probed)?;
    Ok(exit_for(&probed))
}

/// Prints one probe in the chosen format.
pub fn report(args: &Args, p: &Judged) -> anyhow::Result<()> {
    let mut out = anstream::stdout().lock();
    match args.format() {
        Format::Json => {
            let doc = document::build(p, args.raw);
            serde_json::to_writer_pretty(&mut out, &doc)?;
            use std::io::Write;
            writeln!(out)?;
        }
        Format::Text => text::print(&mut out, p, args.raw)?,
    }
    Ok(())
}

/// Like `curl --fail`: 0 only when the visitor gets the origin's complete, non-5xx response
/// ([`Verdict::delivered`](originlens_wire::Verdict::delivered)), else 1.
pub fn exit_for(p: &Judged) -> Exit {
    if p.exchange.interrupted.is_some() {
        Exit::Interrupted
    } else if p.verdict.delivered() {
        Exit::Clean
    } else {
        Exit::Problem
    }
}
