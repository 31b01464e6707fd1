//! Properties of the reader over generated input: it never panics on arbitrary bytes, and the
//! report does not depend on how the stream was split into reads.

use originlens_wire::{judge, profile, End, JudgeContext, Reader, ReaderOptions, Report};
use proptest::prelude::*;

fn feed_in_pieces(bytes: &[u8], cuts: &[usize], end: End) -> Report {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut r = Reader::new(ReaderOptions::default());
    let mut at = 0;
    for c in cuts {
        r.feed(&bytes[at..c]);
        at = c;
    }
    r.feed(&bytes[at..]);
    match end {
        End::Eof => drop(r.on_eof()),
        End::Reset => drop(r.on_reset()),
        End::Timeout => drop(r.on_timeout()),
        _ => {}
    }
    r.into_report()
}

fn assert_same(a: &Report, b: &Report) {
    assert_eq!(a.findings, b.findings);
    assert_eq!(a.head, b.head);
    assert_eq!(a.framing, b.framing);
    assert_eq!(a.body, b.body);
    assert_eq!(a.end, b.end);
    for p in profile::ALL {
        assert_eq!(
            judge(a, p, JudgeContext::default()),
            judge(b, p, JudgeContext::default())
        );
    }
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![
        Just(End::Complete),
        Just(End::Eof),
        Just(End::Reset),
        Just(End::Timeout)
    ]
}

/// Responses built from plausible and broken pieces, so the interesting paths are reached.
fn response() -> impl Strategy<Value = Vec<u8>> {
    let status = prop_oneof![
        Just(b"HTTP/1.1 200 OK".to_vec()),
        Just(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK".to_vec()),
        Just(b"HTTP/1.0 204 No Content".to_vec()),
        Just(b"HTTP/1.1  20 x\x01".to_vec()),
        Just(b"http/2.0 403.1".to_vec()),
        Just(b"\r\nHTTP/1.1 502 Bad Gateway".to_vec()),
        Just(b"garbage".to_vec()),
    ];
    let field = prop_oneof![
        Just(b"Content-Length: 5".to_vec()),
        Just(b"Content-Length: 2, 2".to_vec()),
        Just(b"Content-Length : 5".to_vec()),
        Just(b"Transfer-Encoding: chunked".to_vec()),
        Just(b"Transfer-Encoding: gzip, chunked".to_vec()),
        Just(b"Content-Encoding: gzip".to_vec()),
        Just(b" folded".to_vec()),
        Just(b"X-A: \x00\r".to_vec()),
        Just(b"Set-Cookie: a=b".to_vec()),
        prop::collection::vec(any::<u8>(), 0..20),
    ];
    let eol = prop_oneof![Just(b"\r\n".to_vec()), Just(b"\n".to_vec())];
    let body = prop_oneof![
        Just(b"hello".to_vec()),
        Just(b"2\r\nok\r\n0\r\n\r\n".to_vec()),
        Just(b"2;x=\"y\"\r\nok\r\n0\r\nT: 1\r\n\r\nEXTRA".to_vec()),
        Just(b"zz\r\n".to_vec()),
        Just(b"\x1f\x8b\x08\x00".to_vec()),
        prop::collection::vec(any::<u8>(), 0..40),
    ];
    (
        status,
        prop::collection::vec((field, eol.clone()), 0..6),
        eol,
        body,
    )
        .prop_map(|(status, fields, end_eol, body)| {
            let mut v = status;
            v.extend_from_slice(b"\r\n");
            for (f, e) in fields {
                v.extend_from_slice(&f);
                v.extend_from_slice(&e);
            }
            v.extend_from_slice(&end_eol);
            v.extend_from_slice(&body);
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_and_splits_do_not_matter(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        end in end(),
    ) {
        let whole = feed_in_pieces(&bytes, &[], end);
        let split = feed_in_pieces(&bytes, &cuts, end);
        assert_same(&whole, &split);
    }

    #[test]
    fn generated_responses_give_the_same_verdict_in_any_split(
        bytes in response(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        end in end(),
    ) {
        let whole = feed_in_pieces(&bytes, &[], end);
        let split = feed_in_pieces(&bytes, &cuts, end);
        assert_same(&whole, &split);
    }

    #[test]
    fn byte_at_a_time_matches_whole(bytes in response(), end in end()) {
        let whole = feed_in_pieces(&bytes, &[], end);
        let cuts: Vec<usize> = (0..bytes.len()).collect();
        let split = feed_in_pieces(&bytes, &cuts, end);
        assert_same(&whole, &split);
    }
}
