//! The visitor side: one task per connection. The first bytes decide the protocol: the h2
//! connection preface goes to hyper's HTTP/2 server ([`h2`]), anything else is HTTP/1, served
//! by our own loop ([`h1`]) over requests parsed in place ([`head`]).

mod h1;
mod h2;
pub mod head;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::proxy::Shared;

/// How long a visitor connection may stay silent before (or while) sending a request head
/// (Cloudflare keeps idle visitor connections 400 s).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(400);

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves one visitor connection on worker thread `worker`.
pub async fn serve(mut stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, worker: usize) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(16 * 1024);
    // Read until the bytes are either the whole preface or not a prefix of it.
    loop {
        let n = buf.len().min(H2_PREFACE.len());
        if buf[..n] != H2_PREFACE[..n] || n == H2_PREFACE.len() {
            break;
        }
        let read = tokio::time::timeout(HEADER_READ_TIMEOUT, stream.read_buf(&mut buf)).await;
        if !matches!(read, Ok(Ok(1..))) {
            return;
        }
    }
    let client_ip = peer.ip().to_string();
    if buf.starts_with(H2_PREFACE) {
        h2::serve(Prefixed::new(buf, stream), client_ip, shared, worker).await;
    } else {
        h1::Connection::new(stream, buf, client_ip, shared, worker)
            .serve()
            .await;
    }
}

/// A stream whose first bytes were already read: they are read again first.
#[derive(Debug)]
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `prefix`, then the rest of `inner`.
    pub fn new(prefix: Vec<u8>, inner: S) -> Prefixed<S> {
        Prefixed {
            prefix,
            at: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at < self.prefix.len() {
            let n = (self.prefix.len() - self.at).min(buf.remaining());
            let at = self.at;
            buf.put_slice(&self.prefix[at..at + n]);
            self.at += n;
            if self.at == self.prefix.len() {
                self.prefix = Vec::new();
                self.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn prefixed_reads_the_prefix_first() {
        let inner: &[u8] = b" world";
        let mut s = Prefixed::new(b"hello".to_vec(), inner);
        let mut all = String::new();
        s.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "hello world");
    }
}
