//! One conclusion: every step's findings become candidate causes, merged by cause id and ranked
//! (confidence, then causes behind the wire — a crash, a kill — before the symptom they produce).

use originlens_logs::Analysis;
use originlens_wire::{Cause, GeneratedBy, Phase};

use crate::adapters;
use crate::document::{
    BurstRecord, Confidence, ConfigRecord, Evidence, EvidenceKind, HeadBudget, KeepaliveRecord,
    RankedCause, VerdictBlock,
};
use crate::steps::budget::RUNBOOK_BUDGET;
use crate::steps::exchanges::{self, Probed};

/// Log lines quoted per cause.
const LOG_LINES_PER_CAUSE: usize = 3;

/// What the conclusion is drawn from.
pub struct Inputs<'a> {
    /// The direct exchanges.
    pub probed: &'a [Probed],
    /// The head budget.
    pub budget: Option<&'a HeadBudget>,
    /// The keep-alive measurement.
    pub keepalive: Option<&'a KeepaliveRecord>,
    /// The burst.
    pub burst: Option<&'a BurstRecord>,
    /// The logs.
    pub logs: Option<&'a Analysis>,
    /// Log event ids joined with a failed probe event.
    pub joined_logs: &'a [usize],
    /// The configuration.
    pub config: Option<&'a ConfigRecord>,
}

struct Candidate {
    cause: Cause,
    confidence: Confidence,
    evidence: Vec<Evidence>,
    joined: usize,
}

fn add(
    list: &mut Vec<Candidate>,
    cause: Cause,
    confidence: Confidence,
    evidence: Evidence,
    joined: bool,
) {
    match list.iter_mut().find(|c| c.cause == cause) {
        Some(c) => {
            c.confidence = c.confidence.max(confidence);
            c.joined += usize::from(joined);
            if c.evidence.len() < 8 {
                c.evidence.push(evidence);
            }
        }
        None => list.push(Candidate {
            cause,
            confidence,
            evidence: vec![evidence],
            joined: usize::from(joined),
        }),
    }
}

fn measure(text: String) -> Evidence {
    Evidence {
        kind: EvidenceKind::Measure,
        place: None,
        text,
        excerpt: None,
    }
}

/// The ranked causes.
pub fn causes(i: &Inputs<'_>) -> Vec<RankedCause> {
    let mut list: Vec<Candidate> = Vec::new();
    for p in i.probed {
        let Some(cause) = p.verdict.cause else {
            continue;
        };
        // The origin answering 5xx itself is a symptom: its logs say why.
        let confidence = if p.verdict.is_edge_error() {
            Confidence::High
        } else {
            Confidence::Medium
        };
        let f = p.verdict.deciding.as_ref();
        let ev = Evidence {
            kind: EvidenceKind::Bytes,
            place: Some(format!("{} @ byte {}", p.label, f.map_or(0, |f| f.offset))),
            text: f.map_or_else(
                || format!("the origin answered {:?}", p.verdict.status),
                |f| f.message.to_string(),
            ),
            excerpt: exchanges::defect_excerpt(p),
        };
        add(&mut list, cause, confidence, ev, false);
    }
    if let Some(b) = i.budget {
        if b.head_bytes > RUNBOOK_BUDGET {
            let over: Vec<&str> = b
                .limits
                .iter()
                .filter(|l| l.over)
                .map(|l| l.name.as_str())
                .collect();
            let top = b
                .largest_fields
                .first()
                .map(|f| format!("; largest: {} ({} lines, {} B)", f.name, f.count, f.bytes))
                .unwrap_or_default();
            add(
                &mut list,
                Cause::HeadTooLarge,
                Confidence::Low,
                measure(format!(
                    "the head of {} is {} B with {} Set-Cookie lines ({} B), over {}{top}",
                    b.exchange,
                    b.head_bytes,
                    b.set_cookie_count,
                    b.set_cookie_bytes,
                    over.join(", ")
                )),
                false,
            );
        }
    }
    if let Some(k) = i.keepalive.filter(|k| k.race) {
        add(
            &mut list,
            Cause::KeepaliveRace,
            Confidence::Medium,
            measure(k.summary.clone()),
            false,
        );
    }
    if let Some(b) = i.burst {
        for (cause, n) in &b.by_cause {
            if let Ok(cause) = cause.parse::<Cause>() {
                let conf = if cause == Cause::OriginError {
                    Confidence::Medium
                } else {
                    Confidence::High
                };
                add(
                    &mut list,
                    cause,
                    conf,
                    measure(format!(
                        "{n} of {} burst requests ({} at once) failed with {cause}",
                        b.requests, b.concurrency
                    )),
                    false,
                );
            }
        }
    }
    if let Some(a) = i.logs {
        for s in &a.summary {
            let events: Vec<&originlens_logs::Event> =
                a.timeline.iter().filter(|e| e.cause == s.cause).collect();
            let joined: Vec<&&originlens_logs::Event> = events
                .iter()
                .filter(|e| i.joined_logs.contains(&e.id))
                .collect();
            let confidence = if joined.is_empty() {
                Confidence::Medium
            } else {
                Confidence::High
            };
            let quoted: Vec<&originlens_logs::Event> = if joined.is_empty() {
                events
                    .iter()
                    .rev()
                    .take(LOG_LINES_PER_CAUSE)
                    .copied()
                    .collect()
            } else {
                joined
                    .iter()
                    .take(LOG_LINES_PER_CAUSE)
                    .map(|e| **e)
                    .collect()
            };
            for e in quoted {
                let ev = Evidence {
                    kind: EvidenceKind::Log,
                    place: Some(format!("{}:{}", e.file, e.line)),
                    text: e.text.clone(),
                    excerpt: None,
                };
                add(&mut list, s.cause, confidence, ev, !joined.is_empty());
            }
            if let Some(c) = list.iter_mut().find(|c| c.cause == s.cause) {
                if s.events > LOG_LINES_PER_CAUSE as u64 {
                    c.evidence.push(measure(format!(
                        "{} matching log lines since --since",
                        s.events
                    )));
                }
            }
        }
    }
    if let Some(cfg) = i.config {
        for f in &cfg.findings {
            let Some(cause) = f.cause else { continue };
            if f.severity == "info" {
                continue;
            }
            let ev = Evidence {
                kind: EvidenceKind::Config,
                place: Some(f.place.clone()),
                text: format!("{} ({})", f.message, f.rule),
                excerpt: None,
            };
            add(&mut list, cause, Confidence::Low, ev, false);
        }
    }
    // The origin's own 5xx is what the visitor sees, never why: its logs' causes go first.
    for c in list.iter_mut().filter(|c| c.cause == Cause::OriginError) {
        c.confidence = c.confidence.min(Confidence::Medium);
        c.joined = 0;
    }
    list.sort_by(|a, b| {
        b.confidence
            .cmp(&a.confidence)
            .then((b.joined > 0).cmp(&(a.joined > 0)))
            .then((b.cause.phase() == Phase::Process).cmp(&(a.cause.phase() == Phase::Process)))
            .then(b.joined.cmp(&a.joined))
    });
    list.into_iter()
        .map(|c| {
            let (meaning, fix) = adapters::knowledge(c.cause);
            RankedCause {
                cause: c.cause,
                confidence: c.confidence,
                meaning,
                evidence: c.evidence,
                fix,
            }
        })
        .collect()
}

/// The exchange the verdict speaks for: the user's request when given, else the GET.
pub fn primary(probed: &[Probed]) -> Option<&Probed> {
    probed.first()
}

/// The verdict block.
pub fn verdict(
    probed: &[Probed],
    burst_failed: Option<(u16, Cause)>,
    causes: &[RankedCause],
) -> VerdictBlock {
    let top = causes.iter().find(|c| c.confidence >= Confidence::Medium);
    let Some(p) = primary(probed) else {
        return VerdictBlock {
            status: None,
            generated_by: GeneratedBy::Edge,
            cause: top.map(|c| c.cause),
            confidence: top.map(|c| c.confidence),
            summary: "no direct exchange ran".into(),
        };
    };
    let (status, generated_by) = match (p.verdict.cause, burst_failed) {
        (None, Some((s, _))) => (Some(s), GeneratedBy::Edge),
        _ => (p.verdict.status, p.verdict.generated_by),
    };
    let who = match generated_by {
        GeneratedBy::Edge => "the edge",
        _ => "the origin",
    };
    let shown = status.map_or("no response".to_owned(), |s| s.to_string());
    let summary = match top {
        None => format!("Visitors get {shown} from {who}; nothing wrong was found"),
        Some(c) => {
            let intermittent = if p.verdict.cause.is_none() && burst_failed.is_some() {
                " (intermittent: the single request was fine, the burst was not)"
            } else {
                ""
            };
            format!(
                "Visitors get {shown} from {who}{intermittent}: {} ({} confidence): {}",
                c.cause,
                c.confidence.as_str(),
                c.meaning
            )
        }
    };
    VerdictBlock {
        status,
        generated_by,
        cause: top.map(|c| c.cause),
        confidence: top.map(|c| c.confidence),
        summary,
    }
}

/// The runbook's step 9 for this server: what to log so the next failure can be joined.
pub fn logging_advice(server: Option<&str>) -> String {
    let apache = server.is_some_and(|s| s.to_ascii_lowercase().contains("apache"));
    if apache {
        "The logs hold no line for what the probe saw. Log more for a while, then run diagnose again:\n\
         LogLevel debug proxy:trace2 proxy_fcgi:trace2\n\
         LogFormat \"%h %t \\\"%r\\\" %>s %b conn=%{c}L keepalive=%k time_us=%D upstream=\\\"%{BALANCER_WORKER_NAME}e\\\"\" detailed\n\
         CustomLog ${APACHE_LOG_DIR}/access_detailed.log detailed"
            .into()
    } else {
        "The logs hold no line for what the probe saw. Log more for a while, then run diagnose again:\n\
         error_log /var/log/nginx/error.log debug;\n\
         log_format detailed '$remote_addr [$time_iso8601] \"$request\" $status $body_bytes_sent '\n\
         \x20                   'conn=$connection reqs=$connection_requests rt=$request_time '\n\
         \x20                   'us=$upstream_status ua=$upstream_addr urt=$upstream_response_time';\n\
         access_log /var/log/nginx/access_detailed.log detailed;"
            .into()
    }
}
