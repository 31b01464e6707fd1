//! The HTTP/2 listeners' side of a connection, written frame by frame so that each one can
//! break the protocol in exactly one way.
//!
//! Every h2 case advertises `h2, http/1.1` by ALPN. When the client picks `h2`, [`serve`] reads
//! the client preface and answers as the case says: in HTTP/1.1, with a first frame that is not
//! SETTINGS, with a frame no HTTP/2 peer may send (DATA on stream 0), with GOAWAY
//! PROTOCOL_ERROR, with RST_STREAM REFUSED_STREAM, or with a clean `200`.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::tls::TlsCase;

/// How long the client may stay silent.
const IDLE: Duration = Duration::from_secs(30);
/// The client connection preface (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Largest frame payload read from the client (the default SETTINGS_MAX_FRAME_SIZE).
const MAX_PAYLOAD: usize = 16_384;
/// Frames read from one client before giving up on it.
const MAX_FRAMES: usize = 256;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PROTOCOL_ERROR: u32 = 0x1;
const REFUSED_STREAM: u32 = 0x7;

/// What an h1-only server answers to the client preface (`PRI * HTTP/2.0`).
const HTTP1_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\nServer: originlens-lab\r\n\
Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nbad request\n";

/// One frame: the 9-byte header and the payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len().min(0xff_ffff) as u32;
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(&payload[..len as usize]);
    out
}

/// A literal header field without indexing, its name from the HPACK static table.
fn literal(static_index: u8, value: &str, out: &mut Vec<u8>) {
    // 4-bit prefix: indexes from 15 up continue in the next byte.
    if static_index < 15 {
        out.push(static_index);
    } else {
        out.push(0x0f);
        out.push(static_index - 15);
    }
    // Plain (not Huffman) strings shorter than 127 bytes fit the 7-bit prefix.
    out.push(value.len().min(126) as u8);
    out.extend_from_slice(&value.as_bytes()[..value.len().min(126)]);
}

/// The `200` response: HEADERS then DATA with END_STREAM on `stream`.
fn ok_response(stream: u32, case: TlsCase) -> Vec<u8> {
    let body = format!("ok: h2 case {}\n", case.name());
    // `:status: 200` is static entry 8; content-type is 31, content-length 28.
    let mut block = vec![0x88];
    literal(31, "text/plain", &mut block);
    literal(28, &body.len().to_string(), &mut block);
    let mut out = frame(HEADERS, END_HEADERS, stream, &block);
    out.extend(frame(DATA, END_STREAM, stream, body.as_bytes()));
    out
}

/// Reads exactly `n` bytes, or `None` when the client closes, errs or stays silent.
async fn read_n<S: AsyncRead + Unpin>(stream: &mut S, n: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; n];
    match tokio::time::timeout(IDLE, stream.read_exact(&mut buf)).await {
        Ok(Ok(_)) => Some(buf),
        _ => None,
    }
}

/// Reads one frame: type, flags, stream and payload.
async fn read_frame<S: AsyncRead + Unpin>(stream: &mut S) -> Option<(u8, u8, u32, Vec<u8>)> {
    let head = read_n(stream, 9).await?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    if len > MAX_PAYLOAD {
        return None;
    }
    let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    let payload = read_n(stream, len).await?;
    Some((head[3], head[4], id, payload))
}

/// Serves one connection on which the client agreed `h2`.
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(case: TlsCase, mut stream: S) {
    let Some(preface) = read_n(&mut stream, PREFACE.len()).await else {
        return;
    };
    if case == TlsCase::H2SpeaksHttp1 {
        // An HTTP/1-only server reads `PRI * HTTP/2.0` as a request it does not understand.
        let _ = stream.write_all(HTTP1_ANSWER).await;
        let _ = stream.shutdown().await;
        return;
    }
    if preface != PREFACE {
        return;
    }
    let first = if case == TlsCase::H2BadPreface {
        // A DATA frame on stream 0 where the SETTINGS frame must be.
        frame(DATA, 0, 0, b"not settings")
    } else {
        frame(SETTINGS, 0, 0, &[])
    };
    if stream.write_all(&first).await.is_err() {
        return;
    }
    let mut request_block_done = false;
    for _ in 0..MAX_FRAMES {
        let Some((kind, flags, id, _payload)) = read_frame(&mut stream).await else {
            break;
        };
        let reply = match kind {
            SETTINGS if flags & ACK == 0 => frame(SETTINGS, ACK, 0, &[]),
            HEADERS | CONTINUATION if id != 0 && !request_block_done => {
                if flags & END_HEADERS == 0 {
                    continue;
                }
                request_block_done = true;
                match case {
                    TlsCase::H2GarbageFrames => frame(DATA, 0, 0, b"garbage"),
                    TlsCase::H2Goaway => {
                        let mut p = Vec::new();
                        p.extend_from_slice(&0u32.to_be_bytes());
                        p.extend_from_slice(&PROTOCOL_ERROR.to_be_bytes());
                        p.extend_from_slice(b"originlens-lab: protocol error");
                        frame(GOAWAY, 0, 0, &p)
                    }
                    TlsCase::H2RefusedStream => {
                        frame(RST_STREAM, 0, id, &REFUSED_STREAM.to_be_bytes())
                    }
                    _ => ok_response(id, case),
                }
            }
            GOAWAY => break,
            _ => continue,
        };
        if stream.write_all(&reply).await.is_err() {
            return;
        }
        if case == TlsCase::H2Goaway && request_block_done {
            break;
        }
    }
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_literals_are_encoded_by_the_rfc() {
        assert_eq!(frame(SETTINGS, ACK, 0, &[]), [0, 0, 0, 4, 1, 0, 0, 0, 0]);
        let rst = frame(RST_STREAM, 0, 1, &REFUSED_STREAM.to_be_bytes());
        assert_eq!(rst, [0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 7]);
        let mut block = Vec::new();
        literal(28, "12", &mut block);
        assert_eq!(block, [0x0f, 0x0d, 2, b'1', b'2']);
        let ok = ok_response(1, TlsCase::H2Valid);
        assert_eq!(&ok[3..5], &[HEADERS, END_HEADERS]);
    }
}
