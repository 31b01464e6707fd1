//! `originlens logs`: read origin logs and explain the lines that matter.
//!
//! Exit status: 0 when no incident is found, 1 when at least one is, 2 on bad usage or when an
//! input could not be read (the report still covers every input that could).

mod render;

use std::io::{IsTerminal, Write};

use anyhow::Context as _;
use originlens_logs::input::{self, InputSpec};
use originlens_logs::{
    bound, catalog, jsont, InputStats, LineMatch, Note, Report, ReportOptions, Scanner, Sink,
    TimeContext,
};

use crate::exit::Exit;

/// Arguments of `originlens logs`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  originlens logs /var/log/nginx/error.log* /var/log/php8.2-fpm.log /var/log/kern.log --since \"2 hours ago\"
  journalctl -o short-iso --since today | originlens logs -
  dmesg | originlens logs - --boot-time auto

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
    /// JSON lines: `{"type": "begin" | "event" | "incident" | "cause" | "note" | "end", "data": {...}}`.
    Json,
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

/// Forwards to the report and moves the progress bar.
struct Progress<'a> {
    report: &'a mut Report,
    bar: Option<indicatif::ProgressBar>,
    done: u64,
    size: u64,
}

impl Sink for Progress<'_> {
    fn matched(&mut self, m: &LineMatch<'_>) {
        self.report.matched(m);
    }
    fn note(&mut self, note: Note) {
        self.report.note(note);
    }
    fn progress(&mut self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(self.done + bytes.min(self.size));
        }
    }
    fn finish(&mut self, stats: &InputStats) {
        self.report.finish(stats);
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

    let (inputs, open_notes) = input::expand(&args.paths);
    let mut report = Report::new(ReportOptions {
        since,
        until,
        window,
        max_events: args.max_events,
    });
    let mut unreadable = !open_notes.is_empty();
    for note in open_notes {
        report.note(note);
    }

    let sizes: Vec<u64> = inputs
        .iter()
        .map(|i| match i {
            InputSpec::Path(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            InputSpec::Stdin => 0,
        })
        .collect();
    let total: u64 = sizes.iter().sum();
    let bar = (!args.no_progress
        && args.format == Format::Text
        && std::io::stderr().is_terminal()
        && total >= PROGRESS_MIN_BYTES)
        .then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} scanning {msg} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });

    let scanner = Scanner::new(time.clone());
    let mut done = 0u64;
    for (spec, size) in inputs.iter().zip(sizes) {
        let name = spec.name();
        let index = report.input(&name);
        if let Some(bar) = &bar {
            bar.set_message(name.clone());
        }
        let mut sink = Progress {
            report: &mut report,
            bar: bar.clone(),
            done,
            size,
        };
        let failed = match spec {
            InputSpec::Stdin => match input::decode(std::io::stdin().lock()) {
                Ok(reader) => scanner.scan(index, &name, reader, &mut sink).failed,
                Err(e) => {
                    sink.note(Note::read_error(
                        &name,
                        format!("cannot read standard input: {e}"),
                    ));
                    true
                }
            },
            InputSpec::Path(path) => match input::open(path) {
                Err(e) => {
                    sink.note(Note::read_error(&name, format!("cannot read: {e}")));
                    true
                }
                Ok(opened) => {
                    let compressed = opened.compression != input::Compression::None;
                    let stats = scanner.scan(index, &name, opened.reader, &mut sink);
                    if let Some(note) = opened
                        .identity
                        .and_then(|id| input::rotation_note(path, id, stats.bytes, compressed))
                    {
                        sink.note(note);
                    }
                    stats.failed
                }
            },
        };
        unreadable |= failed;
        done += size;
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let analysis = report.finish();

    match args.format {
        Format::Json => jsont::write(&analysis, &mut out)?,
        Format::Text => {
            let choice = match args.color {
                Color::Auto => anstream::ColorChoice::Auto,
                Color::Always => anstream::ColorChoice::Always,
                Color::Never => anstream::ColorChoice::Never,
            };
            let mut stream = anstream::AutoStream::new(out, choice);
            render::text(&analysis, &time, args.timeline, &mut stream)?;
            stream.flush()?;
        }
    }
    Ok(if unreadable {
        Exit::Error
    } else if analysis.found_incidents() {
        Exit::Problem
    } else {
        Exit::Clean
    })
}
