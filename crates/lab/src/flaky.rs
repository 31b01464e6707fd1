//! Routes that fail only sometimes, so that a load run has something to find: one request in N
//! gets an empty reply, a reset or a head over the edge's limit; a worker pool that queues and
//! then resets; latency that grows with concurrency; keep-alive that ends after an idle time or
//! a number of requests. [`RestartingOrigin`] is a listener that goes away for a while every few
//! seconds (connections refused: 521).
//!
//! Counters belong to one lab (one [`Flaky`] per listener), so runs against two labs in one
//! process do not share them.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Semaphore};

use crate::behaviour::End;

/// The clean answer of every flaky route when it does not fail.
pub const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
/// The head size of `/flaky/big-head` when it fails (over Cloudflare's 128 KB).
pub const BIG_HEAD: usize = 130 * 1024;
/// Default `every` of the one-in-N routes.
pub const DEFAULT_EVERY: u64 = 50;
/// Default `workers` of `/flaky/pool` (like a small `pm.max_children`).
pub const DEFAULT_WORKERS: usize = 4;
/// Default `work` of `/flaky/pool` and `per` of `/flaky/slow`, in milliseconds.
pub const DEFAULT_WORK_MS: u64 = 20;
/// Longest pause any flaky route makes, so that a connection is never held for long.
const MAX_PAUSE: Duration = Duration::from_secs(60);

/// The flaky routes, for `lab --list` and the documentation: path, query, what happens.
pub const ROUTES: &[(&str, &str, &str)] = &[
    (
        "/flaky/empty",
        "every=N",
        "every N-th request: FIN without a byte (response.empty, 520)",
    ),
    (
        "/flaky/reset",
        "every=N",
        "every N-th request: RST without a byte (response.reset, 520)",
    ),
    (
        "/flaky/big-head",
        "every=N",
        "every N-th request: a 130 KB head (head.too-large, 520)",
    ),
    (
        "/flaky/pool",
        "workers=K&queue=Q&work=MS",
        "K workers busy MS each, Q more wait; beyond: RST (response.reset)",
    ),
    (
        "/flaky/slow",
        "per=MS",
        "answers after MS × requests in flight: past the read timeout it is response.timeout (524)",
    ),
    (
        "/flaky/keepalive",
        "idle=MS&max=N",
        "clean 200s; FIN after MS idle or after the N-th response, unannounced (keepalive.race)",
    ),
];

/// The state of the flaky routes of one lab.
#[derive(Debug, Default)]
pub struct Flaky {
    empty: AtomicU64,
    reset: AtomicU64,
    big_head: AtomicU64,
    in_flight: AtomicUsize,
    pool: OnceLock<Pool>,
}

#[derive(Debug)]
struct Pool {
    workers: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
}

/// What a flaky route does for one request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Act {
    /// Write these bytes, then end as said.
    Reply(&'static [u8], End),
    /// Close without a byte.
    Fin,
    /// Reset without a byte.
    Reset,
}

/// `name=value` from a query string.
fn param(query: &str, name: &str) -> Option<u64> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.parse().ok())
}

fn pause(ms: u64) -> Duration {
    Duration::from_millis(ms).min(MAX_PAUSE)
}

fn big_head() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let mut v = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n".to_vec();
        let line = format!("X-Filler: {}\r\n", "f".repeat(1000));
        while v.len() < BIG_HEAD {
            v.extend_from_slice(line.as_bytes());
        }
        v.extend_from_slice(b"\r\nok");
        v
    })
}

/// Is `count` (from 1) the N-th one?
fn nth(counter: &AtomicU64, every: u64) -> bool {
    let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
    n.is_multiple_of(every.max(1))
}

impl Flaky {
    /// Handles `path` (under `/flaky/`) with its query; `None` for an unknown flaky path.
    pub(crate) async fn act(&self, path: &str, query: &str) -> Option<Act> {
        let every = param(query, "every").unwrap_or(DEFAULT_EVERY);
        let ok = Act::Reply(OK, End::KeepAlive);
        Some(match path {
            "/flaky/empty" if nth(&self.empty, every) => Act::Fin,
            "/flaky/reset" if nth(&self.reset, every) => Act::Reset,
            "/flaky/big-head" if nth(&self.big_head, every) => Act::Reply(big_head(), End::Fin),
            "/flaky/empty" | "/flaky/reset" | "/flaky/big-head" => ok,
            "/flaky/pool" => self.pool(query).await,
            "/flaky/slow" => {
                let per = param(query, "per").unwrap_or(DEFAULT_WORK_MS);
                let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
                tokio::time::sleep(pause(per.saturating_mul(now as u64))).await;
                self.in_flight.fetch_sub(1, Ordering::Relaxed);
                ok
            }
            "/flaky/keepalive" => {
                let end = match (param(query, "max"), param(query, "idle")) {
                    (Some(max), _) => End::MaxRequests(u32::try_from(max).unwrap_or(u32::MAX)),
                    (None, Some(ms)) => End::IdleClose(pause(ms)),
                    (None, None) => End::KeepAlive,
                };
                Act::Reply(OK, end)
            }
            _ => return None,
        })
    }

    async fn pool(&self, query: &str) -> Act {
        // The first request sizes the pool, as a server's configuration is fixed at start.
        let pool = self.pool.get_or_init(|| {
            let workers =
                param(query, "workers").map_or(DEFAULT_WORKERS, |k| k.clamp(1, 1024) as usize);
            Pool {
                workers: Arc::new(Semaphore::new(workers)),
                waiting: AtomicUsize::new(0),
                queue: param(query, "queue").map_or(workers, |q| q.min(1 << 16) as usize),
            }
        });
        let work = pause(param(query, "work").unwrap_or(DEFAULT_WORK_MS));
        let permit = match pool.workers.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if pool.waiting.fetch_add(1, Ordering::Relaxed) >= pool.queue {
                    pool.waiting.fetch_sub(1, Ordering::Relaxed);
                    // Backlog full: the connection is reset, as a full listen queue does.
                    return Act::Reset;
                }
                let got = pool.workers.clone().acquire_owned().await;
                pool.waiting.fetch_sub(1, Ordering::Relaxed);
                match got {
                    Ok(p) => p,
                    Err(_) => return Act::Reset,
                }
            }
        };
        tokio::time::sleep(work).await;
        drop(permit);
        Act::Reply(OK, End::KeepAlive)
    }
}

/// Writes what `act` says; returns how the connection ends (as the server's `respond`).
pub(crate) async fn perform(stream: &mut TcpStream, act: Act, head_only: bool) -> io::Result<End> {
    match act {
        Act::Reply(bytes, end) => {
            let bytes = if head_only && end != End::Fin {
                crate::behaviour::head_of(bytes)
            } else {
                bytes
            };
            stream.write_all(bytes).await?;
            Ok(end)
        }
        Act::Fin => Ok(End::Fin),
        Act::Reset => Ok(End::Reset),
    }
}

/// An origin that restarts: it listens for `up`, then its listener is gone for `down` (new
/// connections are refused: `connect.refused`, 521) and open connections are dropped, over and
/// over until the handle is dropped. Every request gets a clean keep-alive 200.
#[derive(Debug)]
pub struct RestartingOrigin {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl RestartingOrigin {
    /// Binds `addr` (port 0: a free port, kept for every restart) and starts the cycle.
    pub fn start(addr: SocketAddr, up: Duration, down: Duration) -> io::Result<RestartingOrigin> {
        let (bound_tx, bound_rx) = mpsc::channel();
        let (stop, mut stop_rx) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("originlens-lab-restart".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = bound_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let mut listener = match bind(addr) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = bound_tx.send(Err(e));
                            return;
                        }
                    };
                    let addr = listener.local_addr().unwrap_or(addr);
                    let _ = bound_tx.send(Ok(addr));
                    loop {
                        let lab = Arc::new(Flaky::default());
                        let mut conns = tokio::task::JoinSet::new();
                        let window = tokio::time::sleep(up);
                        tokio::pin!(window);
                        loop {
                            tokio::select! {
                                _ = &mut stop_rx => return,
                                _ = &mut window => break,
                                accepted = listener.accept() => if let Ok((s, _)) = accepted {
                                    conns.spawn(crate::server::connection(s, lab.clone(), None));
                                },
                            }
                        }
                        // The restart: listener and connections go away together.
                        drop(listener);
                        conns.abort_all();
                        tokio::select! {
                            _ = &mut stop_rx => return,
                            _ = tokio::time::sleep(down) => {}
                        }
                        listener = loop {
                            match bind(addr) {
                                Ok(l) => break l,
                                // The port may linger for a moment; try again shortly.
                                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                            }
                        };
                    }
                });
            })?;
        let addr = bound_rx
            .recv()
            .map_err(|_| io::Error::other("restart thread ended before binding"))??;
        Ok(RestartingOrigin {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on (when it is up).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

impl Drop for RestartingOrigin {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_in_n_fails_and_the_rest_pass() {
        let f = Flaky::default();
        let mut fins = 0;
        for _ in 0..100 {
            if f.act("/flaky/empty", "every=10").await == Some(Act::Fin) {
                fins += 1;
            }
        }
        assert_eq!(fins, 10);
        assert_eq!(f.act("/flaky/nope", "").await, None);
    }

    #[tokio::test]
    async fn the_pool_resets_beyond_workers_and_queue() {
        let f = Arc::new(Flaky::default());
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..6 {
            let f = f.clone();
            tasks.spawn(async move { f.act("/flaky/pool", "workers=2&queue=1&work=200").await });
        }
        let mut resets = 0;
        while let Some(r) = tasks.join_next().await {
            if r.unwrap() == Some(Act::Reset) {
                resets += 1;
            }
        }
        assert_eq!(resets, 3);
    }

    #[test]
    fn the_big_head_is_over_the_limit() {
        let h = big_head();
        assert!(h.len() > 128 * 1024 && h.ends_with(b"\r\n\r\nok"));
    }
}
