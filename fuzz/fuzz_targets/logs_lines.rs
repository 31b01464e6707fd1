//! The log scanner (line splitting, the signature classifier, field extraction) and the
//! timestamp parsers, over any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use originlens_logs::sink::{LineMatch, Note, Sink};
use originlens_logs::{timestamp, Scanner, TimeContext};

struct Count(u64);

impl Sink for Count {
    fn matched(&mut self, m: &LineMatch<'_>) {
        self.0 += 1;
        let _ = timestamp::parse(m.line);
    }
    fn note(&mut self, _note: Note) {}
}

/// Built once: the signature automata are the expensive part of a scanner.
fn scanner() -> &'static Scanner {
    static SCANNER: std::sync::OnceLock<Scanner> = std::sync::OnceLock::new();
    SCANNER.get_or_init(|| {
        let ctx = TimeContext::from_flags(Some("UTC"), None).expect("UTC");
        Scanner::new(ctx).with_limits(4096, 1024).with_threads(1)
    })
}

fuzz_target!(|input: &[u8]| {
    for line in input.split(|&b| b == b'\n') {
        if let Some((stamp, _format)) = timestamp::parse(line) {
            let _ = scanner().time().resolve(&stamp);
        }
    }
    let _ = scanner().scan_bytes(0, "fuzz.log", input, Count(0));
});
