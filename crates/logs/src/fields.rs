//! The facts pulled out of a matched line: pid, signal, upstream, request, memory and friends.

use memchr::memmem;
use regex::bytes::Captures;
use serde::Serialize;

/// Fields extracted from one line. Every field is optional: formats differ in what they carry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Fields {
    /// Process id of the process the line is about (the victim, not the logger).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Signal number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<u32>,
    /// Signal name as written (`SIGSEGV`, `Segmentation fault`, `SEGV`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal_name: Option<String>,
    /// Memory in kB (kernel rss) or bytes (PHP memory_limit), as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// Process name (`comm`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    /// systemd unit or cgroup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// PHP-FPM pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Script or binary path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// The upstream/backend address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// The request line (`GET /path HTTP/1.1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// Client address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Host header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// HTTP status in an access log line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// A format-specific code (errno, APR status, systemd `code=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// nginx connection number (`*N`), which joins error-log lines of one request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<u64>,
    /// Pid of the nginx worker that wrote the line (`2211#2211:`), which joins it to that
    /// worker's death.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<u32>,
    /// The row's free-text detail (action, reason, limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn number<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
    std::str::from_utf8(b).ok()?.trim().parse().ok()
}

impl Fields {
    /// Fills the fields from a signature regex's named groups.
    pub fn from_captures(re: &regex::bytes::Regex, caps: &Captures<'_>) -> Fields {
        let mut f = Fields::default();
        for name in re.capture_names().flatten() {
            let Some(m) = caps.name(name) else { continue };
            let b = m.as_bytes();
            match name {
                "pid" => f.pid = number(b),
                "signal" | "signal2" => f.signal = f.signal.or(number(b)),
                "signame" => f.signal_name = Some(text(b).trim().to_owned()),
                "memory" => f.memory = number(b),
                "comm" => f.comm = Some(text(b)),
                "unit" => f.unit = Some(text(b)),
                "pool" => f.pool = Some(text(b)),
                "script" => f.script = Some(text(b)),
                "upstream" => f.upstream = Some(text(b)),
                "request" => f.request = Some(text(b)),
                "client" => f.client = Some(text(b)),
                "host" => f.host = Some(text(b)),
                "status" => f.status = number(b),
                "code" => f.code = Some(text(b)),
                "detail" => f.detail = Some(text(b).trim().to_owned()),
                _ => {}
            }
        }
        if f.signal.is_none() {
            f.signal = f.signal_name.as_deref().and_then(signal_number);
        }
        f
    }

    /// Adds the trailing context nginx appends to error lines (`, client: X, server: Y,
    /// request: "...", upstream: "...", host: "..."`) and the connection number. Parsed from the
    /// right because FastCGI stderr text in the middle may itself contain `, `.
    pub fn add_nginx_context(&mut self, line: &[u8]) {
        if self.connection.is_none() {
            self.connection = nginx_connection(line);
        }
        if self.worker.is_none() {
            self.worker = nginx_worker(line);
        }
        let quoted = |key: &[u8]| -> Option<String> {
            let at = memmem::rfind(line, key)?;
            let rest = &line[at + key.len()..];
            let end = memchr::memchr(b'"', rest)?;
            Some(text(&rest[..end]))
        };
        if self.request.is_none() {
            self.request = quoted(b", request: \"");
        }
        if self.upstream.is_none() {
            self.upstream = quoted(b", upstream: \"");
        }
        if self.host.is_none() {
            self.host = quoted(b", host: \"");
        }
        if self.client.is_none() {
            if let Some(at) = memmem::rfind(line, b", client: ") {
                let rest = &line[at + 10..];
                let end = memchr::memchr(b',', rest).unwrap_or(rest.len());
                self.client = Some(text(&rest[..end]));
            }
        }
    }
}

/// The logging worker's pid in nginx's `[level] pid#tid: `.
fn nginx_worker(line: &[u8]) -> Option<u32> {
    let head = line.get(..64).unwrap_or(line);
    let hash = memchr::memchr(b'#', head)?;
    let start = head[..hash]
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    number(&head[start..hash])
}

/// The `*N` connection number after nginx's `pid#tid: `.
fn nginx_connection(line: &[u8]) -> Option<u64> {
    let hash = memchr::memchr(b'#', line.get(..64).unwrap_or(line))?;
    let rest = &line[hash..];
    let colon = memmem::find(rest, b": *")?;
    let digits = &rest[colon + 3..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    number(&digits[..end])
}

/// Signal numbers (Linux x86-64) for the names logs use: `SIGSEGV`, `SEGV`, `Segmentation fault`.
pub fn signal_number(name: &str) -> Option<u32> {
    let n = name.trim();
    let n = n.strip_prefix("SIG").unwrap_or(n);
    Some(match n {
        "HUP" | "Hangup" => 1,
        "INT" | "Interrupt" => 2,
        "QUIT" | "Quit" => 3,
        "ILL" | "Illegal instruction" => 4,
        "TRAP" | "Trace/breakpoint trap" => 5,
        "ABRT" | "Aborted" => 6,
        "BUS" | "Bus error" => 7,
        "FPE" | "Floating point exception" => 8,
        "KILL" | "Killed" => 9,
        "USR1" => 10,
        "SEGV" | "Segmentation fault" => 11,
        "USR2" => 12,
        "PIPE" | "Broken pipe" => 13,
        "ALRM" => 14,
        "TERM" | "Terminated" => 15,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_context_is_read_from_the_right() {
        let line = br#"2024/01/02 03:04:05 [error] 2211#2211: *9221 FastCGI sent in stderr: "a, client: fake" while reading response header from upstream, client: 172.70.42.10, server: example.com, request: "GET /x HTTP/1.1", upstream: "fastcgi://unix:/run/php.sock:", host: "example.com""#;
        let mut f = Fields::default();
        f.add_nginx_context(line);
        assert_eq!(f.client.as_deref(), Some("172.70.42.10"));
        assert_eq!(f.request.as_deref(), Some("GET /x HTTP/1.1"));
        assert_eq!(f.upstream.as_deref(), Some("fastcgi://unix:/run/php.sock:"));
        assert_eq!(f.host.as_deref(), Some("example.com"));
        assert_eq!(f.connection, Some(9221));
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_number("SIGKILL"), Some(9));
        assert_eq!(signal_number("Segmentation fault"), Some(11));
        assert_eq!(signal_number("SEGV"), Some(11));
        assert_eq!(signal_number("SIGWHAT"), None);
    }
}
