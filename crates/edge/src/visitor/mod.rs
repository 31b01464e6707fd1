//! The visitor side: one task per connection. The first bytes decide the protocol: the h2
//! connection preface goes to hyper's HTTP/2 server ([`h2`]), anything else is HTTP/1, served
//! by our own loop ([`h1`]) over requests parsed in place ([`head`]).

mod h1;
mod h2;
pub mod head;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::metrics::Metrics;
use crate::shared::Shared;

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves one visitor connection on worker thread `worker`.
pub async fn serve(mut stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, worker: usize) {
    let _open = Open::new(shared.metrics.clone());
    let accepted = tokio::time::Instant::now();
    let _ = stream.set_nodelay(true);
    // The first request's head must be in within the header timeout of the accept.
    let deadline = accepted + shared.config.header_timeout;
    // Nothing is allocated for a connection that has not sent a byte yet.
    if tokio::time::timeout_at(deadline, stream.readable())
        .await
        .is_err()
    {
        shared.metrics.timed_out("header");
        return;
    }
    let mut buf = Vec::with_capacity(16 * 1024);
    // Read until the bytes are either the whole preface or not a prefix of it.
    loop {
        let n = buf.len().min(H2_PREFACE.len());
        if buf[..n] != H2_PREFACE[..n] || n == H2_PREFACE.len() {
            break;
        }
        match tokio::time::timeout_at(deadline, stream.read_buf(&mut buf)).await {
            Ok(Ok(1..)) => {}
            Ok(_) => return,
            Err(_) => {
                shared.metrics.timed_out("header");
                return;
            }
        }
    }
    let client_ip = peer.ip().to_string();
    if buf.starts_with(H2_PREFACE) {
        // The preface was read already: hyper reads it again from the buffer, then the socket.
        let (read, write) = stream.into_split();
        let stream = tokio::io::join(std::io::Cursor::new(buf).chain(read), write);
        h2::serve(stream, accepted, client_ip, shared, worker).await;
    } else {
        h1::Connection::new(stream, buf, accepted, client_ip, shared, worker)
            .serve()
            .await;
    }
}

/// Counts a visitor connection as open for as long as it lives.
struct Open(Arc<Metrics>);

impl Open {
    fn new(metrics: Arc<Metrics>) -> Open {
        metrics.visitor_connections.inc();
        Open(metrics)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.visitor_connections.dec();
    }
}
