//! Content decoding under its caps: gzip, deflate (zlib and raw) and brotli bodies, judged
//! complete or cut short. No panic, decoded output bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use originlens_wire::encoding::{self, BodyEnd, Coding, Decoded, MAX_DECODED_BYTES};

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, body)) = input.split_first() else {
        return;
    };
    let coding = match ctl % 3 {
        0 => Coding::Gzip,
        1 => Coding::Deflate,
        _ => Coding::Brotli,
    };
    match encoding::decode(coding, body) {
        Decoded::Complete(n) | Decoded::Truncated(n) => assert!(n < MAX_DECODED_BYTES),
        Decoded::Corrupt | Decoded::Capped => {}
    }
    let end = match (ctl >> 2) % 3 {
        0 => BodyEnd::Complete,
        1 => BodyEnd::ShortOfLength(body.len() as u64 + u64::from(ctl)),
        _ => BodyEnd::Other,
    };
    if let Some(f) = encoding::check(coding, body, end, 17) {
        assert!(f.offset >= 17);
    }
    // Header parsing of the coding list.
    let _ = Coding::from_header(body);
});
