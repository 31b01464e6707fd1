//! The visitor's request: refusing smuggling vectors, and writing it out toward the origin.
//!
//! hyper has already parsed the request and refused what httparse refuses (space before a
//! colon, bad names, invalid Content-Length values). What it lets through and a front proxy
//! must still refuse (RFC 9112 §6.1, §6.3): Content-Length together with Transfer-Encoding,
//! Content-Length given twice (even with one value), and any Transfer-Encoding that is not
//! exactly one `chunked`, so that no two parsers can disagree about where the body ends.

use http::header::HeaderMap;

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
    /// A field named like a framing field with `_` for `-` (`Transfer_Encoding`), which
    /// CGI-style origins read as the framing field itself.
    FramingLookalike,
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
            Refusal::FramingLookalike => "framing-lookalike",
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
            Refusal::FramingLookalike => {
                "the request has a field named like Content-Length or Transfer-Encoding"
            }
        }
    }
}

/// The fields of a visitor's request, whatever protocol carried them.
pub trait Fields {
    /// Calls `f` with each field's name and value, in order.
    fn each<'s>(&'s self, f: &mut dyn FnMut(&'s [u8], &'s [u8]));
}

impl Fields for HeaderMap {
    fn each<'s>(&'s self, f: &mut dyn FnMut(&'s [u8], &'s [u8])) {
        for (name, value) in self {
            f(name.as_str().as_bytes(), value.as_bytes());
        }
    }
}

/// Checks a request head for smuggling vectors.
pub fn validate(method: &[u8], http10: bool, fields: &dyn Fields) -> Result<(), Refusal> {
    if method == b"CONNECT" {
        return Err(Refusal::Method);
    }
    // How many of each framing field, and the first one's value: nothing is allocated.
    let (mut cl, mut te) = ((0usize, &b""[..]), (0usize, &b""[..]));
    let mut lookalike = false;
    fields.each(&mut |name, value| {
        if matches!(name.len(), 14 | 17) && name.contains(&b'_') {
            lookalike |= is_framing_lookalike(name);
        }
        let seen = if name.eq_ignore_ascii_case(b"content-length") {
            &mut cl
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            &mut te
        } else {
            return;
        };
        if seen.0 == 0 {
            seen.1 = value;
        }
        seen.0 += 1;
    });
    if lookalike {
        return Err(Refusal::FramingLookalike);
    }
    if cl.0 > 0 && te.0 > 0 {
        return Err(Refusal::ClAndTe);
    }
    if cl.0 > 1 || cl.1.contains(&b',') {
        return Err(Refusal::ClDuplicate);
    }
    let v = cl.1;
    if cl.0 == 1 && (v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit)) {
        return Err(Refusal::ClInvalid);
    }
    if te.0 > 0 {
        if http10 {
            return Err(Refusal::TeInHttp10);
        }
        if te.0 > 1 || !te.1.eq_ignore_ascii_case(b"chunked") {
            return Err(Refusal::TeObfuscated);
        }
    }
    Ok(())
}

/// `Content_Length`, `transfer_encoding` and the like.
fn is_framing_lookalike(name: &[u8]) -> bool {
    [&b"content-length"[..], b"transfer-encoding"]
        .iter()
        .any(|f| {
            f.len() == name.len()
                && f.iter()
                    .zip(name)
                    .all(|(&a, &b)| a == b.to_ascii_lowercase() || (a == b'-' && b == b'_'))
        })
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
    // Only meaningful with `Upgrade: h2c`, which the edge never passes on.
    "http2-settings",
];

/// Is `name` hop-by-hop, either always or because `Connection` lists it?
pub fn is_hop_by_hop(name: &[u8], listed: &Listed<'_>) -> bool {
    // Most names have a length no hop-by-hop name has: one compare settles them.
    let always = matches!(name.len(), 2 | 7 | 10 | 14 | 16..=19)
        && HOP_BY_HOP
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h.as_bytes()));
    always || listed.contains(name)
}

/// Is `h` a host and optional port (RFC 3986 reg-name, IPv4 or bracketed IPv6)? An empty
/// one is not: RFC 9112 §3.2 answers a request without a usable host with 400.
/// A comma is refused too: a list of hosts would let the edge and the origin each pick one.
pub fn valid_host(h: &[u8]) -> bool {
    let (name, port) = match h.iter().rposition(|&b| b == b':') {
        // The last colon of a bracketed IPv6 address is not a port separator.
        Some(i) if !h[i..].contains(&b']') => (&h[..i], &h[i + 1..]),
        _ => (h, &b""[..]),
    };
    let name_ok = match name {
        [b'[', ip @ .., b']'] => {
            !ip.is_empty()
                && ip
                    .iter()
                    .all(|&b| b.is_ascii_hexdigit() || b":.".contains(&b))
        }
        _ => {
            !name.is_empty()
                && name
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+;=%".contains(&b))
        }
    };
    name_ok && port.len() <= 5 && port.iter().all(u8::is_ascii_digit)
}

/// Does an `Upgrade` value name `h2c`? Cleartext HTTP/2 is the edge's to speak, never the
/// origin's: an origin that accepted it would open a tunnel past every request check.
pub fn names_h2c(value: &[u8]) -> bool {
    value.split(|&b| b == b',').any(|t| {
        let t = originlens_wire::bytes::trim_ows(t);
        t.eq_ignore_ascii_case(b"h2c") || t.len() > 4 && t[..4].eq_ignore_ascii_case(b"h2c/")
    })
}

/// Tokens kept without allocating; a head rarely lists more in `Connection`.
const LISTED_INLINE: usize = 4;

/// The tokens of `Connection` values (`close`, `keep-alive`, `upgrade`, or names of more
/// hop-by-hop fields), as sent; compared ignoring ASCII case.
#[derive(Debug, Default)]
pub struct Listed<'a> {
    inline: [&'a [u8]; LISTED_INLINE],
    len: usize,
    more: Vec<&'a [u8]>,
}

impl<'a> Listed<'a> {
    /// The tokens of every value in `values`.
    pub fn of(values: impl Iterator<Item = &'a [u8]>) -> Listed<'a> {
        let mut listed = Listed::default();
        for v in values {
            listed.add(v);
        }
        listed
    }

    /// Adds the tokens of one more `Connection` value.
    pub fn add(&mut self, value: &'a [u8]) {
        for token in value.split(|&b| b == b',') {
            let t = originlens_wire::bytes::trim_ows(token);
            if t.is_empty() {
                continue;
            }
            match self.inline.get_mut(self.len) {
                Some(slot) => *slot = t,
                None => self.more.push(t),
            }
            self.len += 1;
        }
    }

    /// Is `token` listed?
    pub fn contains(&self, token: &[u8]) -> bool {
        let inline = &self.inline[..self.len.min(LISTED_INLINE)];
        inline
            .iter()
            .chain(&self.more)
            .any(|t| t.eq_ignore_ascii_case(token))
    }
}

/// What the upstream request needs besides the visitor's head.
pub struct Forwarding<'a> {
    /// The `Host` sent to the origin.
    pub host: &'a str,
    /// The visitor's address, appended to `X-Forwarded-For`.
    pub client_ip: &'a str,
    /// `http` or `https`, as the visitor spoke to the edge.
    pub proto: &'static str,
    /// The visitor asked for a protocol upgrade: `Upgrade` is passed on with
    /// `Connection: upgrade` instead of keep-alive.
    pub upgrade: bool,
}

/// Serializes the request head sent to the origin into `out`: always HTTP/1.1, hop-by-hop
/// fields dropped, `X-Forwarded-For`/`-Proto` added, and the body length as `Content-Length`
/// (the edge reads request bodies whole, so it is always known; for the same reason `Expect`
/// is answered by the edge and not passed on).
pub fn upstream_head(
    method: &str,
    target: &str,
    fields: &dyn Fields,
    fwd: &Forwarding<'_>,
    body_len: Option<usize>,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(fwd.host.as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut listed = Listed::default();
    fields.each(&mut |name, value| {
        if name.eq_ignore_ascii_case(b"connection") {
            listed.add(value);
        }
    });
    let mut xff: Option<Vec<u8>> = None;
    let mut upgrade: Vec<&[u8]> = Vec::new();
    fields.each(&mut |name, value| {
        if name.eq_ignore_ascii_case(b"x-forwarded-for") {
            let prior = xff.get_or_insert_with(Vec::new);
            if !prior.is_empty() {
                prior.extend_from_slice(b", ");
            }
            prior.extend_from_slice(value);
            return;
        }
        if fwd.upgrade && name.eq_ignore_ascii_case(b"upgrade") && !names_h2c(value) {
            upgrade.push(value);
            return;
        }
        if is_hop_by_hop(name, &listed) || rewritten_by_edge(name) {
            return;
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    });
    out.extend_from_slice(b"X-Forwarded-For: ");
    if let Some(prior) = xff {
        out.extend_from_slice(&prior);
        out.extend_from_slice(b", ");
    }
    out.extend_from_slice(fwd.client_ip.as_bytes());
    out.extend_from_slice(b"\r\nX-Forwarded-Proto: ");
    out.extend_from_slice(fwd.proto.as_bytes());
    if upgrade.is_empty() {
        out.extend_from_slice(b"\r\nConnection: keep-alive\r\n");
    } else {
        for u in upgrade {
            out.extend_from_slice(b"\r\nUpgrade: ");
            out.extend_from_slice(u);
        }
        out.extend_from_slice(b"\r\nConnection: upgrade\r\n");
    }
    if let Some(len) = body_len {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(itoa_u64(len as u64, &mut [0u8; 20]));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// `n` in decimal, written into the end of `buf`.
pub fn itoa_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
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

/// Fields the edge writes itself (or, for `Expect`, answers itself).
fn rewritten_by_edge(name: &[u8]) -> bool {
    [
        &b"host"[..],
        b"content-length",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"expect",
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

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
        validate(b"POST", false, &headers(pairs))
    }

    #[test]
    fn every_hop_by_hop_name_is_recognised_in_any_case() {
        for h in HOP_BY_HOP {
            assert!(is_hop_by_hop(h.as_bytes(), &Listed::default()), "{h}");
            let upper = h.to_ascii_uppercase();
            assert!(is_hop_by_hop(upper.as_bytes(), &Listed::default()), "{h}");
        }
        assert!(!is_hop_by_hop(b"content-type", &Listed::default()));
        let listed = Listed::of([&b"X-Private"[..]].into_iter());
        assert!(is_hop_by_hop(b"x-private", &listed));
    }

    #[test]
    fn hosts_are_a_name_or_address_and_an_optional_port() {
        for ok in [
            "a.test",
            "a.test:8080",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:443",
            "xn--d-1a.test",
        ] {
            assert!(valid_host(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            ":80",
            "a.test:http",
            "a.test:123456",
            "a.test,b.test",
            "a b",
            "[]",
            "[::1",
            "a/b",
            "a@b",
        ] {
            assert!(!valid_host(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn h2c_tokens_are_found_in_lists() {
        assert!(names_h2c(b"h2c"));
        assert!(names_h2c(b"websocket, H2C"));
        assert!(!names_h2c(b"websocket"));
        assert!(!names_h2c(b"h2"));
    }

    #[test]
    fn listed_tokens_beyond_the_inline_ones_are_kept() {
        let values: [&[u8]; 2] = [b"close, X-A ,x-b", b", X-C,X-D, upgrade"];
        let listed = Listed::of(values.into_iter());
        for t in ["close", "x-a", "X-B", "x-c", "x-d", "UPGRADE"] {
            assert!(listed.contains(t.as_bytes()), "{t}");
        }
        assert!(!listed.contains(b"keep-alive"));
        assert!(!listed.contains(b""));
        assert!(!Listed::default().contains(b"close"));
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
        for name in ["transfer_encoding", "Content_Length", "content_length"] {
            assert_eq!(
                check(&[(name, "5")]),
                Err(Refusal::FramingLookalike),
                "{name}"
            );
        }
        assert_eq!(check(&[("x_content_length", "5")]), Ok(()));
        let h = headers(&[("transfer-encoding", "chunked")]);
        assert_eq!(validate(b"POST", true, &h), Err(Refusal::TeInHttp10));
        assert_eq!(
            validate(b"CONNECT", false, &HeaderMap::new()),
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
            ("expect", "100-continue"),
        ]);
        let mut fwd = Forwarding {
            host: "origin.example",
            client_ip: "192.0.2.7",
            proto: "http",
            upgrade: false,
        };
        let mut out = Vec::new();
        upstream_head("POST", "/a?b", &h, &fwd, Some(3), &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "POST /a?b HTTP/1.1\r\nHost: origin.example\r\naccept: */*\r\n\
             X-Forwarded-For: 10.0.0.1, 192.0.2.7\r\nX-Forwarded-Proto: http\r\n\
             Connection: keep-alive\r\nContent-Length: 3\r\n\r\n"
        );
        fwd.upgrade = true;
        upstream_head("GET", "/ws", &h, &fwd, None, &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "GET /ws HTTP/1.1\r\nHost: origin.example\r\naccept: */*\r\n\
             X-Forwarded-For: 10.0.0.1, 192.0.2.7\r\nX-Forwarded-Proto: http\r\n\
             Upgrade: websocket\r\nConnection: upgrade\r\n\r\n"
        );
    }
}
