//! OpenTelemetry log records (OTLP/JSON, the protobuf JSON mapping of
//! `ExportLogsServiceRequest`): one request per output line, as an OpenTelemetry collector's
//! `otlpjsonfile` receiver reads them, so events can be shipped to Loki or Elasticsearch.
//!
//! Each event is a log record: `timeUnixNano` from the line's time, `severityNumber` /
//! `severityText` from its role (a death is FATAL, a symptom or condition ERROR, context WARN),
//! `body` the line, attributes the cause id, the program that wrote it, the file and line. The
//! resource names the host. After the events, one record per incident (`event.name`
//! `originlens.incident`, body the story). The resource attribute `originlens.schema` is
//! [`SCHEMA`]; `crates/cli/tests/logs_otlp.rs` checks the shape of a line.

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::catalog::Role;
use crate::correlate::Incident;
use crate::event::Event;
use crate::report::Analysis;

/// Schema id, carried as the resource attribute `originlens.schema`.
pub const SCHEMA: &str = "originlens.logs.otlp/1";
/// Records per output line when a whole analysis is written.
pub const BATCH: usize = 512;

/// `ExportLogsServiceRequest`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportLogsServiceRequest {
    /// One resource (this host).
    pub resource_logs: Vec<ResourceLogs>,
}

/// `ResourceLogs`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceLogs {
    /// The host the logs are from.
    pub resource: Resource,
    /// One scope (originlens).
    pub scope_logs: Vec<ScopeLogs>,
}

/// `Resource`.
#[derive(Serialize)]
pub struct Resource {
    /// `host.name`, `service.name`, `originlens.schema`.
    pub attributes: Vec<KeyValue>,
}

/// `ScopeLogs`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeLogs {
    /// `originlens.logs` and the version.
    pub scope: Scope,
    /// The records.
    pub log_records: Vec<LogRecord>,
}

/// `InstrumentationScope`.
#[derive(Serialize)]
pub struct Scope {
    /// Scope name.
    pub name: &'static str,
    /// originlens version.
    pub version: &'static str,
}

/// `LogRecord`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogRecord {
    /// Nanoseconds since the epoch as a decimal string (protobuf JSON for fixed64); absent when
    /// the line has no time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_unix_nano: Option<String>,
    /// When originlens read it.
    pub observed_time_unix_nano: String,
    /// 21 FATAL, 17 ERROR, 13 WARN.
    pub severity_number: u8,
    /// `FATAL`, `ERROR`, `WARN`.
    pub severity_text: &'static str,
    /// The line, or the incident's story.
    pub body: AnyValue,
    /// Cause id, source, file, line and the fields the line carries.
    pub attributes: Vec<KeyValue>,
}

/// `KeyValue`.
#[derive(Serialize)]
pub struct KeyValue {
    /// Attribute name.
    pub key: &'static str,
    /// Attribute value.
    pub value: AnyValue,
}

/// `AnyValue` (only the kinds used here).
#[derive(Serialize)]
pub enum AnyValue {
    /// A string.
    #[serde(rename = "stringValue")]
    String(String),
    /// An integer (int64 is a decimal string in protobuf JSON).
    #[serde(rename = "intValue")]
    Int(String),
    /// A boolean.
    #[serde(rename = "boolValue")]
    Bool(bool),
}

fn s(key: &'static str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key,
        value: AnyValue::String(value.into()),
    }
}

fn i(key: &'static str, value: impl ToString) -> KeyValue {
    KeyValue {
        key,
        value: AnyValue::Int(value.to_string()),
    }
}

fn nanos(t: jiff::Timestamp) -> String {
    t.as_nanosecond().max(0).to_string()
}

fn severity(role: Role) -> (u8, &'static str) {
    match role {
        Role::Kill => (21, "FATAL"),
        Role::Symptom | Role::Condition => (17, "ERROR"),
        Role::Context => (13, "WARN"),
    }
}

/// The log record of one event; `incident` is the incident it belongs to, when known.
pub fn event_record(e: &Event, incident: Option<usize>, observed: &str) -> LogRecord {
    let (number, text) = severity(e.role);
    let mut attributes = vec![
        s("originlens.cause", e.cause.as_str()),
        s("originlens.role", e.role.as_str()),
        s("originlens.signature", e.signature),
        s("originlens.source", e.source.as_str()),
        s("originlens.layer", e.layer.as_str()),
        s("originlens.visitor_status", e.status),
        s("log.file.path", e.file.clone()),
        i("log.file.line", e.line),
    ];
    if e.inferred {
        attributes.push(KeyValue {
            key: "originlens.inferred",
            value: AnyValue::Bool(true),
        });
    }
    if let Some(id) = incident {
        attributes.push(i("originlens.incident", id));
    }
    let f = &e.fields;
    if let Some(pid) = f.pid {
        attributes.push(i("process.pid", pid));
    }
    if let Some(c) = &f.comm {
        attributes.push(s("process.executable.name", c.clone()));
    }
    if let Some(u) = &f.unit {
        attributes.push(s("systemd.unit", u.clone()));
    }
    if let Some(r) = &f.request {
        attributes.push(s("originlens.request", r.clone()));
    }
    if let Some(u) = &f.upstream {
        attributes.push(s("originlens.upstream", u.clone()));
    }
    if let Some(c) = f.connection {
        attributes.push(i("nginx.connection", c));
    }
    LogRecord {
        time_unix_nano: e.time.map(nanos),
        observed_time_unix_nano: observed.to_owned(),
        severity_number: number,
        severity_text: text,
        body: AnyValue::String(e.text.clone()),
        attributes,
    }
}

/// The log record of one incident: its story, cause, count and time span.
pub fn incident_record(inc: &Incident, observed: &str) -> LogRecord {
    let mut attributes = vec![
        s("event.name", "originlens.incident"),
        i("originlens.incident", inc.id),
        s("originlens.cause", inc.cause.as_str()),
        s("originlens.visitor_status", inc.status.clone()),
        i("originlens.count", inc.count),
        i("originlens.lines", inc.lines),
    ];
    if let Some(text) = &inc.inferred {
        attributes.push(s("originlens.inferred", text.clone()));
    }
    LogRecord {
        time_unix_nano: inc.start.map(nanos),
        observed_time_unix_nano: observed.to_owned(),
        severity_number: 17,
        severity_text: "ERROR",
        body: AnyValue::String(inc.story.clone()),
        attributes,
    }
}

fn request(host: &str, log_records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    let mut resource = vec![
        s("service.name", "originlens"),
        s("originlens.schema", SCHEMA),
    ];
    if !host.is_empty() {
        resource.insert(0, s("host.name", host));
    }
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Resource {
                attributes: resource,
            },
            scope_logs: vec![ScopeLogs {
                scope: Scope {
                    name: "originlens.logs",
                    version: env!("CARGO_PKG_VERSION"),
                },
                log_records,
            }],
        }],
    }
}

fn write_line<W: Write>(w: &mut W, host: &str, records: Vec<LogRecord>) -> io::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    serde_json::to_writer(&mut *w, &request(host, records))?;
    w.write_all(b"\n")
}

fn now() -> String {
    nanos(jiff::Timestamp::now())
}

/// One event as one request line (streaming mode).
pub fn write_event<W: Write>(event: &Event, host: &str, mut w: W) -> io::Result<()> {
    write_line(&mut w, host, vec![event_record(event, None, &now())])
}

/// Every event (with its incident id) and every incident, [`BATCH`] records per line.
pub fn write<W: Write>(analysis: &Analysis, host: &str, mut w: W) -> io::Result<()> {
    let observed = now();
    let mut of_event: HashMap<usize, usize> = HashMap::new();
    for inc in &analysis.incidents {
        for &e in &inc.events {
            of_event.insert(e, inc.id);
        }
    }
    for chunk in analysis.timeline.chunks(BATCH) {
        let records = chunk
            .iter()
            .map(|e| event_record(e, of_event.get(&e.id).copied(), &observed))
            .collect();
        write_line(&mut w, host, records)?;
    }
    write_rest(analysis, host, w)
}

/// After streamed events: the incidents.
pub fn write_rest<W: Write>(analysis: &Analysis, host: &str, mut w: W) -> io::Result<()> {
    let observed = now();
    for chunk in analysis.incidents.chunks(BATCH) {
        let records = chunk
            .iter()
            .map(|inc| incident_record(inc, &observed))
            .collect();
        write_line(&mut w, host, records)?;
    }
    w.flush()
}
