//! `originlens logs`: read origin logs and explain the lines that matter.
//!
//! Exit status: 0 when no incident is found, 1 when at least one is, 2 on bad usage or when an
//! input could not be read (the report still covers every input that could).

mod render;

use std::io::{IsTerminal, Write};

use anyhow::Context as _;
use originlens_logs::{
    bound, catalog, jsont, otlp, Event, Observer, ReportOptions, RunOptions, TimeContext,
};

use crate::exit::Exit;

/// Arguments of `originlens logs`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  originlens logs /var/log/nginx/error.log* /var/log/php8.2-fpm.log /var/log/kern.log --since \"2 hours ago\"
  journalctl -o short-iso --since today | originlens logs -
  dmesg | originlens logs - --boot-time auto
  tail -F /var/log/nginx/error.log | originlens logs - --format otlp-json

Exit status: 0 no incident found, 1 incidents found, 2 bad usage or an input could not be read
(the report still covers every input that could).")]
pub struct Args {
    /// Log files, directories (their files), glob patterns, or `-` for standard input. gzip
    /// rotations (`error.log.2.gz`) are decompressed.
    #[arg(value_name = "PATH", required_unless_present_any = ["literals", "catalogue"])]
    pub paths: Vec<String>,
    /// Only events at or after this time: `2 hours ago`, `30 minutes ago`, `today`,
    /// `2024-01-02 03:04:05`, `03:04`, `2024-01-02T03:04:05Z`.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events at or before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Zone of logs whose stamps carry none (nginx, Apache, PHP-FPM, syslog): an IANA name,
    /// `UTC` or `+02:00`. Default: this machine's zone.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Boot instant for raw dmesg stamps (`[12345.678901]`): `auto` reads this machine's
    /// /proc/stat, or give an instant like `2024-01-02T03:04:05Z`.
    #[arg(long, value_name = "auto|TIME")]
    pub boot_time: Option<String>,
    /// Year of stamps that carry none (syslog, journal `short`). Default: the latest year that
    /// does not put them in the future.
    #[arg(long, value_name = "YYYY")]
    pub year: Option<i16>,
    /// Lines this many seconds apart may belong to one incident.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub window: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Timeline lines shown in text output (JSON always has all).
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub timeline: usize,
    /// Incidents shown in text output (JSON always has all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub incidents: usize,
    /// Also count this systemd unit as part of the web stack (repeatable); by default only
    /// nginx, apache2/httpd, php*-fpm, gunicorn, uwsgi, node/pm2, puma and unicorn units count.
    #[arg(long, value_name = "NAME")]
    pub unit: Vec<String>,
    /// Events kept for the timeline and correlation; beyond it only the summary counts grow.
    #[arg(long, value_name = "N", default_value_t = originlens_logs::report::DEFAULT_MAX_EVENTS)]
    pub max_events: usize,
    /// When to colour text output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Print the catalogue's search literals, one per line (for `rg -F -f`), and exit.
    #[arg(long, conflicts_with = "catalogue")]
    pub literals: bool,
    /// Print the signature catalogue (id, program, cause, role, title) and exit.
    #[arg(long)]
    pub catalogue: bool,
}

/// `--format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Summary by cause, incidents, timeline and notes for people.
    Text,
    /// JSON lines (schema `originlens.logs/1`, schemas/logs.json): `{"schema": ..., "type":
    /// "begin" | "event" | "incident" | "cause" | "note" | "end", "data": {...}}`.
    Json,
    /// JSON lines of OpenTelemetry `ExportLogsServiceRequest`s, one log record per event (for an
    /// OpenTelemetry collector's otlpjsonfile receiver, then Loki or Elasticsearch).
    OtlpJson,
}

/// `--color`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// Colour when stdout is a terminal and NO_COLOR is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Draws the progress bar for long scans and streams events when asked to.
struct Screen<W: Write> {
    bar: Option<indicatif::ProgressBar>,
    want_bar: bool,
    stream: Option<(Format, W)>,
    host: String,
    error: Option<std::io::Error>,
}

impl<W: Write> Observer for Screen<W> {
    fn start(&mut self, total: u64) {
        if let Some((Format::Json, w)) = &mut self.stream {
            if let Err(e) = jsont::write_begin(&mut *w).and_then(|()| w.flush()) {
                self.error = Some(e);
            }
        }
        if self.want_bar && total >= PROGRESS_MIN_BYTES {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} scanning {msg} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            self.bar = Some(bar);
        }
    }
    fn input(&mut self, name: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(name.to_owned());
        }
    }
    fn progress(&mut self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
        }
    }
    fn event(&mut self, event: &Event) {
        let Some((format, w)) = &mut self.stream else {
            return;
        };
        if self.error.is_some() {
            return;
        }
        let written = match format {
            Format::Json => jsont::write_event(event, &mut *w),
            Format::OtlpJson => otlp::write_event(event, &self.host, &mut *w),
            Format::Text => Ok(()),
        };
        if let Err(e) = written.and_then(|()| w.flush()) {
            self.error = Some(e);
        }
    }
}

/// Progress bars only for scans long enough to be worth one.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<Exit> {
    let mut out = std::io::stdout().lock();
    if args.literals {
        for lit in catalog::literals() {
            writeln!(out, "{lit}")?;
        }
        return Ok(Exit::Clean);
    }
    if args.catalogue {
        render::catalogue(&mut out)?;
        return Ok(Exit::Clean);
    }
    if !(args.window.is_finite() && args.window >= 0.0) {
        anyhow::bail!("--window must be a number of seconds >= 0");
    }
    let mut time = TimeContext::from_flags(args.tz.as_deref(), args.boot_time.as_deref())
        .map_err(anyhow::Error::msg)?;
    time.year = args.year;
    let since = args
        .since
        .as_deref()
        .map(|s| bound::parse_bound(s, &time))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--since {e}"))?;
    let until = args
        .until
        .as_deref()
        .map(|s| bound::parse_bound(s, &time))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--until {e}"))?;
    let window = std::time::Duration::from_secs_f64(args.window)
        .try_into()
        .context("--window is out of range")?;
    let options = RunOptions {
        report: ReportOptions {
            since,
            until,
            window,
            max_events: args.max_events,
            units: args.unit.clone(),
        },
        time: time.clone(),
    };
    // Events go out as they are read when stdin is among the inputs (a stream may not end).
    let streaming = args.format != Format::Text && args.paths.iter().any(|p| p == "-");
    let mut screen = Screen {
        bar: None,
        want_bar: !args.no_progress
            && args.format == Format::Text
            && std::io::stderr().is_terminal(),
        stream: streaming.then_some((args.format, &mut out)),
        host: host(),
        error: None,
    };
    let analysis = originlens_logs::run(&args.paths, &options, &mut screen);
    if let Some(bar) = screen.bar.take() {
        bar.finish_and_clear();
    }
    if let Some(e) = screen.error.take() {
        return Err(e.into());
    }

    match args.format {
        Format::Json if streaming => jsont::write_rest(&analysis, &mut out)?,
        Format::Json => jsont::write(&analysis, &mut out)?,
        Format::OtlpJson if streaming => otlp::write_rest(&analysis, &host(), &mut out)?,
        Format::OtlpJson => otlp::write(&analysis, &host(), &mut out)?,
        Format::Text => {
            let choice = match args.color {
                Color::Auto => anstream::ColorChoice::Auto,
                Color::Always => anstream::ColorChoice::Always,
                Color::Never => anstream::ColorChoice::Never,
            };
            let mut stream = anstream::AutoStream::new(out, choice);
            render::text(&analysis, &time, args.timeline, args.incidents, &mut stream)?;
            stream.flush()?;
        }
    }
    Ok(if analysis.totals.failed_inputs > 0 {
        Exit::Error
    } else if analysis.found_incidents() {
        Exit::Problem
    } else {
        Exit::Clean
    })
}

/// This machine's name, for the OTLP resource.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}
