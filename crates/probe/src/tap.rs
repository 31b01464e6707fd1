//! A stream wrapper that passes reads through and keeps a copy of what was read, for evidence
//! (the raw bytes of an h2 exchange) and diagnosis (what answered a TLS ClientHello).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What was read through a [`Tap`]: the first bytes, up to the tap's limit, and the total.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    /// The bytes kept.
    pub bytes: Vec<u8>,
    /// Bytes read in all.
    pub total: u64,
}

/// Passes reads and writes through; keeps up to `limit` bytes of what was read.
pub(crate) struct Tap<T> {
    inner: T,
    captured: Arc<Mutex<Captured>>,
    limit: usize,
}

impl<T> Tap<T> {
    /// Wraps `inner`; the returned handle sees the bytes as they are read.
    pub fn new(inner: T, limit: usize) -> (Tap<T>, Arc<Mutex<Captured>>) {
        let captured = Arc::new(Mutex::new(Captured::default()));
        let tap = Tap {
            inner,
            captured: captured.clone(),
            limit,
        };
        (tap, captured)
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

impl<T: AsyncWrite + Unpin> AsyncWrite for Tap<T> {
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
