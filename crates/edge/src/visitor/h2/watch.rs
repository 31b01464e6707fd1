//! The edge's visitor timeouts for an HTTP/2 connection. hyper's h2 server has no header, idle
//! or send timeout of its own, so each connection keeps a small record here, kept up to date by
//! its socket ([`WatchedIo`]) and its response bodies ([`WatchedBody`]), and the connection's
//! task looks at it on a ticker ([`Watch::expired`]):
//! - nothing in service for the header timeout from the accept (no request has come yet) or for
//!   the idle timeout since the last response ended;
//! - a response body that hyper has not asked for more of for the send timeout (hyper asks only
//!   when the visitor's flow-control window has room), or a socket write blocked as long.
//!
//! The body timeout is per request, where the handler reads the body.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::config::EdgeConfig;

/// What a connection is held to.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    header: Duration,
    idle: Duration,
    send: Duration,
}

impl Limits {
    pub(super) fn of(config: &EdgeConfig) -> Limits {
        Limits {
            header: config.header_timeout,
            idle: config.visitor_idle_timeout,
            send: config.send_timeout,
        }
    }

    /// How often to look: a quarter of the shortest limit, so that a connection is closed at
    /// most a quarter late, and between 10 ms and 1 s.
    pub(super) fn tick(&self) -> Duration {
        (self.header.min(self.idle).min(self.send) / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(1))
    }
}

/// Which limit a connection ran out of, named as the `visitor_timeouts` metric counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expired {
    Header,
    Idle,
    Send,
}

impl Expired {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Expired::Header => "header",
            Expired::Idle => "idle",
            Expired::Send => "send",
        }
    }
}

/// One connection's record.
#[derive(Debug)]
pub(super) struct Watch {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Requests from the call of the service to the end of their response body.
    in_service: usize,
    /// When `in_service` last fell to 0; the accept at first.
    idle_since: Instant,
    /// A request has come: the idle timeout applies from now on, not the header timeout.
    served: bool,
    /// Response bodies that hyper owes a poll (handed over, or data taken and not asked for
    /// more since), by id: since when.
    owed: HashMap<u64, Instant>,
    next_body: u64,
    /// Since when a socket write has been pending.
    write_blocked: Option<Instant>,
}

impl Watch {
    /// The record of a connection accepted at `accepted`.
    pub(super) fn new(accepted: Instant) -> Arc<Watch> {
        Arc::new(Watch {
            state: Mutex::new(State {
                in_service: 0,
                idle_since: accepted,
                served: false,
                owed: HashMap::new(),
                next_body: 0,
                write_blocked: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding it: every update is one
        // assignment.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request has reached the service: it is in service until the returned guard (moved
    /// into its response body) is dropped.
    pub(super) fn begin(self: &Arc<Self>) -> InService {
        let mut s = self.lock();
        s.in_service += 1;
        s.served = true;
        InService(self.clone())
    }

    /// The limit the connection has run out of at `now`, if any.
    pub(super) fn expired(&self, now: Instant, limits: &Limits) -> Option<Expired> {
        let s = self.lock();
        let stalled = s.owed.values().chain(&s.write_blocked).min();
        if stalled.is_some_and(|&since| now.duration_since(since) >= limits.send) {
            return Some(Expired::Send);
        }
        if s.in_service > 0 {
            return None;
        }
        let (limit, expired) = if s.served {
            (limits.idle, Expired::Idle)
        } else {
            (limits.header, Expired::Header)
        };
        (now.duration_since(s.idle_since) >= limit).then_some(expired)
    }

    fn owe(&self, body: u64, owed: bool) {
        let mut s = self.lock();
        if owed {
            s.owed.insert(body, Instant::now());
        } else {
            s.owed.remove(&body);
        }
    }

    fn wrote(&self, pending: bool) {
        let mut s = self.lock();
        if !pending {
            s.write_blocked = None;
        } else if s.write_blocked.is_none() {
            s.write_blocked = Some(Instant::now());
        }
    }
}

/// A request in service; dropping it ends the service.
#[derive(Debug)]
pub(super) struct InService(Arc<Watch>);

impl Drop for InService {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.in_service -= 1;
        if s.in_service == 0 {
            s.idle_since = Instant::now();
        }
    }
}

/// A response body that tells the watch when hyper owes it a poll, and keeps its request in
/// service until it is dropped.
#[derive(Debug)]
pub(super) struct WatchedBody<B> {
    inner: B,
    id: u64,
    service: InService,
}

impl<B> WatchedBody<B> {
    /// `inner`, handed to hyper now.
    pub(super) fn new(inner: B, service: InService) -> WatchedBody<B> {
        let id = {
            let mut s = service.0.lock();
            s.next_body += 1;
            let id = s.next_body;
            s.owed.insert(id, Instant::now());
            id
        };
        WatchedBody { inner, id, service }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for WatchedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        // Data taken: hyper owes the next poll. Pending: the origin owes it, under its own
        // timeouts. The end: nothing is owed.
        let owed = matches!(polled, Poll::Ready(Some(Ok(_))));
        self.service.0.owe(self.id, owed);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for WatchedBody<B> {
    fn drop(&mut self) {
        self.service.0.owe(self.id, false);
    }
}

/// The connection's socket, telling the watch whether writes go through.
pub(super) struct WatchedIo<S> {
    inner: S,
    watch: Arc<Watch>,
}

impl<S> WatchedIo<S> {
    pub(super) fn new(inner: S, watch: Arc<Watch>) -> WatchedIo<S> {
        WatchedIo { inner, watch }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WatchedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WatchedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch.wrote(written.is_pending());
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch.wrote(written.is_pending());
        written
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(40),
        send: Duration::from_secs(20),
    };

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_request_is_due_within_the_header_timeout_of_the_accept() {
        let t0 = Instant::now();
        let watch = Watch::new(t0);
        assert_eq!(watch.expired(t0 + secs(9), &LIMITS), None);
        assert_eq!(watch.expired(t0 + secs(10), &LIMITS), Some(Expired::Header));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_service_holds_off_the_idle_timeout_which_runs_from_its_end() {
        let t0 = Instant::now();
        let watch = Watch::new(t0);
        let service = watch.begin();
        assert_eq!(watch.expired(t0 + secs(100), &LIMITS), None);
        tokio::time::advance(secs(100)).await;
        drop(service);
        let ended = Instant::now();
        assert_eq!(watch.expired(ended + secs(39), &LIMITS), None);
        assert_eq!(
            watch.expired(ended + secs(40), &LIMITS),
            Some(Expired::Idle)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_hyper_does_not_poll_runs_out_of_the_send_timeout() {
        let t0 = Instant::now();
        let watch = Watch::new(t0);
        let mut body =
            WatchedBody::new(http_body_util::Full::new(Bytes::from("ab")), watch.begin());
        // Handed over and never polled: owed since t0.
        assert_eq!(watch.expired(t0 + secs(19), &LIMITS), None);
        assert_eq!(watch.expired(t0 + secs(20), &LIMITS), Some(Expired::Send));
        // Polled once: data taken, owed again from then; the end owes nothing.
        tokio::time::advance(secs(5)).await;
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(frame.is_some_and(|f| f.is_ok()));
        let polled = Instant::now();
        assert_eq!(watch.expired(polled + secs(19), &LIMITS), None);
        assert_eq!(
            watch.expired(polled + secs(20), &LIMITS),
            Some(Expired::Send)
        );
        let end = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(end.is_none());
        assert_eq!(watch.expired(polled + secs(30), &LIMITS), None);
        // Dropping the body ends the service: idle from then.
        drop(body);
        let ended = Instant::now();
        assert_eq!(
            watch.expired(ended + secs(40), &LIMITS),
            Some(Expired::Idle)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_blocked_write_runs_out_of_the_send_timeout_and_a_write_that_goes_clears_it() {
        let t0 = Instant::now();
        let watch = Watch::new(t0);
        let _service = watch.begin();
        watch.wrote(true);
        tokio::time::advance(secs(5)).await;
        // Still blocked: the first pending write counts.
        watch.wrote(true);
        assert_eq!(watch.expired(t0 + secs(20), &LIMITS), Some(Expired::Send));
        watch.wrote(false);
        assert_eq!(watch.expired(t0 + secs(100), &LIMITS), None);
    }

    #[test]
    fn the_ticker_looks_four_times_per_shortest_limit_within_bounds() {
        let l = |ms: u64| Limits {
            header: Duration::from_millis(ms),
            ..LIMITS
        };
        assert_eq!(l(200).tick(), Duration::from_millis(50));
        assert_eq!(l(1).tick(), Duration::from_millis(10));
        assert_eq!(LIMITS.tick(), secs(1));
    }
}
