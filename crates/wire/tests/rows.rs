//! One test per row of `shared/reference/http1-malformations.md` §3 (rows 1–67), plus the
//! connection-level, size and encoding cases: raw bytes in, the fine finding, the Cloudflare
//! verdict and, where the reference records them, other peers' outcomes.
//!
//! Every case is also fed split at every byte position and must give the same report.

use std::io::Write;

use originlens_wire::{
    judge, profile, read_all, Cause, End, GeneratedBy, JudgeContext, Kind, Profile, ReaderOptions,
    Report, RequestInfo,
};

/// `HTTP/1.1 200 OK` + `extra` header lines + `Content-Length: 2` + `ok`.
fn ok_with(extra: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\n{extra}Content-Length: 2\r\n\r\nok").into_bytes()
}

/// A chunked 200 with `extra` header lines and the given chunked body.
fn chunked(extra: &str, body: &[u8]) -> Vec<u8> {
    let mut v =
        format!("HTTP/1.1 200 OK\r\n{extra}Transfer-Encoding: chunked\r\n\r\n").into_bytes();
    v.extend_from_slice(body);
    v
}

/// A status line + `Content-Length: 2` + `ok`.
fn status(line: &[u8]) -> Vec<u8> {
    let mut v = line.to_vec();
    v.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\nok");
    v
}

struct Case {
    bytes: Vec<u8>,
    end: End,
    opts: ReaderOptions,
}

impl Case {
    fn new(bytes: impl AsRef<[u8]>, end: End) -> Case {
        Case {
            bytes: bytes.as_ref().to_vec(),
            end,
            opts: ReaderOptions::default(),
        }
    }

    fn head_request(mut self) -> Case {
        self.opts.request = RequestInfo {
            head: true,
            ..RequestInfo::default()
        };
        self
    }

    fn report(&self) -> Report {
        let report = read_all(&self.bytes, self.end, self.opts);
        assert_split_invariant(self, &report);
        report
    }
}

/// Feeding the bytes in two pieces, at every split point (every 997th for large heads), gives
/// the same report.
fn assert_split_invariant(case: &Case, whole: &Report) {
    let step = if case.bytes.len() > 8192 { 997 } else { 1 };
    for split in (0..=case.bytes.len()).step_by(step) {
        let mut r = originlens_wire::Reader::new(case.opts);
        r.feed(&case.bytes[..split]);
        r.feed(&case.bytes[split..]);
        match case.end {
            End::Eof => drop(r.on_eof()),
            End::Reset => drop(r.on_reset()),
            End::Timeout => drop(r.on_timeout()),
            _ => {}
        }
        let split_report = r.into_report();
        assert_eq!(split_report.findings, whole.findings, "split at {split}");
        assert_eq!(split_report.head, whole.head, "split at {split}");
        assert_eq!(split_report.framing, whole.framing, "split at {split}");
        assert_eq!(split_report.body, whole.body, "split at {split}");
        assert_eq!(split_report.end, whole.end, "split at {split}");
    }
}

fn verdict(report: &Report, p: &Profile) -> (Option<u16>, GeneratedBy, Option<Cause>) {
    let v = judge(report, p, JudgeContext::default());
    (v.status, v.generated_by, v.cause)
}

/// `row!(name, case, finding, (cloudflare status, by, cause), [profile => status, ...])`.
macro_rules! row {
    ($name:ident, $case:expr, $kind:expr, ($status:expr, $by:ident, $cause:expr)
        $(, $peer:ident => $pstatus:expr)* $(,)?) => {
        #[test]
        fn $name() {
            let case: Case = $case;
            let report = case.report();
            let kind: Option<Kind> = $kind;
            if let Some(kind) = kind {
                assert!(
                    report.has(kind),
                    "expected {kind}, got {:?}",
                    report.findings.iter().map(|f| f.id.as_str()).collect::<Vec<_>>()
                );
            }
            let cf = verdict(&report, &profile::CLOUDFLARE);
            assert_eq!(cf, ($status, GeneratedBy::$by, $cause), "cloudflare verdict");
            $(
                let got = verdict(&report, &profile::$peer).0;
                assert_eq!(got, $pstatus, "{} status", stringify!($peer));
            )*
        }
    };
}

use End::{Complete as Done, Eof, Reset, Timeout};
use GeneratedBy::Origin;

const NONE: Option<Cause> = None;
fn c(cause: Cause) -> Option<Cause> {
    Some(cause)
}

// Rows 1–20: the status line.
row!(r01_no_status_line, Case::new("hello world\n", Eof), Some(Kind::StartLineMissing),
    (Some(520), Edge, c(Cause::StartLineInvalid)), NGINX => None, HAPROXY => Some(502), ENVOY => Some(502));
row!(r02_garbage_before_status_line, Case::new(b"xyz\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Eof),
    Some(Kind::StartLineGarbagePrefix), (Some(520), Edge, c(Cause::StartLineInvalid)), NGINX => None);
row!(r03_leading_crlf, Case::new(b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Done),
    Some(Kind::StartLineLeadingCrlf), (Some(200), Origin, NONE), NGINX => None, HAPROXY => Some(200), ENVOY => Some(502));
row!(r04_lower_case_protocol, Case::new(status(b"http/1.1 200 OK"), Done), Some(Kind::VersionBadName),
    (Some(520), Edge, c(Cause::StartLineInvalid)), NGINX => Some(200), HAPROXY => Some(502));
row!(r05_major_version_2, Case::new(status(b"HTTP/2.0 200 OK"), Done), Some(Kind::VersionUnsupportedMajor),
    (Some(520), Edge, c(Cause::StartLineInvalid)), NGINX => Some(200), HAPROXY => Some(200));
row!(r06_unknown_minor, Case::new(status(b"HTTP/1.2 200 OK"), Done), Some(Kind::VersionUnknownMinor),
    (Some(200), Origin, NONE), HAPROXY => Some(200), STRICT => Some(200));
row!(r07_multi_digit_version, Case::new(status(b"HTTP/1.10 200 OK"), Done), Some(Kind::VersionMultiDigit),
    (Some(520), Edge, c(Cause::StartLineInvalid)), NGINX => Some(200), HAPROXY => Some(502));
row!(r08_http09_status_line, Case::new(status(b"HTTP/0.9 200 OK"), Done), Some(Kind::VersionHttp09),
    (Some(520), Edge, c(Cause::StartLineInvalid)), NGINX => None);
row!(r09_two_digit_status, Case::new(status(b"HTTP/1.1 20 OK"), Done), Some(Kind::StatusTooFewDigits),
    (Some(520), Edge, c(Cause::StartLineInvalid)), NGINX => None, HAPROXY => None);
row!(r10_four_digit_status, Case::new(status(b"HTTP/1.1 2000 OK"), Done), Some(Kind::StatusNot3Digits),
    (Some(520), Edge, c(Cause::StartLineInvalid)), NGINX => None, HAPROXY => None);
row!(r11_non_digit_status, Case::new(status(b"HTTP/1.1 2x0 OK"), Done), Some(Kind::StatusNonDigit),
    (Some(520), Edge, c(Cause::StartLineInvalid)), NGINX => None, HAPROXY => Some(502));
row!(r11_iis_sub_status, Case::new(status(b"HTTP/1.1 403.1 Forbidden"), Done), Some(Kind::StatusSubStatus),
    (Some(520), Edge, c(Cause::StartLineInvalid)), NGINX => Some(403), HAPROXY => Some(502));
row!(r12_status_below_100, Case::new(status(b"HTTP/1.1 000 Zero"), Done), Some(Kind::StatusBelow100),
    (Some(520), Edge, c(Cause::StartLineInvalid)), NGINX => Some(0), HAPROXY => Some(0));
row!(r13_status_above_599, Case::new(status(b"HTTP/1.1 600 High"), Done), Some(Kind::StatusAbove599),
    (Some(600), Origin, NONE), NGINX => Some(600), HAPROXY => Some(600), STRICT => Some(502));
row!(r14_no_reason_no_sp, Case::new(status(b"HTTP/1.1 200"), Done), Some(Kind::StatusLineMissingSp),
    (Some(200), Origin, NONE), NGINX => Some(200), STRICT => Some(502));
row!(r15_extra_space, Case::new(status(b"HTTP/1.1  200 OK"), Done), Some(Kind::StatusLineExtraWs),
    (Some(200), Origin, NONE), NGINX => Some(200), HAPROXY => Some(200));
row!(r16_htab_delimiter, Case::new(status(b"HTTP/1.1\t200 OK"), Done), Some(Kind::StatusLineBadDelimiter),
    (Some(520), Edge, c(Cause::StartLineInvalid)), NGINX => None, HAPROXY => Some(200));
row!(r17_ctl_in_reason, Case::new(status(b"HTTP/1.1 200 O\x01K"), Done), Some(Kind::ReasonCtl),
    (Some(200), Origin, NONE), NGINX => Some(200));
row!(r18_obs_text_reason, Case::new(status(b"HTTP/1.1 200 \xc3\xa9t\xc3\xa9"), Done), Some(Kind::ReasonObsText),
    (Some(200), Origin, NONE), STRICT => Some(200));
row!(r19_bare_cr_in_status_line, Case::new(b"HTTP/1.1 200 OK\rX-A: b\r\nContent-Length: 2\r\n\r\nok", Done),
    Some(Kind::StartLineBareCr), (Some(520), Edge, c(Cause::StartLineInvalid)), NGINX => Some(200), HAPROXY => Some(502));
row!(r20_bare_lf_head, Case::new(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", Done), Some(Kind::HeadBareLf),
    (Some(200), Origin, NONE), NGINX => Some(200), HAPROXY => Some(200));

// Rows 21–37: field lines.
row!(r21_space_before_colon, Case::new(ok_with("X-Foo : bar\r\n"), Done), Some(Kind::FieldNameTrailingWs),
    (Some(200), Origin, NONE), NGINX => Some(502), HAPROXY => Some(502), STRICT => Some(502));
row!(r22_space_before_colon_on_framing, Case::new(b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", Done),
    Some(Kind::FramingNameWs), (Some(520), Edge, c(Cause::FramingInvalid)), NGINX => Some(502), HAPROXY => Some(502));
row!(r23_obs_fold, Case::new(ok_with("X-Foo: a\r\n b\r\n"), Done), Some(Kind::FieldObsFold),
    (Some(200), Origin, NONE), NGINX => Some(502), HAPROXY => Some(200), ENVOY => Some(200));
row!(r24_ws_before_first_field, Case::new(ok_with(" X-Foo: bar\r\n"), Done), Some(Kind::HeadWsAfterStartLine),
    (Some(520), Edge, c(Cause::FieldInvalid)), NGINX => Some(502), HAPROXY => Some(502));
row!(r25_missing_colon, Case::new(ok_with("X-Foo bar\r\n"), Done), Some(Kind::FieldMissingColon),
    (Some(520), Edge, c(Cause::FieldInvalid)), NGINX => Some(502));
row!(r26_empty_name, Case::new(ok_with(": bar\r\n"), Done), Some(Kind::FieldNameEmpty),
    (Some(520), Edge, c(Cause::FieldInvalid)), NGINX => Some(502));
row!(r27_non_token_name, Case::new(ok_with("X@Foo: bar\r\n"), Done), Some(Kind::FieldNameNonToken),
    (Some(520), Edge, c(Cause::FieldInvalid)), NGINX => Some(200), HAPROXY => Some(502));
row!(r27_utf8_name, Case::new(ok_with("X-F\u{f6}o: bar\r\n"), Done), Some(Kind::FieldNameNonToken),
    (Some(520), Edge, c(Cause::FieldInvalid)), NGINX => Some(200));
row!(r28_underscore_name, Case::new(ok_with("X_Foo: bar\r\n"), Done), None,
    (Some(200), Origin, NONE), NGINX => Some(200), STRICT => Some(200));
row!(r29_nul_in_value, Case::new(ok_with("X-Foo: a\x00b\r\n"), Done), Some(Kind::FieldValueNul),
    (Some(520), Edge, c(Cause::FieldInvalid)), NGINX => Some(502), HAPROXY => Some(200));
row!(r30_bare_cr_in_value, Case::new(ok_with("X-Foo: a\rb\r\n"), Done), Some(Kind::FieldValueBareCr),
    (Some(520), Edge, c(Cause::FieldInvalid)), NGINX => Some(502));
row!(r31_ctl_in_value, Case::new(ok_with("X-Foo: a\x01b\r\n"), Done), Some(Kind::FieldValueCtl),
    (Some(200), Origin, NONE), NGINX => Some(200), HAPROXY => Some(200), ENVOY => Some(502), STRICT => Some(502));
row!(r31_del_in_value, Case::new(ok_with("X-Foo: a\x7fb\r\n"), Done), Some(Kind::FieldValueCtl),
    (Some(200), Origin, NONE), ENVOY => Some(502));
row!(r32_obs_text_value, Case::new([b"HTTP/1.1 200 OK\r\nX-Foo: \xff\xfe\r\n".as_slice(), b"Content-Length: 2\r\n\r\nok"].concat(), Done),
    Some(Kind::FieldValueObsText), (Some(200), Origin, NONE), STRICT => Some(200));
row!(r33_too_many_fields, Case::new(ok_with(&(0..150).map(|i| format!("X-H{i}: v\r\n")).collect::<String>()), Done),
    None, (Some(200), Origin, NONE), NGINX => Some(200), HAPROXY => Some(502), ENVOY => Some(502));
row!(r34_large_head_10k, Case::new(ok_with(&format!("X-Big: {}\r\n", "a".repeat(10 * 1024))), Done),
    None, (Some(200), Origin, NONE), NGINX => Some(502), HAPROXY => Some(200), ENVOY => Some(200));
row!(r35_huge_head_500k, Case::new(ok_with(&format!("X-Big: {}\r\n", "a".repeat(500 * 1024))), Done),
    None, (Some(520), Edge, c(Cause::HeadTooLarge)), NGINX => Some(502), HAPROXY => Some(502), ENVOY => Some(502));
row!(r36_status_line_in_head, Case::new(ok_with("HTTP/1.1 302 Found\r\n"), Done), Some(Kind::FieldStatusLineInHead),
    (Some(520), Edge, c(Cause::FieldInvalid)), NGINX => Some(200), HAPROXY => Some(502));
row!(r37_duplicate_singleton, Case::new(ok_with("Location: /a\r\nLocation: /b\r\n"), Done),
    Some(Kind::FieldDuplicateSingleton), (Some(200), Origin, NONE), NGINX => Some(200));

// Rows 38–49: framing.
row!(r38_cl_and_te, Case::new(chunked("Content-Length: 5\r\n", b"2\r\nok\r\n0\r\n\r\n"), Done),
    Some(Kind::FramingClAndTe), (Some(200), Origin, NONE),
    NGINX => Some(502), NGINX_1_22 => Some(200), HAPROXY => Some(200), ENVOY => Some(502));
row!(r39_duplicate_same_cl, Case::new(ok_with("Content-Length: 2\r\n"), Done), Some(Kind::FramingClDuplicateSame),
    (Some(520), Edge, c(Cause::FramingInvalid)), NGINX => Some(502), HAPROXY => Some(200), ENVOY => Some(502));
row!(r40_conflicting_cl, Case::new(ok_with("Content-Length: 3\r\n"), Eof), Some(Kind::FramingClConflict),
    (Some(520), Edge, c(Cause::FramingInvalid)), NGINX => Some(502), HAPROXY => Some(502));
row!(r41_cl_list, Case::new(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", Done), Some(Kind::FramingClList),
    (Some(520), Edge, c(Cause::FramingInvalid)), NGINX => Some(502), HAPROXY => Some(200));
row!(r42_cl_plus_sign, Case::new(b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", Eof), Some(Kind::FramingClInvalid),
    (Some(520), Edge, c(Cause::FramingInvalid)), NGINX => Some(502), HAPROXY => Some(502));
row!(
    r42_cl_negative,
    Case::new(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok", Eof),
    Some(Kind::FramingClInvalid),
    (Some(520), Edge, c(Cause::FramingInvalid))
);
row!(
    r42_cl_hex,
    Case::new(b"HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\nok", Eof),
    Some(Kind::FramingClInvalid),
    (Some(520), Edge, c(Cause::FramingInvalid))
);
row!(
    r42_cl_inner_space,
    Case::new(b"HTTP/1.1 200 OK\r\nContent-Length: 1 1\r\n\r\nok", Eof),
    Some(Kind::FramingClInvalid),
    (Some(520), Edge, c(Cause::FramingInvalid))
);
row!(r42_cl_empty, Case::new(b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\nok", Eof), Some(Kind::FramingClInvalid),
    (Some(520), Edge, c(Cause::FramingInvalid)), NGINX_1_22 => Some(200));
row!(r43_cl_overflow, Case::new(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nok", Eof),
    Some(Kind::FramingClOverflow), (Some(520), Edge, c(Cause::FramingInvalid)), NGINX => Some(502));
row!(r44_cl_leading_zeros, Case::new(b"HTTP/1.1 200 OK\r\nContent-Length: 0002\r\n\r\nok", Done), None,
    (Some(200), Origin, NONE), NGINX => Some(200), STRICT => Some(200));
row!(r45_gzip_then_chunked, Case::new(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", Done),
    Some(Kind::TeUnsupportedCoding), (Some(200), Origin, NONE),
    NGINX => Some(502), NGINX_1_22 => Some(200), HAPROXY => Some(502), ENVOY => Some(502), STRICT => Some(502));
row!(r46_chunked_not_final, Case::new(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\nok\r\n0\r\n\r\n", Eof),
    Some(Kind::TeChunkedNotFinal), (Some(520), Edge, c(Cause::FramingInvalid)), NGINX => Some(502), HAPROXY => Some(502));
row!(r46_identity, Case::new(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nok", Eof),
    Some(Kind::TeUnknown), (Some(520), Edge, c(Cause::FramingInvalid)), NGINX => Some(502));
row!(
    r46_empty_te,
    Case::new(b"HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\nok", Eof),
    Some(Kind::TeEmpty),
    (Some(520), Edge, c(Cause::FramingInvalid))
);
row!(r46_chunked_params, Case::new(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;foo=bar\r\n\r\n2\r\nok\r\n0\r\n\r\n", Eof),
    Some(Kind::TeChunkedParams), (Some(520), Edge, c(Cause::FramingInvalid)), NGINX => Some(502));
row!(r47_chunked_twice, Case::new(chunked("Transfer-Encoding: chunked\r\n", b"2\r\nok\r\n0\r\n\r\n"), Done),
    Some(Kind::TeChunkedTwice), (Some(520), Edge, c(Cause::FramingInvalid)), NGINX => Some(502), HAPROXY => Some(502));
row!(r48_te_in_http10, Case::new(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", Done),
    Some(Kind::TeInHttp10), (Some(200), Origin, NONE), NGINX => Some(200), HAPROXY => Some(200));
row!(r49_te_upper_case, Case::new(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n2\r\nok\r\n0\r\n\r\n", Done),
    None, (Some(200), Origin, NONE), STRICT => Some(200));

// Rows 50–64: the body.
row!(r50_bad_chunk_size, Case::new(chunked("", b"zz\r\nok\r\n0\r\n\r\n"), Eof), Some(Kind::ChunkSizeInvalid),
    (Some(200), Origin, c(Cause::ChunkedInvalid)), NGINX => None, HAPROXY => Some(502));
row!(
    r50_hex_prefix_chunk_size,
    Case::new(chunked("", b"0x2\r\nok\r\n0\r\n\r\n"), Eof),
    Some(Kind::ChunkSizeInvalid),
    (Some(200), Origin, c(Cause::ChunkedInvalid))
);
row!(r51_empty_chunk_size, Case::new(chunked("", b"\r\nok\r\n0\r\n\r\n"), Eof), Some(Kind::ChunkSizeEmpty),
    (Some(200), Origin, c(Cause::ChunkedInvalid)), HAPROXY => Some(502));
row!(
    r52_chunk_size_overflow,
    Case::new(chunked("", b"fffffffffffffffffff\r\nok\r\n"), Eof),
    Some(Kind::ChunkSizeOverflow),
    (Some(200), Origin, c(Cause::ChunkedInvalid))
);
row!(r53_bare_lf_in_chunks, Case::new(chunked("", b"2\nok\n0\n\n"), Eof), Some(Kind::ChunkBareLf),
    (Some(200), Origin, c(Cause::ChunkedInvalid)), NGINX_1_22 => Some(200));
row!(
    r54_lf_in_chunk_ext,
    Case::new(chunked("", b"2;a\nb\r\nok\r\n0\r\n\r\n"), Eof),
    Some(Kind::ChunkExtNewline),
    (Some(200), Origin, c(Cause::ChunkedInvalid))
);
row!(r55_ws_after_chunk_size, Case::new(chunked("", b"2 \r\nok\r\n0\r\n\r\n"), Done), Some(Kind::ChunkSizeTrailingWs),
    (Some(200), Origin, NONE), NGINX => Some(200), HAPROXY => Some(200));
row!(
    r56_chunk_data_overrun,
    Case::new(chunked("", b"2\r\nokXX\r\n0\r\n\r\n"), Eof),
    Some(Kind::ChunkDataOverrun),
    (Some(200), Origin, c(Cause::ChunkedInvalid))
);
row!(r57_eof_before_last_chunk, Case::new(chunked("", b"2\r\nok\r\n"), Eof), Some(Kind::BodyIncompleteChunked),
    (Some(200), Origin, c(Cause::BodyTruncated)), NGINX => Some(200), HAPROXY => Some(200));
row!(r58_malformed_trailer, Case::new(chunked("", b"2\r\nok\r\n0\r\nbad trailer\r\n\r\n"), Done),
    Some(Kind::ChunkTrailerInvalid), (Some(200), Origin, NONE), NGINX => Some(200), HAPROXY => Some(502));
row!(r59_bytes_after_last_chunk, Case::new(chunked("", b"2\r\nok\r\n0\r\n\r\nEXTRA"), Done),
    Some(Kind::BodyTrailingGarbage), (Some(200), Origin, NONE), NGINX => Some(200));
row!(r60_eof_short_of_cl, Case::new(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", Eof), Some(Kind::BodyShortOfCl),
    (Some(200), Origin, c(Cause::BodyTruncated)), NGINX => Some(200));
row!(r61_more_than_cl, Case::new(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", Done), Some(Kind::BodyExcessAfterCl),
    (Some(200), Origin, NONE), NGINX => Some(200));
row!(r62_close_delimited, Case::new(b"HTTP/1.1 200 OK\r\n\r\nbody until close", Eof), Some(Kind::FramingCloseDelimited),
    (Some(200), Origin, NONE), STRICT => Some(200));
row!(r63_body_on_204, Case::new(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", Done),
    Some(Kind::BodyOnBodilessStatus), (Some(204), Origin, NONE), ENVOY => Some(502));
row!(r64_body_on_head, Case::new(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", Done).head_request(),
    Some(Kind::BodyOnHead), (Some(200), Origin, NONE), STRICT => Some(200));

// Rows 65–67: interim, upgrade, empty.
row!(r65_100_then_200, Case::new(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Done),
    Some(Kind::StatusInterim), (Some(200), Origin, NONE), NGINX => Some(200), HAPROXY => Some(200));
row!(r66_unsolicited_101, Case::new(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", Done),
    Some(Kind::StatusUnsolicited101), (Some(520), Edge, c(Cause::StartLineInvalid)), NGINX => Some(101), HAPROXY => Some(502));
row!(r67_empty_reply, Case::new(b"", Eof), Some(Kind::ResponseEmpty),
    (Some(520), Edge, c(Cause::ResponseEmpty)), NGINX => Some(502), HAPROXY => Some(502), ENVOY => Some(503));
row!(r67_eof_in_head, Case::new(b"HTTP/1.1 200 OK\r\nContent-Le", Eof), Some(Kind::HeadTruncated),
    (Some(520), Edge, c(Cause::HeadTruncated)), NGINX => Some(502), ENVOY => Some(503));

// Connection events, sizes, encodings and the origin's own errors.
row!(x_reset_before_any_byte, Case::new(b"", Reset), Some(Kind::ResponseReset),
    (Some(520), Edge, c(Cause::ResponseReset)), NGINX => Some(502));
row!(
    x_reset_mid_head,
    Case::new(b"HTTP/1.1 200 OK\r\nX-A", Reset),
    Some(Kind::HeadReset),
    (Some(520), Edge, c(Cause::HeadTruncated))
);
row!(x_timeout_before_head, Case::new(b"", Timeout), Some(Kind::ResponseTimeout),
    (Some(524), Edge, c(Cause::ResponseTimeout)), NGINX => Some(504), HAPROXY => Some(504), ENVOY => Some(504));
row!(
    x_timeout_mid_head,
    Case::new(b"HTTP/1.1 200 OK\r\n", Timeout),
    Some(Kind::ResponseTimeout),
    (Some(524), Edge, c(Cause::ResponseTimeout))
);
row!(
    x_stall_in_body,
    Case::new(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", Timeout),
    Some(Kind::BodyStalled),
    (Some(200), Origin, c(Cause::BodyTimeout))
);
row!(
    x_reset_mid_body,
    Case::new(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", Reset),
    Some(Kind::BodyReset),
    (Some(200), Origin, c(Cause::BodyTruncated))
);
row!(
    x_tls_on_plain_port,
    Case::new(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", Eof),
    Some(Kind::StartLineMissing),
    (Some(520), Edge, c(Cause::StartLineInvalid))
);
row!(x_head_20k, Case::new(ok_with(&format!("X-Big: {}\r\n", "a".repeat(20 * 1024))), Done), None,
    (Some(200), Origin, NONE), NGINX => Some(502), HAPROXY => Some(502), ENVOY => Some(200));
row!(x_head_130k, Case::new(ok_with(&format!("X-Big: {}\r\n", "a".repeat(130 * 1024))), Done), None,
    (Some(520), Edge, c(Cause::HeadTooLarge)), ENVOY => Some(502));
row!(x_origin_502, Case::new(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 2\r\n\r\nok", Done), Some(Kind::StatusOrigin5xx),
    (Some(502), Origin, c(Cause::OriginError)), NGINX => Some(502));

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn with_body(head: &str, body: &[u8]) -> Vec<u8> {
    [head.as_bytes(), body].concat()
}

fn page() -> Vec<u8> {
    (0..400u32)
        .flat_map(|i| format!("<p>{}</p>\n", i * 7919 % 10007).into_bytes())
        .collect()
}

row!(x_gzip_cl_is_decoded_length, {
        let (text, gz) = (page(), gzip(&page()));
        Case::new(with_body(&format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", text.len()), &gz), Eof)
    }, Some(Kind::EncodingClIsDecodedLength), (Some(502), Edge, c(Cause::EncodingMismatch)), NGINX => Some(200));
row!(
    x_gzip_cut_by_cl,
    {
        let gz = gzip(&page());
        Case::new(
            with_body(
                &format!(
                    "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                    gz.len() / 2
                ),
                &gz,
            ),
            Done,
        )
    },
    Some(Kind::EncodingTruncated),
    (Some(502), Edge, c(Cause::EncodingMismatch))
);
row!(
    x_gzip_label_on_plain_body,
    Case::new(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 11\r\n\r\nhello world",
        Done
    ),
    Some(Kind::EncodingNotEncoded),
    (Some(502), Edge, c(Cause::EncodingMismatch))
);
row!(
    x_gzip_corrupt,
    {
        let mut gz = gzip(&page());
        for b in &mut gz[20..40] {
            *b = 0xee;
        }
        Case::new(
            with_body(
                &format!(
                    "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                    gz.len()
                ),
                &gz,
            ),
            Done,
        )
    },
    None,
    (Some(502), Edge, c(Cause::EncodingMismatch))
);
row!(
    x_gzip_valid_chunked,
    {
        let gz = gzip(&page());
        let mut body = format!("{:x}\r\n", gz.len()).into_bytes();
        body.extend_from_slice(&gz);
        body.extend_from_slice(b"\r\n0\r\n\r\n");
        Case::new(chunked("Content-Encoding: gzip\r\n", &body), Done)
    },
    None,
    (Some(200), Origin, NONE)
);

#[test]
fn offsets_point_at_the_defect() {
    let report = read_all(
        &ok_with("X-Foo bar\r\n"),
        End::Complete,
        ReaderOptions::default(),
    );
    let f = report
        .findings
        .iter()
        .find(|f| f.id == Kind::FieldMissingColon)
        .unwrap();
    assert_eq!(f.offset, 17, "the line after `HTTP/1.1 200 OK\\r\\n`");
    let report = read_all(
        &ok_with("X-Foo: a\x00b\r\n"),
        End::Complete,
        ReaderOptions::default(),
    );
    let f = report
        .findings
        .iter()
        .find(|f| f.id == Kind::FieldValueNul)
        .unwrap();
    assert_eq!(f.offset, 17 + 8);
    let report = read_all(
        &chunked("", b"2\r\nokXX\r\n"),
        End::Eof,
        ReaderOptions::default(),
    );
    let f = report
        .findings
        .iter()
        .find(|f| f.id == Kind::ChunkDataOverrun)
        .unwrap();
    let head_len = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".len() as u64;
    assert_eq!(f.offset, head_len + 5);
}

#[test]
fn head_spans_cover_each_field() {
    let report = read_all(
        &ok_with("X-Foo:  bar  \r\n"),
        End::Complete,
        ReaderOptions::default(),
    );
    let head = report.head.unwrap();
    assert_eq!(head.code, Some(200));
    assert_eq!(head.bytes(&head.reason), b"OK");
    let f = &head.fields[0];
    assert_eq!(head.name(f), b"X-Foo");
    assert_eq!(head.value(f), b"bar");
    assert_eq!(head.bytes(&f.line), b"X-Foo:  bar  ");
}

#[test]
fn warnings_never_set_the_cause() {
    let report = read_all(
        &ok_with("X-Foo: a\x01b\r\nLocation: /a\r\nLocation: /b\r\n"),
        End::Complete,
        ReaderOptions::default(),
    );
    assert!(report.findings.len() >= 2);
    assert_eq!(
        verdict(&report, &profile::CLOUDFLARE),
        (Some(200), Origin, None)
    );
}

#[test]
fn a_clean_close_delimited_response_passes_every_profile() {
    for p in profile::ALL {
        let report = read_all(
            b"HTTP/1.1 200 OK\r\n\r\n",
            End::Eof,
            ReaderOptions::default(),
        );
        let v = judge(&report, p, JudgeContext::default());
        assert_eq!(v.status, Some(200), "{}", p.name);
    }
}

#[test]
fn h2_breakage_is_judged_only_by_peers_that_use_h2_to_the_origin() {
    let mut report = Report::default();
    report.findings.push(originlens_wire::Finding::at(
        Kind::H2Goaway,
        0,
        "GOAWAY PROTOCOL_ERROR",
    ));
    let cf = judge(&report, &profile::CLOUDFLARE, JudgeContext::default());
    assert_eq!(
        (cf.status, cf.generated_by, cf.cause),
        (Some(520), GeneratedBy::Edge, Some(Cause::H2Protocol))
    );
    let nginx = judge(&report, &profile::NGINX, JudgeContext::default());
    assert_eq!((nginx.status, nginx.cause), (None, None));
    assert!(nginx.note.unwrap().contains("HTTP/1.1"));
}

#[test]
fn an_empty_answer_on_a_reused_connection_is_the_keepalive_race() {
    for end in [End::Eof, End::Reset] {
        let opts = ReaderOptions {
            reused_connection: true,
            ..ReaderOptions::default()
        };
        let report = read_all(b"", end, opts);
        assert_eq!(
            verdict(&report, &profile::CLOUDFLARE),
            (Some(520), GeneratedBy::Edge, Some(Cause::KeepaliveRace))
        );
        let fresh = read_all(b"", end, ReaderOptions::default());
        assert_ne!(
            verdict(&fresh, &profile::CLOUDFLARE).2,
            Some(Cause::KeepaliveRace)
        );
    }
    // A timeout is not the race: the origin kept the connection and did not answer.
    let opts = ReaderOptions {
        reused_connection: true,
        ..ReaderOptions::default()
    };
    let report = read_all(b"", End::Timeout, opts);
    assert_eq!(
        verdict(&report, &profile::CLOUDFLARE).2,
        Some(Cause::ResponseTimeout)
    );
}

#[test]
fn a_20k_head_is_only_a_warning_at_cloudflare() {
    let bytes = ok_with(&format!("X-Big: {}\r\n", "a".repeat(20 * 1024)));
    let report = read_all(&bytes, End::Complete, ReaderOptions::default());
    let cf = judge(&report, &profile::CLOUDFLARE, JudgeContext::default());
    let limits: Vec<Kind> = cf.limit_findings.iter().map(|f| f.id).collect();
    assert_eq!(limits, [Kind::HeadLarge]);
    assert_eq!((cf.status, cf.cause), (Some(200), None));
    let nginx = judge(&report, &profile::NGINX, JudgeContext::default());
    assert_eq!(nginx.finding, Some(Kind::HeadTooLarge));
}

#[test]
fn body_data_is_handed_out_exactly_in_any_split() {
    let cases: &[(&[u8], End, &[u8])] = &[
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nwikiEXTRA",
            End::Complete,
            b"wiki",
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nwiki\r\n5\r\npedia\r\n0\r\nT: 1\r\n\r\nEXTRA",
            End::Complete,
            b"wikipedia",
        ),
        (b"HTTP/1.1 200 OK\r\n\r\nuntil close", End::Eof, b"until close"),
        (b"HTTP/1.1 204 No Content\r\n\r\nstray", End::Complete, b""),
    ];
    for &(bytes, end, want) in cases {
        for split in 0..=bytes.len() {
            let mut r = originlens_wire::Reader::new(ReaderOptions::default());
            let mut got = Vec::new();
            r.feed_with(&bytes[..split], &mut |d| got.extend_from_slice(d));
            r.feed_with(&bytes[split..], &mut |d| got.extend_from_slice(d));
            if end == End::Eof {
                r.on_eof();
            }
            assert_eq!(got, want, "split at {split}");
        }
    }
}
