//! Idle upstream connections kept for reuse, per origin, newest first.
//!
//! A TLS connection only carries requests for the server name it was opened with (SNI and
//! certificate are per name), so a request takes the newest connection of its own name; plain
//! connections all share one key. The idle limit and the eviction of the oldest are per pool,
//! whatever the names.
//!
//! Before a pooled socket is handed out it is tested the way Pingora's `test_reusable_stream`
//! does: one non-blocking read. Pending means the socket is quiet and usable; EOF, an error or
//! unexpected bytes mean the origin closed it or is confused, and it is dropped. The check can
//! be turned off so that the keep-alive race (the origin closing just as the edge reuses) can be
//! observed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;

use crate::connect::Conn;
use originlens_net::{idle_now, IdleEvent, Scratch};

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

    /// The newest usable idle connection opened with `server_name` (`None`: plain TCP), and
    /// what was discarded on the way.
    pub fn take(
        &self,
        server_name: Option<&ServerName<'_>>,
        discarded: &mut dyn FnMut(Discard),
    ) -> Option<Pooled> {
        let timeout = self.idle_timeout?;
        loop {
            let mut p = self.pop_newest(server_name)?;
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

    /// Removes the newest idle connection opened with `server_name` (the last one, unless
    /// several names share the origin).
    fn pop_newest(&self, server_name: Option<&ServerName<'_>>) -> Option<Pooled> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let i = idle
            .iter()
            .rposition(|p| p.conn.server_name() == server_name)?;
        Some(idle.remove(i))
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
    idle_now(conn).map(|e| match e {
        IdleEvent::Closed | IdleEvent::Reset => Discard::Closed,
        IdleEvent::StrayBytes => Discard::StrayBytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SslMode;
    use crate::connect::tests::{lab_origin, open};
    use crate::connect::Connector;
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

    /// A TLS connection to the lab opened for a visitor asking for `host` (full mode: any
    /// name passes), its `uses` set to tell it apart.
    async fn tls(connector: &Connector, host: &str, uses: u32) -> Pooled {
        let conn = open(connector, host).await.unwrap();
        Pooled {
            uses,
            ..pooled(conn)
        }
    }

    fn name(host: &str) -> ServerName<'_> {
        ServerName::try_from(host).unwrap()
    }

    /// `uses` of the connection taken for `host`.
    fn take_uses(pool: &Pool, host: &str) -> Option<u32> {
        let mut seen = Vec::new();
        let p = pool.take(Some(&name(host)), &mut |d| seen.push(d));
        assert!(seen.is_empty(), "{seen:?}");
        p.map(|p| p.uses)
    }

    async fn lab_connector() -> Connector {
        Connector::new(&lab_origin(SslMode::Full).await).unwrap()
    }

    #[tokio::test]
    async fn quiet_sockets_are_reused_closed_ones_dropped() {
        let pool = Pool::new(Some(Duration::from_secs(60)), 8, true);
        let (quiet, _keep) = pair().await;
        pool.put(pooled(quiet));
        let mut seen = Vec::new();
        assert!(pool.take(None, &mut |d| seen.push(d)).is_some());
        assert!(seen.is_empty());

        let (closed, peer) = pair().await;
        drop(peer);
        pool.put(pooled(closed));
        let (chatty, mut peer2) = pair().await;
        peer2.write_all(b"x").await.unwrap();
        pool.put(pooled(chatty));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(pool.take(None, &mut |d| seen.push(d)).is_none());
        assert_eq!(seen, [Discard::StrayBytes, Discard::Closed]);
    }

    #[tokio::test]
    async fn expired_and_unchecked() {
        let pool = Pool::new(Some(Duration::from_millis(10)), 8, false);
        let (c, peer) = pair().await;
        drop(peer);
        pool.put(pooled(c));
        // Without the check a closed socket is handed out: the race can happen.
        assert!(pool.take(None, &mut |_| {}).is_some());
        let (c, _peer) = pair().await;
        pool.put(pooled(c));
        tokio::time::sleep(Duration::from_millis(30)).await;
        let mut seen = Vec::new();
        assert!(pool.take(None, &mut |d| seen.push(d)).is_none());
        assert_eq!(seen, [Discard::Expired]);
        let none = Pool::new(None, 8, true);
        let (c, _p) = pair().await;
        none.put(pooled(c));
        assert_eq!(none.idle_count(), 0);
    }

    #[tokio::test]
    async fn tls_connections_only_serve_their_own_server_name() {
        let connector = lab_connector().await;
        let pool = Pool::new(Some(Duration::from_secs(60)), 8, true);
        pool.put(tls(&connector, "a.example", 1).await);
        pool.put(tls(&connector, "b.example", 2).await);
        pool.put(tls(&connector, "a.example", 3).await);
        // Another name, or plain HTTP, finds nothing and leaves the others idle.
        assert_eq!(take_uses(&pool, "c.example"), None);
        assert!(pool.take(None, &mut |_| {}).is_none());
        assert_eq!(pool.idle_count(), 3);
        // Each name gets its own, newest first, whatever the case of the name.
        assert_eq!(take_uses(&pool, "B.Example"), Some(2));
        assert_eq!(take_uses(&pool, "b.example"), None);
        assert_eq!(take_uses(&pool, "a.example"), Some(3));
        assert_eq!(take_uses(&pool, "a.example"), Some(1));
        assert_eq!(pool.idle_count(), 0);
    }

    #[tokio::test]
    async fn the_oldest_goes_first_whatever_its_name() {
        let connector = lab_connector().await;
        let pool = Pool::new(Some(Duration::from_secs(60)), 2, true);
        pool.put(tls(&connector, "a.example", 1).await);
        pool.put(tls(&connector, "b.example", 2).await);
        pool.put(tls(&connector, "b.example", 3).await);
        assert_eq!(pool.idle_count(), 2);
        assert_eq!(take_uses(&pool, "a.example"), None);
        assert_eq!(take_uses(&pool, "b.example"), Some(3));
        assert_eq!(take_uses(&pool, "b.example"), Some(2));
    }

    #[tokio::test]
    async fn an_expired_connection_is_not_replaced_by_another_name() {
        let connector = lab_connector().await;
        let pool = Pool::new(Some(Duration::from_millis(100)), 8, true);
        let b = tls(&connector, "b.example", 2).await;
        pool.put(tls(&connector, "a.example", 1).await);
        tokio::time::sleep(Duration::from_millis(150)).await;
        pool.put(b);
        let mut seen = Vec::new();
        assert!(pool
            .take(Some(&name("a.example")), &mut |d| seen.push(d))
            .is_none());
        assert_eq!(seen, [Discard::Expired]);
        assert_eq!(take_uses(&pool, "b.example"), Some(2));
    }
}
