//! Feeding a response in more and smaller reads costs at most a constant per read more than
//! feeding it whole: the reader resumes where it stopped instead of going over (or copying) what
//! it already had. Measured by what this test binary allocates, not by time, so the check holds
//! on a loaded machine; `bench/wire-callgrind.sh` counts the instructions of the same splits.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use originlens_wire::{End, Reader, ReaderOptions, Report};

/// The system allocator, counting the allocations of this thread's test and their bytes. The
/// only `unsafe` of the crate's tests: `GlobalAlloc` is an unsafe trait, and every method
/// forwards to `System` with the caller's arguments unchanged.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: each method calls the same method of `System` with the same arguments, so `System`'s
// guarantees carry over; the counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// A 16 KB head (60 Set-Cookie lines, a folded field, a bare CR) and a chunked body of 300
/// chunks with extensions: every state of the reader that could hold on to bytes between reads.
fn response() -> Vec<u8> {
    let mut r =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Fold: a\r\n b\r\nX-Cr: a\rb\r\n"
            .to_vec();
    for i in 0..60 {
        r.extend_from_slice(
            format!("Set-Cookie: s{i}={}; Path=/; HttpOnly\r\n", "c".repeat(240)).as_bytes(),
        );
    }
    r.extend_from_slice(b"\r\n");
    for i in 0..300 {
        r.extend_from_slice(
            format!("{:x};n=v\r\n{}\r\n", 20 + i % 7, "d".repeat(20 + i % 7)).as_bytes(),
        );
    }
    r.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
    r
}

/// Feeds `bytes` in `splits` reads of (nearly) equal size; returns the report and what the
/// reading allocated (allocations, bytes). Tests run one at a time in this binary (see `main`
/// below: a single test), so the counters see only this reader.
fn feed(bytes: &[u8], splits: usize) -> (Report, u64, u64) {
    let (a0, b0) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    let mut reader = Reader::new(ReaderOptions::default());
    let step = bytes.len().div_ceil(splits);
    for piece in bytes.chunks(step.max(1)) {
        reader.feed(piece);
    }
    reader.on_eof();
    let report = reader.into_report();
    let (a1, b1) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    (report, a1 - a0, b1 - b0)
}

#[test]
fn split_and_byte_at_a_time_feeding_allocates_linearly() {
    let bytes = response();
    let n = bytes.len();
    assert!(n > 20_000, "the response is {n} bytes");
    let (whole, allocs_1, bytes_1) = feed(&bytes, 1);
    assert_eq!(whole.end, Some(End::Complete), "{:?}", whole.findings);
    assert_eq!(whole.body.chunks, 300);
    let mut rows = vec![(1, allocs_1, bytes_1)];
    for splits in [10, 100, 1000, n] {
        let (report, allocs, allocated) = feed(&bytes, splits);
        // The same report, however the bytes came.
        assert_eq!(report.findings, whole.findings, "{splits} splits");
        assert_eq!(report.head, whole.head, "{splits} splits");
        assert_eq!(report.body, whole.body, "{splits} splits");
        rows.push((splits, allocs, allocated));
    }
    for &(splits, allocs, allocated) in &rows {
        let k = splits as u64;
        // Linear: what one read costs, times a constant, plus a constant per read. Copying or
        // rescanning the buffered head on every read would allocate about n * k / 2 bytes
        // (some 150 MB byte at a time), far above either bound.
        assert!(
            allocs <= 2 * allocs_1 + 2 * k,
            "{splits} splits made {allocs} allocations (1 read: {allocs_1}); all: {rows:?}"
        );
        assert!(
            allocated <= 4 * bytes_1 + 64 * k,
            "{splits} splits allocated {allocated} bytes (1 read: {bytes_1}); all: {rows:?}"
        );
    }
    // And the growth from 100 to 1000 reads and on to one byte a read is no more than the
    // growth in reads.
    let at = |s: usize| rows.iter().find(|r| r.0 == s).map_or(0, |r| r.2);
    assert!(at(1000) <= at(100) * 10 + 64 * 1000, "{rows:?}");
    assert!(at(n) <= at(1000) * (n as u64 / 1000 + 1), "{rows:?}");
}
