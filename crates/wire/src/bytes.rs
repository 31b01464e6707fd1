//! Byte classes from RFC 9110 §5.6.2 and §5.5, as 256-entry tables.

use crate::simd::{odd_mask, skip_plain_64, LANES};

macro_rules! byte_map {
    ($($pat:pat_param)|+) => {{
        let mut map = [false; 256];
        let mut i = 0;
        while i < 256 {
            map[i] = matches!(i as u8, $($pat)|+);
            i += 1;
        }
        map
    }};
}

/// `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" /
/// "~" / DIGIT / ALPHA` (RFC 9110 §5.6.2).
static TOKEN: [bool; 256] = byte_map!(
    b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z'
);

/// Bytes that may appear in a field value or reason phrase: VCHAR, obs-text, SP, HTAB.
static FIELD_CONTENT: [bool; 256] = byte_map!(b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff);

/// Is `b` a `tchar`?
#[inline]
pub fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// Is `b` allowed in a field value (`field-content`, plus SP/HTAB between words)?
#[inline]
pub fn is_field_content(b: u8) -> bool {
    FIELD_CONTENT[b as usize]
}

/// How many bytes at the start of `bytes` are `tchar`s. Names are mostly letters, digits and
/// `-`: those are recognised eight at a time, the other `tchar`s one by one. Not fewer
/// instructions than a table loop, but one or two loop exits per name instead of a branch per
/// byte, and the exit at the colon is the branch a table loop mispredicts.
#[inline]
pub fn token_prefix_len(bytes: &[u8]) -> usize {
    token_prefix_len_in(bytes, 0, bytes.len())
}

/// How many bytes of `buf[start..end]` from its start are `tchar`s, reading `buf` (not only the
/// range) eight bytes at a time: a short name followed by more bytes in `buf` is then still one
/// word, not a loop over its bytes. Nothing past `end` counts.
#[inline]
pub fn token_prefix_len_in(buf: &[u8], start: usize, end: usize) -> usize {
    let mut pos = start;
    while pos < end {
        let Some(word) = buf.get(pos..pos + 8) else {
            break;
        };
        let others = not_alnum_or_dash(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        if others == 0 {
            pos += 8;
            continue;
        }
        pos += others.trailing_zeros() as usize / 8;
        if pos >= end || !is_token(buf[pos]) {
            return pos.min(end) - start;
        }
        pos += 1;
    }
    while pos < end && is_token(buf[pos]) {
        pos += 1;
    }
    pos.min(end) - start
}

/// The high bit of each byte of `x` that is not an ASCII letter, digit or `-`. Exact per byte:
/// the range tests add to the low seven bits only, so no carry crosses into the next byte.
#[inline]
fn not_alnum_or_dash(x: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const CASE: u64 = 0x2020_2020_2020_2020;
    let each = |b: u8| u64::from_le_bytes([b; 8]);
    // High bit set where `lo <= v <= hi`, for seven-bit bytes `v`.
    let within = |v: u64, lo: u8, hi: u8| {
        v.wrapping_add(each(0x80 - lo)) & !v.wrapping_add(each(0x7f - hi)) & HIGH
    };
    let low = x & LOW7;
    let letter = within(low | CASE, b'a', b'z');
    let digit = within(low, b'0', b'9');
    let dash = within(low, b'-', b'-');
    !(letter | digit | dash) & HIGH | x & HIGH
}

/// Does `name` equal `lower`, a lower-case ASCII name, ignoring ASCII case? Cheaper than
/// `eq_ignore_ascii_case` on the hot name checks: only `name` is folded, and only where `lower`
/// has a letter (`b | 0x20` equals a lower-case letter only for that letter in either case);
/// names of eight bytes or more are compared a word at a time, the last word overlapping.
#[inline]
pub fn eq_lower(name: &[u8], lower: &[u8]) -> bool {
    let n = name.len();
    if n != lower.len() {
        return false;
    }
    if n < 8 {
        return name.iter().zip(lower).all(|(&b, &c)| {
            let fold = if c.is_ascii_lowercase() { 0x20 } else { 0 };
            b | fold == c
        });
    }
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let same = |i: usize| {
        let l = word(lower, i);
        word(name, i) | lower_letters(l) >> 2 == l
    };
    let mut i = 0;
    while i + 8 < n {
        if !same(i) {
            return false;
        }
        i += 8;
    }
    same(n - 8)
}

/// The high bit of each byte of `x` that is a lower-case ASCII letter. Exact per byte, as in
/// [`not_alnum_or_dash`].
#[inline]
fn lower_letters(x: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let each = |b: u8| u64::from_le_bytes([b; 8]);
    let low = x & LOW7;
    low.wrapping_add(each(0x80 - b'a')) & !low.wrapping_add(each(0x7f - b'z')) & !x & HIGH
}

/// Is every byte printable ASCII or SP (`0x20..=0x7e`)? The common case for a field value, so
/// the per-byte classification runs only when this says no. Whole blocks are checked 32 and 16
/// bytes at a time in a shape the compiler turns into vector compares; the rest of a value is
/// covered by blocks or words that overlap what was already checked, so no byte is looked at one
/// by one unless the value is shorter than four bytes.
#[inline]
pub fn is_plain_ascii(bytes: &[u8]) -> bool {
    let n = bytes.len();
    if n >= 16 {
        let mut i = 0;
        while i + 32 <= n {
            if block_has_odd_byte::<32>(bytes[i..i + 32].try_into().expect("32 bytes")) {
                return false;
            }
            i += 32;
        }
        if i + 16 < n && block_has_odd_byte::<16>(bytes[i..i + 16].try_into().expect("16 bytes")) {
            return false;
        }
        return i == n || !block_has_odd_byte::<16>(bytes[n - 16..].try_into().expect("16 bytes"));
    }
    if n >= 8 {
        let word = |c: &[u8]| u64::from_le_bytes(c.try_into().expect("8 bytes"));
        return odd_bytes(word(&bytes[..8])) | odd_bytes(word(&bytes[n - 8..])) == 0;
    }
    if n >= 4 {
        let half = |c: &[u8]| u32::from_le_bytes(c.try_into().expect("4 bytes")) as u64;
        // The high half of the word is made of spaces, which are plain.
        let word = |h: u64| h | 0x2020_2020_0000_0000;
        return odd_bytes(word(half(&bytes[..4]))) | odd_bytes(word(half(&bytes[n - 4..]))) == 0;
    }
    bytes.iter().all(|&b| !is_odd_byte(b))
}

/// The first byte at or after `from` outside `0x20..=0x7e`: the end of a plain line (its CR or
/// LF), or the first byte the parser must look at. Sixteen bytes a step, a bit mask each; a line
/// longer than 64 bytes (most end before) goes on in [`first_odd_byte_far`]. The last step takes
/// the last sixteen bytes of `bytes`, overlapping what was looked at, instead of a byte loop.
#[inline]
pub(crate) fn first_odd_byte(bytes: &[u8], from: usize) -> Option<usize> {
    let n = bytes.len();
    let mut i = from;
    for _ in 0..4 {
        if i + LANES > n {
            return last_odd_byte(bytes, i);
        }
        if let Some(at) = odd_in_block(bytes, i) {
            return Some(at);
        }
        i += LANES;
    }
    first_odd_byte_far(bytes, i)
}

/// [`first_odd_byte`] past the first 64 bytes of a line: whole 64-byte blocks skipped
/// ([`skip_plain_64`]: four compares and one mask each, or two with AVX2), then 16 bytes a
/// step. Out of line, so that the short lines' loop keeps its registers.
#[inline(never)]
fn first_odd_byte_far(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = skip_plain_64(bytes, from);
    while i + LANES <= bytes.len() {
        if let Some(at) = odd_in_block(bytes, i) {
            return Some(at);
        }
        i += LANES;
    }
    last_odd_byte(bytes, i)
}

/// The first odd byte of the 16 bytes of `bytes` from `i`, if there is one.
#[inline(always)]
fn odd_in_block(bytes: &[u8], i: usize) -> Option<usize> {
    let odd = odd_mask(block(bytes, i));
    (odd != 0).then(|| i + odd.trailing_zeros() as usize)
}

/// The 16 bytes of `bytes` from `i`.
#[inline(always)]
fn block(bytes: &[u8], i: usize) -> &[u8; LANES] {
    bytes[i..i + LANES].try_into().expect("16 bytes")
}

/// [`first_odd_byte`] for the fewer than 16 bytes left from `i`: the last 16 bytes of `bytes`
/// when there are that many, else a byte at a time.
#[inline(always)]
fn last_odd_byte(bytes: &[u8], i: usize) -> Option<usize> {
    let n = bytes.len();
    if i >= n {
        return None;
    }
    if n >= LANES {
        let last = n - LANES;
        let odd = odd_mask(block(bytes, last)) >> (i - last);
        return (odd != 0).then(|| i + odd.trailing_zeros() as usize);
    }
    bytes[i..]
        .iter()
        .position(|&b| is_odd_byte(b))
        .map(|p| i + p)
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

/// The high bit of each byte of `x` that is outside `0x20..=0x7e`. Exact per byte: the sums
/// work on the low seven bits only, so no carry crosses into the next byte.
#[inline]
fn odd_bytes(x: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let low = x & LOW7;
    let at_least_space = low + 0x6060_6060_6060_6060;
    let del = low + 0x0101_0101_0101_0101;
    (x | !at_least_space | del) & HIGH
}

/// Optional whitespace: SP or HTAB.
#[inline]
pub fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Trims SP and HTAB on both sides.
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_ows(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_ows(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_odd_byte_finds_the_first_byte_outside_printable_ascii() {
        for len in 0..100 {
            for odd_at in 0..=len {
                for odd in [0x00, b'\t', b'\r', b'\n', 0x1f, 0x7f, 0x80, 0xff] {
                    // Printable neighbours at both ends of the range.
                    let mut buf: Vec<u8> = (0..len).map(|i| [0x20, 0x7e, b'a'][i % 3]).collect();
                    if odd_at < len {
                        buf[odd_at] = odd;
                    }
                    for from in 0..=len + 1 {
                        let expected = (from <= odd_at && odd_at < len).then_some(odd_at);
                        assert_eq!(
                            first_odd_byte(&buf, from),
                            expected,
                            "len {len} odd {odd:#04x} at {odd_at} from {from}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn first_odd_byte_finds_it_past_skipped_64_byte_blocks() {
        for len in (96..300).step_by(7) {
            for odd_at in 0..=len {
                let mut buf = vec![b'~'; len];
                if odd_at < len {
                    buf[odd_at] = b'\r';
                }
                for from in [0, 1, 16, 31, 32, 33, 95, 96, 97, len - 1, len] {
                    let expected = (from <= odd_at && odd_at < len).then_some(odd_at);
                    assert_eq!(
                        first_odd_byte(&buf, from),
                        expected,
                        "len {len} at {odd_at}"
                    );
                }
            }
        }
    }

    #[test]
    fn token_table_matches_the_abnf() {
        for b in 0u8..=255 {
            let expected = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_token(b), expected, "byte {b:#04x}");
        }
    }

    #[test]
    fn eq_lower_agrees_with_eq_ignore_ascii_case_for_every_byte() {
        for lower in [
            &b"content-length"[..],
            b"x-9_~",
            b"age",
            b"last-modified",
            b"transfer-encoding",
            b"location",
            b"content-location",
        ] {
            for b in 0u8..=255 {
                for pos in 0..lower.len() {
                    let mut name = lower.to_ascii_uppercase();
                    name[pos] = b;
                    assert_eq!(
                        eq_lower(&name, lower),
                        name.eq_ignore_ascii_case(lower),
                        "{name:02x?}"
                    );
                }
            }
            assert!(!eq_lower(&lower[1..], lower));
        }
    }

    #[test]
    fn token_prefix_agrees_with_the_table_for_every_byte_at_every_place() {
        for b in 0u8..=255 {
            for fill in [b'a', b'Z', b'0', b'-', b'~', 0x00, 0x7f, 0xff] {
                for len in [1, 7, 8, 9, 16, 17, 23] {
                    for pos in 0..len {
                        let mut name = vec![fill; len];
                        name[pos] = b;
                        let expected = name.iter().position(|&b| !is_token(b)).unwrap_or(len);
                        assert_eq!(token_prefix_len(&name), expected, "{name:02x?}");
                    }
                }
            }
        }
    }

    #[test]
    fn token_prefix_in_a_range_stops_at_its_end() {
        let buf = b"Name: v\r\nabcdefghijklmnop";
        for end in 0..buf.len() {
            let expected = buf[..end].iter().position(|&b| !is_token(b)).unwrap_or(end);
            assert_eq!(token_prefix_len_in(buf, 0, end), expected, "end {end}");
        }
        let tokens = b"abcdefghijklmnopqrstuvwxyz";
        for start in 0..tokens.len() {
            for end in start..=tokens.len() {
                assert_eq!(token_prefix_len_in(tokens, start, end), end - start);
            }
        }
        assert_eq!(token_prefix_len_in(b"ab~cd:ef", 1, 8), 4);
    }

    #[test]
    fn token_prefix_stops_at_the_first_non_tchar() {
        assert_eq!(token_prefix_len(b""), 0);
        assert_eq!(token_prefix_len(b"Content-Type: text/html"), 12);
        assert_eq!(token_prefix_len(b"X_Weird.Name~1:"), 14);
        assert_eq!(token_prefix_len(b"Name"), 4);
    }

    #[test]
    fn field_content_excludes_controls_but_not_obs_text() {
        assert!(!is_field_content(0));
        assert!(!is_field_content(b'\r'));
        assert!(!is_field_content(0x7f));
        assert!(is_field_content(b'\t'));
        assert!(is_field_content(0xff));
    }

    #[test]
    fn plain_ascii_fast_path_agrees_with_the_byte_rule() {
        for b in 0u8..=255 {
            for len in 1..=70 {
                for pos in 0..len {
                    let mut v = vec![b'a'; len];
                    v[pos] = b;
                    assert_eq!(
                        is_plain_ascii(&v),
                        (0x20..0x7f).contains(&b),
                        "byte {b:#04x} at {pos} of {len}"
                    );
                }
            }
        }
        assert!(is_plain_ascii(b""));
        assert!(is_plain_ascii(&[b'~'; 70]));
    }

    #[test]
    fn odd_byte_flags_are_exact_for_every_byte_at_every_place() {
        for b in 0u8..=255 {
            for place in 0..8 {
                // Neighbours that would catch a carry or borrow: the extremes of each class.
                for fill in [0x00, 0x1f, 0x20, 0x7e, 0x7f, 0xff] {
                    let mut bytes = [fill; 8];
                    bytes[place] = b;
                    let flags = odd_bytes(u64::from_le_bytes(bytes));
                    for (i, &byte) in bytes.iter().enumerate() {
                        let flagged = flags >> (i * 8 + 7) & 1 == 1;
                        let odd = !(0x20..0x7f).contains(&byte);
                        assert_eq!(flagged, odd, "{bytes:02x?} byte {i}");
                        assert_eq!(is_odd_byte(byte), odd, "{byte:#04x}");
                    }
                }
            }
        }
    }

    #[test]
    fn trims_only_ows() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"\r a"), b"\r a");
        assert_eq!(trim_ows(b"   "), b"");
    }
}
