//! Stream wrappers that keep a copy of what was read: [`Tap`] the first bytes, to tell what
//! answered a TLS ClientHello (an HTTP server, bytes that are not TLS), stopping once told so
//! that a finished handshake costs one branch per read; [`Recorder`] the evidence of a stream
//! handed to another owner.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Passes reads and writes through; keeps up to `limit` bytes of what was read.
#[derive(Debug)]
pub struct Tap<T> {
    inner: T,
    first: Vec<u8>,
    limit: usize,
}

impl<T> Tap<T> {
    /// Wraps `inner`, keeping the first `limit` bytes read.
    pub fn new(inner: T, limit: usize) -> Tap<T> {
        Tap {
            inner,
            first: Vec::new(),
            limit,
        }
    }

    /// The bytes kept.
    pub fn first(&self) -> &[u8] {
        &self.first
    }

    /// Stops keeping bytes and frees what was kept.
    pub fn stop(&mut self) {
        self.limit = 0;
        self.first = Vec::new();
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tap<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.first.len() < self.limit {
            if let Poll::Ready(Ok(())) = &res {
                let new = &buf.filled()[before..];
                let room = self.limit - self.first.len();
                let keep = &new[..new.len().min(room)];
                self.first.extend_from_slice(keep);
            }
        }
        res
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tap<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
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

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What was read through a [`Recorder`]: the first bytes, up to the tap's limit, and the total.
#[derive(Debug, Default)]
pub struct Captured {
    /// The bytes kept.
    pub bytes: Vec<u8>,
    /// Bytes read in all.
    pub total: u64,
}

/// Passes reads and writes through; keeps up to `limit` bytes of what was read where another
/// owner can see them (the raw bytes of an HTTP/2 exchange, whose stream the h2 client owns).
pub struct Recorder<T> {
    inner: T,
    captured: Arc<Mutex<Captured>>,
    limit: usize,
}

impl<T> Recorder<T> {
    /// Wraps `inner`; the returned handle sees the bytes as they are read.
    pub fn new(inner: T, limit: usize) -> (Recorder<T>, Arc<Mutex<Captured>>) {
        let captured = Arc::new(Mutex::new(Captured::default()));
        let tap = Recorder {
            inner,
            captured: captured.clone(),
            limit,
        };
        (tap, captured)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Recorder<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &res {
            let new = &buf.filled()[before..];
            let limit = self.limit;
            if let Ok(mut c) = self.captured.lock() {
                c.total += new.len() as u64;
                let room = limit.saturating_sub(c.bytes.len());
                c.bytes.extend_from_slice(&new[..new.len().min(room)]);
            }
        }
        res
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Recorder<T> {
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
}
