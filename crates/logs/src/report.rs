//! The correlating sink: keeps the events that pass the time filter, tallies every cause, and
//! turns it all into an [`Analysis`] (summary by cause, timeline, incidents, notes).

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use originlens_wire::Cause;
use serde::Serialize;

use crate::correlate::{correlate, Incident};
use crate::event::Event;
use crate::fix::fix;
use crate::sink::{InputStats, LineMatch, Note, NoteKind, Sink};
use crate::source::{is_web_unit, Layer, Source};

/// Events kept for the timeline and correlation; beyond this only the tallies grow, so memory
/// stays bounded on huge inputs.
pub const DEFAULT_MAX_EVENTS: usize = 100_000;

/// What the report keeps and how it joins events.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// Drop events before this instant.
    pub since: Option<Timestamp>,
    /// Drop events after this instant.
    pub until: Option<Timestamp>,
    /// Events this close in time may belong to one incident.
    pub window: SignedDuration,
    /// Events kept for the timeline.
    pub max_events: usize,
    /// systemd units that serve the site besides the usual ones (`--unit NAME`).
    pub units: Vec<String>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            since: None,
            until: None,
            window: SignedDuration::from_secs(2),
            max_events: DEFAULT_MAX_EVENTS,
            units: Vec::new(),
        }
    }
}

/// One row of the summary by cause.
#[derive(Clone, Debug, Serialize)]
pub struct CauseSummary {
    /// The cause id.
    pub cause: Cause,
    /// Incidents whose root cause this is.
    pub incidents: usize,
    /// Lines pointing at this cause.
    pub events: u64,
    /// First line time.
    pub first: Option<Timestamp>,
    /// Last line time.
    pub last: Option<Timestamp>,
    /// Layers that saw it.
    pub layers: Vec<Layer>,
    /// Programs that logged it.
    pub sources: Vec<Source>,
    /// The status the visitor most likely saw.
    pub status: String,
    /// What to do.
    pub fix: &'static str,
}

#[derive(Default)]
struct Tally {
    events: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    layers: Vec<Layer>,
    sources: Vec<Source>,
    statuses: BTreeMap<&'static str, u64>,
}

/// Totals over all inputs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    /// Inputs scanned.
    pub inputs: usize,
    /// Bytes scanned.
    pub bytes: u64,
    /// Lines scanned.
    pub lines: u64,
    /// Lines that matched a signature.
    pub matched: u64,
    /// Matched lines dropped by `since`/`until`.
    pub outside_time_range: u64,
    /// Matched lines counted but not kept for the timeline (over the event limit).
    pub not_kept: u64,
    /// systemd lines about units outside the web stack (desktop, user sessions), left out.
    pub outside_web_stack: u64,
    /// Inputs that could not be read to the end.
    pub failed_inputs: usize,
}

/// The finished report.
#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    /// Totals.
    pub totals: Totals,
    /// Per-input totals.
    pub inputs: Vec<InputStats>,
    /// One row per cause, most incidents first.
    pub summary: Vec<CauseSummary>,
    /// Incidents in time order.
    pub incidents: Vec<Incident>,
    /// Events in time order (events without a time last).
    pub timeline: Vec<Event>,
    /// Remarks about the inputs.
    pub notes: Vec<Note>,
}

impl Analysis {
    /// Something worth a look was found.
    pub fn found_incidents(&self) -> bool {
        !self.incidents.is_empty()
    }
}

/// Collects scanner output; see the module docs.
pub struct Report {
    options: ReportOptions,
    names: Vec<String>,
    events: Vec<Event>,
    tallies: BTreeMap<Cause, Tally>,
    notes: Vec<Note>,
    inputs: Vec<InputStats>,
    totals: Totals,
    /// A few of the units left out, for the note.
    ignored_units: Vec<String>,
}

impl Report {
    /// An empty report.
    pub fn new(options: ReportOptions) -> Report {
        Report {
            options,
            names: Vec::new(),
            events: Vec::new(),
            tallies: BTreeMap::new(),
            notes: Vec::new(),
            inputs: Vec::new(),
            totals: Totals::default(),
            ignored_units: Vec::new(),
        }
    }

    /// Registers an input and returns the index to scan it with.
    pub fn input(&mut self, name: &str) -> usize {
        self.names.push(name.to_owned());
        self.names.len() - 1
    }

    /// Correlates and returns the analysis.
    pub fn finish(mut self) -> Analysis {
        if self.totals.not_kept > 0 {
            self.notes.push(Note {
                kind: NoteKind::Limit,
                input: String::new(),
                line: None,
                offset: None,
                message: format!(
                    "{} matched lines were counted in the summary but not kept for the timeline (limit {})",
                    self.totals.not_kept, self.options.max_events
                ),
            });
        }
        if self.totals.outside_web_stack > 0 {
            self.notes.push(Note {
                kind: NoteKind::Ignored,
                input: String::new(),
                line: None,
                offset: None,
                message: format!(
                    "{} systemd line(s) about units outside the web stack were left out ({}); add one with --unit NAME",
                    self.totals.outside_web_stack,
                    self.ignored_units.join(", ")
                ),
            });
        }
        let mut events = self.events;
        events.sort_by(|a, b| {
            (a.time.is_none(), a.time, &a.file, a.line).cmp(&(
                b.time.is_none(),
                b.time,
                &b.file,
                b.line,
            ))
        });
        for (i, e) in events.iter_mut().enumerate() {
            e.id = i;
        }
        let incidents = correlate(&events, self.options.window);
        let mut per_cause: BTreeMap<Cause, (usize, BTreeMap<String, usize>)> = BTreeMap::new();
        for inc in &incidents {
            let entry = per_cause.entry(inc.cause).or_default();
            entry.0 += 1;
            *entry.1.entry(inc.status.clone()).or_default() += 1;
        }
        let mut summary: Vec<CauseSummary> = self
            .tallies
            .into_iter()
            .map(|(cause, t)| {
                let (incidents, statuses) = per_cause.remove(&cause).unwrap_or_default();
                let status = statuses
                    .into_iter()
                    .max_by_key(|(_, n)| *n)
                    .map(|(s, _)| s)
                    .or_else(|| {
                        t.statuses
                            .iter()
                            .max_by_key(|(_, n)| **n)
                            .map(|(s, _)| (*s).to_owned())
                    })
                    .unwrap_or_default();
                CauseSummary {
                    cause,
                    incidents,
                    events: t.events,
                    first: t.first,
                    last: t.last,
                    layers: t.layers,
                    sources: t.sources,
                    status,
                    fix: fix(cause),
                }
            })
            .collect();
        // A cause can be an incident's root without a line of its own (not possible today, but
        // keep the summary complete if a refinement ever does that).
        for (cause, (incidents, statuses)) in per_cause {
            summary.push(CauseSummary {
                cause,
                incidents,
                events: 0,
                first: None,
                last: None,
                layers: Vec::new(),
                sources: Vec::new(),
                status: statuses.into_keys().next().unwrap_or_default(),
                fix: fix(cause),
            });
        }
        summary.sort_by(|a, b| {
            b.incidents
                .cmp(&a.incidents)
                .then(b.events.cmp(&a.events))
                .then(a.cause.cmp(&b.cause))
        });
        Analysis {
            totals: self.totals,
            inputs: self.inputs,
            summary,
            incidents,
            timeline: events,
            notes: self.notes,
        }
    }
}

impl Report {
    /// An input that could not be read at all: a note, and it counts as failed.
    pub fn unreadable(&mut self, note: Note) {
        self.totals.failed_inputs += 1;
        self.notes.push(note);
    }

    /// Tallies a match and keeps it as an event when it passes the filters and the limit;
    /// returns the kept event.
    pub fn keep(&mut self, m: &LineMatch<'_>) -> Option<&Event> {
        self.totals.matched += 1;
        if let Some(t) = m.time {
            let before = self.options.since.is_some_and(|s| t < s);
            let after = self.options.until.is_some_and(|u| t > u);
            if before || after {
                self.totals.outside_time_range += 1;
                return None;
            }
        }
        if let Some(unit) = outside_web_stack(m, &self.options.units) {
            self.totals.outside_web_stack += 1;
            if self.ignored_units.len() < 5 && !self.ignored_units.contains(&unit) {
                self.ignored_units.push(unit);
            }
            return None;
        }
        let tally = self.tallies.entry(m.verdict.cause).or_default();
        tally.events += 1;
        if let Some(t) = m.time {
            tally.first = Some(tally.first.map_or(t, |f| f.min(t)));
            tally.last = Some(tally.last.map_or(t, |l| l.max(t)));
        }
        let layer = m.signature.source.layer();
        if !tally.layers.contains(&layer) {
            tally.layers.push(layer);
            tally.layers.sort();
        }
        if !tally.sources.contains(&m.signature.source) {
            tally.sources.push(m.signature.source);
            tally.sources.sort();
        }
        *tally.statuses.entry(m.verdict.status).or_default() += 1;
        if self.events.len() >= self.options.max_events {
            self.totals.not_kept += 1;
            return None;
        }
        let name = self.names.get(m.input).map_or("?", String::as_str);
        self.events.push(Event::from_match(m, name));
        self.events.last()
    }
}

/// A systemd line about a unit that does not serve the site, or written by a user's own
/// service manager (`systemd[<pid other than 1>]`): the unit's name, to leave it out.
fn outside_web_stack(m: &LineMatch<'_>, extra: &[String]) -> Option<String> {
    if m.signature.source != Source::Systemd {
        return None;
    }
    let unit = m.fields.unit.as_deref()?;
    let user_manager = memchr::memmem::find(m.line, b" systemd[").is_some_and(|at| {
        let rest = &m.line[at + 9..];
        !rest.starts_with(b"1]")
    });
    if user_manager && !crate::source::is_named_unit(unit, extra) {
        return Some(format!("{unit} (user manager)"));
    }
    (!is_web_unit(unit, extra)).then(|| unit.to_owned())
}

impl Sink for Report {
    fn matched(&mut self, m: &LineMatch<'_>) {
        self.keep(m);
    }

    fn note(&mut self, note: Note) {
        self.notes.push(note);
    }

    fn finish(&mut self, stats: &InputStats) {
        self.totals.inputs += 1;
        self.totals.bytes += stats.bytes;
        self.totals.lines += stats.lines;
        if stats.failed {
            self.totals.failed_inputs += 1;
        }
        self.inputs.push(stats.clone());
    }
}
