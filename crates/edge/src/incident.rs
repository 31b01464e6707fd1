//! An incident: one bad exchange and the evidence for it.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use originlens_wire::{escape, Cause, End, GeneratedBy, Severity};
use serde::{Deserialize, Serialize};

/// One finding as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// Fine id (`field.obs-fold`).
    pub id: String,
    /// Cause id.
    pub cause: Cause,
    /// How serious it is by the RFC.
    pub severity: Severity,
    /// Stream offset of the defect.
    pub offset: u64,
    /// What was seen.
    pub message: String,
}

impl From<&originlens_wire::Finding> for FindingRecord {
    fn from(f: &originlens_wire::Finding) -> Self {
        FindingRecord {
            id: f.id.as_str().to_owned(),
            cause: f.cause,
            severity: f.severity,
            offset: f.offset,
            message: f.message.to_string(),
        }
    }
}

/// One bad exchange.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// 16 hex digits, also sent to the visitor (`originlens-incident`, `originlens-ray`).
    pub id: String,
    /// Unix time of the request, milliseconds.
    pub at_ms: i64,
    /// Request method.
    pub method: String,
    /// Request target.
    pub target: String,
    /// The visitor's `Host`.
    pub host: String,
    /// The origin's address (kept for operators; never shown to visitors).
    pub origin: String,
    /// The emulated profile.
    pub profile: String,
    /// The cause.
    pub cause: Cause,
    /// The finding that decided.
    pub finding: Option<String>,
    /// Every finding of the exchange.
    pub findings: Vec<FindingRecord>,
    /// The origin's status, if a status line was read.
    pub origin_status: Option<u16>,
    /// The status the visitor got.
    pub visitor_status: u16,
    /// The edge answered its own error, or the origin's status went through.
    pub generated_by: GeneratedBy,
    /// How reading ended, if it did.
    pub end: Option<End>,
    /// Time to open the connection, ms (none for a reused one).
    pub connect_ms: Option<f64>,
    /// Time from the request to the first response byte, ms.
    pub first_byte_ms: Option<f64>,
    /// Time from the request to the end of the exchange, ms.
    pub total_ms: f64,
    /// Whether the connection was reused from the pool.
    pub reused: bool,
    /// Requests completed on the connection before this one.
    pub conn_uses: u32,
    /// Age of the connection, ms.
    pub conn_age_ms: u64,
    /// Whether this was the retry of a failed attempt on a reused connection.
    pub retried: bool,
    /// Bytes received from the origin.
    pub bytes: u64,
    /// The first bytes the origin sent (response head and the start of the body).
    #[serde(with = "raw_escaped")]
    pub raw: Vec<u8>,
    /// More was received than `raw` holds.
    pub raw_truncated: bool,
    /// Cookie, Set-Cookie and Authorization values in `raw` are masked.
    pub redacted: bool,
}

/// Field names whose values are masked in stored evidence.
pub const REDACTED_FIELDS: &[&str] = &[
    "cookie",
    "set-cookie",
    "authorization",
    "proxy-authorization",
];

/// Masks the values of [`REDACTED_FIELDS`] in a raw head with `*`, byte for byte, so that the
/// stream offsets of the findings stay true. Only lines up to the first empty line are looked
/// at; the body is left alone.
pub fn redact(raw: &mut [u8]) {
    let mut start = 0;
    while start < raw.len() {
        let end = raw[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| start + i);
        let line_end = if end > start && raw[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        if line_end == start && start > 0 {
            break;
        }
        if let Some(colon) = raw[start..line_end].iter().position(|&b| b == b':') {
            let name = originlens_wire::bytes::trim_ows(&raw[start..start + colon]);
            if REDACTED_FIELDS
                .iter()
                .any(|f| name.eq_ignore_ascii_case(f.as_bytes()))
            {
                let mut v = start + colon + 1;
                while v < line_end && matches!(raw[v], b' ' | b'\t') {
                    v += 1;
                }
                raw[v..line_end].fill(b'*');
            }
        }
        start = end + 1;
    }
}

/// Makes incident ids: 16 hex digits from a keyed hash of a counter, so they are unique per
/// process and not guessable from one another.
#[derive(Debug)]
pub struct IdGen {
    keys: RandomState,
    counter: AtomicU64,
}

impl Default for IdGen {
    fn default() -> Self {
        IdGen {
            keys: RandomState::new(),
            counter: AtomicU64::new(0),
        }
    }
}

impl IdGen {
    /// The next id. The keys are random per process, so ids of different runs differ too.
    pub fn next(&self) -> Id {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut h = self.keys.build_hasher();
        h.write_u64(n);
        let mut v = h.finish();
        let mut hex = [0u8; 16];
        for d in hex.iter_mut().rev() {
            *d = b"0123456789abcdef"[(v & 0xf) as usize];
            v >>= 4;
        }
        Id(hex)
    }
}

/// An incident (and ray) id: 16 lowercase hex digits, kept without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Id([u8; 16]);

impl Id {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("0000000000000000")
    }
}

impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Unix time in ms as RFC 3339 UTC, to the second.
pub fn format_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// Parses an age such as `90s`, `15m`, `1h` or `2d`.
pub fn parse_age(s: &str) -> Option<std::time::Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(secs))
}

/// `raw` is stored as the escaped text of [`escape::escape`], which is lossless.
mod raw_escaped {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(raw: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&originlens_wire::escape::escape(raw))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        super::unescape(&s).map_err(serde::de::Error::custom)
    }
}

/// The inverse of [`escape::escape`].
pub fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = s.get(i + 2..i + 4).ok_or("short \\x escape")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad \\x escape")?);
                i += 2;
            }
            _ => return Err(format!("bad escape at {i}")),
        }
        i += 2;
    }
    Ok(out)
}

/// The raw bytes escaped, one line per origin line, with the byte at `mark` (a stream offset)
/// shown between `⟦ ⟧`.
pub fn render_raw(raw: &[u8], mark: Option<u64>) -> String {
    let mut out = String::new();
    let mark = mark.and_then(|m| usize::try_from(m).ok());
    let mut line = String::new();
    for (i, &b) in raw.iter().enumerate() {
        let one = escape::escape(&[b]);
        if Some(i) == mark {
            line.push('⟦');
            line.push_str(&one);
            line.push('⟧');
        } else {
            line.push_str(&one);
        }
        if b == b'\n' {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
    }
    if mark == Some(raw.len()) {
        line.push_str("⟦end⟧");
    }
    if !line.is_empty() {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_offsets() {
        let mut raw = b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=secret\r\nX: y\r\nauthorization:  Bearer t\r\n\r\nCookie: body".to_vec();
        let len = raw.len();
        redact(&mut raw);
        assert_eq!(raw.len(), len);
        let text = String::from_utf8(raw).unwrap();
        assert!(text.contains("Set-Cookie: **********\r\n"), "{text}");
        assert!(text.contains("authorization:  ********\r\n"), "{text}");
        assert!(
            text.contains("X: y\r\n") && text.ends_with("Cookie: body"),
            "{text}"
        );
    }

    #[test]
    fn escaped_raw_round_trips() {
        let raw: Vec<u8> = (0u8..=255).collect();
        let s = escape::escape(&raw);
        assert_eq!(unescape(&s).unwrap(), raw);
        assert!(unescape("\\q").is_err() && unescape("\\x4").is_err());
    }

    #[test]
    fn ages_and_times() {
        assert_eq!(parse_age("90s"), Some(std::time::Duration::from_secs(90)));
        assert_eq!(parse_age("1h"), Some(std::time::Duration::from_secs(3600)));
        assert_eq!(
            parse_age("2d"),
            Some(std::time::Duration::from_secs(172_800))
        );
        assert_eq!(
            (parse_age("h"), parse_age("5"), parse_age("5w")),
            (None, None, None)
        );
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn ids_are_16_hex_and_distinct() {
        let g = IdGen::default();
        let (a, b) = (g.next(), g.next());
        assert_ne!(a, b);
        let a = a.as_str();
        assert!(a.len() == 16 && a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, a.to_string());
    }

    #[test]
    fn raw_rendering_marks_the_defect() {
        let r = render_raw(b"HTTP/1.1 200 OK\r\nX@Y: 1\r\n", Some(18));
        assert_eq!(r, "HTTP/1.1 200 OK\\r\\n\nX⟦@⟧Y: 1\\r\\n\n");
        assert_eq!(render_raw(b"ab", Some(2)), "ab⟦end⟧\n");
    }
}
