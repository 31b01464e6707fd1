//! A look at the visitor's raw request heads before hyper parses them.
//!
//! hyper repairs two smuggling vectors silently instead of refusing them: with both
//! `Content-Length` and `Transfer-Encoding` it drops the length (and closes after the
//! response), and a second identical `Content-Length` is dropped. The request hyper hands over
//! then looks clean. The edge must answer 400 to both, so this wrapper reads along: it finds
//! each request head in the byte stream, counts the framing fields, skips the body by the same
//! rules, and queues one verdict per request for [`crate::proxy`] to take in order.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use originlens_wire::chunked::ChunkedDecoder;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::request::Refusal;

/// Heads longer than this are left to hyper (which refuses them itself).
const MAX_HEAD: usize = 64 * 1024;

/// Verdicts of the requests seen so far, oldest first; `None` for a clean head.
pub type Verdicts = Arc<Mutex<VecDeque<Option<Refusal>>>>;

#[derive(Debug)]
enum State {
    /// Looking for the next head; a head split over reads is gathered in `Sniff::head`.
    Head,
    Length(u64),
    Chunked(Box<ChunkedDecoder>),
    /// Not HTTP/1 any more (h2, or the scanner lost track): nothing is queued.
    Off,
}

/// A stream that reads along.
#[derive(Debug)]
pub struct Sniff<S> {
    inner: S,
    state: State,
    /// The start of a head that did not arrive in one read (empty otherwise: a head that
    /// arrives whole is judged where it lies, without copying).
    head: Vec<u8>,
    verdicts: Verdicts,
}

impl<S> Sniff<S> {
    /// Wraps `inner`; verdicts go to the returned queue.
    pub fn new(inner: S) -> (Sniff<S>, Verdicts) {
        let verdicts = Verdicts::default();
        (
            Sniff {
                inner,
                state: State::Head,
                head: Vec::new(),
                verdicts: verdicts.clone(),
            },
            verdicts,
        )
    }

    fn scan(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Off => return,
                State::Length(left) => {
                    let take = (*left).min(bytes.len() as u64);
                    *left -= take;
                    bytes = &bytes[take as usize..];
                    if *left == 0 {
                        self.state = State::Head;
                    }
                }
                State::Chunked(dec) => {
                    let used = dec.feed(bytes, 0, &mut |_| {}, &mut Vec::new());
                    bytes = &bytes[used..];
                    if dec.is_done() {
                        self.state = State::Head;
                    } else if dec.is_failed() {
                        self.state = State::Off;
                    }
                }
                State::Head => {
                    let gathered = !self.head.is_empty();
                    let before = self.head.len();
                    let buf: &[u8] = if gathered {
                        self.head.extend_from_slice(bytes);
                        &self.head
                    } else {
                        bytes
                    };
                    if buf.starts_with(b"PRI * HTTP/2.0") || buf.len() > MAX_HEAD {
                        self.state = State::Off;
                        self.head = Vec::new();
                        return;
                    }
                    // Empty lines between requests are allowed (RFC 9112 §2.2).
                    let lead = buf
                        .iter()
                        .take_while(|&&b| b == b'\r' || b == b'\n')
                        .count();
                    let Some(end) = find_head_end(&buf[lead..]).map(|e| e + lead) else {
                        if gathered {
                            if lead == self.head.len() {
                                self.head.clear();
                            }
                        } else if lead < bytes.len() {
                            self.head.extend_from_slice(bytes);
                        }
                        return;
                    };
                    let (verdict, next) = judge_head(&buf[lead..end]);
                    self.verdicts
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push_back(verdict);
                    let consumed = end - before;
                    bytes = &bytes[consumed.min(bytes.len())..];
                    self.head.clear();
                    self.state = next;
                }
            }
        }
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(lf) = buf[i..].iter().position(|&b| b == b'\n') {
        let at = i + lf;
        let next = &buf[at + 1..];
        if next.starts_with(b"\r\n") {
            return Some(at + 3);
        }
        if next.starts_with(b"\n") {
            return Some(at + 2);
        }
        i = at + 1;
    }
    None
}

/// Counts the framing fields of one head; the next state skips its body.
fn judge_head(head: &[u8]) -> (Option<Refusal>, State) {
    let mut cl = Vec::new();
    let mut te = 0;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &line[..colon];
        let name = originlens_wire::bytes::trim_ows(name);
        let value = originlens_wire::bytes::trim_ows(
            line[colon + 1..]
                .strip_suffix(b"\r")
                .unwrap_or(&line[colon + 1..]),
        );
        if name.eq_ignore_ascii_case(b"content-length") {
            cl.push(value);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            te += 1;
        }
    }
    let verdict = if !cl.is_empty() && te > 0 {
        Some(Refusal::ClAndTe)
    } else if cl.len() > 1 {
        Some(Refusal::ClDuplicate)
    } else {
        None
    };
    let next = if verdict.is_some() {
        // hyper refuses or closes after such a request; nothing more is scanned.
        State::Off
    } else if te > 0 {
        State::Chunked(Box::default())
    } else if let Some(n) = cl
        .first()
        .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
    {
        if n == 0 {
            State::Head
        } else {
            State::Length(n)
        }
    } else if cl.is_empty() {
        State::Head
    } else {
        State::Off
    };
    (verdict, next)
}

impl<S: AsyncRead + Unpin> AsyncRead for Sniff<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            this.scan(&buf.filled()[before..]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Sniff<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(stream: &[u8], split: usize) -> Vec<Option<Refusal>> {
        let (mut s, v) = Sniff::new(());
        for part in stream.chunks(split) {
            s.scan(part);
        }
        let v = v.lock().unwrap();
        v.iter().copied().collect()
    }

    #[test]
    fn one_verdict_per_pipelined_request_in_any_split() {
        let stream = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
            POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
            POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
            POST /d HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nx\
            GET /never HTTP/1.1\r\n\r\n";
        for split in [1, 7, stream.len()] {
            assert_eq!(
                verdicts(stream, split),
                [None, None, None, Some(Refusal::ClDuplicate)],
                "split {split}"
            );
        }
        let both = b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(verdicts(both, 3), [Some(Refusal::ClAndTe)]);
        assert_eq!(verdicts(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 4), []);
    }
}
