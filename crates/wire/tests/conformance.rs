//! What outside test vectors and the real peers showed: nginx 1.22.1 and HAProxy 2.6.12 were
//! run on each of these responses (`crates/cli/tests/differential.rs` serves them through the
//! real peers); the profiles must predict what the visitor got. Every case is also fed split
//! at every byte and must give the same findings.

use originlens_wire::{
    judge, profile, read_all, End, Framing, GeneratedBy, JudgeContext, Kind, Profile, Reader,
    ReaderOptions, Report, RequestInfo,
};

/// What the visitor gets through a peer: its status (`0`: an empty reply or no status line).
fn status(report: &Report, p: &Profile) -> u16 {
    judge(report, p, JudgeContext::default())
        .status
        .unwrap_or(0)
}

fn read(bytes: &[u8], end: End, opts: ReaderOptions) -> Report {
    let whole = read_all(bytes, end, opts);
    for split in 0..=bytes.len() {
        let mut r = Reader::new(opts);
        r.feed(&bytes[..split]);
        r.feed(&bytes[split..]);
        if end == End::Eof {
            r.on_eof();
        }
        let report = r.into_report();
        assert_eq!(report.findings, whole.findings, "split at {split}");
        assert_eq!(report.body, whole.body, "split at {split}");
    }
    whole
}

fn get(bytes: &[u8]) -> Report {
    read(bytes, End::Eof, ReaderOptions::default())
}

fn kinds(report: &Report) -> Vec<Kind> {
    report.findings.iter().map(|f| f.id).collect()
}

/// `(nginx-1.22, nginx, haproxy, strict)` statuses.
fn peers(report: &Report) -> (u16, u16, u16, u16) {
    (
        status(report, &profile::NGINX_1_22),
        status(report, &profile::NGINX),
        status(report, &profile::HAPROXY),
        status(report, &profile::STRICT),
    )
}

#[test]
fn space_and_control_bytes_in_a_field_name_are_refused_by_nginx() {
    for name in [
        &b"Fo o"[..],
        b"Fo\x00o",
        b"Fo\x01o",
        b"Fo\ro",
        b"Fo\x7fo",
        b"F\to",
    ] {
        let mut bytes = b"HTTP/1.1 200 OK\r\n".to_vec();
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(b": x\r\nContent-Length: 2\r\n\r\nok");
        let report = get(&bytes);
        assert!(
            report.has(Kind::FieldNameCtl),
            "{name:?}: {:?}",
            kinds(&report)
        );
        assert_eq!(peers(&report), (502, 502, 502, 502), "{name:?}");
    }
}

#[test]
fn other_non_token_bytes_in_a_name_pass_nginx_only() {
    let report = get(b"HTTP/1.1 200 OK\r\nFo@o: x\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!(kinds(&report), [Kind::FieldNameNonToken]);
    assert_eq!(peers(&report), (200, 200, 502, 502));
}

#[test]
fn a_field_line_without_a_colon_is_forwarded_by_nginx() {
    let report = get(b"HTTP/1.1 200 OK\r\nFoo: x\r\nBar\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!(kinds(&report), [Kind::FieldMissingColon]);
    assert_eq!(peers(&report), (200, 200, 502, 502));
    // With a NUL or a space in it, nginx refuses it as a name.
    for line in [&b"Fo\x00o"[..], b"Foo bar"] {
        let mut bytes = b"HTTP/1.1 200 OK\r\n".to_vec();
        bytes.extend_from_slice(line);
        bytes.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\nok");
        let report = get(&bytes);
        assert_eq!(
            kinds(&report),
            [Kind::FieldMissingColon, Kind::FieldNameCtl]
        );
        assert_eq!(peers(&report).0, 502, "{line:?}");
    }
}

#[test]
fn chunked_not_final_is_read_as_chunked_by_nginx_1_22() {
    // A body that is no chunked framing: nginx 1.22 closes without answering.
    let report = get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, deflate\r\n\r\nWorld");
    assert!(
        report.has(Kind::TeNotFinalChunkedInvalid),
        "{:?}",
        kinds(&report)
    );
    let v = judge(&report, &profile::NGINX_1_22, JudgeContext::default());
    assert_eq!((v.status, v.generated_by), (None, GeneratedBy::Edge));
    assert_eq!(peers(&report), (0, 502, 502, 502));
    // Valid chunked framing: nginx 1.22 forwards it.
    let report =
        get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, deflate\r\n\r\n2\r\nok\r\n0\r\n\r\n");
    assert!(!report.has(Kind::TeNotFinalChunkedInvalid));
    assert_eq!(peers(&report), (200, 502, 502, 502));
}

#[test]
fn strict_refuses_a_coding_before_chunked() {
    let report =
        get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: deflate, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
    assert_eq!(kinds(&report), [Kind::TeUnsupportedCoding]);
    assert_eq!(peers(&report), (200, 502, 502, 502));
    let strict = judge(&report, &profile::STRICT, JudgeContext::default());
    assert_eq!(strict.finding, Some(Kind::TeUnsupportedCoding));
}

#[test]
fn bytes_after_whitespace_behind_the_chunk_size_pass_nginx_only() {
    let report = get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 erfrferferf\r\naa\r\n0 rrrr\r\n\r\n");
    assert!(report.has(Kind::ChunkSizeJunk), "{:?}", kinds(&report));
    assert!(report.body.complete);
    assert_eq!(report.body.data, 2);
    let (n122, n, ha, strict) = peers(&report);
    assert_eq!((n122, n, ha), (200, 200, 502));
    // The head was fine: strict forwards it and breaks the body.
    assert_eq!(strict, 200);
    assert!(!judge(&report, &profile::STRICT, JudgeContext::default()).delivered());
    // A quote among the skipped bytes opens no quoted string.
    let report =
        get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 a\"b\r\naa\r\n0\r\n\r\n");
    assert!(report.body.complete, "{:?}", kinds(&report));
}

#[test]
fn chunk_extensions_are_checked() {
    for ext in [&b";"[..], b";=x", b";a b", b";a@b", b";a=", b"; ;"] {
        let mut bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2".to_vec();
        bytes.extend_from_slice(ext);
        bytes.extend_from_slice(b"\r\nok\r\n0\r\n\r\n");
        let report = get(&bytes);
        assert_eq!(
            kinds(&report),
            [Kind::ChunkExtInvalid],
            "{:?}",
            String::from_utf8_lossy(ext)
        );
        assert!(report.body.complete);
        // Every real peer passes them; strict refuses them.
        let strict = judge(&report, &profile::STRICT, JudgeContext::default());
        assert!(!strict.delivered(), "{ext:?}");
        for p in [
            &profile::NGINX_1_22,
            &profile::NGINX,
            &profile::HAPROXY,
            &profile::CLOUDFLARE,
        ] {
            assert!(
                judge(&report, p, JudgeContext::default()).delivered(),
                "{} {ext:?}",
                p.name
            );
        }
    }
    for ext in [
        &b";a"[..],
        b";a=b",
        b" ; a = b ;c",
        b";a=\"x;\\\"y\"",
        b";a=b;c=\"\"",
        b"; a ",
    ] {
        let mut bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2".to_vec();
        bytes.extend_from_slice(ext);
        bytes.extend_from_slice(b"\r\nok\r\n0;last\r\n\r\n");
        let report = get(&bytes);
        let expect: &[Kind] = if ext.starts_with(b" ") {
            &[Kind::ChunkSizeTrailingWs]
        } else {
            &[]
        };
        assert_eq!(kinds(&report), expect, "{:?}", String::from_utf8_lossy(ext));
    }
}

#[test]
fn content_length_on_a_bodiless_response_is_checked() {
    let head = ReaderOptions {
        request: RequestInfo {
            head: true,
            ..RequestInfo::default()
        },
        ..ReaderOptions::default()
    };
    let cases: &[(&[u8], ReaderOptions, Kind)] = &[
        (
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: abc\r\n\r\n",
            ReaderOptions::default(),
            Kind::FramingClInvalid,
        ),
        (
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            ReaderOptions::default(),
            Kind::FramingClConflict,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
            head,
            Kind::FramingClInvalid,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            head,
            Kind::FramingClConflict,
        ),
    ];
    for (bytes, opts, kind) in cases {
        let report = read(bytes, End::Eof, *opts);
        assert_eq!(
            kinds(&report),
            [*kind],
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
        let code = report.status().unwrap();
        // nginx 1.22.1 passes the response on; HAProxy 2.6.12 answers 502.
        assert_eq!(peers(&report), (code, 502, 502, 502));
    }
    // A valid one is fine.
    let report = read(
        b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
        End::Eof,
        head,
    );
    assert!(kinds(&report).is_empty());
}

#[test]
fn envoy_refuses_a_four_digit_status_with_a_cause() {
    let report = get(b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok");
    let v = judge(&report, &profile::ENVOY, JudgeContext::default());
    assert_eq!(v.status, Some(502));
    assert_eq!(v.generated_by, GeneratedBy::Edge);
    assert_eq!(v.finding, Some(Kind::StatusNot3Digits));
    assert!(v.cause.is_some());
}

#[test]
fn cr_cr_lf_ends_a_field_line_for_nginx_only() {
    let report =
        get(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!(kinds(&report), [Kind::FieldValueCrBeforeCrlf]);
    assert_eq!(peers(&report), (200, 200, 502, 502));
    // A CR inside the line stays a bare CR.
    let report =
        get(b"HTTP/1.1 200 OK\r\nContent-Type: text\rplain\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!(kinds(&report), [Kind::FieldValueBareCr]);
    assert_eq!(peers(&report), (502, 502, 502, 502));
}

#[test]
fn content_length_beside_transfer_encoding_is_still_checked() {
    // HAProxy 2.6.12 drops a valid one and refuses an invalid or conflicting one.
    for (cl, haproxy) in [
        (&b"5"[..], 200),
        (b"5\r\nContent-Length: 5", 200),
        (b"5, 5", 200),
        (b"0xcd", 502),
        (b"+5", 502),
        (b"5\r\nContent-Length: 6", 502),
    ] {
        let mut bytes = b"HTTP/1.1 200 OK\r\nContent-Length: ".to_vec();
        bytes.extend_from_slice(cl);
        bytes.extend_from_slice(b"\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
        let report = get(&bytes);
        assert_eq!(
            status(&report, &profile::HAPROXY),
            haproxy,
            "{:?}",
            String::from_utf8_lossy(cl)
        );
        assert_eq!(status(&report, &profile::NGINX_1_22), 200);
    }
}

#[test]
fn empty_transfer_coding_elements_are_ignored() {
    let report = get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n2\r\nok\r\n0\r\n\r\n");
    assert!(kinds(&report).is_empty(), "{:?}", kinds(&report));
    assert_eq!(peers(&report), (200, 200, 200, 200));
    // An empty value names no coding: the Content-Length frames the body.
    let report = get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\nContent-Length: 2\r\n\r\nok");
    assert_eq!(kinds(&report), [Kind::TeEmpty]);
    assert_eq!(report.framing, Some(originlens_wire::Framing::Length(2)));
    assert_eq!(peers(&report), (200, 502, 200, 502));
    // Only commas: no coding, yet not empty; HAProxy refuses it.
    let report = get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\nok");
    assert_eq!(peers(&report).2, 502);
}

#[test]
fn nginx_1_22_reads_chunked_anywhere_in_the_value_as_chunked() {
    for te in ["xchunked", "chunked;q=1", "Chunked, gzip"] {
        let bytes = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: {te}\r\n\r\nnot chunked");
        let report = get(bytes.as_bytes());
        assert!(
            report.has(Kind::TeNotFinalChunkedInvalid),
            "{te}: {:?}",
            kinds(&report)
        );
        assert_eq!(status(&report, &profile::NGINX_1_22), 0, "{te}");
    }
}

/// Found by the `wire_reader` fuzz target: bytes after a head that is over the limit were
/// counted as excess when they arrived in a later read, and not when they came with the head.
#[test]
fn bytes_after_an_oversized_head_count_the_same_in_any_split() {
    let opts = ReaderOptions {
        max_head_bytes: 64,
        ..ReaderOptions::default()
    };
    let mut bytes = b"HTTP/1.1 200 O\x01K\r\nContent-Length: ".to_vec();
    bytes.extend_from_slice(&[0xff; 48]);
    bytes.extend_from_slice(b"2\r\n\r\nok");
    let report = read(&bytes, End::Eof, opts);
    assert!(report.has(Kind::HeadTooLarge));
    assert_eq!(report.body.excess, 0);
}

/// Found by the `wire_reader` fuzz target: a first line longer than the head limit was judged
/// as no status line when its LF came in the same read, and as a head over the limit otherwise.
#[test]
fn a_first_line_over_the_head_limit_is_over_it_in_any_split() {
    let opts = ReaderOptions {
        max_head_bytes: 64,
        ..ReaderOptions::default()
    };
    let mut bytes = vec![0xce; 16];
    bytes.extend_from_slice(&[b'!'; 120]);
    bytes.extend_from_slice(b"\n\r\n");
    let report = read(&bytes, End::Eof, opts);
    assert_eq!(kinds(&report), [Kind::HeadTooLarge]);
}

/// Lines are parsed as they come in: a head that then goes over the limit is reported as that
/// alone, with none of the defects of the lines before, as when it comes in one read.
#[test]
fn a_head_over_the_limit_reports_none_of_its_lines_defects_in_any_split() {
    let opts = ReaderOptions {
        max_head_bytes: 64,
        ..ReaderOptions::default()
    };
    let mut bytes = b"HTTP/1.1 200 O\x01K\r\nX-A: b\x01\r\n folded\r\nX-Pad: ".to_vec();
    bytes.extend_from_slice(&[b'a'; 80]);
    bytes.extend_from_slice(b"\r\n\r\n");
    let report = read(&bytes, End::Eof, opts);
    assert_eq!(kinds(&report), [Kind::HeadTooLarge]);
    assert!(report.head.is_none());
}

/// Read as `p`'s peer frames bodies.
fn framed_as(bytes: &[u8], p: &Profile) -> (Report, Vec<u8>) {
    let opts = ReaderOptions {
        framing: p.framing,
        ..ReaderOptions::default()
    };
    let report = read(bytes, End::Eof, opts);
    let mut data = Vec::new();
    let mut r = Reader::new(opts);
    r.feed_with(bytes, &mut |d| data.extend_from_slice(d));
    (report, data)
}

#[test]
fn nginx_1_22_frames_bodies_its_own_way() {
    let p = &profile::NGINX_1_22;
    // `chunked` anywhere means chunked, and it drops the length.
    for te in ["chunked, deflate", "xchunked", "chunked;q=1", "CHUNKED"] {
        let bytes = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: {te}\r\n\r\n2\r\nok\r\n0\r\n\r\n"
        );
        let (report, data) = framed_as(bytes.as_bytes(), p);
        assert_eq!(report.framing, Some(Framing::Chunked), "{te}");
        assert_eq!(
            (data.as_slice(), report.body.complete),
            (&b"ok"[..], true),
            "{te}"
        );
    }
    // The last Content-Length counts; one that is not a plain number means read to close.
    let (report, data) = framed_as(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 2\r\n\r\nokEXTRA",
        p,
    );
    assert_eq!(
        (report.framing, data.as_slice()),
        (Some(Framing::Length(2)), &b"ok"[..])
    );
    let (report, _) = framed_as(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nokok", p);
    assert_eq!(report.framing, Some(Framing::CloseDelimited));
    // A coding without `chunked` beside a length: the length frames the body.
    let (report, _) = framed_as(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\nok",
        p,
    );
    assert_eq!(report.framing, Some(Framing::Length(2)));
    // The findings are the RFC's facts either way.
    let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    assert_eq!(kinds(&framed_as(bytes, p).0), kinds(&get(bytes)));
}

#[test]
fn a_bare_lf_ends_chunk_lines_for_nginx_1_22_and_haproxy() {
    let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\n3\r\nabc\r\n0\n\n";
    let strict = get(bytes);
    assert!(!strict.body.complete);
    for p in [&profile::NGINX_1_22, &profile::HAPROXY] {
        let (report, data) = framed_as(bytes, p);
        assert_eq!(
            (data.as_slice(), report.body.complete),
            (&b"okabc"[..], true)
        );
        assert_eq!(kinds(&report), [Kind::ChunkBareLf]);
        assert!(
            judge(&report, p, JudgeContext::default()).delivered(),
            "{}",
            p.name
        );
        // Read again from the strict report, as the probe does.
        let again = strict.reread(
            bytes,
            ReaderOptions {
                framing: p.framing,
                ..ReaderOptions::default()
            },
        );
        assert_eq!((again.body, again.framing), (report.body, report.framing));
        assert_eq!(again.findings, report.findings);
    }
}

#[test]
fn haproxy_counts_its_head_in_htx_form() {
    // The reason phrase plus name + trimmed value + 8 per kept field must fit 15264.
    let head = |pad: usize, extra: &str| {
        let mut v = format!("HTTP/1.1 200 OK\r\nX-Pad: {}\r\n{extra}", "p".repeat(pad));
        v.push_str("Content-Length: 0\r\n\r\n");
        v.into_bytes()
    };
    // Large heads are read in one piece: feeding them at every split is slow and tested elsewhere.
    let whole = |b: &[u8]| read_all(b, End::Eof, ReaderOptions::default());
    // "OK" 2 + X-Pad (5 + pad + 8) + Content-Length (14 + 1 + 8) = 38 + pad.
    let fits = 15264 - 38;
    assert_eq!(status(&whole(&head(fits, "")), &profile::HAPROXY), 200);
    assert_eq!(status(&whole(&head(fits + 1, "")), &profile::HAPROXY), 502);
    // `Connection: close` and a repeated Content-Length are dropped before counting.
    let dropped = "Connection: close\r\nContent-Length: 0\r\n";
    assert_eq!(status(&whole(&head(fits, dropped)), &profile::HAPROXY), 200);
    assert_eq!(
        status(&whole(&head(fits, "Connection: x\r\n")), &profile::HAPROXY),
        502
    );
}

#[test]
fn haproxy_refuses_head_defects_before_relaying_a_status_line() {
    // A 2-digit status alone is relayed verbatim (no status for the client) ...
    let report = get(b"HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!(status(&report, &profile::HAPROXY), 0);
    // ... but a field defect later in the head is refused first; nginx relays at once.
    let report = get(b"HTTP/1.1 20 OK\r\nX-A : 1\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!(status(&report, &profile::HAPROXY), 502);
    assert_eq!(status(&report, &profile::NGINX_1_22), 0);
}

#[test]
fn haproxy_refuses_an_empty_element_before_a_coding() {
    let body = "\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    let report = get(format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked{body}").as_bytes());
    assert_eq!(kinds(&report), [Kind::TeEmptyElement]);
    assert_eq!(peers(&report), (200, 200, 502, 200));
    let report = get(format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,{body}").as_bytes());
    assert_eq!(peers(&report), (200, 200, 200, 200));
}
