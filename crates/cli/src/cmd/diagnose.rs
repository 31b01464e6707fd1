//! `originlens diagnose` and `originlens verify`: flags → one `originlens_diagnose::run` → a
//! printer (text, JSON, HTML).

mod progress;
mod text;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use originlens_diagnose::{Burst, Inputs, Mode, Options};
use originlens_probe::Target;
use originlens_wire::Profile;

use crate::args::{self, Color, Format};
use crate::cmd::probe::{tls_options, SslModeArg};
use crate::exit::Exit;

/// Arguments of `originlens diagnose` and `originlens verify`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  originlens diagnose https://www.example.com/checkout --connect-to 203.0.113.7
  originlens diagnose https://www.example.com/ --connect-to 127.0.0.1:8080 --logs auto --config auto --html report.html
  originlens verify https://www.example.com/ --connect-to 203.0.113.7 --since 30m

Exit status: 0 verified clean (every checked item passes), 1 a cause was found or an item fails
(verify: an item fails or the direct response is not valid), 2 usage or local error. The report
always says which checks could not run.")]
pub struct Args {
    /// The site URL: its host is sent as Host and SNI.
    pub url: String,
    /// Connect to HOST[:PORT] instead of the URL's host (the origin's IP behind the edge).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub connect_to: Option<String>,
    /// Method of the request to check besides GET and HEAD (default GET, or POST with --data).
    #[arg(short = 'X', long)]
    pub method: Option<String>,
    /// Body of that request, sent with its Content-Length: text, `@FILE` or `@-` (standard
    /// input).
    #[arg(short = 'd', long = "data", value_name = "DATA", value_parser = args::data)]
    pub data: Option<args::Body>,
    /// Extra request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = args::header)]
    pub headers: Vec<(String, String)>,
    /// The edge whose view decides the verdict.
    #[arg(long, default_value = "cloudflare", value_parser = args::profile)]
    pub profile: &'static Profile,
    /// Time allowed to connect, for every exchange of the run (default: the profile's).
    #[arg(long, value_name = "DURATION", value_parser = args::seconds)]
    pub connect_timeout: Option<Duration>,
    /// Longest silence allowed between reads, for every exchange of the run (the edge waits
    /// 125 s; a diagnosis says "≥ N s" instead of waiting that long).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = args::seconds)]
    pub read_timeout: Duration,
    /// The edge's SSL/TLS mode toward the origin (both modes are always reported).
    #[arg(long, value_enum, default_value_t = SslModeArg::Strict)]
    pub ssl_mode: SslModeArg,
    /// Also trust the certificates in this PEM file.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Logs to read: `auto` (the usual places, the journal, the kernel log; default when the
    /// target is this machine), a file or directory (repeatable), or `none`.
    #[arg(long, value_name = "auto|PATH|none")]
    pub logs: Vec<String>,
    /// Configuration to lint: `auto` (/etc/nginx, /etc/apache2, /etc/php/*/fpm; default when
    /// the target is this machine), a file or directory (repeatable), or `none`.
    #[arg(long, value_name = "auto|PATH|none")]
    pub config: Vec<String>,
    /// How far back logs and edge records are read: `1h`, `30m`, `90s`.
    #[arg(long, value_name = "AGE", default_value = "1h")]
    pub since: String,
    /// Zone of logs whose stamps carry none (default: this machine's).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Clock difference allowed when joining probe events with log lines.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = args::duration)]
    pub skew: Duration,
    /// Longest keep-alive idle time measured (0 skips the step).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = args::duration)]
    pub keepalive_max: Duration,
    /// Burst to catch intermittent failures: `N×C` (`200x20`), or `none`.
    #[arg(long, value_name = "NxC", default_value = "200x20")]
    pub burst: String,
    /// Cloudflare Logpush `http_requests` JSON lines.
    #[arg(long, value_name = "FILE")]
    pub edge_logs: Option<PathBuf>,
    /// An `originlens edge` incident store.
    #[arg(long, value_name = "FILE")]
    pub store: Option<PathBuf>,
    /// The public URL through the edge (or a staging `originlens edge`), for
    /// `edge-requests-succeed`.
    #[arg(long, value_name = "URL")]
    pub via: Option<String>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write the report as one self-contained HTML file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// When to colour text output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

fn inputs(flag: &str, values: &[String]) -> anyhow::Result<Inputs> {
    match values {
        [] => Ok(Inputs::Auto),
        [one] if one == "auto" => Ok(Inputs::Auto),
        [one] if one == "none" => Ok(Inputs::None),
        many if many.iter().any(|v| v == "auto" || v == "none") => {
            bail!("--{flag}: `auto` and `none` cannot be mixed with paths")
        }
        paths => Ok(Inputs::Paths(paths.iter().map(PathBuf::from).collect())),
    }
}

/// How far back `--since` reaches: an [`args::age`] (`1h`, `30m`, `2 hours ago`) or plain
/// seconds, at most a day (the logs a diagnosis reads are recent ones).
fn age(s: &str) -> anyhow::Result<Duration> {
    let reach = match s.trim().parse::<f64>() {
        Ok(_) => args::seconds(s),
        Err(_) => args::age(s)
            .and_then(|d| Duration::try_from(d).map_err(|_| format!("`{s}` is not an age"))),
    }
    .map_err(|e| anyhow::anyhow!("--since {e}"))?;
    if reach.is_zero() || reach > Duration::from_secs(86_400) {
        bail!("--since `{s}`: between 1 s and 1 d");
    }
    Ok(reach)
}

/// Builds the run's options from the flags.
fn options(args: &Args, mode: Mode) -> anyhow::Result<Options> {
    let profile = args.profile;
    let target = Target::parse(&args.url, args.connect_to.as_deref())?;
    let connect_timeout = args
        .connect_timeout
        .unwrap_or(profile.limits.connect_timeout);
    let burst = Burst::parse(&args.burst).map_err(anyhow::Error::msg)?;
    Ok(Options {
        mode,
        url: args.url.clone(),
        tls: tls_options(args.ssl_mode, args.ca_file.as_deref())?,
        target,
        method: args::method(args.method.as_deref(), args.data.as_ref()),
        body: args.data.as_ref().map(|b| b.0.clone()).unwrap_or_default(),
        headers: args.headers.clone(),
        profile,
        connect_timeout,
        read_timeout: args.read_timeout,
        keepalive_max: args.keepalive_max,
        burst,
        logs: inputs("logs", &args.logs)?,
        config: inputs("config", &args.config)?,
        since: age(&args.since)?,
        tz: args.tz.clone(),
        skew: args.skew,
        edge_logs: args.edge_logs.clone(),
        store: args.store.clone(),
        via: args.via.clone(),
    })
}

/// Runs `diagnose` or `verify`.
pub fn run(args: Args, mode: Mode) -> anyhow::Result<Exit> {
    let opts = options(&args, mode)?;
    let bar = progress::Bars::new(std::io::stderr().is_terminal());
    let diagnosis =
        originlens_diagnose::run(&opts, &|e| bar.event(e)).map_err(anyhow::Error::msg)?;
    bar.finish();
    if let Some(path) = &args.html {
        std::fs::write(path, originlens_diagnose::html::render(&diagnosis))
            .with_context(|| format!("writing --html {}", path.display()))?;
    }
    let out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let mut out = out;
            serde_json::to_writer_pretty(&mut out, &diagnosis)?;
            writeln!(out)?;
        }
        Format::Text => {
            args.color.apply();
            let mut stream = anstream::AutoStream::auto(out);
            text::print(&mut stream, &diagnosis)?;
            stream.flush()?;
        }
    }
    Ok(if diagnosis.exit_status == 0 {
        Exit::Clean
    } else {
        Exit::Problem
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_inputs_and_bursts_parse() {
        assert_eq!(age("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(age("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(age("90").unwrap(), Duration::from_secs(90));
        assert!(age("soon").is_err());
        assert!(age("3w").is_err());
        assert_eq!(inputs("logs", &[]).unwrap(), Inputs::Auto);
        assert_eq!(inputs("logs", &["none".into()]).unwrap(), Inputs::None);
        assert!(inputs("logs", &["none".into(), "/x".into()]).is_err());
        assert_eq!(
            Burst::parse("50x5").unwrap(),
            Some(Burst {
                requests: 50,
                concurrency: 5
            })
        );
        assert_eq!(Burst::parse("none").unwrap(), None);
        assert!(Burst::parse("0x5").is_err());
    }
}
