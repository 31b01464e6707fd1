//! Byte classes from RFC 9110 §5.6.2 and §5.5, as 256-entry tables.

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
    let mut pos = 0;
    while let Some(word) = bytes.get(pos..pos + 8) {
        let others = not_alnum_or_dash(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        if others != 0 {
            pos += others.trailing_zeros() as usize / 8;
            if !is_token(bytes[pos]) {
                return pos;
            }
            pos += 1;
            continue;
        }
        pos += 8;
    }
    pos + bytes[pos..]
        .iter()
        .position(|&b| !is_token(b))
        .unwrap_or(bytes.len() - pos)
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
/// has a letter (`b | 0x20` equals a lower-case letter only for that letter in either case).
#[inline]
pub fn eq_lower(name: &[u8], lower: &[u8]) -> bool {
    name.len() == lower.len()
        && name.iter().zip(lower).all(|(&b, &c)| {
            let fold = if c.is_ascii_lowercase() { 0x20 } else { 0 };
            b | fold == c
        })
}

/// Is every byte printable ASCII or SP (`0x20..=0x7e`)? Eight bytes at a time: the common case
/// for a field value, so the per-byte classification runs only when this says no.
#[inline]
pub fn is_plain_ascii(bytes: &[u8]) -> bool {
    const LOW: u64 = 0x2020_2020_2020_2020;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte below 0x20 borrows in `x - LOW`; a byte of 0x7f or more sets its high bit in
    // `x + ONES` or in `x` itself.
    let flags = |x: u64| (x.wrapping_sub(LOW) & !x | x.wrapping_add(ONES) | x) & HIGH;
    let word = |c: &[u8]| u64::from_le_bytes(c.try_into().expect("8 bytes"));
    let mut blocks = bytes.chunks_exact(32);
    for b in &mut blocks {
        let any = flags(word(&b[..8]))
            | flags(word(&b[8..16]))
            | flags(word(&b[16..24]))
            | flags(word(&b[24..]));
        if any != 0 {
            return false;
        }
    }
    let mut chunks = blocks.remainder().chunks_exact(8);
    for chunk in &mut chunks {
        if flags(word(chunk)) != 0 {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b))
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
    fn token_table_matches_the_abnf() {
        for b in 0u8..=255 {
            let expected = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_token(b), expected, "byte {b:#04x}");
        }
    }

    #[test]
    fn eq_lower_agrees_with_eq_ignore_ascii_case_for_every_byte() {
        for lower in [&b"content-length"[..], b"x-9_~", b"age"] {
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
            for pos in 0..41 {
                let mut v = vec![b'a'; 41];
                v[pos] = b;
                assert_eq!(
                    is_plain_ascii(&v),
                    (0x20..0x7f).contains(&b),
                    "byte {b:#04x} at {pos}"
                );
            }
        }
        assert!(is_plain_ascii(b""));
    }

    #[test]
    fn trims_only_ows() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"\r a"), b"\r a");
        assert_eq!(trim_ows(b"   "), b"");
    }
}
