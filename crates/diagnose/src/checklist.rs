//! The runbook's Verification section as five items, each pass, fail or not-checked with the
//! evidence or the reason.

use originlens_logs::Analysis;
use originlens_wire::Cause;

use crate::document::{CheckId, CheckItem, CheckStatus, EdgeRecord, HeadBudget};
use crate::steps::budget::RUNBOOK_BUDGET;
use crate::steps::exchanges::Probed;

/// What the checklist is read from; `Err` carries why a step did not run.
pub struct Inputs<'a> {
    /// The exchange the verdict speaks for.
    pub primary: Option<&'a Probed>,
    /// Why there is no primary exchange.
    pub primary_missing: Option<String>,
    /// The logs analysis, or why there is none.
    pub logs: Result<&'a Analysis, String>,
    /// Inputs that could not be read.
    pub unreadable_logs: &'a [String],
    /// The `--via` exchange, or why there is none.
    pub via: Result<&'a Probed, String>,
    /// The head budget.
    pub budget: Option<&'a HeadBudget>,
    /// The edge's records, or why there are none.
    pub edge: Result<&'a EdgeRecord, String>,
}

fn item(id: CheckId, status: CheckStatus, evidence: impl Into<String>) -> CheckItem {
    CheckItem {
        id,
        status,
        evidence: evidence.into(),
    }
}

fn response_check(id: CheckId, p: &Probed) -> CheckItem {
    let v = &p.verdict;
    let status = p.exchange.report.status();
    let complete = p.exchange.report.head_complete;
    match (v.is_edge_error(), status, v.cause) {
        (false, Some(s), cause) if complete && s < 500 && cause != Some(Cause::OriginError) => {
            item(
                id,
                CheckStatus::Pass,
                format!(
                    "{}: HTTP {s} with {} header lines{}",
                    p.label,
                    p.exchange
                        .report
                        .head
                        .as_ref()
                        .map_or(0, |h| h.fields.len()),
                    cause.map(|c| format!(" (note: {c})")).unwrap_or_default()
                ),
            )
        }
        _ => {
            let why = p
                .verdict
                .deciding
                .as_ref()
                .map(|f| f.message.to_string())
                .or_else(|| status.map(|s| format!("the origin answered {s}")))
                .unwrap_or_else(|| "no valid response".into());
            item(
                id,
                CheckStatus::Fail,
                format!(
                    "{}: {}{}",
                    p.label,
                    v.cause.map(|c| format!("{c}: ")).unwrap_or_default(),
                    why
                ),
            )
        }
    }
}

/// Crash-like causes the runbook's "no segfaults or crashes" means.
const CRASHES: [Cause; 3] = [Cause::CrashSignal, Cause::OomKill, Cause::ProcessRestart];

/// The five items, in order.
pub fn build(i: &Inputs<'_>) -> Vec<CheckItem> {
    let direct = match i.primary {
        Some(p) => response_check(CheckId::DirectResponseValid, p),
        None => item(
            CheckId::DirectResponseValid,
            CheckStatus::Fail,
            i.primary_missing
                .clone()
                .unwrap_or_else(|| "no exchange ran".into()),
        ),
    };
    let crashes = match &i.logs {
        Err(why) => item(
            CheckId::NoCrashesInLogs,
            CheckStatus::NotChecked,
            why.clone(),
        ),
        Ok(a) => {
            let read: Vec<&str> = a
                .inputs
                .iter()
                .filter(|x| !i.unreadable_logs.contains(&x.name))
                .map(|x| x.name.as_str())
                .collect();
            let unreadable = if i.unreadable_logs.is_empty() {
                String::new()
            } else {
                format!("; could not read: {}", i.unreadable_logs.join(", "))
            };
            let found: Vec<&originlens_logs::Event> = a
                .timeline
                .iter()
                .filter(|e| CRASHES.contains(&e.cause))
                .collect();
            if let Some(first) = found.first() {
                item(
                    CheckId::NoCrashesInLogs,
                    CheckStatus::Fail,
                    format!(
                        "{} crash line(s); first: {}:{}: {} ({}){unreadable}",
                        found.len(),
                        first.file,
                        first.line,
                        first.text,
                        first.cause
                    ),
                )
            } else if read.is_empty() {
                item(
                    CheckId::NoCrashesInLogs,
                    CheckStatus::NotChecked,
                    format!("no log could be read{unreadable}"),
                )
            } else {
                item(
                    CheckId::NoCrashesInLogs,
                    CheckStatus::Pass,
                    format!(
                        "no segfault, OOM kill or restart in {}{unreadable}",
                        read.join(", ")
                    ),
                )
            }
        }
    };
    let via = match &i.via {
        Err(why) => item(
            CheckId::EdgeRequestsSucceed,
            CheckStatus::NotChecked,
            why.clone(),
        ),
        Ok(p) => response_check(CheckId::EdgeRequestsSucceed, p),
    };
    let headers = match i.budget {
        None => item(
            CheckId::HeadersUnder16k,
            CheckStatus::NotChecked,
            "no response head arrived to measure",
        ),
        Some(b) if b.head_bytes > RUNBOOK_BUDGET => item(
            CheckId::HeadersUnder16k,
            CheckStatus::Fail,
            format!(
                "{}: head is {} B, over 16 KB ({} B){}",
                b.exchange,
                b.head_bytes,
                RUNBOOK_BUDGET,
                b.largest_fields
                    .first()
                    .map(|f| format!("; largest field: {} ×{} = {} B", f.name, f.count, f.bytes))
                    .unwrap_or_default()
            ),
        ),
        Some(b) => item(
            CheckId::HeadersUnder16k,
            CheckStatus::Pass,
            format!(
                "{}: head is {} B (16 KB = {} B, edge limit 128 KB)",
                b.exchange, b.head_bytes, RUNBOOK_BUDGET
            ),
        ),
    };
    let edge = match &i.edge {
        Err(why) => item(CheckId::No52xAtEdge, CheckStatus::NotChecked, why.clone()),
        Ok(e) => {
            let n = crate::steps::edge::errors(e);
            let notes = if e.notes.is_empty() {
                String::new()
            } else {
                format!("; {}", e.notes.join("; "))
            };
            if n > 0 {
                let by: Vec<String> = e
                    .errors_52x
                    .iter()
                    .map(|(s, c)| format!("{c}× {s}"))
                    .collect();
                item(
                    CheckId::No52xAtEdge,
                    CheckStatus::Fail,
                    format!(
                        "{n} of {} edge records are 52x: {}{notes}",
                        e.requests,
                        by.join(", ")
                    ),
                )
            } else if e.requests == 0 && !e.notes.is_empty() {
                item(
                    CheckId::No52xAtEdge,
                    CheckStatus::NotChecked,
                    format!("no edge record could be read{notes}"),
                )
            } else {
                item(
                    CheckId::No52xAtEdge,
                    CheckStatus::Pass,
                    format!("{} edge records since --since, none 52x{notes}", e.requests),
                )
            }
        }
    };
    vec![direct, crashes, via, headers, edge]
}
