//! `originlens keepalive`: how the origin treats idle and reused connections, compared with the
//! edge's reuse window (`keepalive.race`).

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context as _};
use originlens_probe::keepalive::{measure, ConnectFailure, KeepaliveOptions, KeepaliveReport};
use originlens_probe::{ProbeOptions, Target};
use originlens_wire::{Cause, Kind, Profile};
use serde::Serialize;

use crate::args::{self, Color, Format};
use crate::exit::Exit;

/// The schema id of the JSON document.
pub const SCHEMA: &str = "originlens.keepalive/1";
/// Idle times probed by default, in seconds (clipped to `--max-wait`).
const DEFAULT_IDLE: &[u64] = &[1, 2, 5, 10, 20, 30, 60, 90, 120, 300, 600, 900];

/// Arguments of `originlens keepalive`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: 0 no race with the edge's connection reuse, 1 \
keepalive.race, no connection (connect.refused, connect.timeout, ...) or no usable first \
response (response.empty, response.reset, response.timeout, ...), 2 usage or local error."
)]
pub struct Args {
    /// The site URL: its host is sent as Host (and SNI).
    pub url: String,
    /// Connect to HOST[:PORT] instead of the URL's host (the origin's IP behind the edge).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub connect_to: Option<String>,
    /// Extra request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = args::header)]
    pub headers: Vec<(String, String)>,
    /// The edge whose reuse window the origin is compared with.
    #[arg(long, default_value = "cloudflare", value_parser = args::profile)]
    pub profile: &'static Profile,
    /// Longest idle time to probe: seconds or 90s, 2m (the edge's window may be longer: 900 s).
    #[arg(long, value_name = "DURATION", default_value = "90", value_parser = args::seconds)]
    pub max_wait: Duration,
    /// Idle times to probe, comma-separated, seconds or with units (default
    /// 1,2,5,10,20,30,60,90,... up to --max-wait).
    #[arg(long, value_name = "DURATION,...", value_delimiter = ',', value_parser = args::seconds)]
    pub idle: Vec<Duration>,
    /// Most requests sent on one connection to find the origin's cap.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_requests: u32,
    /// Time allowed for each response: seconds or 250ms, 1.5s, 2m.
    #[arg(long, value_name = "DURATION", default_value = "10", value_parser = args::seconds)]
    pub read_timeout: Duration,
    /// Time allowed to connect: seconds or 250ms, 1.5s, 2m.
    #[arg(long, value_name = "DURATION", default_value = "10", value_parser = args::seconds)]
    pub connect_timeout: Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// When to colour text output.
    #[arg(long, value_enum, default_value_t)]
    pub color: Color,
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<Exit> {
    args.color.apply();
    let profile = args.profile;
    let max_wait = args.max_wait;
    let idle_times: Vec<Duration> = if args.idle.is_empty() {
        DEFAULT_IDLE
            .iter()
            .map(|&s| Duration::from_secs(s))
            .collect()
    } else {
        args.idle.clone()
    };
    let idle_times: Vec<Duration> = idle_times.into_iter().filter(|&d| d <= max_wait).collect();
    if idle_times.is_empty() {
        bail!("no idle time within --max-wait {:?}", args.max_wait);
    }
    let opts = KeepaliveOptions {
        probe: ProbeOptions {
            target: Target::parse(&args.url, args.connect_to.as_deref())?,
            method: "GET".into(),
            headers: args.headers.clone(),
            body: Vec::new(),
            connect_timeout: args.connect_timeout,
            read_timeout: args.read_timeout,
        },
        idle_times,
        max_requests: args.max_requests.max(1),
        edge_idle: profile.limits.idle_pool,
    };
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let report = rt.block_on(measure(&opts, &|msg: &str| bar.set_message(msg.to_owned())))?;
    bar.finish_and_clear();

    let mut out = anstream::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &document(&opts, profile, &report))?;
            writeln!(out)?;
        }
        Format::Text => print(&mut out, &opts, profile, &report)?,
    }
    Ok(if report.race || failure(&report).is_some() {
        Exit::Problem
    } else {
        Exit::Clean
    })
}

fn s(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

#[derive(Serialize)]
struct TargetDoc {
    url: String,
    host: String,
    connect_to: String,
}

#[derive(Serialize)]
struct EdgeDoc {
    profile: &'static str,
    idle_pool_s: Option<f64>,
}

#[derive(Serialize)]
struct IdleProbe {
    idle_s: f64,
    outcome: &'static str,
}

#[derive(Serialize)]
struct IdleDoc {
    closed_after_s: Option<f64>,
    /// `[below, above]`: alive at `below` (null: not measured below), silently gone at `above`.
    silent_between_s: Option<(Option<f64>, f64)>,
    alive_up_to_s: Option<f64>,
    advertised_timeout_s: Option<u64>,
    advertised_max: Option<u64>,
    probes: Vec<IdleProbe>,
    elapsed_s: f64,
}

#[derive(Serialize)]
struct RequestsDoc {
    served: u32,
    ended: &'static str,
    max_sent: u32,
}

/// Why no connection opened: the cause and the status the edge would answer.
#[derive(Serialize)]
struct ConnectDoc<'a> {
    cause: Cause,
    finding: Kind,
    status: Option<u16>,
    message: &'a str,
}

#[derive(Serialize)]
struct CloseDoc {
    answered: bool,
    announced: bool,
    honoured: bool,
}

/// The `originlens.keepalive/1` document (`schemas/keepalive.json`).
#[derive(Serialize)]
struct KeepaliveDoc<'a> {
    schema: &'static str,
    target: TargetDoc,
    cause: Option<Cause>,
    connect: Option<ConnectDoc<'a>>,
    first_request: Option<ConnectDoc<'a>>,
    edge: EdgeDoc,
    idle: IdleDoc,
    requests: RequestsDoc,
    connection_close: CloseDoc,
    race: bool,
    risk: &'a [String],
}

/// Why nothing could be measured: no connection, or no usable first response.
fn failure(r: &KeepaliveReport) -> Option<&ConnectFailure> {
    r.requests
        .connect
        .as_ref()
        .or(r.requests.first_request.as_ref())
}

fn failure_doc<'a>(f: &'a ConnectFailure, profile: &Profile) -> ConnectDoc<'a> {
    ConnectDoc {
        cause: f.kind.cause(),
        finding: f.kind,
        status: profile.status_for(f.kind.cause()),
        message: &f.message,
    }
}

fn document<'a>(
    opts: &KeepaliveOptions,
    profile: &Profile,
    r: &'a KeepaliveReport,
) -> KeepaliveDoc<'a> {
    let t = &opts.probe.target;
    KeepaliveDoc {
        schema: SCHEMA,
        target: TargetDoc {
            url: t.to_string(),
            host: t.host_header(),
            connect_to: format!("{}:{}", t.connect_host, t.connect_port),
        },
        cause: r
            .race
            .then_some(Cause::KeepaliveRace)
            .or(failure(r).map(|f| f.kind.cause())),
        connect: r.requests.connect.as_ref().map(|f| failure_doc(f, profile)),
        first_request: r
            .requests
            .first_request
            .as_ref()
            .map(|f| failure_doc(f, profile)),
        edge: EdgeDoc {
            profile: profile.name,
            idle_pool_s: r.edge_idle.map(s),
        },
        idle: IdleDoc {
            closed_after_s: r.idle.closed_after.map(s),
            silent_between_s: r.idle.bracket.map(|(a, b)| (a.map(s), s(b))),
            alive_up_to_s: r.idle.alive_up_to.map(s),
            advertised_timeout_s: r.idle.advertised_timeout,
            advertised_max: r.idle.advertised_max,
            probes: r
                .idle
                .probes
                .iter()
                .map(|(t, o)| IdleProbe {
                    idle_s: s(*t),
                    outcome: o.as_str(),
                })
                .collect(),
            elapsed_s: s(r.idle.elapsed),
        },
        requests: RequestsDoc {
            served: r.requests.served,
            ended: r.requests.ended,
            max_sent: opts.max_requests,
        },
        connection_close: CloseDoc {
            answered: r.close.answered,
            announced: r.close.announced,
            honoured: r.close.closed,
        },
        race: r.race,
        risk: &r.risk,
    }
}

fn print(
    out: &mut impl Write,
    opts: &KeepaliveOptions,
    profile: &Profile,
    r: &KeepaliveReport,
) -> std::io::Result<()> {
    use anstyle::{AnsiColor, Style};
    const BOLD: Style = Style::new().bold();
    const RED: Style = AnsiColor::Red.on_default().bold();
    const GREEN: Style = AnsiColor::Green.on_default().bold();
    let t = &opts.probe.target;
    writeln!(
        out,
        "{BOLD}keep-alive {t}{BOLD:#}  via {}:{}",
        t.connect_host, t.connect_port
    )?;
    writeln!(out)?;
    let idle = match (r.idle.closed_after, r.idle.bracket, r.idle.alive_up_to) {
        (Some(a), _, _) => format!("closes idle connections after {:.1} s (FIN)", a.as_secs_f64()),
        (None, Some((below, above)), _) => format!(
            "forgets idle connections silently between {} and {:.0} s (no FIN; the reused connection got no answer)",
            below.map_or("0".to_owned(), |b| format!("{:.0}", b.as_secs_f64())),
            above.as_secs_f64()
        ),
        (None, None, Some(a)) => format!("still usable after {:.0} s idle (longest probed)", a.as_secs_f64()),
        _ => "not measured (the first request failed)".to_owned(),
    };
    writeln!(out, "  idle          {idle}")?;
    writeln!(
        out,
        "  advertised    {}",
        match (r.idle.advertised_timeout, r.idle.advertised_max) {
            (None, None) => "no Keep-Alive header".to_owned(),
            (t, m) => format!(
                "Keep-Alive: timeout={}{}",
                t.map_or("-".to_owned(), |t| t.to_string()),
                m.map_or(String::new(), |m| format!(", max={m}"))
            ),
        }
    )?;
    let requests = match r.requests.ended {
        "announced" => format!(
            "{} per connection, the last with Connection: close",
            r.requests.served
        ),
        "fin" | "reset" => format!(
            "{} per connection, then {} without Connection: close",
            r.requests.served,
            r.requests.ended.to_uppercase()
        ),
        "no-answer" => format!("{} per connection, then no answer", r.requests.served),
        "open" => format!("{} sent on one connection, still open", r.requests.served),
        _ => "not measured (the first request failed)".to_owned(),
    };
    writeln!(out, "  requests      {requests}")?;
    writeln!(
        out,
        "  close         {}",
        match (r.close.answered, r.close.closed) {
            (false, _) => "not measured",
            (true, true) => "Connection: close honoured (closed after the response)",
            (true, false) => "Connection: close NOT honoured (connection left open)",
        }
    )?;
    writeln!(
        out,
        "  edge          {} reuses idle connections for up to {}",
        profile.name,
        r.edge_idle.map_or("- (no pooling)".to_owned(), |d| format!(
            "{} s",
            d.as_secs()
        ))
    )?;
    writeln!(out, "  measured in   {:.1} s", r.idle.elapsed.as_secs_f64())?;
    writeln!(out)?;
    if let Some(f) = failure(r) {
        let cause = f.kind.cause();
        let status = profile
            .status_for(cause)
            .map_or(String::new(), |s| format!(" ({s} at the edge)"));
        writeln!(
            out,
            "  verdict       {RED}{}{RED:#}{status}: {}",
            cause.as_str(),
            f.message
        )?;
        return Ok(());
    }
    if r.race {
        writeln!(
            out,
            "  verdict       {RED}{}{RED:#}: intermittent 520 when the edge reuses a connection the origin dropped",
            Cause::KeepaliveRace.as_str()
        )?;
    } else {
        writeln!(
            out,
            "  verdict       {GREEN}no race{GREEN:#} within what was measured"
        )?;
    }
    for line in &r.risk {
        writeln!(out, "  - {line}")?;
    }
    if r.race {
        writeln!(out)?;
        writeln!(out, "  {BOLD}fix{BOLD:#}")?;
        for line in Cause::KeepaliveRace.fix().lines() {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(())
}
