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
    fn field_content_excludes_controls_but_not_obs_text() {
        assert!(!is_field_content(0));
        assert!(!is_field_content(b'\r'));
        assert!(!is_field_content(0x7f));
        assert!(is_field_content(b'\t'));
        assert!(is_field_content(0xff));
    }

    #[test]
    fn trims_only_ows() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"\r a"), b"\r a");
        assert_eq!(trim_ows(b"   "), b"");
    }
}
