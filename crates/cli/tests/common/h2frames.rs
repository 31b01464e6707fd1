//! Raw HTTP/2 frames for tests that must send what a well-behaved client would not: any bytes
//! in a field, a stream that stops, a window that never opens.

use std::io::{self, Read};

/// Frame types (RFC 9113 §6).
pub const DATA: u8 = 0;
pub const HEADERS: u8 = 1;
pub const RST_STREAM: u8 = 3;
pub const SETTINGS: u8 = 4;
pub const PING: u8 = 6;
pub const GOAWAY: u8 = 7;
/// Flags.
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A frame as read.
#[derive(Debug)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The `:status` of a HEADERS frame, its padding and priority skipped.
    pub fn status(&self) -> Result<u16, String> {
        let mut block = &self.payload[..];
        if self.flags & 0x8 != 0 {
            let pad = usize::from(*block.first().ok_or("an empty padded HEADERS")?);
            block = block
                .get(1..block.len().saturating_sub(pad))
                .ok_or("padding longer than the frame")?;
        }
        if self.flags & 0x20 != 0 {
            block = block.get(5..).ok_or("a short priority")?;
        }
        status_of(block).ok_or_else(|| format!("an unreadable :status in {}", block.escape_ascii()))
    }
}

/// The next frame from `s`.
pub fn read_frame(s: &mut impl Read) -> io::Result<Frame> {
    let mut head = [0u8; 9];
    s.read_exact(&mut head)?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload)?;
    Ok(Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    })
}

/// A SETTINGS payload.
pub fn settings(values: &[(u16, u32)]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|(id, v)| id.to_be_bytes().into_iter().chain(v.to_be_bytes()))
        .collect()
}

/// An h2 frame header and payload.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An HPACK integer with an `n`-bit prefix (RFC 7541 §5.1) after `first`'s high bits.
fn hpack_int(out: &mut Vec<u8>, first: u8, n: u32, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

/// Fields as HPACK literals without indexing, names and values raw (no Huffman), so that any
/// byte the vector holds goes out as it is.
pub fn header_block(fields: &[&[u8]]) -> Vec<u8> {
    let mut block = Vec::new();
    for f in fields {
        // `:method: GET` splits at the first colon after the first byte.
        let at = f[1..].iter().position(|&b| b == b':').map(|p| p + 1);
        let (name, value) = match at {
            Some(p) => (
                &f[..p],
                f[p + 1..].strip_prefix(b" ").unwrap_or(&f[p + 1..]),
            ),
            None => (&f[..], &b""[..]),
        };
        block.push(0);
        hpack_int(&mut block, 0, 7, name.len());
        block.extend_from_slice(name);
        hpack_int(&mut block, 0, 7, value.len());
        block.extend_from_slice(value);
    }
    block
}

/// The status of the first field of a response header block: indexed from the static table,
/// or a literal with `:status`'s name whose value may be Huffman-coded digits.
fn status_of(block: &[u8]) -> Option<u16> {
    let first = *block.first()?;
    if first & 0x80 != 0 {
        let statuses = [200, 204, 206, 304, 400, 404, 500];
        return statuses
            .get(usize::from(first & 0x7f).checked_sub(8)?)
            .copied();
    }
    let index = if first & 0xc0 == 0x40 {
        first & 0x3f
    } else {
        first & 0x0f
    };
    if !(8..=14).contains(&index) {
        return None;
    }
    let len = usize::from(block.get(1)? & 0x7f);
    let value = block.get(2..2 + len)?;
    if block[1] & 0x80 == 0 {
        return std::str::from_utf8(value).ok()?.parse().ok();
    }
    // Huffman: 0-2 have 5-bit codes 00000..00010, 3-9 6-bit codes 011001..011111.
    let bits: Vec<u8> = value
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    let take = |at: usize, n: usize| {
        bits.get(at..at + n)
            .map(|b| b.iter().fold(0u8, |v, &bit| v << 1 | bit))
    };
    let (mut at, mut code) = (0, 0u16);
    for _ in 0..3 {
        let five = take(at, 5)?;
        let digit = if five < 3 {
            at += 5;
            five
        } else {
            let six = take(at, 6)?;
            at += 6;
            (0x19..=0x1f).contains(&six).then(|| six - 0x19 + 3)?
        };
        code = code * 10 + u16::from(digit);
    }
    Some(code)
}
