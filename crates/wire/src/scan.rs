//! One pass over a head's bytes that finds its line ends and, on the way, notes which lines hold
//! only printable ASCII, so the parser neither searches for a line end again nor checks the
//! bytes of a clean value one by one.
//!
//! The scan skips to the next byte outside `0x20..=0x7e` 32 bytes at a time, in a shape the
//! compiler turns into SIMD compares, then narrows down to 16 and 8 bytes; in a usual head only
//! the CR LF that ends each line is such a byte, so a line costs little more than its loads.

use std::ops::Range;

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
    /// Every content byte is printable ASCII or SP (`0x20..=0x7e`). `false` means "not known",
    /// so the parser checks the bytes itself.
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

/// Where a line scan stands between reads: the scan resumes where it stopped, so bytes fed one
/// at a time still cost one look each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Start of the line being read.
    pub line_start: usize,
    /// Bytes before this were looked at.
    pub scanned: usize,
    /// The first byte of the line being read that is not printable ASCII, if one was seen.
    pub odd_at: Option<usize>,
}

impl Cursor {
    /// A cursor at the start of a line at `pos`.
    pub fn at_line(pos: usize) -> Cursor {
        Cursor {
            line_start: pos,
            scanned: pos,
            odd_at: None,
        }
    }
}

/// Scans `buf` from the cursor, appending each complete line to `lines`, and stops after the
/// first empty line: returns the end of that line (the head's length), or `None` when `buf`
/// ends first (the cursor then says where to go on).
pub fn scan_to_empty_line(buf: &[u8], cursor: &mut Cursor, lines: &mut Vec<Line>) -> Option<usize> {
    // A local copy stays in registers; the caller's cursor is written once at the end.
    let mut at_line = *cursor;
    let end = scan_lines(buf, &mut at_line, lines);
    *cursor = at_line;
    end
}

fn scan_lines(buf: &[u8], cursor: &mut Cursor, lines: &mut Vec<Line>) -> Option<usize> {
    while let Some(at) = next_odd_byte(buf, cursor.scanned) {
        let lf = match buf[at] {
            b'\n' => at,
            // The usual line end, taken in one step.
            b'\r' if buf.get(at + 1) == Some(&b'\n') => at + 1,
            _ => {
                cursor.odd_at.get_or_insert(at);
                cursor.scanned = at + 1;
                continue;
            }
        };
        let line = finish_line(buf, cursor.line_start, lf, cursor.odd_at);
        lines.push(line);
        *cursor = Cursor::at_line(lf + 1);
        if line.is_empty() {
            return Some(lf + 1);
        }
    }
    cursor.scanned = buf.len();
    None
}

/// The line from `start` to the LF at `lf`; `odd_at` is its first byte outside `0x20..=0x7e`.
fn finish_line(buf: &[u8], start: usize, lf: usize, odd_at: Option<usize>) -> Line {
    let has_cr = lf > start && buf[lf - 1] == b'\r';
    let content_end = if has_cr { lf - 1 } else { lf };
    Line {
        start,
        content_end,
        bare_lf: !has_cr,
        // A CR that ends the line is the only odd byte a plain line may have.
        plain: odd_at.is_none_or(|at| at >= content_end),
    }
}

const WORD: usize = 8;
const BLOCK: usize = 16;
/// Clean text is skipped this many bytes at a time (two vector compares) before the search
/// narrows down to a block and a word.
const STRIDE: usize = 2 * BLOCK;
const HIGH: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of each byte of `x` that is outside `0x20..=0x7e`. Exact per byte: the sums
/// work on the low seven bits only, so no carry crosses into the next byte.
#[inline]
fn odd_bytes(x: u64) -> u64 {
    let low = x & LOW7;
    let at_least_space = low + 0x6060_6060_6060_6060;
    let del = low + 0x0101_0101_0101_0101;
    (x | !at_least_space | del) & HIGH
}

/// `!(0x20..0x7f).contains(&b)`, as one signed compare: adding one takes `0x7f..=0xff` to
/// `i8::MIN..=0`, and `0x00..=0x1f` to `1..=0x20`, all below `0x21`; vectorised, that is two
/// instructions per 16 bytes instead of four.
#[inline]
fn is_odd_byte(b: u8) -> bool {
    (b.wrapping_add(1) as i8) < 0x21
}

/// Does the block hold a byte outside `0x20..=0x7e`? Written as a fold without early exit so
/// the compiler makes it a single vector compare.
#[inline]
fn block_has_odd_byte<const N: usize>(block: &[u8; N]) -> bool {
    block.iter().fold(false, |any, &b| any | is_odd_byte(b))
}

/// The index of the first odd byte of `bytes` (at most one word), if any.
#[inline]
fn first_odd_in_word(bytes: &[u8]) -> Option<usize> {
    let mut word = [0x20; WORD];
    word[..bytes.len()].copy_from_slice(bytes);
    let flags = odd_bytes(u64::from_le_bytes(word));
    (flags != 0).then(|| flags.trailing_zeros() as usize / 8)
}

/// The position of the first byte at or after `from` that is outside `0x20..=0x7e`.
#[inline]
fn next_odd_byte(buf: &[u8], from: usize) -> Option<usize> {
    let rest = buf.get(from..)?;
    let clean = clean_strides(rest);
    let mut pos = clean;
    while let Some(block) = rest.get(pos..pos + BLOCK) {
        let block: &[u8; BLOCK] = block.try_into().expect("a block");
        if block_has_odd_byte(block) {
            return first_odd_in_block(block).map(|i| from + pos + i);
        }
        pos += BLOCK;
    }
    first_odd_in_block(&rest[pos..]).map(|i| from + pos + i)
}

/// How many bytes at the start of `bytes` are whole strides without an odd byte.
#[inline]
fn clean_strides(bytes: &[u8]) -> usize {
    bytes
        .chunks_exact(STRIDE)
        .take_while(|&stride| !block_has_odd_byte::<STRIDE>(stride.try_into().expect("a stride")))
        .count()
        * STRIDE
}

/// The index of the first odd byte of `bytes` (at most one block), if any.
#[inline]
fn first_odd_in_block(bytes: &[u8]) -> Option<usize> {
    let (low, high) = bytes.split_at(bytes.len().min(WORD));
    first_odd_in_word(low).or_else(|| first_odd_in_word(high).map(|i| WORD + i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_byte_flags_are_exact_for_every_byte_at_every_place() {
        for b in 0u8..=255 {
            for place in 0..WORD {
                // Neighbours that would catch a carry or borrow: the extremes of each class.
                for fill in [0x00, 0x1f, 0x20, 0x7e, 0x7f, 0xff] {
                    let mut bytes = [fill; WORD];
                    bytes[place] = b;
                    let flags = odd_bytes(u64::from_le_bytes(bytes));
                    for (i, &byte) in bytes.iter().enumerate() {
                        let flagged = flags >> (i * 8 + 7) & 1 == 1;
                        let odd = !(0x20..0x7f).contains(&byte);
                        assert_eq!(flagged, odd, "{bytes:02x?} byte {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn odd_byte_is_outside_printable_ascii() {
        for b in 0u8..=255 {
            assert_eq!(is_odd_byte(b), !(0x20..0x7f).contains(&b), "{b:#04x}");
        }
    }

    #[test]
    fn finds_the_first_odd_byte_in_words_and_tail() {
        for len in 0..40 {
            for at in 0..len {
                let mut buf = vec![b'a'; len];
                buf[at] = b'\r';
                for from in 0..=len {
                    let expected = (from <= at).then_some(at);
                    assert_eq!(next_odd_byte(&buf, from), expected, "len {len} at {at}");
                }
            }
        }
        assert_eq!(next_odd_byte(b"abc", 4), None);
    }

    #[test]
    fn records_lines_up_to_the_empty_one() {
        let buf = b"A: b\r\nC: \x01d\nE: f\r\r\n\r\nbody\n";
        let mut lines = Vec::new();
        let end = scan_to_empty_line(buf, &mut Cursor::at_line(0), &mut lines);
        assert_eq!(end, Some(buf.len() - 5));
        let summary: Vec<_> = lines
            .iter()
            .map(|l| (&buf[l.content()], l.bare_lf, l.plain))
            .collect();
        assert_eq!(
            summary,
            [
                (&b"A: b"[..], false, true),
                (&b"C: \x01d"[..], true, false),
                (&b"E: f\r"[..], false, false),
                (&b""[..], false, true),
            ]
        );
    }

    #[test]
    fn resumes_across_reads_with_the_same_result() {
        let buf = b"A: b\r\nC: \x7fd\r\nE: f\r\n\r\n";
        let mut whole = Vec::new();
        let end = scan_to_empty_line(buf, &mut Cursor::at_line(0), &mut whole);
        for split in 0..buf.len() {
            let (mut lines, mut cursor) = (Vec::new(), Cursor::at_line(0));
            assert_eq!(
                scan_to_empty_line(&buf[..split], &mut cursor, &mut lines),
                None
            );
            assert_eq!(scan_to_empty_line(buf, &mut cursor, &mut lines), end);
            assert_eq!(lines, whole, "split at {split}");
        }
    }
}
