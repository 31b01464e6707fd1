//! The edge's own view: Cloudflare Logpush `http_requests` JSON lines and an originlens edge
//! incident store, counted as 52x by status and minute since `--since`.

use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;

use crate::adapters;
use crate::document::{EdgeHit, EdgeRecord};

/// The step's time limit.
pub const LIMIT: Duration = Duration::from_secs(20);
/// 52x records listed.
const MAX_HITS: usize = 50;
/// Lines read at most from one Logpush file.
const MAX_LINES: u64 = 5_000_000;
/// Problems listed per input.
const MAX_NOTES: usize = 10;

/// A 52x with its time, for the timeline.
pub struct TimedHit {
    /// When.
    pub time: Option<Timestamp>,
    /// The record.
    pub hit: EdgeHit,
}

/// Logpush writes `EdgeStartTimestamp` as RFC 3339, or as Unix seconds, ms or ns.
fn timestamp(v: &serde_json::Value) -> Option<Timestamp> {
    match v {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => {
            let n = n.as_i64()?;
            match n.unsigned_abs() {
                0..=99_999_999_999 => Timestamp::from_second(n).ok(),
                100_000_000_000..=99_999_999_999_999 => Timestamp::from_millisecond(n).ok(),
                _ => Timestamp::from_nanosecond(i128::from(n)).ok(),
            }
        }
        _ => None,
    }
}

fn status(v: &serde_json::Value, key: &str) -> Option<u16> {
    v.get(key)?.as_u64().and_then(|s| u16::try_from(s).ok())
}

fn text(v: &serde_json::Value, key: &str) -> String {
    v.get(key).and_then(|s| s.as_str()).unwrap_or("").to_owned()
}

fn minute(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M").to_string()
}

fn count(record: &mut EdgeRecord, hits: &mut Vec<TimedHit>, time: Option<Timestamp>, hit: EdgeHit) {
    *record.errors_52x.entry(hit.status.to_string()).or_default() += 1;
    if let Some(t) = time {
        *record.by_minute.entry(minute(t)).or_default() += 1;
    }
    if hits.len() < MAX_HITS {
        hits.push(TimedHit { time, hit });
    }
}

/// Reads Logpush lines from `path` into `record`.
pub fn logpush(path: &Path, since: Timestamp, record: &mut EdgeRecord, hits: &mut Vec<TimedHit>) {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            record
                .notes
                .push(format!("{}: cannot read: {e}", path.display()));
            return;
        }
    };
    let mut notes = 0;
    let reader = std::io::BufReader::new(file);
    for (i, line) in reader.split(b'\n').enumerate() {
        let n = i as u64 + 1;
        if n > MAX_LINES {
            record.notes.push(format!(
                "{}: stopped after {MAX_LINES} lines",
                path.display()
            ));
            break;
        }
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                record
                    .notes
                    .push(format!("{}:{n}: read failed: {e}", path.display()));
                break;
            }
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let v: serde_json::Value = match serde_json::from_slice(&line) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(_) | Err(_) => {
                if notes < MAX_NOTES {
                    let why = serde_json::from_slice::<serde_json::Value>(&line)
                        .err()
                        .map_or("not a JSON object".to_owned(), |e| {
                            format!("not JSON at column {}: {e}", e.column())
                        });
                    record.notes.push(format!("{}:{n}: {why}", path.display()));
                }
                notes += 1;
                continue;
            }
        };
        let time = v.get("EdgeStartTimestamp").and_then(timestamp);
        if time.is_some_and(|t| t < since) {
            continue;
        }
        record.requests += 1;
        let Some(edge) = status(&v, "EdgeResponseStatus") else {
            continue;
        };
        if (520..=530).contains(&edge) {
            count(
                record,
                hits,
                time,
                EdgeHit {
                    time: time.map(crate::timeline::rfc3339),
                    status: edge,
                    origin_status: status(&v, "OriginResponseStatus").filter(|&s| s != 0),
                    request: format!(
                        "{}{}",
                        text(&v, "ClientRequestHost"),
                        text(&v, "ClientRequestURI")
                    ),
                    id: text(&v, "RayID"),
                    cause: None,
                },
            );
        }
    }
    if notes > MAX_NOTES {
        record.notes.push(format!(
            "{}: {} more lines that are not JSON",
            path.display(),
            notes - MAX_NOTES
        ));
    }
}

/// Reads an originlens edge store into `record`.
pub fn store(path: &Path, since: Timestamp, record: &mut EdgeRecord, hits: &mut Vec<TimedHit>) {
    let incidents = match adapters::store_incidents(path, since.as_millisecond()) {
        Ok(v) => v,
        Err(e) => {
            record.notes.push(format!("store {e}"));
            return;
        }
    };
    for i in incidents {
        record.requests += 1;
        if !(520..=530).contains(&i.visitor_status) {
            continue;
        }
        let time = Timestamp::from_millisecond(i.at_ms).ok();
        count(
            record,
            hits,
            time,
            EdgeHit {
                time: time.map(crate::timeline::rfc3339),
                status: i.visitor_status,
                origin_status: i.origin_status,
                request: format!("{}{}", i.host, i.target),
                id: i.id.clone(),
                cause: Some(i.cause),
            },
        );
    }
}

/// Total 52x records counted.
pub fn errors(record: &EdgeRecord) -> u64 {
    record.errors_52x.values().sum()
}
