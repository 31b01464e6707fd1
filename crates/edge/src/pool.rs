//! Idle upstream connections kept for reuse, per origin, newest first.
//!
//! Before a pooled socket is handed out it is tested the way Pingora's `test_reusable_stream`
//! does: one non-blocking read. Pending means the socket is quiet and usable; EOF, an error or
//! unexpected bytes mean the origin closed it or is confused, and it is dropped. The check can
//! be turned off so that the keep-alive race (the origin closing just as the edge reuses) can be
//! observed.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, ReadBuf};

use crate::connect::Conn;
use crate::exchange::Scratch;

/// A connection and its history.
#[derive(Debug)]
pub struct Pooled {
    /// The connection.
    pub conn: Conn,
    /// Its read buffer and timer, kept for the next exchange.
    pub scratch: Option<Scratch>,
    /// When it was opened.
    pub opened: Instant,
    /// Requests completed on it so far.
    pub uses: u32,
    /// When it was last put back (idle since).
    pub idle_since: Instant,
}

/// Why a pooled connection was not reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discard {
    /// Idle longer than the idle timeout.
    Expired,
    /// The origin closed it (EOF) or it failed.
    Closed,
    /// Bytes arrived on an idle connection.
    StrayBytes,
}

impl Discard {
    /// Stable name for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Discard::Expired => "expired",
            Discard::Closed => "closed",
            Discard::StrayBytes => "stray-bytes",
        }
    }
}

/// The pool of one origin.
#[derive(Debug)]
pub struct Pool {
    idle: Mutex<Vec<Pooled>>,
    idle_timeout: Option<Duration>,
    max_idle: usize,
    check: bool,
}

impl Pool {
    /// A pool keeping connections `idle_timeout` at most (`None`: no pooling).
    pub fn new(idle_timeout: Option<Duration>, max_idle: usize, check: bool) -> Pool {
        Pool {
            idle: Mutex::new(Vec::new()),
            idle_timeout,
            max_idle,
            check,
        }
    }

    /// The newest usable idle connection, and what was discarded on the way.
    pub fn take(&self, discarded: &mut dyn FnMut(Discard)) -> Option<Pooled> {
        let timeout = self.idle_timeout?;
        loop {
            let mut p = {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                idle.pop()?
            };
            if p.idle_since.elapsed() > timeout {
                discarded(Discard::Expired);
                continue;
            }
            if self.check {
                if let Some(why) = test_reusable(&mut p.conn) {
                    discarded(why);
                    continue;
                }
            }
            return Some(p);
        }
    }

    /// Puts a connection back after a complete exchange.
    pub fn put(&self, mut p: Pooled) {
        if self.idle_timeout.is_none() {
            return;
        }
        p.idle_since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= self.max_idle {
            // Drop the oldest: the newest are the likeliest to still be open at the origin.
            idle.remove(0);
        }
        idle.push(p);
    }

    /// Idle connections right now.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().map_or(0, |i| i.len())
    }
}

/// One non-blocking read: `None` when the socket is quiet and may be reused.
fn test_reusable(conn: &mut Conn) -> Option<Discard> {
    let mut byte = [0u8; 1];
    let mut buf = ReadBuf::new(&mut byte);
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(conn).poll_read(&mut cx, &mut buf) {
        Poll::Pending => None,
        Poll::Ready(Ok(())) if buf.filled().is_empty() => Some(Discard::Closed),
        Poll::Ready(Ok(())) => Some(Discard::StrayBytes),
        Poll::Ready(Err(_)) => Some(Discard::Closed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    async fn pair() -> (Conn, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (Conn::Plain(c), s)
    }

    fn pooled(conn: Conn) -> Pooled {
        Pooled {
            conn,
            scratch: None,
            opened: Instant::now(),
            uses: 1,
            idle_since: Instant::now(),
        }
    }

    #[tokio::test]
    async fn quiet_sockets_are_reused_closed_ones_dropped() {
        let pool = Pool::new(Some(Duration::from_secs(60)), 8, true);
        let (quiet, _keep) = pair().await;
        pool.put(pooled(quiet));
        let mut seen = Vec::new();
        assert!(pool.take(&mut |d| seen.push(d)).is_some());
        assert!(seen.is_empty());

        let (closed, peer) = pair().await;
        drop(peer);
        pool.put(pooled(closed));
        let (chatty, mut peer2) = pair().await;
        peer2.write_all(b"x").await.unwrap();
        pool.put(pooled(chatty));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(pool.take(&mut |d| seen.push(d)).is_none());
        assert_eq!(seen, [Discard::StrayBytes, Discard::Closed]);
    }

    #[tokio::test]
    async fn expired_and_unchecked() {
        let pool = Pool::new(Some(Duration::from_millis(10)), 8, false);
        let (c, peer) = pair().await;
        drop(peer);
        pool.put(pooled(c));
        // Without the check a closed socket is handed out: the race can happen.
        assert!(pool.take(&mut |_| {}).is_some());
        let (c, _peer) = pair().await;
        pool.put(pooled(c));
        tokio::time::sleep(Duration::from_millis(30)).await;
        let mut seen = Vec::new();
        assert!(pool.take(&mut |d| seen.push(d)).is_none());
        assert_eq!(seen, [Discard::Expired]);
        let none = Pool::new(None, 8, true);
        let (c, _p) = pair().await;
        none.put(pooled(c));
        assert_eq!(none.idle_count(), 0);
    }
}
