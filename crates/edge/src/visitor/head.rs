//! A visitor's HTTP/1 request head, parsed in place with httparse and kept as byte ranges into
//! the connection's read buffer, so that the buffer can grow while the body is read and no
//! field is copied.

use std::ops::Range;

use crate::request::{self, Fields, Listed};

/// Longest request head accepted (Cloudflare's request header limit is 128 KB); longer gets 431.
pub const MAX_REQUEST_HEAD: usize = 128 * 1024;
/// Most request fields accepted; more gets 431.
pub const MAX_REQUEST_FIELDS: usize = 128;

/// How much of a head the buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parse {
    /// A whole head, `len` bytes long (with any empty lines before it).
    Complete(usize),
    /// More bytes are needed.
    Partial,
    /// Not a valid HTTP/1 request head.
    Invalid(&'static str),
    /// Longer than [`MAX_REQUEST_HEAD`] or more fields than [`MAX_REQUEST_FIELDS`].
    TooLarge,
}

/// A parsed request head: ranges into the buffer it was parsed from.
#[derive(Debug, Default)]
pub struct RequestHead {
    method: Range<usize>,
    target: Range<usize>,
    /// HTTP/1.`minor`.
    pub minor: u8,
    fields: Vec<(Range<usize>, Range<usize>)>,
}

impl RequestHead {
    /// Parses the head at the start of `buf`, replacing what `self` held.
    pub fn parse(&mut self, buf: &[u8]) -> Parse {
        // Left uninitialised: httparse fills what it uses, and a 4 KiB memset per request
        // would cost more than parsing a short head.
        let mut storage =
            [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_REQUEST_FIELDS];
        let mut req = httparse::Request::new(&mut []);
        let len = match req.parse_with_uninit_headers(buf, &mut storage) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() > MAX_REQUEST_HEAD => {
                return Parse::TooLarge
            }
            Ok(httparse::Status::Partial) => return Parse::Partial,
            Err(httparse::Error::TooManyHeaders) => return Parse::TooLarge,
            Err(e) => return Parse::Invalid(invalid_reason(e)),
        };
        if len > MAX_REQUEST_HEAD {
            return Parse::TooLarge;
        }
        let span = |s: &[u8]| {
            let start = s.as_ptr() as usize - buf.as_ptr() as usize;
            start..start + s.len()
        };
        // httparse fills every part of a complete request.
        let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
            return Parse::Invalid("incomplete request line");
        };
        self.method = span(method.as_bytes());
        self.target = span(target.as_bytes());
        self.minor = minor;
        self.fields.clear();
        for h in req.headers.iter() {
            self.fields.push((span(h.name.as_bytes()), span(h.value)));
        }
        Parse::Complete(len)
    }

    /// The head's fields over the buffer it was parsed from.
    pub fn view<'b>(&'b self, buf: &'b [u8]) -> HeadView<'b> {
        HeadView { head: self, buf }
    }
}

/// A parsed head together with its buffer.
#[derive(Clone, Copy, Debug)]
pub struct HeadView<'b> {
    head: &'b RequestHead,
    buf: &'b [u8],
}

impl<'b> HeadView<'b> {
    /// The method (httparse admits only token bytes).
    pub fn method(&self) -> &'b str {
        std::str::from_utf8(&self.buf[self.head.method.clone()]).unwrap_or("")
    }

    /// The request target (httparse admits only visible ASCII).
    pub fn target(&self) -> &'b str {
        std::str::from_utf8(&self.buf[self.head.target.clone()]).unwrap_or("/")
    }

    /// Is this an HTTP/1.0 request?
    pub fn http10(&self) -> bool {
        self.head.minor == 0
    }

    /// The values of the fields called `name`.
    pub fn values(&self, name: &'b str) -> impl Iterator<Item = &'b [u8]> + 'b {
        let buf = self.buf;
        self.head
            .fields
            .iter()
            .filter(move |(n, _)| buf[n.clone()].eq_ignore_ascii_case(name.as_bytes()))
            .map(move |(_, v)| &buf[v.clone()])
    }

    /// The first value of `name`.
    pub fn first(&self, name: &'b str) -> Option<&'b [u8]> {
        self.values(name).next()
    }

    /// The fields the edge acts on, found in one pass.
    pub fn known(&self) -> Known<'b> {
        let mut k = Known {
            http10: self.http10(),
            ..Known::default()
        };
        for (n, v) in &self.head.fields {
            let (name, value) = (&self.buf[n.clone()], &self.buf[v.clone()]);
            let slot = match name.len() {
                4 if name.eq_ignore_ascii_case(b"host") => {
                    k.hosts += 1;
                    &mut k.host
                }
                6 if name.eq_ignore_ascii_case(b"accept") => &mut k.accept,
                6 if name.eq_ignore_ascii_case(b"expect") => &mut k.expect,
                7 if name.eq_ignore_ascii_case(b"upgrade") => &mut k.upgrade,
                10 if name.eq_ignore_ascii_case(b"connection") => {
                    k.connection.add(value);
                    continue;
                }
                14 if name.eq_ignore_ascii_case(b"content-length") => &mut k.content_length,
                17 if name.eq_ignore_ascii_case(b"transfer-encoding") => &mut k.transfer_encoding,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        k
    }
}

/// The fields of a request head the edge acts on (the first value of each).
#[derive(Debug, Default)]
pub struct Known<'b> {
    /// The request is HTTP/1.0.
    pub http10: bool,
    /// How many `Host` fields there are.
    pub hosts: usize,
    /// `Host`.
    pub host: Option<&'b [u8]>,
    /// `Accept`.
    pub accept: Option<&'b [u8]>,
    /// `Expect`.
    pub expect: Option<&'b [u8]>,
    /// `Upgrade`.
    pub upgrade: Option<&'b [u8]>,
    /// `Content-Length`.
    pub content_length: Option<&'b [u8]>,
    /// `Transfer-Encoding`.
    pub transfer_encoding: Option<&'b [u8]>,
    /// The tokens of every `Connection` value.
    pub connection: Listed<'b>,
}

impl Known<'_> {
    /// Does the visitor keep the connection open after this exchange (RFC 9112 §9.3)?
    pub fn keep_alive(&self) -> bool {
        let has = |t: &[u8]| self.connection.contains(t);
        if self.http10 {
            has(b"keep-alive") && !has(b"close")
        } else {
            !has(b"close")
        }
    }

    /// Did the visitor ask for a protocol upgrade (`Connection: upgrade` with `Upgrade`)?
    /// Never to `h2c` ([`request::names_h2c`]): that `Upgrade` is dropped like any hop-by-hop
    /// field and the request goes on as HTTP/1.1.
    pub fn upgrade(&self) -> bool {
        !self.http10
            && self.upgrade.is_some_and(|u| !request::names_h2c(u))
            && self.connection.contains(b"upgrade")
    }

    /// Does the visitor expect `100 Continue` before sending its body?
    pub fn expect_continue(&self) -> bool {
        !self.http10
            && self
                .expect
                .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"))
    }
}

impl Fields for HeadView<'_> {
    fn each<'s>(&'s self, f: &mut dyn FnMut(&'s [u8], &'s [u8])) {
        for (n, v) in &self.head.fields {
            f(&self.buf[n.clone()], &self.buf[v.clone()]);
        }
    }
}

fn invalid_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid field name",
        httparse::Error::HeaderValue => "invalid field value",
        httparse::Error::NewLine => "invalid line end",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid method",
        httparse::Error::TooManyHeaders => "too many fields",
        httparse::Error::Version => "invalid version",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &[u8]) -> (RequestHead, Parse) {
        let mut h = RequestHead::default();
        let p = h.parse(raw);
        (h, p)
    }

    #[test]
    fn a_head_is_kept_as_ranges() {
        let raw =
            b"\r\nPOST /a?b HTTP/1.0\r\nHost: x\r\nConnection: Keep-Alive\r\nX: 1\r\n\r\nbody";
        let (h, p) = parsed(raw);
        assert_eq!(p, Parse::Complete(raw.len() - 4));
        let v = h.view(raw);
        assert_eq!((v.method(), v.target(), v.http10()), ("POST", "/a?b", true));
        assert_eq!(v.first("host"), Some(&b"x"[..]));
        let k = v.known();
        assert_eq!((k.hosts, k.host), (1, Some(&b"x"[..])));
        assert!(k.keep_alive());
        assert!(!k.upgrade());
        let mut names = Vec::new();
        v.each(&mut |n, _| names.push(n.to_vec()));
        assert_eq!(names, [&b"Host"[..], b"Connection", b"X"]);
    }

    #[test]
    fn partial_invalid_and_too_large() {
        assert_eq!(parsed(b"GET / HTTP/1.1\r\nHost: x\r\n").1, Parse::Partial);
        assert_eq!(
            parsed(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n").1,
            Parse::Invalid("invalid field name")
        );
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_REQUEST_HEAD));
        assert_eq!(parsed(long.as_bytes()).1, Parse::TooLarge);
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_REQUEST_FIELDS + 1)
        );
        assert_eq!(parsed(many.as_bytes()).1, Parse::TooLarge);
    }

    #[test]
    fn keep_alive_and_upgrade_follow_the_version_and_connection() {
        let v11 = b"GET / HTTP/1.1\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\nExpect: 100-Continue\r\n\r\n";
        let (h, _) = parsed(v11);
        let k = h.view(v11).known();
        assert!(!k.keep_alive());
        assert!(k.upgrade());
        assert!(k.expect_continue());
        let v10 = b"GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n";
        let (h, _) = parsed(v10);
        let k = h.view(v10).known();
        assert!(!k.keep_alive());
        assert!(!k.expect_continue());
    }
}
