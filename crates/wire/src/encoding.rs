//! Content-coding checks: does a compressed body fit its Content-Length, and does it decode?
//!
//! Cloudflare documents a 502 for "gzip-encoded compressed content \[that\] fails to update the
//! content-length header" and for "broken gzip compressed content". Each story gets its own
//! finding so the operator knows which of the four it is.

use std::io::{self, Read, Write};

use crate::finding::{Finding, Kind};

/// Decoded output beyond this is not produced (decompression bombs); the check stops there.
pub const MAX_DECODED_BYTES: u64 = 64 * 1024 * 1024;

/// A content coding this module can check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` / `x-gzip`.
    Gzip,
    /// `deflate` (zlib, or raw deflate as some servers send).
    Deflate,
    /// `br`.
    Brotli,
}

impl Coding {
    /// Reads a Content-Encoding value. `Ok(None)` for identity/absent, `Err(name)` for a coding
    /// that is not checked (zstd, stacked codings, unknown).
    pub fn from_header(value: &[u8]) -> Result<Option<Coding>, String> {
        let mut codings = value
            .split(|&b| b == b',')
            .map(crate::bytes::trim_ows)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case(b"identity"));
        let Some(one) = codings.next() else {
            return Ok(None);
        };
        if codings.next().is_some() {
            return Err(String::from_utf8_lossy(value).into_owned());
        }
        match Coding::named(one) {
            Some(coding) => Ok(Some(coding)),
            None => Err(String::from_utf8_lossy(one).into_owned()),
        }
    }

    /// The coding a token names, ASCII case-insensitively.
    fn named(token: &[u8]) -> Option<Coding> {
        const NAMES: [(&[u8], Coding); 4] = [
            (b"gzip", Coding::Gzip),
            (b"x-gzip", Coding::Gzip),
            (b"deflate", Coding::Deflate),
            (b"br", Coding::Brotli),
        ];
        NAMES
            .iter()
            .find(|(name, _)| token.eq_ignore_ascii_case(name))
            .map(|&(_, coding)| coding)
    }

    /// The token as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
        }
    }
}

/// What decoding a body gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// The stream ended properly after this many decoded bytes.
    Complete(u64),
    /// The stream stopped in the middle, after this many decoded bytes.
    Truncated(u64),
    /// The data is not valid for the coding.
    Corrupt,
    /// The decoded output reached [`MAX_DECODED_BYTES`]; nothing more is known.
    Capped,
}

/// Decodes `body` with `coding`, discarding the output but counting it.
pub fn decode(coding: Coding, body: &[u8]) -> Decoded {
    match coding {
        Coding::Gzip => read_all(flate2::read::GzDecoder::new(body)),
        Coding::Deflate => {
            if is_zlib_header(body) {
                read_all(flate2::read::ZlibDecoder::new(body))
            } else {
                read_all(flate2::read::DeflateDecoder::new(body))
            }
        }
        Coding::Brotli => decode_brotli(body),
    }
}

fn read_all(mut r: impl Read) -> Decoded {
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Decoded::Complete(total),
            Ok(n) => {
                total += n as u64;
                if total >= MAX_DECODED_BYTES {
                    return Decoded::Capped;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Decoded::Truncated(total),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Decoded::Corrupt,
        }
    }
}

/// Counts bytes and refuses more than [`MAX_DECODED_BYTES`].
struct CappedCount(u64);

impl Write for CappedCount {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        if self.0 >= MAX_DECODED_BYTES {
            return Err(io::Error::other("decoded output cap reached"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn decode_brotli(body: &[u8]) -> Decoded {
    let mut w = brotli::DecompressorWriter::new(CappedCount(0), 16 * 1024);
    if w.write_all(body).is_err() {
        return if w.get_ref().0 >= MAX_DECODED_BYTES {
            Decoded::Capped
        } else {
            Decoded::Corrupt
        };
    }
    // Every byte was accepted: an error on close means the decoder wanted more input.
    let complete = w.close().is_ok();
    let total = w.get_ref().0;
    if complete {
        Decoded::Complete(total)
    } else {
        Decoded::Truncated(total)
    }
}

fn is_zlib_header(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] & 0x0f == 8 && (u16::from(b[0]) << 8 | u16::from(b[1])) % 31 == 0
}

/// Does the body look like it was never compressed (mostly printable text)?
fn looks_plain(body: &[u8]) -> bool {
    let sample = &body[..body.len().min(512)];
    !sample.is_empty()
        && sample
            .iter()
            .filter(|&&b| b.is_ascii_graphic() || b.is_ascii_whitespace())
            .count()
            * 100
            >= sample.len() * 95
}

/// How the body ended, as far as the encoding story needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEnd {
    /// The framing said the body was complete.
    Complete,
    /// Fewer bytes than Content-Length arrived before the connection ended or stalled.
    ShortOfLength(u64),
    /// Ended some other way (reset in a chunked body, ...): not judged.
    Other,
}

/// Checks a received body against its Content-Encoding. `body_offset` is the stream offset of
/// the first body byte (findings point there: the mismatch is a property of the whole body).
pub fn check(coding: Coding, body: &[u8], end: BodyEnd, body_offset: u64) -> Option<Finding> {
    let name = coding.as_str();
    let not_encoded = match coding {
        Coding::Gzip => body.len() >= 2 && body[..2] != [0x1f, 0x8b],
        _ => false,
    };
    if not_encoded || (matches!(decode(coding, body), Decoded::Corrupt) && looks_plain(body)) {
        return Some(Finding::new(
            Kind::EncodingNotEncoded,
            body_offset..body_offset + body.len() as u64,
            format!("Content-Encoding says {name} but the body is not {name} data (plain bytes)"),
        ));
    }
    let decoded = decode(coding, body);
    let sent = body.len();
    let span = body_offset..body_offset + sent as u64;
    match (end, decoded) {
        (BodyEnd::ShortOfLength(declared), Decoded::Complete(n)) if n == declared => {
            Some(Finding::new(
                Kind::EncodingClIsDecodedLength,
                span,
                format!(
                    "Content-Length {declared} is the decoded size; the {name} body is {sent} bytes"
                ),
            ))
        }
        (BodyEnd::Complete, Decoded::Truncated(n)) => Some(Finding::new(
            Kind::EncodingTruncated,
            span,
            format!(
                "the {name} stream ends early: {sent} bytes decode to {n} and stop mid-stream (Content-Length too small?)"
            ),
        )),
        (BodyEnd::Complete, Decoded::Corrupt) => Some(Finding::new(
            Kind::EncodingCorrupt,
            span,
            format!("the {name} data is corrupt"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn br(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            w.write_all(data).unwrap();
        }
        out
    }

    #[test]
    fn reads_content_encoding() {
        assert_eq!(Coding::from_header(b"GZIP"), Ok(Some(Coding::Gzip)));
        assert_eq!(Coding::from_header(b" br "), Ok(Some(Coding::Brotli)));
        assert_eq!(Coding::from_header(b"identity"), Ok(None));
        assert_eq!(Coding::from_header(b"zstd"), Err("zstd".into()));
        assert!(Coding::from_header(b"gzip, br").is_err());
        assert_eq!(Coding::from_header(b"X-Gzip"), Ok(Some(Coding::Gzip)));
        assert_eq!(
            Coding::from_header(b"identity, Deflate"),
            Ok(Some(Coding::Deflate))
        );
        assert_eq!(Coding::from_header(b", ,"), Ok(None));
        assert_eq!(Coding::from_header(b"gzip, zstd"), Err("gzip, zstd".into()));
    }

    #[test]
    fn decodes_complete_truncated_and_corrupt_streams() {
        let text: Vec<u8> = (0..3000u32)
            .flat_map(|i| format!("{} ", i * 7919 % 10007).into_bytes())
            .collect();
        for (coding, data) in [(Coding::Gzip, gzip(&text)), (Coding::Brotli, br(&text))] {
            assert_eq!(decode(coding, &data), Decoded::Complete(text.len() as u64));
            assert!(matches!(
                decode(coding, &data[..data.len() / 2]),
                Decoded::Truncated(_)
            ));
            let mut bad = data.clone();
            for b in &mut bad[10..20] {
                *b ^= 0x5a;
            }
            assert!(matches!(
                decode(coding, &bad),
                Decoded::Corrupt | Decoded::Truncated(_)
            ));
        }
    }

    #[test]
    fn the_four_stories() {
        let text = b"<html>".repeat(200);
        let gz = gzip(&text);
        let f = check(
            Coding::Gzip,
            &gz,
            BodyEnd::ShortOfLength(text.len() as u64),
            100,
        )
        .unwrap();
        assert_eq!(f.id, Kind::EncodingClIsDecodedLength);
        assert_eq!(f.offset, 100);
        let f = check(Coding::Gzip, &gz[..gz.len() - 10], BodyEnd::Complete, 0).unwrap();
        assert_eq!(f.id, Kind::EncodingTruncated);
        let f = check(Coding::Gzip, b"plain text body", BodyEnd::Complete, 0).unwrap();
        assert_eq!(f.id, Kind::EncodingNotEncoded);
        let mut bad = gz.clone();
        for b in &mut bad[12..30] {
            *b = 0xff;
        }
        let f = check(Coding::Gzip, &bad, BodyEnd::Complete, 0).unwrap();
        assert!(
            matches!(f.id, Kind::EncodingCorrupt | Kind::EncodingTruncated),
            "{f:?}"
        );
        assert_eq!(check(Coding::Gzip, &gz, BodyEnd::Complete, 0), None);
    }
}
