//! Reading request heads: lenient, bounded, and never a panic whatever the peer sends.
//!
//! The lab only needs the method, the path and whether the connection may be reused, so this is
//! a tolerant line splitter, not a validating parser.

use std::io;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The largest request head the lab reads before answering 431.
pub const MAX_HEAD: usize = 64 * 1024;
/// The largest request body the lab reads and discards; beyond it the connection is closed.
const MAX_BODY: u64 = 1024 * 1024;

const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const TOO_LARGE: &[u8] =
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// The parts of a request the lab acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    /// The method, as sent.
    pub method: String,
    /// The path without query string or fragment (origin-form or absolute-form target).
    pub path: String,
    /// The query string, without `?` (empty when there is none).
    pub query: String,
    /// The connection must close after this exchange.
    pub close: bool,
}

impl Request {
    pub fn is_head(&self) -> bool {
        self.method.eq_ignore_ascii_case("HEAD")
    }
}

/// What reading a request produced.
#[derive(Debug)]
pub(crate) enum Read {
    /// A request head (any body already discarded).
    Request(Request),
    /// Unusable: answer these bytes and close.
    Bad(&'static [u8]),
    /// The peer closed before a complete head.
    Closed,
}

/// Reads one request from `stream`. `buf` carries bytes read past the previous request
/// (pipelining) and must be passed again for the next one.
pub(crate) async fn read(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Read> {
    loop {
        // RFC 9112 §2.2: a server ought to ignore empty lines before the request line.
        let blank = buf
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        buf.drain(..blank);
        if let Some(end) = head_end(buf) {
            let head: Vec<u8> = buf.drain(..end).collect();
            let Some((mut req, body)) = parse(&head) else {
                return Ok(Read::Bad(BAD_REQUEST));
            };
            match body {
                Body::None => {}
                Body::Length(n) if n <= MAX_BODY => discard(stream, buf, n).await?,
                // Chunked or huge bodies are not worth parsing here: close after answering.
                Body::Length(_) | Body::Unknown => {
                    buf.clear();
                    req.close = true;
                }
            }
            return Ok(Read::Request(req));
        }
        if buf.len() > MAX_HEAD {
            return Ok(Read::Bad(TOO_LARGE));
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Read::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The request body's framing, as far as the lab cares.
#[derive(Debug, PartialEq, Eq)]
enum Body {
    None,
    Length(u64),
    Unknown,
}

/// The offset just past the empty line ending the head (LF or CRLF line ends).
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut start = 0;
    for (i, &b) in buf.iter().enumerate() {
        if b != b'\n' {
            continue;
        }
        let line = &buf[start..i];
        if start > 0 && (line.is_empty() || line == b"\r") {
            return Some(i + 1);
        }
        start = i + 1;
    }
    None
}

fn parse(head: &[u8]) -> Option<(Request, Body)> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let mut parts = lines
        .next()?
        .split(|b| b.is_ascii_whitespace())
        .filter(|p| !p.is_empty());
    let method = String::from_utf8_lossy(parts.next()?).into_owned();
    let target = parts.next()?;
    let version = parts.next().unwrap_or(b"HTTP/1.0");
    let mut keep_alive = version != b"HTTP/1.0";
    let mut body = Body::None;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"connection") {
            let value = value.to_ascii_lowercase();
            if value.windows(5).any(|w| w == b"close") {
                keep_alive = false;
            } else if value.windows(10).any(|w| w == b"keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            body = match std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                Some(0) => Body::None,
                Some(n) => Body::Length(n),
                None => Body::Unknown,
            };
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            body = Body::Unknown;
        }
    }
    let req = Request {
        method,
        path: path_of(target),
        query: query_of(target),
        close: !keep_alive,
    };
    Some((req, body))
}

/// The path of a request target: origin-form or absolute-form, query and fragment removed.
fn path_of(target: &[u8]) -> String {
    let target = String::from_utf8_lossy(target);
    let rest = match target.find("://") {
        Some(i) => {
            let after = &target[i + 3..];
            after.find('/').map_or("/", |j| &after[j..])
        }
        None => &target,
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    rest[..end].to_owned()
}

/// The query of a request target, without `?` and fragment.
fn query_of(target: &[u8]) -> String {
    let target = String::from_utf8_lossy(target);
    let Some(q) = target.find('?') else {
        return String::new();
    };
    let rest = &target[q + 1..];
    rest[..rest.find('#').unwrap_or(rest.len())].to_owned()
}

/// Discards `n` body bytes: first those already buffered, then from the stream.
async fn discard(stream: &mut TcpStream, buf: &mut Vec<u8>, n: u64) -> io::Result<()> {
    let buffered = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
    buf.drain(..buffered);
    let mut left = n - buffered as u64;
    let mut sink = [0u8; 8192];
    while left > 0 {
        let want = sink.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let got = stream.read(&mut sink[..want]).await?;
        if got == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        left -= got as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_accepts_crlf_and_bare_lf() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nX"), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: a\n\nX"), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
        assert_eq!(head_end(b""), None);
    }

    #[test]
    fn parse_takes_path_without_query_and_keep_alive_rules() {
        let (req, body) = parse(b"GET /ok?x=1 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(
            (req.path.as_str(), req.close, body),
            ("/ok", false, Body::None)
        );
        assert_eq!(req.query, "x=1");
        let (req, _) =
            parse(b"GET http://h:1/empty#f HTTP/1.1\r\nConnection: Close\r\n\r\n").unwrap();
        assert_eq!((req.path.as_str(), req.close), ("/empty", true));
        let (req, _) = parse(b"HEAD / HTTP/1.0\r\n\r\n").unwrap();
        assert!(req.is_head() && req.close);
        let (req, _) = parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        assert!(!req.close);
        let (_, body) = parse(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert_eq!(body, Body::Length(5));
        let (_, body) = parse(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n").unwrap();
        assert_eq!(body, Body::Unknown);
    }

    #[test]
    fn parse_rejects_a_line_without_target_and_survives_junk() {
        assert!(parse(b"GET\r\n\r\n").is_none());
        assert!(parse(b"\x00\xff\r\n\r\n").is_none());
        let (req, _) = parse(b"\xff\xfe \xc3( \x00\r\n:::\r\n\r\n").unwrap();
        assert_eq!(req.method, "\u{fffd}\u{fffd}");
    }
}
