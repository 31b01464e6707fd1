//! Escaping raw origin bytes for humans: `\r`, `\n`, `\t`, `\0` and `\xNN` for anything not
//! printable ASCII, so hostile bytes never reach a terminal as-is.

use std::fmt::Write;

/// Escapes `bytes`.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    push_escaped(&mut s, bytes);
    s
}

/// Appends `bytes`, escaped, to `s`.
pub fn push_escaped(s: &mut String, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0 => s.push_str("\\0"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
}

/// Escaped context around a position: `before`, the byte `at` (may be empty at the end) and
/// `after`, each at most `radius` bytes, with `…` marks where the excerpt was cut.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Excerpt {
    /// Bytes before the position.
    pub before: String,
    /// The byte at the position.
    pub at: String,
    /// Bytes after it.
    pub after: String,
}

/// The excerpt of `bytes` around index `pos`.
pub fn excerpt(bytes: &[u8], pos: usize, radius: usize) -> Excerpt {
    let pos = pos.min(bytes.len());
    let start = pos.saturating_sub(radius);
    let end = (pos + 1 + radius).min(bytes.len());
    let mut before = String::new();
    if start > 0 {
        before.push('…');
    }
    push_escaped(&mut before, &bytes[start..pos]);
    let at = escape(&bytes[pos..(pos + 1).min(bytes.len())]);
    let mut after = escape(&bytes[(pos + 1).min(bytes.len())..end]);
    if end < bytes.len() {
        after.push('…');
    }
    Excerpt { before, at, after }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_non_ascii() {
        assert_eq!(
            escape(b"HTTP/1.1 200 OK\r\nX: \x00\xff\\"),
            "HTTP/1.1 200 OK\\r\\nX: \\0\\xff\\\\"
        );
    }

    #[test]
    fn excerpt_marks_cuts() {
        let e = excerpt(b"0123456789", 5, 2);
        assert_eq!(
            (e.before.as_str(), e.at.as_str(), e.after.as_str()),
            ("…34", "5", "67…")
        );
        let e = excerpt(b"ab", 2, 4);
        assert_eq!(
            (e.before.as_str(), e.at.as_str(), e.after.as_str()),
            ("ab", "", "")
        );
    }
}
