//! Human text for `originlens logs`: summary by cause, incidents with their lines, timeline,
//! what to do, notes. Styles are stripped by anstream when the output is not a terminal.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use originlens_logs::{catalog, Analysis, Event, Layer, TimeContext, TimeSource, Timestamp};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const RED: Style = AnsiColor::Red.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();

/// Prints the catalogue as a table.
pub fn catalogue<W: Write>(w: &mut W) -> io::Result<()> {
    writeln!(
        w,
        "{:<5} {:<10} {:<21} {:<9} {:<8} TITLE",
        "ID", "PROGRAM", "CAUSE", "ROLE", "STATUS"
    )?;
    for s in catalog::SIGNATURES {
        writeln!(
            w,
            "{:<5} {:<10} {:<21} {:<9} {:<8} {}",
            s.id,
            s.source.as_str(),
            s.cause.as_str(),
            s.role.as_str(),
            s.status,
            s.title
        )?;
    }
    writeln!(
        w,
        "{} signatures, {} search literals",
        catalog::SIGNATURES.len(),
        catalog::literals().len()
    )
}

fn layers(ls: &[Layer]) -> String {
    ls.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(", ")
}

fn when(t: Option<Timestamp>, time: &TimeContext) -> String {
    t.map_or_else(|| "(no time)".to_owned(), |t| time.format(t))
}

fn place(e: &Event) -> String {
    format!("{}:{}", e.file, e.line)
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

fn time_mark(e: &Event) -> &'static str {
    match e.time_source {
        TimeSource::Line => " ",
        TimeSource::Neighbour { .. } => "~",
        TimeSource::Unresolved | TimeSource::Missing => "?",
    }
}

fn event_line<W: Write>(w: &mut W, e: &Event, time: &TimeContext, indent: &str) -> io::Result<()> {
    writeln!(
        w,
        "{indent}{}{} {DIM}{:<28}{DIM:#} {CYAN}{:<4}{CYAN:#} {:<6} {}",
        when(e.time, time),
        time_mark(e),
        place(e),
        e.signature,
        e.layer.as_str(),
        short(&e.text, 150)
    )
}

/// Prints the whole analysis.
pub fn text<W: Write>(
    a: &Analysis,
    time: &TimeContext,
    timeline_max: usize,
    incidents_max: usize,
    w: &mut W,
) -> io::Result<()> {
    let t = &a.totals;
    writeln!(
        w,
        "{BOLD}originlens logs{BOLD:#}: {} input(s), {} lines, {} matched, {} incident(s)",
        t.inputs,
        t.lines,
        t.matched,
        a.incidents.len()
    )?;
    if t.outside_time_range > 0 {
        writeln!(
            w,
            "  {} matched line(s) fell outside --since/--until",
            t.outside_time_range
        )?;
    }
    if t.bytes == 0 {
        writeln!(
            w,
            "\nNothing was read: no input held any line, so this says nothing about the origin (see the notes)."
        )?;
    } else if a.summary.is_empty() {
        writeln!(
            w,
            "\nNo line of the catalogue was found: the logs do not explain a 52x."
        )?;
    } else {
        writeln!(w, "\n{BOLD}Summary by cause{BOLD:#}")?;
        writeln!(
            w,
            "  {:<21} {:>9} {:>6}  {:<19}  {:<19}  {:<18} VISITOR SAW",
            "CAUSE", "INCIDENTS", "LINES", "FIRST", "LAST", "SEEN BY"
        )?;
        for s in &a.summary {
            writeln!(
                w,
                "  {RED}{:<21}{RED:#} {:>9} {:>6}  {:<19}  {:<19}  {:<18} {}",
                s.cause.as_str(),
                s.incidents,
                s.events,
                when(s.first, time),
                when(s.last, time),
                layers(&s.layers),
                s.status
            )?;
        }
    }

    if !a.incidents.is_empty() {
        writeln!(w, "\n{BOLD}Incidents{BOLD:#}")?;
        for inc in a.incidents.iter().take(incidents_max) {
            let span = match (inc.start, inc.end) {
                (Some(s), Some(e)) if s != e => {
                    format!("{} (+{} s)", time.format(s), e.duration_since(s).as_secs())
                }
                (Some(s), _) => time.format(s),
                _ => "(no time)".to_owned(),
            };
            writeln!(
                w,
                "  {BOLD}#{}{BOLD:#} {RED}{}{RED:#}  visitor saw {YELLOW}{}{YELLOW:#}  {}  [{}]",
                inc.id,
                inc.cause.as_str(),
                inc.status,
                span,
                layers(&inc.layers)
            )?;
            if inc.count > 1 {
                writeln!(
                    w,
                    "     {YELLOW}{} times{YELLOW:#}, {} line(s), {:.2}/min",
                    inc.count,
                    inc.lines,
                    inc.rate_per_min.unwrap_or_default()
                )?;
            }
            writeln!(w, "     {}", inc.story)?;
            if !inc.alternatives.is_empty() {
                let alt: Vec<&str> = inc.alternatives.iter().map(|c| c.as_str()).collect();
                writeln!(w, "     {DIM}could also be: {}{DIM:#}", alt.join(", "))?;
            }
            // The summary's fix is per cause; one worded for the process that died differs.
            let general = a
                .summary
                .iter()
                .find(|s| s.cause == inc.cause)
                .map(|s| s.fix);
            if general != Some(inc.fix) {
                writeln!(w, "     fix: {}", inc.fix)?;
            }
            let shown = 8;
            for &id in inc.events.iter().take(shown) {
                event_line(w, &a.timeline[id], time, "     ")?;
            }
            if inc.events.len() > shown {
                writeln!(
                    w,
                    "     {DIM}… {} more line(s){DIM:#}",
                    inc.events.len() - shown
                )?;
            }
        }
    }

    if a.incidents.len() > incidents_max {
        writeln!(
            w,
            "  {DIM}… {} more incident(s) (raise --incidents, or use --format json){DIM:#}",
            a.incidents.len() - incidents_max
        )?;
    }

    if !a.timeline.is_empty() && timeline_max > 0 {
        writeln!(
            w,
            "\n{BOLD}Timeline{BOLD:#} ({} line(s); ~ = time of a neighbouring line, ? = unknown)",
            a.timeline.len()
        )?;
        for e in a.timeline.iter().take(timeline_max) {
            event_line(w, e, time, "  ")?;
        }
        if a.timeline.len() > timeline_max {
            writeln!(
                w,
                "  {DIM}… {} more (raise --timeline, or use --format json){DIM:#}",
                a.timeline.len() - timeline_max
            )?;
        }
    }

    if !a.summary.is_empty() {
        writeln!(w, "\n{BOLD}What to do{BOLD:#}")?;
        for s in &a.summary {
            writeln!(w, "  {RED}{}{RED:#}: {}", s.cause.as_str(), s.fix)?;
        }
    }

    if !a.notes.is_empty() {
        writeln!(w, "\n{BOLD}Notes{BOLD:#}")?;
        for n in &a.notes {
            let at = match n.line {
                Some(l) if !n.input.is_empty() => format!("{}:{l}: ", n.input),
                _ if !n.input.is_empty() => format!("{}: ", n.input),
                _ => String::new(),
            };
            writeln!(w, "  {YELLOW}{at}{YELLOW:#}{}", n.message)?;
        }
    }
    Ok(())
}
