//! The origin's response head as the visitor gets it: the origin's status and reason, its
//! fields minus hop-by-hop ones, repaired where the profile repairs (obs-fold unfolded,
//! whitespace before the colon dropped), and the body re-framed by hyper (`Content-Length` when
//! the origin's length is known, chunked otherwise).

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH};
use http::{Response, StatusCode};
use originlens_wire::{Framing, Head};

use crate::request::{connection_listed, is_hop_by_hop};

/// Builds the visitor's response head. `None` when the status cannot be expressed (the reader
/// would have rejected such a head already).
pub fn forward_head(
    head: &Head,
    framing: Framing,
    head_request: bool,
) -> Option<http::response::Builder> {
    let code = StatusCode::from_u16(head.code?).ok()?;
    let mut b = Response::builder().status(code);
    let reason = head.bytes(&head.reason);
    if !reason.is_empty() && Some(reason) != code.canonical_reason().map(str::as_bytes) {
        if let Ok(r) = hyper::ext::ReasonPhrase::try_from(reason.to_vec()) {
            b = b.extension(r);
        }
    }
    let listed = connection_listed(head.fields_named("connection").map(|f| head.value(f)));
    // One copy of the head; the values forwarded as sent share it instead of one copy each.
    let shared = Bytes::copy_from_slice(&head.raw);
    let headers = b.headers_mut()?;
    let mut origin_length = None;
    for f in &head.fields {
        let name = trim_end_ws(head.name(f));
        if name.eq_ignore_ascii_case(b"content-length") {
            origin_length = Some(&f.value);
            continue;
        }
        if is_hop_by_hop(name, &listed) {
            continue;
        }
        let Ok(name) = HeaderName::from_bytes(name) else {
            continue;
        };
        // A value http cannot carry (a control byte) is dropped rather than passed raw.
        let value = match unfold(head.value(f)) {
            std::borrow::Cow::Borrowed(_) => {
                HeaderValue::from_maybe_shared(shared.slice(f.value.clone()))
            }
            std::borrow::Cow::Owned(v) => HeaderValue::from_bytes(&v),
        };
        let Ok(value) = value else {
            continue;
        };
        headers.append(name, value);
    }
    match framing {
        Framing::Length(n) => {
            // The origin's own text when it is exactly `n` in plain digits (the usual case).
            let same = origin_length
                .map(|r| shared.slice(r.clone()))
                .filter(|v| {
                    !v.is_empty()
                        && v.len() <= 20
                        && (v.len() == 1 || v[0] != b'0')
                        && v.iter().all(u8::is_ascii_digit)
                        && std::str::from_utf8(v)
                            .ok()
                            .and_then(|t| t.parse::<u64>().ok())
                            == Some(n)
                })
                .and_then(|v| HeaderValue::from_maybe_shared(v).ok());
            headers.insert(CONTENT_LENGTH, same.unwrap_or_else(|| HeaderValue::from(n)));
        }
        // HEAD: the origin's Content-Length describes the body a GET would get.
        Framing::NoBody if head_request => {
            let mut cl = head.fields_named("content-length").map(|f| head.value(f));
            if let (Some(v), None) = (cl.next(), cl.next()) {
                if !v.is_empty() && v.iter().all(u8::is_ascii_digit) {
                    if let Ok(v) = HeaderValue::from_bytes(v) {
                        headers.insert(CONTENT_LENGTH, v);
                    }
                }
            }
        }
        _ => {}
    }
    Some(b)
}

fn trim_end_ws(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Joins obs-fold continuation lines with one space (RFC 9112 §5.2).
fn unfold(v: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !v.iter().any(|&b| b == b'\r' || b == b'\n') {
        return std::borrow::Cow::Borrowed(v);
    }
    let mut out = Vec::with_capacity(v.len());
    let mut in_break = false;
    for &b in v {
        match b {
            b'\r' | b'\n' => in_break = true,
            b' ' | b'\t' if in_break => {}
            _ => {
                if in_break && !out.is_empty() {
                    out.push(b' ');
                }
                in_break = false;
                out.push(b);
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use originlens_wire::{read_all, End, ReaderOptions};

    fn head_of(raw: &[u8]) -> (Head, Framing) {
        let r = read_all(raw, End::Eof, ReaderOptions::default());
        (r.head.unwrap(), r.framing.unwrap())
    }

    #[test]
    fn hop_by_hop_dropped_and_length_reframed() {
        let (h, f) = head_of(b"HTTP/1.1 201 Made\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nX-Foo : a\r\n b\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok");
        let resp = forward_head(&h, f, false).unwrap().body(()).unwrap();
        assert_eq!(resp.status(), 201);
        assert_eq!(
            resp.extensions()
                .get::<hyper::ext::ReasonPhrase>()
                .map(|r| r.as_bytes()),
            Some(&b"Made"[..])
        );
        let names: Vec<_> = resp.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-foo", "set-cookie", "content-length"]);
        assert_eq!(resp.headers()["x-foo"], "a b");
        assert_eq!(resp.headers().get_all("set-cookie").iter().count(), 2);
        assert_eq!(resp.headers()["content-length"], "2");
    }

    #[test]
    fn length_is_the_framing_s_in_plain_digits() {
        for (cl, want) in [("0005", "5"), ("5", "5"), ("0", "0")] {
            let n: usize = want.parse().unwrap();
            let raw = format!(
                "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: {cl}\r\n\r\n{}",
                "a".repeat(n)
            );
            let (h, f) = head_of(raw.as_bytes());
            let resp = forward_head(&h, f, false).unwrap().body(()).unwrap();
            assert_eq!(resp.headers()["content-length"], want, "{cl}");
            assert_eq!(resp.headers()["server"], "x");
        }
    }

    #[test]
    fn chunked_is_left_to_hyper() {
        let (h, f) = head_of(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        let resp = forward_head(&h, f, false).unwrap().body(()).unwrap();
        assert!(resp.headers().is_empty());
        assert!(resp
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .is_none());
    }
}
