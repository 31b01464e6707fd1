//! `originlens edge`: a reverse proxy in front of an origin that answers like the edge and
//! records why for every bad response.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use originlens_edge::{Edge, EdgeConfig, OriginConfig, OriginUrl, SslMode};
use originlens_wire::Profile;

use crate::args;
use crate::exit::Exit;

/// Where the edge listens and stores without `--config` or a flag saying otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_ADMIN: &str = "127.0.0.1:9901";
const DEFAULT_STORE: &str = "incidents.db";

/// Arguments of `originlens edge`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Exit status: 0 when stopped with Ctrl-C (queued incidents are written first) or --check-config
found the file valid; 2 usage or local error (an address that cannot be bound, a store that cannot
be opened, an invalid configuration named with file:line:col).

With --config FILE: --listen, --admin, --no-admin, --store, --no-store and the switches
(--no-retry, --no-reuse-check, --no-redact, --max-request-body) given on the command line
override the file; the per-origin flags (--origin, --profile, timeouts, --host-header, --sni,
--ssl-mode, --ca-file, --cert/--key) belong in the file's [[origin]] tables and are refused beside it.")]
pub struct Args {
    /// Address visitors connect to (port 0 picks a free port) [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The origin: http://host:port or https://host:port.
    #[arg(long, value_name = "URL", required_unless_present_any = ["config", "check_config"])]
    origin: Option<String>,
    /// Where incidents go: a SQLite file, or a `postgres://user:password@host/db` URL shared
    /// by a fleet of edges (written off the request path, buffered while the database is away).
    /// [default: incidents.db]
    #[arg(long, value_name = "FILE|URL")]
    store: Option<PathBuf>,
    /// Do not store incidents (they are still logged on stderr).
    #[arg(long, conflicts_with = "store")]
    no_store: bool,
    /// Admin listener for /metrics and /healthz [default: 127.0.0.1:9901].
    #[arg(long, value_name = "ADDR")]
    admin: Option<SocketAddr>,
    /// No admin listener.
    #[arg(long, conflicts_with = "admin")]
    no_admin: bool,
    /// Allow non-loopback listen or admin addresses.
    #[arg(long)]
    allow_public: bool,
    /// The edge whose behaviour is emulated [default: cloudflare].
    #[arg(long, value_name = "NAME", value_parser = args::profile)]
    profile: Option<&'static Profile>,
    /// Connect timeout: seconds or 250ms, 1.5s, 2m (profile default: cloudflare 19 s).
    #[arg(long, value_name = "DURATION", value_parser = args::seconds)]
    connect_timeout: Option<Duration>,
    /// Read timeout, per read: seconds or 250ms, 1.5s, 2m (profile default: cloudflare 125 s).
    #[arg(long, value_name = "DURATION", value_parser = args::seconds)]
    read_timeout: Option<Duration>,
    /// How long idle upstream connections are kept: seconds or 15m (cloudflare 900 s; 0: no
    /// pooling).
    #[arg(long, value_name = "DURATION", value_parser = args::duration)]
    idle_timeout: Option<Duration>,
    /// Do not retry a reused connection that failed before any byte.
    #[arg(long)]
    no_retry: bool,
    /// Do not test a pooled connection before reusing it (shows the keep-alive race).
    #[arg(long)]
    no_reuse_check: bool,
    /// Host header sent to the origin (default: the visitor's).
    #[arg(long, value_name = "HOST")]
    host_header: Option<String>,
    /// TLS server name for https origins (default: the origin's host name; for an IP origin,
    /// --host-header, else the visitor's host name).
    #[arg(long, value_name = "NAME")]
    sni: Option<String>,
    /// Certificate checking for https origins: strict (526 on a bad certificate) or full
    /// [default: strict].
    #[arg(long, value_name = "MODE")]
    ssl_mode: Option<String>,
    /// PEM roots trusted in strict mode besides the Mozilla ones (a private or origin CA).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM) presented to an https origin that asks for one, as
    /// Cloudflare's Authenticated Origin Pulls does; with --key.
    #[arg(long, value_name = "PEM", requires = "key")]
    cert: Option<PathBuf>,
    /// The client certificate's private key (PEM); with --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<PathBuf>,
    /// Store Cookie, Set-Cookie and Authorization values as sent.
    #[arg(long)]
    no_redact: bool,
    /// Time a visitor has to send a whole request head, from the accept (first request) or
    /// the head's first byte: seconds or 500ms, 1m (default 60 s, nginx's
    /// client_header_timeout); a slowloris client is closed when it runs out.
    #[arg(long, value_name = "DURATION", value_parser = args::seconds)]
    header_timeout: Option<Duration>,
    /// Silence allowed between two reads of a request body (default 60 s, nginx's
    /// client_body_timeout).
    #[arg(long, value_name = "DURATION", value_parser = args::seconds)]
    body_timeout: Option<Duration>,
    /// Time a write to the visitor may make no progress (default 60 s, nginx's send_timeout).
    #[arg(long, value_name = "DURATION", value_parser = args::seconds)]
    send_timeout: Option<Duration>,
    /// How long an idle visitor connection is kept between requests (default 400 s, as
    /// Cloudflare).
    #[arg(long, value_name = "DURATION", value_parser = args::seconds)]
    visitor_idle_timeout: Option<Duration>,
    /// Largest request body accepted: bytes or 64k, 16MiB, 10MB.
    #[arg(long, value_name = "SIZE", value_parser = args::byte_size)]
    max_request_body: Option<usize>,
    /// TOML configuration (several origins by Host, per-origin profile and timeouts).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Worker threads serving connections (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
    /// Check a TOML configuration and exit.
    #[arg(long, value_name = "FILE")]
    check_config: Option<PathBuf>,
}

impl Args {
    /// The per-origin flags given, which a `--config` file's origins would not take.
    fn origin_flags_given(&self) -> Vec<&'static str> {
        [
            ("--origin", self.origin.is_some()),
            ("--profile", self.profile.is_some()),
            ("--connect-timeout", self.connect_timeout.is_some()),
            ("--read-timeout", self.read_timeout.is_some()),
            ("--idle-timeout", self.idle_timeout.is_some()),
            ("--host-header", self.host_header.is_some()),
            ("--sni", self.sni.is_some()),
            ("--ssl-mode", self.ssl_mode.is_some()),
            ("--ca-file", self.ca_file.is_some()),
            ("--cert", self.cert.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect()
    }
}

fn default_addr(text: &str) -> SocketAddr {
    text.parse().expect("a valid default address")
}

/// The single origin the flags describe (no `--config`).
fn origin_from_flags(args: &Args) -> anyhow::Result<OriginConfig> {
    let url = args.origin.as_deref().unwrap_or_default();
    let profile = args.profile.map_or("cloudflare", |p| p.name);
    let mut origin = OriginConfig::new(OriginUrl::parse(url)?, profile)?;
    origin.host_header = args.host_header.clone();
    origin.sni = args.sni.clone();
    let mode = args.ssl_mode.as_deref().unwrap_or("strict");
    origin.ssl_mode = SslMode::parse(mode)
        .with_context(|| format!("--ssl-mode: `{mode}` is not strict or full"))?;
    if let Some(path) = &args.ca_file {
        origin.extra_roots = originlens_edge::config::load_ca_file(path)?;
    }
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        origin.client_cert = Some(originlens_edge::config::load_client_cert(cert, key)?);
    }
    origin.set_timeouts(args.connect_timeout, args.read_timeout, args.idle_timeout);
    Ok(origin)
}

fn config_from_flags(args: &Args) -> anyhow::Result<EdgeConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let given = args.origin_flags_given();
            if !given.is_empty() {
                anyhow::bail!(
                    "{} cannot be used with --config {}: set them in the file's [[origin]] tables",
                    given.join(", "),
                    path.display()
                );
            }
            originlens_edge::file::load(path)?
        }
        None => {
            let mut c = EdgeConfig::single(default_addr(DEFAULT_LISTEN), origin_from_flags(args)?);
            c.admin = Some(default_addr(DEFAULT_ADMIN));
            c.store = Some(PathBuf::from(DEFAULT_STORE));
            c
        }
    };
    // Flags given on the command line win over the file (and the defaults).
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(admin) = args.admin {
        config.admin = Some(admin);
    }
    if args.no_admin {
        config.admin = None;
    }
    if let Some(store) = &args.store {
        config.store = Some(store.clone());
    }
    if args.no_store {
        config.store = None;
    }
    if args.no_retry {
        config.retry = false;
    }
    if args.no_reuse_check {
        config.reuse_check = false;
    }
    if args.no_redact {
        config.redact = false;
    }
    if let Some(max) = args.max_request_body {
        config.max_request_body = max;
    }
    for (flag, slot) in [
        (args.header_timeout, &mut config.header_timeout),
        (args.body_timeout, &mut config.body_timeout),
        (args.send_timeout, &mut config.send_timeout),
        (args.visitor_idle_timeout, &mut config.visitor_idle_timeout),
    ] {
        if let Some(d) = flag {
            *slot = d;
        }
    }
    config.validate()?;
    Ok(config)
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<Exit> {
    if let Some(path) = &args.check_config {
        let config = originlens_edge::check::check_file(path)?;
        println!(
            "{}: ok, {} origin(s), listen {}",
            path.display(),
            config.origins.len(),
            config.listen
        );
        return Ok(Exit::Clean);
    }
    let config = config_from_flags(&args)?;
    let public =
        !config.listen.ip().is_loopback() || config.admin.is_some_and(|a| !a.ip().is_loopback());
    if public && !args.allow_public {
        anyhow::bail!("a listen or admin address is not loopback; pass --allow-public to use it");
    }
    let workers = args.workers.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    // This thread's runtime serves visitors too; the edge starts one more per extra worker.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let store_thread = runtime.block_on(async {
        let mut edge = Edge::bind(config.clone(), workers).await?;
        let mut out = std::io::stdout().lock();
        // Line by line, so a wrapper (or a test) can read the addresses as soon as they are bound.
        writeln!(
            out,
            "originlens edge: listening on http://{}/",
            edge.local_addr()
        )?;
        for o in &config.origins {
            writeln!(
                out,
                "origin: {} (profile {})",
                o.url.authority(),
                o.profile.name
            )?;
        }
        if let Some(a) = edge.admin_addr() {
            writeln!(out, "admin: http://{a}/metrics")?;
        }
        match &config.store {
            Some(s) => writeln!(
                out,
                "store: {}",
                originlens_edge::store_postgres::display_url(&s.to_string_lossy())
            )?,
            None => writeln!(out, "store: none")?,
        }
        out.flush()?;
        drop(out);
        let thread = edge.take_store_thread();
        edge.serve_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
        anyhow::Ok(thread)
    })?;
    // Dropping the runtime drops every connection and with them the store's senders; the
    // writer then commits what is queued and ends.
    runtime.shutdown_timeout(Duration::from_secs(2));
    if let Some(t) = store_thread {
        let _ = t.join();
    }
    Ok(Exit::Clean)
}
