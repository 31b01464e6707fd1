//! One request/response exchange on an origin connection: every read goes into
//! `originlens_wire::Reader` (which judges the bytes), and the body's data bytes are cut out of
//! the same reads for forwarding. This is the only place where a read's `io::Error` becomes a
//! reader event ([`read_end`]); the edge, the probe and the keep-alive checks all read here.
//!
//! The reader keeps no body data, so the exchange frames the body a second time, from the
//! reader's own decision: `Content-Length` bytes, the chunk data of a chunked body (with the
//! wire crate's decoder), or everything until close. The reader stays the judge: when it calls
//! the response done, the exchange stops, whatever the second decoder thinks.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use originlens_wire::{End, Reader, ReaderOptions};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::Sleep;

use crate::dial::Stream;

/// Size of one read from the origin.
const READ_SIZE: usize = 16 * 1024;
/// Reads at most made by [`Exchange::linger`] (16 MiB of excess bytes).
const LINGER_READS: usize = 1024;

/// The per-connection read buffer and read timer, kept with a pooled connection so that a
/// reused connection allocates neither again.
pub struct Scratch {
    buf: Box<[u8]>,
    sleep: Pin<Box<Sleep>>,
    /// The evidence buffer, emptied; its room is kept up to [`READ_SIZE`].
    capture: Vec<u8>,
    /// The body data buffer, emptied; its room is kept up to [`READ_SIZE`].
    pending: Vec<u8>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch").finish_non_exhaustive()
    }
}

impl Scratch {
    /// A fresh buffer and timer (the timer is set when an exchange starts).
    pub fn new(read_timeout: Duration) -> Scratch {
        Scratch {
            buf: vec![0u8; READ_SIZE].into_boxed_slice(),
            sleep: Box::pin(tokio::time::sleep(read_timeout)),
            capture: Vec::new(),
            pending: Vec::new(),
        }
    }
}

/// An exchange in progress.
pub struct Exchange {
    /// The connection (taken back for the pool once the exchange is complete).
    pub conn: Stream,
    /// The judge of the bytes.
    pub reader: Reader,
    sent: Instant,
    read_timeout: Duration,
    /// Fires no later than `last_progress + read_timeout`, maybe earlier: it is only moved when
    /// it fires, so that a read costs no timer update.
    sleep: Pin<Box<Sleep>>,
    /// When the request was written or the origin last sent bytes.
    last_progress: tokio::time::Instant,
    buf: Box<[u8]>,
    fed: u64,
    capture: Vec<u8>,
    capture_limit: usize,
    /// Body data cut out of the reads, not yet forwarded.
    pending: Vec<u8>,
    /// A handshake failure the first read revealed (TLS 1.3 client authentication).
    late_handshake: Option<crate::HandshakeFailure>,
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("fed", &self.fed)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Exchange {
    /// Starts reading on `conn`, with the buffer and timer of its last exchange if it had one;
    /// the request was written at `sent`. The first `capture_limit` bytes of the stream are kept
    /// as evidence.
    pub fn new(
        conn: Stream,
        scratch: Option<Scratch>,
        opts: ReaderOptions,
        sent: Instant,
        read_timeout: Duration,
        capture_limit: usize,
    ) -> Exchange {
        let Scratch {
            buf,
            sleep,
            capture,
            pending,
        } = match scratch {
            Some(mut s) => {
                // Only a timer that would fire too late needs moving now.
                let deadline = tokio::time::Instant::now() + read_timeout;
                if s.sleep.deadline() > deadline {
                    s.sleep.as_mut().reset(deadline);
                }
                s
            }
            None => Scratch::new(read_timeout),
        };
        Exchange {
            conn,
            reader: Reader::new(opts),
            sent,
            read_timeout,
            sleep,
            last_progress: tokio::time::Instant::now(),
            buf,
            fed: 0,
            capture,
            capture_limit,
            pending,
            late_handshake: None,
        }
    }

    /// The connection and its scratch space, for the pool.
    pub fn into_parts(self) -> (Stream, Scratch) {
        (
            self.conn,
            Scratch {
                buf: self.buf,
                sleep: self.sleep,
                capture: emptied(self.capture),
                pending: emptied(self.pending),
            },
        )
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.fed
    }

    /// The captured first bytes of the stream.
    pub fn capture(&self) -> &[u8] {
        &self.capture
    }

    /// Was more received than captured?
    pub fn capture_truncated(&self) -> bool {
        self.fed > self.capture.len() as u64
    }

    /// Body data waiting to be forwarded.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// Forgets the body data waiting (it was forwarded).
    pub fn clear_pending(&mut self) {
        self.pending.clear();
    }

    /// The body data waiting, as one shared piece (for hyper), or `None` when there is none.
    pub fn next_data(&mut self) -> Option<Bytes> {
        if self.pending.is_empty() {
            return None;
        }
        let data = Bytes::copy_from_slice(&self.pending);
        self.pending.clear();
        Some(data)
    }

    /// The handshake failure the first read revealed, when the origin refused the connection
    /// only after the handshake seemed done (TLS 1.3 client authentication).
    pub fn late_handshake_failure(&self) -> Option<&crate::HandshakeFailure> {
        self.late_handshake.as_ref()
    }

    /// Reads once: bytes, EOF, an error or the read timeout. Ready when the reader learnt
    /// something; the caller looks at `reader` to see what.
    pub fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.reader.is_done() {
            return Poll::Ready(());
        }
        let mut rb = ReadBuf::new(&mut self.buf);
        match Pin::new(&mut self.conn).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    self.end(End::Eof);
                } else {
                    self.feed(n);
                    self.last_progress = tokio::time::Instant::now();
                }
                Poll::Ready(())
            }
            Poll::Ready(Err(e)) => {
                if self.fed == 0 {
                    self.late_handshake = crate::handshake::late_handshake_failure(&e);
                }
                self.end(read_end(&e));
                Poll::Ready(())
            }
            Poll::Pending => self.poll_timeout(cx),
        }
    }

    /// Ready once the origin has been silent for the read timeout.
    fn poll_timeout(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while self.sleep.as_mut().poll(cx).is_ready() {
            let due = self.last_progress + self.read_timeout;
            if due <= tokio::time::Instant::now() {
                self.end(End::Timeout);
                return Poll::Ready(());
            }
            // Bytes came since the timer was set: wait for the rest of the silence.
            self.sleep.as_mut().reset(due);
        }
        Poll::Pending
    }

    /// Reads once, asynchronously.
    pub async fn step(&mut self) {
        std::future::poll_fn(|cx| self.poll_step(cx)).await
    }

    /// Writes the request (head, then body when there is one) within `timeout`. A failed write
    /// is not the end: whatever the origin sent before it (an early 400, a reset) is still read
    /// by [`Exchange::step`]. A write that does not finish in time ends the exchange in a
    /// timeout.
    pub async fn send(&mut self, head: &[u8], body: &[u8], timeout: Duration) {
        use tokio::io::AsyncWriteExt;
        let conn = &mut self.conn;
        let write = async {
            conn.write_all(head).await?;
            if !body.is_empty() {
                conn.write_all(body).await?;
            }
            conn.flush().await
        };
        match tokio::time::timeout(timeout, write).await {
            Ok(Ok(())) => self.restart_timer(),
            Ok(Err(_)) => {}
            Err(_) => self.end(End::Timeout),
        }
    }

    /// Reads until the reader is done (or the connection ends), forgetting body data.
    pub async fn read_to_end(&mut self) {
        while !self.reader.is_done() {
            self.step().await;
            self.pending.clear();
        }
    }

    /// After a complete response, keeps reading for up to `quiet` of silence, so that bytes
    /// the origin should not have sent (after the last chunk, beyond Content-Length, on a HEAD
    /// or 204) reach the reader as excess. Ends quietly on close, reset or silence.
    pub async fn linger(&mut self, quiet: Duration) {
        use tokio::io::AsyncReadExt;
        // Bounded: every round either reads bytes within `quiet` or ends.
        for _ in 0..LINGER_READS {
            let read = tokio::time::timeout(quiet, self.conn.read(&mut self.buf)).await;
            match read {
                Ok(Ok(n)) if n > 0 => {
                    self.feed(n);
                    self.pending.clear();
                }
                _ => return,
            }
        }
    }

    /// Restarts the read timeout (after the request was written).
    pub fn restart_timer(&mut self) {
        self.last_progress = tokio::time::Instant::now();
    }

    /// Ends the exchange with a connection event (a failed write counts as a reset).
    pub fn end(&mut self, end: End) {
        let at = self.sent.elapsed();
        self.reader.on_end_at(end, at);
    }

    fn feed(&mut self, n: usize) {
        let at = self.sent.elapsed();
        let bytes = &self.buf[..n];
        self.fed += n as u64;
        if self.capture.len() < self.capture_limit {
            let room = self.capture_limit - self.capture.len();
            self.capture.extend_from_slice(&bytes[..n.min(room)]);
        }
        // The reader frames the body; what it hands out is what the visitor gets.
        let pending = &mut self.pending;
        self.reader
            .feed_at_with(bytes, at, &mut |d| pending.extend_from_slice(d));
    }
}

/// `v` emptied, its room kept unless it grew large (a large buffer is not kept idle in the pool).
fn emptied(mut v: Vec<u8>) -> Vec<u8> {
    if v.capacity() > READ_SIZE {
        return Vec::new();
    }
    v.clear();
    v
}

/// What a failed read means for the response. A TLS peer that closes the TCP connection
/// without `close_notify` surfaces from rustls as `UnexpectedEof`: the peer closed, as a FIN
/// would say on plain TCP, so a close in the middle of the head is `head.truncated` whether the
/// origin speaks TLS or not. Every other failure (RST, an abort, a TLS alert or a record that
/// does not decrypt) leaves the connection gone without a clean close: a reset.
pub fn read_end(e: &io::Error) -> End {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => End::Eof,
        _ => End::Reset,
    }
}

/// Something an idle connection did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleEvent {
    /// The origin closed it (FIN, or a TLS close with or without `close_notify`).
    Closed,
    /// The origin reset it.
    Reset,
    /// The origin sent bytes nobody asked for.
    StrayBytes,
}

fn idle_event(read: io::Result<usize>) -> IdleEvent {
    match read {
        Ok(0) => IdleEvent::Closed,
        Ok(_) => IdleEvent::StrayBytes,
        Err(e) => match read_end(&e) {
            End::Eof => IdleEvent::Closed,
            _ => IdleEvent::Reset,
        },
    }
}

/// One non-blocking read on an idle connection: `None` when it is quiet and may be reused.
pub fn idle_now(conn: &mut Stream) -> Option<IdleEvent> {
    let mut byte = [0u8; 1];
    let mut buf = ReadBuf::new(&mut byte);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match Pin::new(conn).poll_read(&mut cx, &mut buf) {
        Poll::Pending => None,
        Poll::Ready(r) => Some(idle_event(r.map(|()| buf.filled().len()))),
    }
}

/// Watches an idle connection for up to `d`: what it did and after how long, or `None` when it
/// stayed quiet.
pub async fn watch_idle(conn: &mut Stream, d: Duration) -> Option<(IdleEvent, Duration)> {
    use tokio::io::AsyncReadExt;
    let start = Instant::now();
    let mut b = [0u8; 1024];
    let read = tokio::time::timeout(d, conn.read(&mut b)).await.ok()?;
    Some((idle_event(read), start.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    async fn exchange_with(
        reply: &'static [u8],
        pieces: usize,
        timeout: Duration,
    ) -> (Exchange, Vec<u8>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let step = reply.len().div_ceil(pieces).max(1);
            for part in reply.chunks(step) {
                s.write_all(part).await.unwrap();
                s.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        let c = TcpStream::connect(addr).await.unwrap();
        let mut ex = Exchange::new(
            Stream::Plain(c),
            None,
            ReaderOptions::default(),
            Instant::now(),
            timeout,
            1024,
        );
        let mut body = Vec::new();
        while !ex.reader.is_done() {
            ex.step().await;
            while let Some(d) = ex.next_data() {
                body.extend_from_slice(&d);
            }
        }
        (ex, body)
    }

    #[tokio::test]
    async fn chunked_data_is_cut_out_in_any_split() {
        let reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        for pieces in [1, 3, 17] {
            let (ex, body) = exchange_with(reply, pieces, Duration::from_secs(5)).await;
            assert_eq!(body, b"hello world", "{pieces} pieces");
            assert_eq!(ex.reader.report().end, Some(End::Complete));
        }
    }

    #[tokio::test]
    async fn length_body_stops_at_content_length() {
        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
        let (ex, body) = exchange_with(reply, 2, Duration::from_secs(5)).await;
        assert_eq!(body, b"ok");
        assert_eq!(ex.reader.report().end, Some(End::Complete));
    }

    #[tokio::test]
    async fn silence_ends_in_a_timeout() {
        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789";
        let (ex, body) = exchange_with(reply, 1, Duration::from_millis(100)).await;
        assert_eq!(body, b"0123456789");
        assert_eq!(ex.reader.report().end, Some(End::Timeout));
        assert_eq!(ex.capture(), reply);
    }
}
