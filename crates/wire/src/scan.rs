//! One pass over a head's bytes that finds its line ends and hands each line to the parser as
//! it is found, while its bytes are in cache; no list of lines is kept. The usual line is
//! printable ASCII up to its CRLF: the scan looks for the first byte outside `0x20..=0x7e`
//! ([`crate::bytes::first_odd_byte`], 16 bytes a step), which is then the CR, and so learns in
//! the same pass that the parser need not check the line's bytes ([`Line::plain`]). Any other
//! line goes on to its LF with `memchr` (vectorised, chosen at run time). The scan resumes where
//! the last read stopped: bytes fed one at a time still cost one look each.

use std::ops::Range;

use memchr::memchr;

use crate::bytes::first_odd_byte;

/// One line of a head: `content` excludes the LF and a CR right before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    /// First byte of the line.
    pub start: usize,
    /// End of the line's content (the CR of a CRLF, the LF of a bare LF, or the end of the
    /// bytes for a last line without LF).
    pub content_end: usize,
    /// The line ends in an LF with no CR before it.
    pub bare_lf: bool,
    /// Every byte of the content is printable ASCII or SP (`0x20..=0x7e`). False means "not
    /// known": the parser checks the bytes itself.
    pub plain: bool,
}

impl Line {
    /// The line's content, without its terminator.
    pub fn content(&self) -> Range<usize> {
        self.start..self.content_end
    }

    /// Is the content empty (the line that ends a head)?
    pub fn is_empty(&self) -> bool {
        self.content_end == self.start
    }
}

/// Where a line scan stands between reads: the scan resumes where it stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Start of the line being read.
    pub line_start: usize,
    /// Bytes before this were looked at.
    pub scanned: usize,
    /// The bytes looked at so far of this line are all printable ASCII or SP.
    pub plain: bool,
}

impl Cursor {
    /// A cursor at the start of a line at `pos`.
    pub fn at_line(pos: usize) -> Cursor {
        Cursor {
            line_start: pos,
            scanned: pos,
            plain: true,
        }
    }
}

/// Scans `buf` from the cursor, handing each complete line to `on_line`, and stops after the
/// first empty line: returns the end of that line (the head's length), or `None` when `buf`
/// ends first (the cursor then says where to go on).
#[inline(always)]
pub fn scan_to_empty_line(
    buf: &[u8],
    cursor: &mut Cursor,
    mut on_line: impl FnMut(&Line),
) -> Option<usize> {
    let finder = LfFinder::new();
    // A local copy stays in registers; the caller's cursor is written once at the end.
    let mut at = *cursor;
    loop {
        let Some(end) = line_end(buf, &mut at, &finder) else {
            *cursor = at;
            return None;
        };
        let start = at.line_start;
        on_line(&Line {
            start,
            content_end: end.content,
            bare_lf: end.next - end.content == 1,
            plain: end.plain,
        });
        at = Cursor::at_line(end.next);
        if end.content == start {
            *cursor = at;
            return Some(end.next);
        }
    }
}

/// Where a line found by [`line_end`] ends.
struct LineEnd {
    /// The end of its content: its CR LF, or its LF alone.
    content: usize,
    /// Just past its LF.
    next: usize,
    /// Its content is all printable ASCII or SP.
    plain: bool,
}

/// The end of the line the cursor is in; `None` (the cursor moved on to where the next read
/// resumes) when `buf` ends first.
#[inline(always)]
fn line_end(buf: &[u8], at: &mut Cursor, finder: &LfFinder) -> Option<LineEnd> {
    if at.plain {
        let Some(odd) = first_odd_byte(buf, at.scanned) else {
            at.scanned = buf.len().max(at.scanned);
            return None;
        };
        // The usual end first: one two-byte compare.
        if buf.get(odd..odd + 2) == Some(b"\r\n") {
            return Some(LineEnd {
                content: odd,
                next: odd + 2,
                plain: true,
            });
        }
        match (buf[odd], buf.get(odd + 1)) {
            (b'\n', _) => {
                return Some(LineEnd {
                    content: odd,
                    next: odd + 1,
                    plain: true,
                })
            }
            // A CR at the end of the bytes: looked at again once the next byte is in.
            (b'\r', None) => {
                at.scanned = odd;
                return None;
            }
            _ => {
                at.plain = false;
                at.scanned = odd;
            }
        }
    }
    let Some(lf) = find_lf(buf, at.scanned, finder) else {
        at.scanned = buf.len().max(at.scanned);
        return None;
    };
    let cr = lf > at.line_start && buf[lf - 1] == b'\r';
    Some(LineEnd {
        content: lf - usize::from(cr),
        next: lf + 1,
        plain: false,
    })
}

/// The first LF at or after `from`. Most lines are short: their end is looked for in the first
/// words without a call; a longer line goes to `memchr`.
#[inline]
fn find_lf(buf: &[u8], from: usize, finder: &LfFinder) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut pos = from;
    for _ in 0..4 {
        let Some(word) = buf.get(pos..pos + 8) else {
            break;
        };
        let x = u64::from_le_bytes(word.try_into().expect("8 bytes")) ^ (ONES * u64::from(b'\n'));
        // The lowest flag is exact (a borrow only runs upwards from a zero byte).
        let zero = x.wrapping_sub(ONES) & !x & HIGH;
        if zero != 0 {
            return Some(pos + zero.trailing_zeros() as usize / 8);
        }
        pos += 8;
    }
    finder.find(buf.get(pos..)?).map(|i| pos + i)
}

/// `memchr` for LF. On x86-64 with AVX2 (looked up once per scan, not per line), its AVX2
/// searcher is called directly, which saves the dispatch of every call.
struct LfFinder {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::One>,
}

impl LfFinder {
    #[inline]
    fn new() -> LfFinder {
        LfFinder {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::One::new(b'\n'),
        }
    }

    #[inline]
    fn find(&self, haystack: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = &self.avx2 {
            return avx2.find(haystack);
        }
        memchr(b'\n', haystack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_lf_in_words_and_beyond() {
        for len in 0..80 {
            for at in 0..len {
                let mut buf = vec![b'a'; len];
                buf[at] = b'\n';
                // Bytes that differ from LF in one bit, and a second LF after the first.
                if at + 1 < len {
                    buf[at + 1] = b'\n';
                }
                if at > 0 {
                    buf[at - 1] = 0x0b;
                }
                for from in 0..=len + 1 {
                    let expected = (from <= at)
                        .then_some(at)
                        .or_else(|| (from == at + 1 && at + 1 < len).then_some(at + 1));
                    let finder = LfFinder::new();
                    assert_eq!(
                        find_lf(&buf, from, &finder),
                        expected,
                        "len {len} at {at} from {from}"
                    );
                    let generic = memchr(b'\n', buf.get(from..).unwrap_or(&[]));
                    assert_eq!(generic.map(|i| from + i), expected);
                }
            }
        }
    }

    #[test]
    fn records_lines_up_to_the_empty_one() {
        let buf = b"A: b\r\nC: \x01d\nE: f\r\r\n\r\nbody\n";
        let mut lines = Vec::new();
        let end = scan_to_empty_line(buf, &mut Cursor::at_line(0), |l| lines.push(*l));
        assert_eq!(end, Some(buf.len() - 5));
        let summary: Vec<_> = lines
            .iter()
            .map(|l| (&buf[l.content()], l.bare_lf))
            .collect();
        assert_eq!(
            summary,
            [
                (&b"A: b"[..], false),
                (&b"C: \x01d"[..], true),
                (&b"E: f\r"[..], false),
                (&b""[..], false),
            ]
        );
    }

    #[test]
    fn a_bare_lf_ends_an_empty_line_too() {
        let buf = b"A: b\n\nrest";
        let mut lines = Vec::new();
        assert_eq!(
            scan_to_empty_line(buf, &mut Cursor::at_line(0), |l| lines.push(*l)),
            Some(6)
        );
        assert_eq!(lines.len(), 2);
        assert!(lines[1].is_empty() && lines[1].bare_lf);
    }

    #[test]
    fn resumes_across_reads_with_the_same_result() {
        let buf = b"A: b\r\nC: \x7fd\r\nE: f\r\n\r\n";
        let mut whole = Vec::new();
        let end = scan_to_empty_line(buf, &mut Cursor::at_line(0), |l| whole.push(*l));
        for split in 0..buf.len() {
            let (mut lines, mut cursor) = (Vec::new(), Cursor::at_line(0));
            assert_eq!(
                scan_to_empty_line(&buf[..split], &mut cursor, |l| lines.push(*l)),
                None
            );
            // A CR at the end of a plain line is looked at again with the byte after it.
            let cr_last = split > 0 && buf[split - 1] == b'\r';
            assert!(
                cursor.scanned == split || cr_last && cursor.scanned == split - 1,
                "split at {split}: scanned {}",
                cursor.scanned
            );
            assert_eq!(
                scan_to_empty_line(buf, &mut cursor, |l| lines.push(*l)),
                end
            );
            assert_eq!(lines, whole, "split at {split}");
        }
    }
}
