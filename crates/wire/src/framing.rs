//! How long the body is: RFC 9112 §6.3, in the RFC's order, with every framing defect reported.

use crate::bytes::{eq_lower, trim_ows};
use crate::finding::{Finding, Kind};
use crate::head::{Field, Head, Names, Seen};

/// What the request was, as far as the response's framing depends on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// The request method was HEAD.
    pub head: bool,
    /// The request method was CONNECT.
    pub connect: bool,
    /// The request asked for a protocol upgrade (`Upgrade:` header).
    pub upgrade: bool,
}

/// How the body of a response is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "length", rename_all = "kebab-case")]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    NoBody,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the connection closes.
    CloseDelimited,
    /// The connection became a tunnel (2xx to CONNECT, 101 to an upgrade).
    Tunnel,
}

impl Framing {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Framing::NoBody => "no-body",
            Framing::Length(_) => "length",
            Framing::Chunked => "chunked",
            Framing::CloseDelimited => "close-delimited",
            Framing::Tunnel => "tunnel",
        }
    }
}

/// How a peer delimits a body where it departs from RFC 9112: profile data, handed to the
/// reader so that a body is framed and decoded as that peer would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FramingRules {
    /// Which framing fields decide the length, and how.
    pub length: LengthRules,
    /// A bare LF ends a chunk-size, chunk-data or trailer line instead of failing the body
    /// (nginx before 1.29.4, HAProxy 2.6).
    pub chunk_bare_lf: bool,
}

impl FramingRules {
    /// RFC 9112 throughout.
    pub const RFC9112: FramingRules = FramingRules {
        length: LengthRules::Rfc9112,
        chunk_bare_lf: false,
    };
}

/// How the length of a body is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthRules {
    /// RFC 9112 §6.3.
    Rfc9112,
    /// nginx 1.22 and earlier (`ngx_http_upstream_process_transfer_encoding` and
    /// `_content_length`): `chunked` anywhere in any Transfer-Encoding value, ASCII case
    /// ignored, means chunked and the length is dropped; otherwise the last Content-Length
    /// field, read by `ngx_atoof`, is the length, and one that is not a plain number means the
    /// body runs to close.
    Nginx122,
}

/// Content-Length with more digits than this overflows u64 for sure.
const MAX_CONTENT_LENGTH_DIGITS: usize = 19;

/// Decides the framing of a final response and reports framing defects.
pub fn decide(
    head: &Head,
    req: RequestInfo,
    rules: FramingRules,
    out: &mut Vec<Finding>,
) -> Framing {
    // One pass over the fields, comparing names only when the length fits.
    let (mut cl, mut te) = (FieldList::new(), FieldList::new());
    for f in &head.fields {
        let name = head.name(f);
        match name.len() {
            14 if eq_lower(name, b"content-length") => cl.push(f),
            17 if eq_lower(name, b"transfer-encoding") => te.push(f),
            _ => {}
        }
    }
    decide_with(head, req, rules, cl.as_slice(), te.as_slice(), out)
}

/// [`decide`] for a head whose parse noted where its framing fields are: a head with at most
/// one of each is decided without going over its fields again.
pub(crate) fn decide_named(
    head: &Head,
    names: &Names,
    req: RequestInfo,
    rules: FramingRules,
    out: &mut Vec<Finding>,
) -> Framing {
    let one = |seen: Seen| match seen {
        Seen::None => Some(None),
        Seen::One(i) => Some(Some(&head.fields[i])),
        Seen::Many => None,
    };
    match (one(names.content_length), one(names.transfer_encoding)) {
        (Some(cl), Some(te)) => {
            let (cl, te) = (cl.as_slice(), te.as_slice());
            decide_with(head, req, rules, cl, te, out)
        }
        _ => decide(head, req, rules, out),
    }
}

fn decide_with(
    head: &Head,
    req: RequestInfo,
    rules: FramingRules,
    cl_fields: &[&Field],
    te_fields: &[&Field],
    out: &mut Vec<Finding>,
) -> Framing {
    let framing = decide_rfc9112(head, req, cl_fields, te_fields, out);
    match (rules.length, framing) {
        (LengthRules::Rfc9112, _) | (_, Framing::NoBody | Framing::Tunnel) => framing,
        // The findings stay those of RFC 9112: they are facts about the bytes.
        (LengthRules::Nginx122, _) => nginx_1_22_length(head, cl_fields, te_fields),
    }
}

fn nginx_1_22_length(head: &Head, cl_fields: &[&Field], te_fields: &[&Field]) -> Framing {
    if te_fields.iter().any(|f| contains_chunked(head.value(f))) {
        return Framing::Chunked;
    }
    // nginx's value ends before the CR of a CR CR LF line end.
    let atoof = |v: &[u8]| {
        parse_length(trim_ows(v.strip_suffix(b"\r").unwrap_or(v)))
            .ok()
            .filter(|&n| n <= i64::MAX as u64)
    };
    match cl_fields.last().and_then(|f| atoof(head.value(f))) {
        Some(n) => Framing::Length(n),
        None => Framing::CloseDelimited,
    }
}

/// Does a Transfer-Encoding value contain `chunked` anywhere, ASCII case ignored, as nginx up
/// to 1.22 looks for it (`chunked, gzip`, `xchunked`, `chunked;q=1`)?
pub(crate) fn contains_chunked(value: &[u8]) -> bool {
    value.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked"))
}

fn decide_rfc9112(
    head: &Head,
    req: RequestInfo,
    cl_fields: &[&Field],
    mut te_fields: &[&Field],
    out: &mut Vec<Finding>,
) -> Framing {
    let code = head.code.unwrap_or(200);
    let span_of = |f: &Field| head.abs(f.line.start)..head.abs(f.line.end);
    // An empty Transfer-Encoding names no coding: it is reported and left out.
    if !te_fields.is_empty() && te_fields.iter().all(|f| head.value(f).is_empty()) {
        out.push(Finding::new(
            Kind::TeEmpty,
            span_of(te_fields[0]),
            "Transfer-Encoding with an empty value (ignored)",
        ));
        te_fields = &[];
    }

    // 1. HEAD, 1xx, 204 and 304 end at the empty line.
    if (100..200).contains(&code) || code == 204 {
        if let Some(f) = cl_fields.iter().chain(te_fields.iter()).next() {
            out.push(Finding::new(
                Kind::FramingOnBodilessStatus,
                span_of(f),
                format!(
                    "{} on a {code} response, which has no body",
                    name_of(head, f)
                ),
            ));
        }
        if code != 101 || !req.upgrade {
            return Framing::NoBody;
        }
    }
    if code == 101 && req.upgrade {
        return Framing::Tunnel;
    }
    if req.head || code == 304 {
        // No body follows, but the value still describes one (RFC 9110 §8.6): peers that
        // check it (HAProxy) refuse a bad or conflicting one here as well.
        check_content_length_values(head, cl_fields, out);
        return Framing::NoBody;
    }
    // 2. A 2xx answer to CONNECT is a tunnel.
    if req.connect && (200..300).contains(&code) {
        return Framing::Tunnel;
    }
    // 3./4. Transfer-Encoding overrides Content-Length; chunked must be final.
    if let Some(first_te) = te_fields.first() {
        if let Some(cl) = cl_fields.first() {
            out.push(Finding::new(
                Kind::FramingClAndTe,
                span_of(cl),
                "Content-Length together with Transfer-Encoding (Transfer-Encoding wins)",
            ));
            // Ignored for framing, but peers that drop it (HAProxy) refuse a bad one first.
            check_content_length_values(head, cl_fields, out);
        }
        if head.version.is_some_and(|v| v.major == 1 && v.minor == 0) {
            out.push(Finding::new(
                Kind::TeInHttp10,
                span_of(first_te),
                "Transfer-Encoding in an HTTP/1.0 response: framing is faulty",
            ));
        }
        return decide_transfer_coding(head, te_fields, out);
    }
    // 5./6. Content-Length.
    if !cl_fields.is_empty() {
        return decide_content_length(head, cl_fields, out);
    }
    // 7. Otherwise read until close.
    out.push(Finding::at(
        Kind::FramingCloseDelimited,
        head.abs(head.raw.len()),
        "no Content-Length or Transfer-Encoding: the body ends at close, truncation is undetectable",
    ));
    Framing::CloseDelimited
}

/// The fields of one name, in order. A head rarely has more than one: that one is held without
/// allocating.
enum FieldList<'a> {
    One([&'a Field; 1]),
    Many(Vec<&'a Field>),
}

impl<'a> FieldList<'a> {
    fn new() -> Self {
        FieldList::Many(Vec::new())
    }

    fn push(&mut self, f: &'a Field) {
        match self {
            FieldList::Many(fields) if fields.is_empty() => *self = FieldList::One([f]),
            FieldList::One([first]) => *self = FieldList::Many(vec![*first, f]),
            FieldList::Many(fields) => fields.push(f),
        }
    }

    fn as_slice(&self) -> &[&'a Field] {
        match self {
            FieldList::One(one) => one,
            FieldList::Many(fields) => fields,
        }
    }
}

fn name_of(head: &Head, f: &Field) -> String {
    String::from_utf8_lossy(head.name(f)).into_owned()
}

fn decide_transfer_coding(head: &Head, fields: &[&Field], out: &mut Vec<Finding>) -> Framing {
    let mut codings: Vec<(&[u8], u64)> = Vec::new();
    let mut empty_before_coding = None;
    for f in fields {
        let value = head.value(f);
        let base = head.abs(f.value.start);
        let mut pos = 0;
        let mut empty_at = None;
        for part in value.split(|&b| b == b',') {
            // Empty list elements are ignored (RFC 9110 §5.6.1).
            if trim_ows(part).is_empty() {
                empty_at = empty_at.or(Some(base + pos as u64));
            } else {
                codings.push((trim_ows(part), base + pos as u64));
                empty_before_coding = empty_before_coding.or(empty_at);
            }
            pos += part.len() + 1;
        }
    }
    if let Some(at) = empty_before_coding {
        out.push(Finding::at(
            Kind::TeEmptyElement,
            at,
            "an empty element before a transfer coding (ignored; HAProxy refuses it)",
        ));
    }
    let span = head.abs(fields[0].line.start)..head.abs(fields[fields.len() - 1].line.end);
    let is_chunked = |c: &[u8]| c.eq_ignore_ascii_case(b"chunked");
    let chunked_count = codings.iter().filter(|(c, _)| is_chunked(c)).count();
    if let Some((_, at)) = codings.iter().find(|(c, _)| {
        c.len() > 7
            && c[..7].eq_ignore_ascii_case(b"chunked")
            && trim_ows(&c[7..]).starts_with(b";")
    }) {
        out.push(Finding::at(
            Kind::TeChunkedParams,
            *at,
            "parameters on `chunked` (it defines none)",
        ));
        return Framing::CloseDelimited;
    }
    if chunked_count > 1 {
        out.push(Finding::new(
            Kind::TeChunkedTwice,
            span,
            "`chunked` applied more than once",
        ));
        return Framing::Chunked;
    }
    let last = codings.last().map(|(c, _)| *c).unwrap_or_default();
    if is_chunked(last) {
        if codings.len() > 1 {
            out.push(Finding::new(
                Kind::TeUnsupportedCoding,
                span,
                "a transfer coding before `chunked`: valid, but nginx, HAProxy and Envoy refuse it",
            ));
        }
        return Framing::Chunked;
    }
    if chunked_count == 1 {
        out.push(Finding::new(
            Kind::TeChunkedNotFinal,
            span,
            "`chunked` is not the final transfer coding: the body runs to close",
        ));
    } else {
        let shown: Vec<String> = codings
            .iter()
            .map(|(c, _)| String::from_utf8_lossy(c).into_owned())
            .collect();
        out.push(Finding::new(
            Kind::TeUnknown,
            span,
            format!(
                "Transfer-Encoding `{}` without `chunked`: the body runs to close",
                shown.join(", ")
            ),
        ));
    }
    Framing::CloseDelimited
}

/// Reports a Content-Length that is not a number, or values that disagree, where it does not
/// decide the framing (a bodiless response, or Transfer-Encoding wins).
fn check_content_length_values(head: &Head, fields: &[&Field], out: &mut Vec<Finding>) {
    if fields.is_empty() {
        return;
    }
    let mut found = Vec::new();
    decide_content_length(head, fields, &mut found);
    out.extend(found.into_iter().filter(|f| {
        matches!(
            f.id,
            Kind::FramingClInvalid | Kind::FramingClOverflow | Kind::FramingClConflict
        )
    }));
}

fn decide_content_length(head: &Head, fields: &[&Field], out: &mut Vec<Finding>) -> Framing {
    // The usual head: one Content-Length, one number; nothing to report.
    if let [f] = fields {
        if let Ok(n) = parse_length(head.value(f)) {
            return Framing::Length(n);
        }
    }
    let mut values: Vec<u64> = Vec::new();
    let mut invalid = false;
    for f in fields {
        let raw = head.value(f);
        let base = head.abs(f.value.start);
        let part_count = memchr::memchr_iter(b',', raw).count() + 1;
        for part in raw.split(|&b| b == b',').map(trim_ows) {
            match parse_length(part) {
                Ok(n) => values.push(n),
                Err(overflow) => {
                    invalid = true;
                    let kind = if overflow {
                        Kind::FramingClOverflow
                    } else {
                        Kind::FramingClInvalid
                    };
                    if part_count == 1 || overflow || part.is_empty() {
                        out.push(Finding::new(
                            kind,
                            base..base + raw.len() as u64,
                            format!(
                                "Content-Length `{}` is not a decimal number{}",
                                String::from_utf8_lossy(raw),
                                if overflow { " that fits 64 bits" } else { "" }
                            ),
                        ));
                        break;
                    }
                }
            }
        }
        if part_count > 1 && !invalid {
            let agree = values.windows(2).all(|w| w[0] == w[1]);
            if agree {
                out.push(Finding::new(
                    Kind::FramingClList,
                    base..base + raw.len() as u64,
                    format!(
                        "Content-Length as a list `{}`",
                        String::from_utf8_lossy(raw)
                    ),
                ));
            }
        }
    }
    if invalid {
        return Framing::CloseDelimited;
    }
    let first = values[0];
    if values.iter().any(|&v| v != first) {
        out.push(Finding::new(
            Kind::FramingClConflict,
            head.abs(fields[0].line.start)..head.abs(fields[fields.len() - 1].line.end),
            format!("Content-Length values disagree: {values:?}"),
        ));
        return Framing::CloseDelimited;
    }
    if fields.len() > 1 {
        out.push(Finding::new(
            Kind::FramingClDuplicateSame,
            head.abs(fields[1].line.start)..head.abs(fields[1].line.end),
            format!(
                "Content-Length sent {} times with the same value",
                fields.len()
            ),
        ));
    }
    Framing::Length(first)
}

/// `Content-Length = 1*DIGIT`. `Err(true)` on overflow, `Err(false)` on bad syntax.
fn parse_length(s: &[u8]) -> Result<u64, bool> {
    // The usual value, 19 digits or fewer, cannot overflow: one pass.
    if (1..=MAX_CONTENT_LENGTH_DIGITS).contains(&s.len()) {
        return s.iter().try_fold(0u64, |n, &d| {
            let digit = d.wrapping_sub(b'0');
            if digit > 9 {
                return Err(false);
            }
            Ok(n * 10 + u64::from(digit))
        });
    }
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return Err(false);
    }
    let significant = s.iter().skip_while(|&&d| d == b'0').count();
    if significant > MAX_CONTENT_LENGTH_DIGITS + 1 {
        return Err(true);
    }
    s.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add((d - b'0') as u64))
            .ok_or(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_is_a_decimal_number_that_fits_64_bits() {
        let mut values: Vec<String> = ["", "0", "7", "512", "00012", "1a", " 1", "+1", "-1", "١"]
            .map(String::from)
            .to_vec();
        for len in 17..=23 {
            values.push("9".repeat(len));
            values.push(format!("1{}", "0".repeat(len - 1)));
            values.push(format!("{}1", "0".repeat(len - 1)));
            values.push(format!("{}x", "1".repeat(len - 1)));
        }
        values.push(u64::MAX.to_string());
        values.push("18446744073709551616".into());
        for v in &values {
            let expected = if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                Err(false)
            } else {
                v.parse::<u64>().map_err(|_| true)
            };
            assert_eq!(parse_length(v.as_bytes()), expected, "{v:?}");
        }
    }

    #[test]
    fn field_list_keeps_the_order_pushed() {
        let fields: Vec<Field> = (0..3)
            .map(|i| Field {
                line: i..i,
                name: i..i,
                value: i..i,
            })
            .collect();
        let mut list = FieldList::new();
        assert!(list.as_slice().is_empty());
        for n in 1..=3 {
            list.push(&fields[n - 1]);
            let starts: Vec<usize> = list.as_slice().iter().map(|f| f.line.start).collect();
            assert_eq!(starts, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn content_length_syntax() {
        assert_eq!(parse_length(b"0002"), Ok(2));
        assert_eq!(parse_length(b"+2"), Err(false));
        assert_eq!(parse_length(b""), Err(false));
        assert_eq!(parse_length(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_length(b"18446744073709551616"), Err(true));
        assert_eq!(parse_length(b"99999999999999999999999"), Err(true));
    }
}
