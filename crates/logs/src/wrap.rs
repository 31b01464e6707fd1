//! Container and syslog wrappers around a log line: docker's json-file driver
//! (`{"log":"…\n","stream":"stderr","time":"…"}`, timed by `time`), `journalctl -o json`
//! (`MESSAGE`, timed by `__REALTIME_TIMESTAMP`), RFC 5424 syslog (`<3>1 2022-12-12T16:07:34.123+01:00
//! host app 42 - - msg`), a bare `<PRI>` before RFC 3164 syslog, and `docker compose logs`
//! prefixes (`app_1  | `). The catalogue's patterns then see the line the program wrote.

use std::borrow::Cow;

use jiff::Timestamp;
use serde::Deserialize;

/// A line taken out of its wrapper.
#[derive(Debug)]
pub struct Unwrapped<'a> {
    /// What the program wrote.
    pub text: Cow<'a, [u8]>,
    /// The wrapper's own time, when it has one (it wins over a stamp inside the text).
    pub time: Option<Timestamp>,
}

#[derive(Deserialize)]
struct Json {
    /// docker json-file.
    log: Option<String>,
    time: Option<String>,
    /// journalctl -o json.
    #[serde(rename = "MESSAGE")]
    message: Option<serde_json::Value>,
    #[serde(rename = "__REALTIME_TIMESTAMP")]
    realtime: Option<String>,
    #[serde(rename = "SYSLOG_IDENTIFIER")]
    identifier: Option<String>,
    #[serde(rename = "_PID")]
    pid: Option<String>,
}

/// The line inside a wrapper, or `None` when the line has none.
pub fn unwrap(line: &[u8]) -> Option<Unwrapped<'_>> {
    match line.first()? {
        b'{' => json(line),
        b'<' => syslog(line),
        _ => compose(line),
    }
}

fn json(line: &[u8]) -> Option<Unwrapped<'_>> {
    let j: Json = serde_json::from_slice(line).ok()?;
    if let Some(log) = j.log {
        let text = log.trim_end_matches(['\n', '\r']).to_owned();
        let time = j.time.as_deref().and_then(|t| t.parse().ok());
        // Compose-style services inside docker logs keep their own prefix rarely; strip anyway.
        return Some(Unwrapped {
            text: Cow::Owned(text.into_bytes()),
            time,
        });
    }
    let message = match j.message? {
        serde_json::Value::String(s) => s,
        // Binary messages are arrays of bytes.
        serde_json::Value::Array(bytes) => {
            let b: Vec<u8> = bytes
                .iter()
                .filter_map(|v| v.as_u64().and_then(|n| u8::try_from(n).ok()))
                .collect();
            String::from_utf8_lossy(&b).into_owned()
        }
        _ => return None,
    };
    let time = j
        .realtime
        .as_deref()
        .and_then(|us| us.parse::<i64>().ok())
        .and_then(|us| Timestamp::from_microsecond(us).ok());
    let text = match (j.identifier, j.pid) {
        (Some(id), Some(pid)) => format!("{id}[{pid}]: {message}"),
        (Some(id), None) => format!("{id}: {message}"),
        _ => message,
    };
    Some(Unwrapped {
        text: Cow::Owned(text.into_bytes()),
        time,
    })
}

/// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG` (RFC 5424) or `<PRI>` + RFC 3164.
fn syslog(line: &[u8]) -> Option<Unwrapped<'_>> {
    let close = line.iter().take(5).position(|&b| b == b'>')?;
    if close < 2 || !line[1..close].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let rest = &line[close + 1..];
    let Some(rest5424) = rest.strip_prefix(b"1 ") else {
        // RFC 3164 after the priority: the stamp parser reads the rest.
        return Some(Unwrapped {
            text: Cow::Borrowed(rest),
            time: None,
        });
    };
    let mut fields = rest5424.splitn(6, |&b| b == b' ');
    let stamp = fields.next()?;
    let _host = fields.next()?;
    let app = fields.next()?;
    let procid = fields.next()?;
    let _msgid = fields.next()?;
    let tail = fields.next().unwrap_or_default();
    let msg = skip_structured_data(tail);
    let msg = msg.strip_prefix("\u{feff}".as_bytes()).unwrap_or(msg);
    let time = std::str::from_utf8(stamp)
        .ok()
        .filter(|s| *s != "-")
        .and_then(|s| s.parse::<Timestamp>().ok());
    let text = match (app, procid) {
        (b"-", _) => msg.to_vec(),
        (app, b"-") => [app, b": ", msg].concat(),
        (app, pid) => [app, b"[", pid, b"]: ", msg].concat(),
    };
    Some(Unwrapped {
        text: Cow::Owned(text),
        time,
    })
}

/// Skips `-` or one or more `[id k="v" …]` elements (quoted values, `\]` and `\"` escapes)
/// and the space after.
fn skip_structured_data(s: &[u8]) -> &[u8] {
    if let Some(rest) = s.strip_prefix(b"-") {
        return rest.strip_prefix(b" ").unwrap_or(rest);
    }
    let mut i = 0;
    while s.get(i) == Some(&b'[') {
        let (mut escaped, mut quoted) = (false, false);
        i += 1;
        while let Some(&b) = s.get(i) {
            i += 1;
            match b {
                b'\\' if !escaped => {
                    escaped = true;
                    continue;
                }
                b'"' if !escaped => quoted = !quoted,
                b']' if !escaped && !quoted => break,
                _ => {}
            }
            escaped = false;
        }
    }
    let rest = &s[i.min(s.len())..];
    rest.strip_prefix(b" ").unwrap_or(rest)
}

/// `docker compose logs`: `web_1  | ` or `web-1  | ` before the line.
fn compose(line: &[u8]) -> Option<Unwrapped<'_>> {
    let head = line.get(..96).unwrap_or(line);
    let bar = memchr::memmem::find(head, b" | ")?;
    let name = head[..bar].trim_ascii_end();
    let ok = !name.is_empty()
        && name[0].is_ascii_alphanumeric()
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    ok.then(|| Unwrapped {
        text: Cow::Borrowed(&line[bar + 3..]),
        time: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(u: &Unwrapped<'_>) -> String {
        String::from_utf8_lossy(&u.text).into_owned()
    }

    #[test]
    fn docker_json_file() {
        let u = unwrap(br#"{"log":"2024/01/02 03:04:05 [error] 7#7: *3 upstream sent too big header while reading \"x\"\n","stream":"stderr","time":"2024-01-02T03:04:06.5Z"}"#).unwrap();
        assert!(text(&u).ends_with("reading \"x\""), "{}", text(&u));
        assert_eq!(u.time, Some("2024-01-02T03:04:06.5Z".parse().unwrap()));
    }

    #[test]
    fn journal_json() {
        let u = unwrap(br#"{"__REALTIME_TIMESTAMP":"1704164645123456","_PID":"1","SYSLOG_IDENTIFIER":"systemd","MESSAGE":"nginx.service: Main process exited, code=dumped, status=11/SEGV"}"#).unwrap();
        assert_eq!(
            text(&u),
            "systemd[1]: nginx.service: Main process exited, code=dumped, status=11/SEGV"
        );
        assert_eq!(u.time, Some("2024-01-02T03:04:05.123456Z".parse().unwrap()));
    }

    #[test]
    fn rfc5424_and_pri() {
        let u = unwrap(b"<3>1 2022-12-12T16:07:34.123+01:00 web1 php-fpm 811 - [meta x=\"]\\]\"] [pool www] child 9 exited on signal 11 (SIGSEGV) after 1.0 seconds from start").unwrap();
        assert_eq!(
            text(&u),
            "php-fpm[811]: [pool www] child 9 exited on signal 11 (SIGSEGV) after 1.0 seconds from start"
        );
        assert_eq!(u.time, Some("2022-12-12T15:07:34.123Z".parse().unwrap()));
        let u = unwrap(b"<13>Jan  2 03:04:05 web1 kernel: x").unwrap();
        assert_eq!(text(&u), "Jan  2 03:04:05 web1 kernel: x");
        assert!(unwrap(b"<html>").is_none());
    }

    #[test]
    fn compose_prefixes() {
        let u = unwrap(b"app_1  | [pool www] child 1 exited").unwrap();
        assert_eq!(text(&u), "[pool www] child 1 exited");
        let u = unwrap(b"web-1  | x").unwrap();
        assert_eq!(text(&u), "x");
        assert!(unwrap(b"2024/01/02 03:04:05 [error] a | b").is_none());
        assert!(unwrap(b"plain line").is_none());
    }
}
