//! `originlens exporter`: answer Prometheus' multi-target scrapes with blackbox_exporter's
//! metrics plus the cause of every failure.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use originlens_fleet::{Exporter, ExporterOptions, Modules};

use crate::exit::Exit;

/// Arguments of `originlens exporter`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Scrape GET /probe?target=URL[&module=NAME][&connect_to=HOST:PORT | \
&hostname=NAME]; the probe's time follows Prometheus' X-Prometheus-Scrape-Timeout-Seconds minus \
0.5 s. GET /metrics has the exporter's own counters.\n\nExit status: 0 stopped by Ctrl-C, \
2 usage error (bad modules file, address in use, non-loopback address without --allow-public)."
)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9115")]
    listen: SocketAddr,
    /// Modules file (TOML): named probe settings a scrape picks with `module=NAME`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Check the modules file, print the module names and exit.
    #[arg(long, requires = "config")]
    check_config: bool,
    /// Allow a non-loopback listen address.
    #[arg(long)]
    allow_public: bool,
    /// Probes run at once at most; further scrapes wait for a slot.
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_concurrent: usize,
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<Exit> {
    let modules = match &args.config {
        Some(path) => Modules::load(path)?,
        None => Modules::default(),
    };
    if args.check_config {
        println!("{}", modules.names().collect::<Vec<_>>().join("\n"));
        return Ok(Exit::Clean);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let exporter = Exporter::bind(ExporterOptions {
            listen: args.listen,
            modules,
            allow_public: args.allow_public,
            max_concurrent: args.max_concurrent,
        })
        .await?;
        let addr = exporter.local_addr()?;
        eprintln!("originlens exporter listening on http://{addr}/probe?target=URL");
        tokio::select! {
            () = exporter.serve() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(Exit::Clean)
    })
}
