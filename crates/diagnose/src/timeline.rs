//! One timeline: probe events, log lines, edge records, joined by time with a clock-skew
//! allowance (log stamps are often whole seconds, in the server's zone, on another clock).

use jiff::{SignedDuration, Timestamp};
use originlens_logs::Analysis;
use originlens_wire::Cause;

use crate::document::{Source, TimelineEntry};
use crate::steps::burst::BurstFailure;
use crate::steps::edge::TimedHit;
use crate::steps::exchanges::Probed;

/// Log lines kept in the timeline at most (the joined ones always are).
const MAX_LOG_ENTRIES: usize = 200;
/// Burst failures shown at most.
const MAX_BURST_ENTRIES: usize = 5;

/// RFC 3339 in UTC with milliseconds.
pub fn rfc3339(t: Timestamp) -> String {
    t.round(jiff::Unit::Millisecond).unwrap_or(t).to_string()
}

/// `12:00:03.120` in this machine's zone, for people; the input as it is when it does not parse.
pub fn clock(rfc: &str) -> String {
    match rfc.parse::<Timestamp>() {
        Ok(t) => {
            let tz = jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC);
            tz.to_datetime(t).strftime("%H:%M:%S%.3f").to_string()
        }
        Err(_) => rfc.to_owned(),
    }
}

/// A probe event: a time span (start to end of the exchange) and what it showed.
pub struct ProbeEvent {
    /// Start.
    pub start: Timestamp,
    /// End.
    pub end: Timestamp,
    /// Text.
    pub text: String,
    /// The cause, when it failed.
    pub cause: Option<Cause>,
}

/// The probe events of the direct exchanges and the burst's failures.
pub fn probe_events(probed: &[Probed], burst: &[BurstFailure]) -> Vec<ProbeEvent> {
    let mut out: Vec<ProbeEvent> = probed
        .iter()
        .map(|p| {
            let what = match (p.verdict.cause, p.verdict.status) {
                (Some(c), Some(s)) => format!("{s} ({c})"),
                (Some(c), None) => format!("no response ({c})"),
                (None, Some(s)) => format!("{s}, clean"),
                (None, None) => "no status".into(),
            };
            let msg = p
                .verdict
                .deciding
                .as_ref()
                .map(|f| format!(": {}", f.message))
                .unwrap_or_default();
            ProbeEvent {
                start: p.started,
                end: p.ended(),
                text: format!("{} → {what}{msg}", p.label),
                cause: p.verdict.cause,
            }
        })
        .collect();
    out.extend(burst.iter().take(MAX_BURST_ENTRIES).map(|f| ProbeEvent {
        start: f.started,
        end: f.started,
        text: format!(
            "burst request → {} ({})",
            f.status.map_or("no response".to_owned(), |s| s.to_string()),
            f.cause
        ),
        cause: Some(f.cause),
    }));
    out
}

/// The joined timeline; also returns, for each log event id, whether it joined a failed probe
/// event.
pub fn build(
    probes: &[ProbeEvent],
    logs: Option<&Analysis>,
    edge: &[TimedHit],
    skew: std::time::Duration,
) -> (Vec<TimelineEntry>, Vec<usize>) {
    let skew = SignedDuration::try_from(skew).unwrap_or(SignedDuration::from_secs(2));
    struct Item {
        t: Timestamp,
        entry: TimelineEntry,
        probe: Option<usize>,
        log: Option<usize>,
    }
    let mut items: Vec<Item> = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        items.push(Item {
            t: p.start,
            entry: TimelineEntry {
                time: rfc3339(p.start),
                source: Source::Probe,
                text: format!("probe: {}", p.text),
                place: None,
                cause: p.cause,
                joined: Vec::new(),
            },
            probe: Some(i),
            log: None,
        });
    }
    // Which log events fall in a failed probe event's window.
    let mut joined_logs: Vec<usize> = Vec::new();
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    if let Some(a) = logs {
        for e in &a.timeline {
            let Some(t) = e.time else { continue };
            for (pi, p) in probes.iter().enumerate() {
                if p.cause.is_none() {
                    continue;
                }
                // Stamps without fractions are the whole second they started in.
                let lo = p.start.checked_sub(skew).unwrap_or(p.start);
                let hi = p
                    .end
                    .checked_add(skew + SignedDuration::from_secs(1))
                    .unwrap_or(p.end);
                if t >= lo && t <= hi {
                    pairs.push((pi, e.id));
                    if !joined_logs.contains(&e.id) {
                        joined_logs.push(e.id);
                    }
                }
            }
        }
        let mut kept: Vec<&originlens_logs::Event> = a
            .timeline
            .iter()
            .filter(|e| e.time.is_some() && joined_logs.contains(&e.id))
            .collect();
        let rest = MAX_LOG_ENTRIES.saturating_sub(kept.len());
        let others: Vec<&originlens_logs::Event> = a
            .timeline
            .iter()
            .filter(|e| e.time.is_some() && !joined_logs.contains(&e.id))
            .collect();
        kept.extend(others.iter().rev().take(rest));
        for e in kept {
            let t = e.time.unwrap_or_default();
            items.push(Item {
                t,
                entry: TimelineEntry {
                    time: rfc3339(t),
                    source: Source::Log,
                    text: format!("{}: {}", e.source.as_str(), e.text),
                    place: Some(format!("{}:{}", e.file, e.line)),
                    cause: Some(e.cause),
                    joined: Vec::new(),
                },
                probe: None,
                log: Some(e.id),
            });
        }
    }
    for h in edge {
        let Some(t) = h.time else { continue };
        items.push(Item {
            t,
            entry: TimelineEntry {
                time: rfc3339(t),
                source: Source::Edge,
                text: format!(
                    "edge: {} for {} ({}{})",
                    h.hit.status,
                    h.hit.request,
                    h.hit.id,
                    h.hit.cause.map(|c| format!(", {c}")).unwrap_or_default()
                ),
                place: None,
                cause: h.hit.cause,
                joined: Vec::new(),
            },
            probe: None,
            log: None,
        });
    }
    items.sort_by_key(|i| (i.t, i.probe.is_none()));
    let index_of_probe = |pi: usize| items.iter().position(|i| i.probe == Some(pi));
    let index_of_log = |li: usize| items.iter().position(|i| i.log == Some(li));
    let links: Vec<(usize, usize)> = pairs
        .iter()
        .filter_map(|&(pi, li)| Some((index_of_probe(pi)?, index_of_log(li)?)))
        .collect();
    let mut entries: Vec<TimelineEntry> = items.into_iter().map(|i| i.entry).collect();
    for (a, b) in links {
        entries[a].joined.push(b);
        entries[b].joined.push(a);
    }
    (entries, joined_logs)
}
