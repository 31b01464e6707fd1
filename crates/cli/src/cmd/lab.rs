//! `originlens lab`: run the deliberately broken origin, or list its routes.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context as _;
use originlens_lab::{routes, Lab, Mix, MixSink, Route, TlsCase, TlsLab, LAB_HOST};

use originlens_wire::{Cause, GeneratedBy, Kind};
use serde::Serialize;

use crate::args::Format;
use crate::exit::Exit;

/// Arguments of `originlens lab`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: 0 after --list, or when stopped with Ctrl-C; 2 usage or local \
error (the address cannot be bound, a public address without --allow-public)."
)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8520")]
    listen: SocketAddr,
    /// Allow a non-loopback listen address: the lab answers anyone with broken HTTP.
    #[arg(long)]
    allow_public: bool,
    /// Print the routes and what the edge makes of each, then exit.
    #[arg(long)]
    list: bool,
    /// Output format of `--list`.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Answer every request with a route drawn from a weighted mix, whatever its path:
    /// `default` (about 85 % clean, the rest broken in every way the edge sees), or
    /// PATH=WEIGHT,... (`/ok=90,/empty=5,/cl-conflict=5`). The draw depends on --seed and the
    /// request's `id=` query parameter (else its arrival number); each is printed on stderr as
    /// `mix KEY PATH STATUS GENERATED-BY CAUSE`.
    #[arg(long, value_name = "SPEC", num_args = 0..=1, default_missing_value = "default",
          conflicts_with = "list")]
    mix: Option<String>,
    /// Seed of the --mix draws.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "mix")]
    seed: u64,
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<Exit> {
    if args.list {
        let mut out = std::io::stdout().lock();
        match args.format {
            Format::Text => {
                write_table(&mut out, routes())?;
                write_tls_table(&mut out)?;
            }
            Format::Json => write_json(&mut out, routes())?,
        }
        out.flush()?;
        return Ok(Exit::Clean);
    }
    if !args.listen.ip().is_loopback() && !args.allow_public {
        anyhow::bail!(
            "{} is not a loopback address; the lab serves broken HTTP on purpose, \
             so pass --allow-public to listen there",
            args.listen
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let mix = match &args.mix {
        Some(spec) => Some(Mix::parse(spec, args.seed)?),
        None => None,
    };
    runtime.block_on(serve(args.listen, mix))?;
    Ok(Exit::Clean)
}

/// Prints each draw of the mix on stderr, one line each (a reader that went away is ignored).
fn mix_sink() -> MixSink {
    std::sync::Arc::new(|choice: &originlens_lab::mix::Choice<'_>| {
        let e = &choice.route.expect;
        let _ = writeln!(
            std::io::stderr(),
            "mix {} {} {} {} {}",
            choice.key,
            choice.route.path,
            e.status,
            e.generated_by.as_str(),
            e.cause.map_or("-", |c| c.as_str())
        );
    })
}

fn write_mix(out: &mut impl Write, mix: &Mix) -> std::io::Result<()> {
    writeln!(
        out,
        "mix (seed {}): every request is answered by one of these routes, whatever its path",
        mix.seed()
    )?;
    let total = mix.total() as f64;
    for (r, w) in mix.entries() {
        let e = &r.expect;
        writeln!(
            out,
            "  {:<22} {:>5} {:>6.2}%  {} {} {}",
            r.path,
            w,
            *w as f64 * 100.0 / total,
            e.status,
            e.generated_by.as_str(),
            e.cause.map_or("-", |c| c.as_str())
        )?;
    }
    Ok(())
}

async fn serve(addr: SocketAddr, mix: Option<Mix>) -> anyhow::Result<()> {
    let mut lab = Lab::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let bound = lab.local_addr();
    // Printed line by line so a wrapper (or a test) can read the address as soon as it is bound.
    let example = if mix.is_some() { "?id=1" } else { "empty" };
    match mix {
        Some(mix) => {
            println!(
                "originlens lab: a mix of {} routes on http://{bound}/",
                mix.entries().len()
            );
            write_mix(&mut std::io::stdout(), &mix)?;
            lab = lab.with_mix(mix, mix_sink());
        }
        None => println!(
            "originlens lab: {} routes on http://{bound}/",
            routes().len()
        ),
    }
    println!(
        "try: originlens probe http://{bound}/{example}   (list: originlens lab --list; stop: Ctrl-C)"
    );
    let tls = TlsLab::bind(bound.ip())
        .await
        .context("starting the TLS listeners")?;
    let ca = std::env::temp_dir().join(format!("originlens-lab-ca-{}.pem", bound.port()));
    std::fs::write(&ca, tls.root_pem()).with_context(|| format!("writing {}", ca.display()))?;
    // A reader that stopped after the banner must not stop the lab: ignore write errors here.
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "tls listeners (certificates for {LAB_HOST}; lab root CA: {})",
        ca.display()
    );
    for (case, addr) in tls.addrs() {
        let _ = writeln!(
            out,
            "  {:<21} originlens probe https://{LAB_HOST}:{}/ --connect-to {addr} --ca-file {}",
            case.name(),
            addr.port(),
            ca.display()
        );
    }
    let _ = out.flush();
    tokio::select! {
        served = lab.serve() => served.context("serving")?,
        _ = tls.serve() => {}
        signal = tokio::signal::ctrl_c() => signal.context("waiting for Ctrl-C")?,
    }
    Ok(())
}

fn write_table(out: &mut impl Write, routes: &[Route]) -> std::io::Result<()> {
    let path_w = routes
        .iter()
        .map(|r| r.path.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let cause = |r: &Route| r.expect.cause.map_or("-", |c| c.as_str());
    let cause_w = routes
        .iter()
        .map(|r| cause(r).len())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        out,
        "{:path_w$}  VISITOR      {:cause_w$}  SUMMARY",
        "PATH", "CAUSE"
    )?;
    for r in routes {
        let e = &r.expect;
        let visitor = format!("{} {}", e.status, e.generated_by.as_str());
        let mut summary = r.summary.to_owned();
        if r.hint.method != "GET" {
            summary.push_str(&format!(" [probe with {}]", r.hint.method));
        }
        if let Some(t) = r.hint.read_timeout {
            summary.push_str(&format!(" [read timeout {}s]", t.as_secs_f32()));
        }
        writeln!(
            out,
            "{:path_w$}  {visitor:11}  {:cause_w$}  {summary}",
            r.path,
            cause(r)
        )?;
    }
    Ok(())
}

fn write_tls_table(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "TLS LISTENER          VISITOR  CAUSE            REASON                SUMMARY  \
         (one free port each, printed at start; strict mode with the lab root as --ca-file)"
    )?;
    for &case in TlsCase::ALL {
        let e = case.expect();
        writeln!(
            out,
            "{:<21} {:<8} {:<16} {:<21} {}",
            case.name(),
            e.status,
            e.cause.map_or("-", |c| c.as_str()),
            e.reason.unwrap_or("-"),
            case.summary()
        )?;
    }
    Ok(())
}

/// The schema id of `lab --list --format json` (`schemas/lab-routes.json`).
pub const SCHEMA: &str = "originlens.lab-routes/1";

#[derive(Serialize)]
struct RouteRow {
    path: &'static str,
    summary: &'static str,
    status: u16,
    generated_by: GeneratedBy,
    cause: Option<Cause>,
    finding: Option<Kind>,
    method: &'static str,
    read_timeout_ms: Option<u64>,
}

#[derive(Serialize)]
struct TlsRow {
    name: &'static str,
    summary: &'static str,
    status: u16,
    cause: Option<Cause>,
    reason: Option<&'static str>,
    finding: Option<Kind>,
    h2: bool,
}

#[derive(Serialize)]
struct RoutesDoc {
    schema: &'static str,
    routes: Vec<RouteRow>,
    tls: Vec<TlsRow>,
}

fn write_json(out: &mut impl Write, routes: &[Route]) -> anyhow::Result<()> {
    let doc = RoutesDoc {
        schema: SCHEMA,
        routes: routes
            .iter()
            .map(|r| RouteRow {
                path: r.path,
                summary: r.summary,
                status: r.expect.status,
                generated_by: r.expect.generated_by,
                cause: r.expect.cause,
                finding: r.expect.finding,
                method: r.hint.method,
                read_timeout_ms: r.hint.read_timeout.map(|t| t.as_millis() as u64),
            })
            .collect(),
        tls: TlsCase::ALL
            .iter()
            .map(|&c| {
                let e = c.expect();
                TlsRow {
                    name: c.name(),
                    summary: c.summary(),
                    status: e.status,
                    cause: e.cause,
                    reason: e.reason,
                    finding: e.finding,
                    h2: c.offers_h2(),
                }
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn defaults_to_loopback_8520() {
        let cli = Cli::parse_from(["lab"]);
        assert_eq!(cli.args.listen, "127.0.0.1:8520".parse().unwrap());
        assert!(!cli.args.allow_public && !cli.args.list);
        assert_eq!(cli.args.format, Format::Text);
        assert_eq!(cli.args.mix, None);
    }

    #[test]
    fn mix_takes_an_optional_spec_and_a_seed() {
        let cli = Cli::parse_from(["lab", "--mix"]);
        assert_eq!(cli.args.mix.as_deref(), Some("default"));
        assert_eq!(cli.args.seed, 1);
        let cli = Cli::parse_from(["lab", "--mix", "ok=9,empty=1", "--seed", "7"]);
        assert_eq!(cli.args.mix.as_deref(), Some("ok=9,empty=1"));
        assert_eq!(cli.args.seed, 7);
        assert!(Cli::try_parse_from(["lab", "--seed", "7"]).is_err());
        assert!(Cli::try_parse_from(["lab", "--mix", "--list"]).is_err());
        let cli = Cli::parse_from(["lab", "--mix", "nope=1"]);
        let err = run(cli.args).unwrap_err();
        assert!(
            err.to_string().contains("`nope` is not a lab route"),
            "{err}"
        );
    }

    #[test]
    fn public_address_needs_the_flag() {
        let cli = Cli::parse_from(["lab", "--listen", "0.0.0.0:0"]);
        let err = run(cli.args).unwrap_err();
        assert!(err.to_string().contains("--allow-public"), "{err}");
    }
}
