//! `originlens incidents`: read what `originlens edge` recorded.

use std::io::Write;
use std::path::PathBuf;

use jiff::Timestamp;
use originlens_edge::incident::{format_time, render_raw};
use originlens_edge::incident_source::Source;
use originlens_edge::store::Query;
use originlens_edge::Incident;
use originlens_wire::{Cause, End};
use serde::Serialize;

use crate::args::{self, Format};
use crate::exit::Exit;

/// Arguments of `originlens incidents`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: 0 the incidents were printed (none is not an error), 2 usage \
or local error (no such store, an unreadable one, an unknown incident id)."
)]
pub struct Args {
    /// The incident store written by `originlens edge --store`: a SQLite file or a
    /// `postgres://` URL.
    #[arg(
        long,
        global = true,
        value_name = "FILE|URL",
        default_value = "incidents.db"
    )]
    store: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// One line per incident, newest first.
    List {
        /// Only incidents at or after this time: 90s, 15m, 1h, 2d, `2 hours ago`, today,
        /// `2024-01-02 03:04`, 2024-01-02T03:04:05Z.
        #[arg(long, value_name = "TIME", value_parser = args::since_now)]
        since: Option<Timestamp>,
        /// Only this cause id (e.g. response.empty).
        #[arg(long, value_name = "CAUSE")]
        cause: Option<Cause>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One incident in full.
    Show {
        /// The incident id, or at least 4 of its first hex digits.
        id: String,
        /// Also print the origin's bytes, escaped, with the deciding defect marked.
        #[arg(long)]
        raw: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Same as `--format json`.
        #[arg(long, hide = true)]
        json: bool,
    },
    /// Every matching incident as JSON lines (one `originlens.incident/1` document per line),
    /// oldest first.
    Export {
        /// Only incidents at or after this time (same forms as `list --since`).
        #[arg(long, value_name = "TIME", value_parser = args::since_now)]
        since: Option<Timestamp>,
        /// Only this cause id.
        #[arg(long, value_name = "CAUSE")]
        cause: Option<Cause>,
    },
}

fn since_ms(since: Option<Timestamp>) -> Option<i64> {
    since.map(|t| t.as_millisecond())
}

/// The schema id of `show --format json` and of each `export` line (`schemas/incident.json`).
pub const SCHEMA: &str = "originlens.incident/1";

/// An incident as JSON: the stored record with its schema id.
#[derive(Serialize)]
struct IncidentDoc<'a> {
    schema: &'static str,
    #[serde(flatten)]
    incident: &'a Incident,
}

impl<'a> IncidentDoc<'a> {
    fn of(incident: &'a Incident) -> Self {
        IncidentDoc {
            schema: SCHEMA,
            incident,
        }
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<Exit> {
    let mut source = Source::open(&args.store)?;
    let mut out = std::io::stdout().lock();
    match args.command {
        Command::List {
            since,
            cause,
            limit,
        } => {
            let q = Query {
                since_ms: since_ms(since),
                cause,
                limit: Some(limit),
            };
            let rows = source.list(&q)?;
            writeln!(
                out,
                "{:<16}  {:<20}  {:>3}  {:<6}  {:<20}  REQUEST",
                "ID", "TIME (UTC)", "ST", "BY", "CAUSE"
            )?;
            for i in &rows {
                writeln!(
                    out,
                    "{:<16}  {:<20}  {:>3}  {:<6}  {:<20}  {} {}{}",
                    i.id,
                    format_time(i.at_ms),
                    i.visitor_status,
                    i.generated_by,
                    i.cause,
                    i.method,
                    i.host,
                    i.target
                )?;
            }
            if rows.is_empty() {
                writeln!(out, "(no incidents)")?;
            }
        }
        Command::Show {
            id,
            raw,
            format,
            json,
        } => {
            let i = source.find(&id)?;
            if json || format == Format::Json {
                serde_json::to_writer(&mut out, &IncidentDoc::of(&i))?;
                writeln!(out)?;
            } else {
                show(&mut out, &i, raw)?;
            }
        }
        Command::Export { since, cause } => {
            let q = Query {
                since_ms: since_ms(since),
                cause,
                limit: None,
            };
            for i in source.list(&q)? {
                serde_json::to_writer(&mut out, &IncidentDoc::of(&i))?;
                writeln!(out)?;
            }
        }
    }
    out.flush()?;
    Ok(Exit::Clean)
}

fn show(out: &mut impl Write, i: &Incident, raw: bool) -> anyhow::Result<()> {
    let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1} ms"));
    writeln!(out, "incident   {}", i.id)?;
    writeln!(out, "time       {}", format_time(i.at_ms))?;
    writeln!(
        out,
        "request    {} {} (Host: {})",
        i.method, i.target, i.host
    )?;
    writeln!(out, "origin     {} (profile {})", i.origin, i.profile)?;
    writeln!(
        out,
        "visitor    {} generated by the {}",
        i.visitor_status, i.generated_by
    )?;
    writeln!(
        out,
        "origin st. {}",
        i.origin_status
            .map_or("none (no status line read)".to_owned(), |s| s.to_string())
    )?;
    writeln!(out, "cause      {}", i.cause)?;
    writeln!(out, "finding    {}", i.finding.as_deref().unwrap_or("-"))?;
    writeln!(out, "end        {}", i.end.map_or("-", End::as_str))?;
    writeln!(
        out,
        "timings    connect {}, first byte {}, total {:.1} ms",
        opt(i.connect_ms),
        opt(i.first_byte_ms),
        i.total_ms
    )?;
    writeln!(
        out,
        "connection {}, {} earlier request(s), {} ms old{}",
        if i.reused { "reused" } else { "new" },
        i.conn_uses,
        i.conn_age_ms,
        if i.retried { ", after a retry" } else { "" }
    )?;
    writeln!(out, "bytes      {} received", i.bytes)?;
    writeln!(out, "findings")?;
    for f in &i.findings {
        writeln!(
            out,
            "  @{:<6} {:<8} {:<28} {}",
            f.offset, f.severity, f.id, f.message
        )?;
    }
    if raw {
        let mark = i
            .findings
            .iter()
            .find(|f| Some(&f.id) == i.finding.as_ref())
            .map(|f| f.offset);
        writeln!(
            out,
            "raw ({} bytes{}{}; the deciding defect is marked ⟦ ⟧)",
            i.raw.len(),
            if i.raw_truncated { ", truncated" } else { "" },
            if i.redacted {
                ", cookies and credentials masked"
            } else {
                ""
            }
        )?;
        if i.raw.is_empty() {
            writeln!(out, "  (the origin sent nothing)")?;
        } else {
            for line in render_raw(&i.raw, mark).lines() {
                writeln!(out, "  {line}")?;
            }
        }
    }
    Ok(())
}
