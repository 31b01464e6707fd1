//! The origin's response head as the visitor gets it: the origin's status and reason, its
//! fields minus hop-by-hop ones, repaired where the profile repairs (obs-fold unfolded,
//! whitespace before the colon dropped), and the body re-framed (`Content-Length` when the
//! origin's length is known, chunked otherwise). The HTTP/1 writer and the h2 builder both
//! take the fields from here.

use std::borrow::Cow;

use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH};
use http::{Response, StatusCode};
use originlens_wire::{Framing, Head};

use crate::request::{is_hop_by_hop, itoa_u64, Listed};

/// The origin's fields the visitor gets, in order: hop-by-hop fields and `Content-Length` left
/// out (the edge frames the body itself), names without trailing whitespace, values unfolded.
pub fn forwarded_fields(head: &Head) -> impl Iterator<Item = (&[u8], Cow<'_, [u8]>)> {
    let listed = Listed::of(head.fields_named("connection").map(|f| head.value(f)));
    head.fields.iter().filter_map(move |f| {
        let name = trim_end_ws(head.name(f));
        if name.eq_ignore_ascii_case(b"content-length") || is_hop_by_hop(name, &listed) {
            return None;
        }
        Some((name, unfold(head.value(f))))
    })
}

/// Writes the fields of [`forwarded_fields`] into `out` as HTTP/1 lines. A line that needs no
/// repair (name right before the colon, one line, CRLF) is copied as the origin sent it, and
/// neighbouring such lines in one piece: the usual head is a few copies, not one per field.
pub fn write_forwarded_fields(head: &Head, out: &mut Vec<u8>) {
    let raw = &head.raw;
    let listed = Listed::of(head.fields_named("connection").map(|f| head.value(f)));
    // Verbatim bytes of `raw` not yet copied.
    let mut run = 0..0;
    for f in &head.fields {
        let name = head.name(f);
        let forwarded =
            !(name.eq_ignore_ascii_case(b"content-length") || is_hop_by_hop(name, &listed));
        let verbatim = forwarded
            && raw.get(f.name.end) == Some(&b':')
            && raw.get(f.line.end..f.line.end + 2) == Some(&b"\r\n"[..])
            && memchr::memchr2(b'\r', b'\n', head.value(f)).is_none();
        if verbatim {
            if run.end != f.line.start {
                out.extend_from_slice(&raw[run]);
                run = f.line.start..f.line.start;
            }
            run.end = f.line.end + 2;
            continue;
        }
        out.extend_from_slice(&raw[std::mem::replace(&mut run, 0..0)]);
        if forwarded {
            crate::page::push_field(out, trim_end_ws(name), &unfold(head.value(f)));
        }
    }
    out.extend_from_slice(&raw[run]);
}

/// The `Content-Length` the visitor gets, if any: the origin's own text when it is exactly the
/// framing's length in plain digits (the usual case), the framing's length otherwise; for HEAD,
/// the origin's single plain length (it describes the body a GET would get).
pub fn visitor_length(head: &Head, framing: Framing, head_request: bool) -> Option<Cow<'_, [u8]>> {
    let mut lengths = head.fields_named("content-length").map(|f| head.value(f));
    let plain = |v: &[u8]| !v.is_empty() && v.len() <= 20 && v.iter().all(u8::is_ascii_digit);
    match framing {
        Framing::Length(n) => {
            let same = lengths.next().filter(|v| {
                plain(v)
                    && (v.len() == 1 || v[0] != b'0')
                    && std::str::from_utf8(v)
                        .ok()
                        .and_then(|t| t.parse::<u64>().ok())
                        == Some(n)
            });
            Some(match same {
                Some(v) => Cow::Borrowed(v),
                None => Cow::Owned(itoa_u64(n, &mut [0; 20]).to_vec()),
            })
        }
        Framing::NoBody if head_request => match (lengths.next(), lengths.next()) {
            (Some(v), None) if plain(v) => Some(Cow::Borrowed(v)),
            _ => None,
        },
        _ => None,
    }
}

/// Builds the visitor's response head for hyper (h2 visitors). `None` when the status cannot
/// be expressed (the reader would have rejected such a head already). Values http cannot
/// carry (a control byte) are dropped.
pub fn forward_head(
    head: &Head,
    framing: Framing,
    head_request: bool,
) -> Option<http::response::Builder> {
    let code = StatusCode::from_u16(head.code?).ok()?;
    let mut b = Response::builder().status(code);
    if let Some(reason) = reason(head, code) {
        if let Ok(r) = hyper::ext::ReasonPhrase::try_from(reason.to_vec()) {
            b = b.extension(r);
        }
    }
    let headers = b.headers_mut()?;
    for (name, value) in forwarded_fields(head) {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(&value),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    if let Some(v) = visitor_length(head, framing, head_request) {
        if let Ok(v) = HeaderValue::from_bytes(&v) {
            headers.insert(CONTENT_LENGTH, v);
        }
    }
    Some(b)
}

/// The origin's reason phrase when it differs from the standard one for `code`.
pub fn reason(head: &Head, code: StatusCode) -> Option<&[u8]> {
    let reason = head.bytes(&head.reason);
    (!reason.is_empty() && Some(reason) != code.canonical_reason().map(str::as_bytes))
        .then_some(reason)
}

fn trim_end_ws(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Joins obs-fold continuation lines with one space (RFC 9112 §5.2); no CR or LF remains.
fn unfold(v: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr2(b'\r', b'\n', v).is_none() {
        return Cow::Borrowed(v);
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
    Cow::Owned(out)
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
    fn h1_lines_are_copied_as_sent_unless_they_need_repair() {
        let (h, _) = head_of(b"HTTP/1.1 200 OK\r\nServer:x\r\nX-A:  1 \r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nX-B: 2\r\nX-Foo : a\r\n b\r\nContent-Length: 2\r\nX-C: 3\r\nX-D: 4\r\n\r\nok");
        let mut out = Vec::new();
        write_forwarded_fields(&h, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Server:x\r\nX-A:  1 \r\nX-B: 2\r\nX-Foo: a b\r\nX-C: 3\r\nX-D: 4\r\n"
        );
        // The same fields as the h2 builder gets.
        let names: Vec<_> = forwarded_fields(&h).map(|(n, _)| n.to_vec()).collect();
        assert_eq!(
            names,
            [&b"Server"[..], b"X-A", b"X-B", b"X-Foo", b"X-C", b"X-D"]
        );
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
