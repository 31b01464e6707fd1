//! The chunked decoder fed at random split points: the same data, findings and consumed count
//! as one-shot decoding, and never more data than input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use originlens_wire::chunked::ChunkedDecoder;

fuzz_target!(|input: &[u8]| {
    if input.len() < 3 {
        return;
    }
    let (ctl, bytes) = input.split_at(2);
    let mut whole = ChunkedDecoder::default();
    let mut whole_data = Vec::new();
    let mut whole_findings = Vec::new();
    let used = whole.feed(
        bytes,
        0,
        &mut |d| whole_data.extend_from_slice(d),
        &mut whole_findings,
    );
    assert!(used <= bytes.len());
    assert!(whole_data.len() <= used);
    if used < bytes.len() {
        assert!(whole.is_done() || whole.is_failed());
    }

    let mut cuts = [
        ctl[0] as usize * bytes.len() / 255,
        ctl[1] as usize * bytes.len() / 255,
    ];
    cuts.sort_unstable();
    let mut d = ChunkedDecoder::default();
    let mut data = Vec::new();
    let mut findings = Vec::new();
    let mut used_split = 0;
    let mut at = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        let piece = &bytes[at..cut];
        let n = d.feed(
            piece,
            at as u64,
            &mut |b| data.extend_from_slice(b),
            &mut findings,
        );
        used_split += n;
        if n < piece.len() {
            break;
        }
        at = cut;
    }
    assert_eq!(used_split, used);
    assert_eq!(data, whole_data);
    assert_eq!(findings, whole_findings);
    assert_eq!(d.is_done(), whole.is_done());
    assert_eq!(d.is_failed(), whole.is_failed());
    assert_eq!(d.chunks, whole.chunks);
});
