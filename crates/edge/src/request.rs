//! The visitor's request: refusing smuggling vectors, and writing it out toward the origin.
//!
//! hyper has already parsed the request and refused what httparse refuses (space before a
//! colon, bad names, invalid Content-Length values). What it lets through and a front proxy
//! must still refuse (RFC 9112 §6.1, §6.3): Content-Length together with Transfer-Encoding,
//! Content-Length given twice (even with one value), and any Transfer-Encoding that is not
//! exactly one `chunked`, so that no two parsers can disagree about where the body ends.

use http::header::{self, HeaderMap, HeaderName};
use http::{Method, Version};

/// Why a request is refused with 400.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Content-Length and Transfer-Encoding together.
    ClAndTe,
    /// More than one Content-Length field, or a list.
    ClDuplicate,
    /// A Content-Length that is not a plain decimal number.
    ClInvalid,
    /// A Transfer-Encoding other than exactly `chunked`, or given twice.
    TeObfuscated,
    /// Transfer-Encoding in an HTTP/1.0 request.
    TeInHttp10,
    /// A method the edge does not forward (CONNECT).
    Method,
}

impl Refusal {
    /// Stable name, used as a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::ClAndTe => "cl-and-te",
            Refusal::ClDuplicate => "cl-duplicate",
            Refusal::ClInvalid => "cl-invalid",
            Refusal::TeObfuscated => "te-obfuscated",
            Refusal::TeInHttp10 => "te-in-http10",
            Refusal::Method => "method",
        }
    }

    /// The status answered.
    pub fn status(self) -> u16 {
        match self {
            Refusal::Method => 405,
            _ => 400,
        }
    }

    /// A sentence for the visitor.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::ClAndTe => "the request has both Content-Length and Transfer-Encoding",
            Refusal::ClDuplicate => "the request has more than one Content-Length",
            Refusal::ClInvalid => "the request's Content-Length is not a number",
            Refusal::TeObfuscated => "the request's Transfer-Encoding is not plain `chunked`",
            Refusal::TeInHttp10 => "Transfer-Encoding is not allowed in HTTP/1.0",
            Refusal::Method => "CONNECT is not forwarded",
        }
    }
}

/// Checks a request head for smuggling vectors.
pub fn validate(method: &Method, version: Version, headers: &HeaderMap) -> Result<(), Refusal> {
    if method == Method::CONNECT {
        return Err(Refusal::Method);
    }
    let cl: Vec<_> = headers.get_all(header::CONTENT_LENGTH).iter().collect();
    let te: Vec<_> = headers.get_all(header::TRANSFER_ENCODING).iter().collect();
    if !cl.is_empty() && !te.is_empty() {
        return Err(Refusal::ClAndTe);
    }
    if cl.len() > 1 {
        return Err(Refusal::ClDuplicate);
    }
    if let Some(v) = cl.first() {
        let v = v.as_bytes();
        if v.contains(&b',') {
            return Err(Refusal::ClDuplicate);
        }
        if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
            return Err(Refusal::ClInvalid);
        }
    }
    if !te.is_empty() {
        if version == Version::HTTP_10 {
            return Err(Refusal::TeInHttp10);
        }
        if te.len() > 1 || !te[0].as_bytes().eq_ignore_ascii_case(b"chunked") {
            return Err(Refusal::TeObfuscated);
        }
    }
    Ok(())
}

/// Hop-by-hop fields (RFC 9110 §7.6.1), never forwarded in either direction.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// Is `name` hop-by-hop, either always or because `Connection` lists it?
pub fn is_hop_by_hop(name: &[u8], connection_listed: &[&[u8]]) -> bool {
    HOP_BY_HOP
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h.as_bytes()))
        || connection_listed
            .iter()
            .any(|c| name.eq_ignore_ascii_case(c))
}

/// The field names listed in `Connection` values, as sent (compare them ignoring ASCII case).
pub fn connection_listed<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    for v in values {
        for token in v.split(|&b| b == b',') {
            let t = originlens_wire::bytes::trim_ows(token);
            if !t.is_empty() {
                out.push(t);
            }
        }
    }
    out
}

/// What the upstream request needs besides the visitor's head.
pub struct Forwarding<'a> {
    /// The `Host` sent to the origin.
    pub host: &'a str,
    /// The visitor's address, appended to `X-Forwarded-For`.
    pub client_ip: &'a str,
    /// `http` or `https`, as the visitor spoke to the edge.
    pub proto: &'static str,
}

/// Serializes the request head sent to the origin: always HTTP/1.1 with keep-alive, hop-by-hop
/// fields dropped, `X-Forwarded-For`/`-Proto` added, and the body length as `Content-Length`
/// (the edge buffers request bodies, so it is always known).
pub fn upstream_head(
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    fwd: &Forwarding<'_>,
    body_len: Option<usize>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + headers.len() * 32);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(fwd.host.as_bytes());
    out.extend_from_slice(b"\r\n");
    let listed = connection_listed(
        headers
            .get_all(header::CONNECTION)
            .iter()
            .map(|v| v.as_bytes()),
    );
    let mut xff: Option<Vec<u8>> = None;
    for (name, value) in headers {
        let n = name.as_str().as_bytes();
        if is_hop_by_hop(n, &listed) || skip_upstream(name) {
            if name == "x-forwarded-for" {
                let prior = xff.get_or_insert_with(Vec::new);
                if !prior.is_empty() {
                    prior.extend_from_slice(b", ");
                }
                prior.extend_from_slice(value.as_bytes());
            }
            continue;
        }
        out.extend_from_slice(n);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"X-Forwarded-For: ");
    if let Some(prior) = xff {
        out.extend_from_slice(&prior);
        out.extend_from_slice(b", ");
    }
    out.extend_from_slice(fwd.client_ip.as_bytes());
    out.extend_from_slice(b"\r\nX-Forwarded-Proto: ");
    out.extend_from_slice(fwd.proto.as_bytes());
    out.extend_from_slice(b"\r\nConnection: keep-alive\r\n");
    if let Some(len) = body_len {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(itoa_usize(len, &mut [0u8; 20]));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// `n` in decimal, written into the end of `buf`.
fn itoa_usize(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Fields the edge rewrites itself.
fn skip_upstream(name: &HeaderName) -> bool {
    name == header::HOST
        || name == header::CONTENT_LENGTH
        || name == "x-forwarded-for"
        || name == "x-forwarded-proto"
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn check(pairs: &[(&str, &str)]) -> Result<(), Refusal> {
        validate(&Method::POST, Version::HTTP_11, &headers(pairs))
    }

    #[test]
    fn smuggling_vectors_are_refused() {
        assert_eq!(check(&[("content-length", "5")]), Ok(()));
        assert_eq!(check(&[("transfer-encoding", "Chunked")]), Ok(()));
        let te_cl = [("content-length", "5"), ("transfer-encoding", "chunked")];
        assert_eq!(check(&te_cl), Err(Refusal::ClAndTe));
        let dup = [("content-length", "5"), ("content-length", "5")];
        assert_eq!(check(&dup), Err(Refusal::ClDuplicate));
        assert_eq!(
            check(&[("content-length", "5, 5")]),
            Err(Refusal::ClDuplicate)
        );
        for bad in ["+5", "0x5", "", "5 ", "99999999999999999999"] {
            assert_eq!(
                check(&[("content-length", bad)]),
                Err(Refusal::ClInvalid),
                "{bad:?}"
            );
        }
        for te in [
            "xchunked",
            "chunked, identity",
            "identity",
            "chunked;x=1",
            "gzip, chunked",
        ] {
            assert_eq!(
                check(&[("transfer-encoding", te)]),
                Err(Refusal::TeObfuscated),
                "{te}"
            );
        }
        let twice = [
            ("transfer-encoding", "chunked"),
            ("transfer-encoding", "chunked"),
        ];
        assert_eq!(check(&twice), Err(Refusal::TeObfuscated));
        let h = headers(&[("transfer-encoding", "chunked")]);
        assert_eq!(
            validate(&Method::POST, Version::HTTP_10, &h),
            Err(Refusal::TeInHttp10)
        );
        assert_eq!(
            validate(&Method::CONNECT, Version::HTTP_11, &HeaderMap::new()),
            Err(Refusal::Method)
        );
    }

    #[test]
    fn upstream_head_drops_hop_by_hop_and_adds_forwarding() {
        let h = headers(&[
            ("host", "visitor.example"),
            ("connection", "close, x-private"),
            ("x-private", "1"),
            ("keep-alive", "timeout=5"),
            ("upgrade", "websocket"),
            ("accept", "*/*"),
            ("x-forwarded-for", "10.0.0.1"),
            ("content-length", "3"),
        ]);
        let fwd = Forwarding {
            host: "origin.example",
            client_ip: "192.0.2.7",
            proto: "http",
        };
        let head = upstream_head(&Method::POST, "/a?b", &h, &fwd, Some(3));
        let text = String::from_utf8(head).unwrap();
        assert_eq!(
            text,
            "POST /a?b HTTP/1.1\r\nHost: origin.example\r\naccept: */*\r\n\
             X-Forwarded-For: 10.0.0.1, 192.0.2.7\r\nX-Forwarded-Proto: http\r\n\
             Connection: keep-alive\r\nContent-Length: 3\r\n\r\n"
        );
    }
}
