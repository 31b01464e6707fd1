//! Owned, time-ordered events: what the [`crate::Report`] keeps of each matched line.

use jiff::Timestamp;
use originlens_wire::Cause;
use serde::Serialize;

use crate::catalog::Role;
use crate::fields::Fields;
use crate::sink::{LineMatch, TimeSource};
use crate::source::{Layer, Service, Source};

/// Longest line text kept per event; the rest is cut with an ellipsis.
pub const MAX_TEXT: usize = 1024;

/// One line that matters.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// Position in the time-ordered timeline.
    pub id: usize,
    /// The input it came from.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the line.
    pub offset: u64,
    /// When it happened, if known.
    pub time: Option<Timestamp>,
    /// Where the time came from.
    pub time_source: TimeSource,
    /// Signature row id (`N1`, `P3`, ...).
    pub signature: &'static str,
    /// The program that wrote it.
    pub source: Source,
    /// The layer that saw it.
    pub layer: Layer,
    /// The cause id.
    pub cause: Cause,
    /// The part it plays.
    pub role: Role,
    /// The status the visitor most likely saw.
    pub status: &'static str,
    /// The line is about the edge-facing server itself.
    pub edge_facing: bool,
    /// The cause was inferred (from a signal number) rather than stated.
    pub inferred: bool,
    /// What happened, in a few words.
    pub title: &'static str,
    /// What the line says.
    pub fields: Fields,
    /// The line (lossy UTF-8, cut at [`MAX_TEXT`] bytes).
    pub text: String,
}

impl Event {
    /// Copies what is worth keeping out of a scanner match.
    pub fn from_match(m: &LineMatch<'_>, file: &str) -> Event {
        let cut = m.line.len().min(MAX_TEXT);
        let mut text = String::from_utf8_lossy(&m.line[..cut]).into_owned();
        if cut < m.line.len() {
            text.push('…');
        }
        Event {
            id: 0,
            file: file.to_owned(),
            line: m.line_number,
            offset: m.offset,
            time: m.time,
            time_source: m.time_source,
            signature: m.signature.id,
            source: m.signature.source,
            layer: m.signature.source.layer(),
            cause: m.verdict.cause,
            role: m.verdict.role,
            status: m.verdict.status,
            edge_facing: m.verdict.edge_facing,
            inferred: m.verdict.inferred,
            title: m.signature.title,
            fields: m.fields.clone(),
            text,
        }
    }

    /// Access-log rows echo failures that error logs explain better.
    pub fn is_echo(&self) -> bool {
        self.source == Source::AccessLog
    }

    /// The service the line is about: the unit or process it names, else the program that
    /// wrote it.
    pub fn service(&self) -> Service {
        let named = self
            .fields
            .unit
            .as_deref()
            .or(self.fields.comm.as_deref())
            .map_or(Service::Other, Service::of_name);
        if named != Service::Other {
            named
        } else {
            Service::of_source(self.source)
        }
    }

    /// The request as a join key: method and path, without query or protocol, so nginx's
    /// `GET /a.php?x=1 HTTP/1.1`, the access log's and FPM's `GET /a.php` meet.
    pub fn request_key(&self) -> Option<&str> {
        let r = self.fields.request.as_deref()?.trim();
        let mut parts = r.split_ascii_whitespace();
        let method = parts.next()?;
        let path = parts.next()?;
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() {
            return None;
        }
        // Method and path sit at the start of the request line.
        let end = r.find(path).map(|at| at + path.len())?;
        (method.len() < r.len()).then(|| &r[..end])
    }

    /// The upstream address as a join key: `unix:/run/php.sock` or `port 8000` (the app logs
    /// its port, the proxy its URL).
    pub fn address_key(&self) -> Option<String> {
        let u = self.fields.upstream.as_deref()?;
        if let Some(at) = u.find("unix:") {
            let path = u[at + 5..].trim_end_matches(':');
            return Some(format!("unix:{path}"));
        }
        let rest = u.split("://").nth(1).unwrap_or(u);
        let hostport = rest.split('/').next().unwrap_or(rest);
        let port = hostport.rsplit(':').next()?;
        (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
            .then(|| format!("port {port}"))
    }

    /// A short description of the process or request the line is about.
    pub fn subject(&self) -> String {
        let f = &self.fields;
        let mut parts = Vec::new();
        if let Some(c) = &f.comm {
            parts.push(c.clone());
        }
        if let Some(u) = &f.unit {
            parts.push(u.clone());
        }
        if let Some(p) = f.pid {
            parts.push(format!("pid {p}"));
        }
        if let Some(s) = f.signal {
            match &f.signal_name {
                Some(n) => parts.push(format!("signal {s} ({n})")),
                None => parts.push(format!("signal {s}")),
            }
        }
        if let Some(r) = &f.request {
            parts.push(format!("\"{r}\""));
        }
        if let Some(u) = &f.upstream {
            parts.push(format!("upstream {u}"));
        }
        parts.join(", ")
    }
}
