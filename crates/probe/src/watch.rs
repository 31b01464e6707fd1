//! A live view into one probe, for a progress line, and a way to stop it early: the probe keeps
//! what it received and ends as if the edge stopped waiting now.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// Where the probe is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Resolving, connecting and (on https) shaking hands.
    Connecting,
    /// The request is sent; no byte of the response yet.
    WaitingFirstByte,
    /// Reading the response head.
    ReadingHead,
    /// Reading the body.
    ReadingBody,
    /// The exchange has ended.
    Done,
}

impl Phase {
    fn from_u8(v: u8) -> Phase {
        match v {
            0 => Phase::Connecting,
            1 => Phase::WaitingFirstByte,
            2 => Phase::ReadingHead,
            3 => Phase::ReadingBody,
            _ => Phase::Done,
        }
    }
}

/// Shared between the probe (which writes it) and whoever shows progress or stops it.
#[derive(Debug, Default)]
pub struct Watch {
    phase: AtomicU8,
    received: AtomicU64,
    /// Milliseconds since the start at the last byte received.
    last_byte_ms: AtomicU64,
    stopped: AtomicBool,
    stop: Notify,
}

impl Watch {
    /// A watch at [`Phase::Connecting`].
    pub fn new() -> Watch {
        Watch::default()
    }

    /// Where the probe is.
    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }

    /// Response bytes received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// When the last byte came, from the start of the probe.
    pub fn last_byte(&self) -> Option<Duration> {
        match self.last_byte_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// Asks the probe to stop now (Ctrl-C): it ends with what it has.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.stop.notify_waiters();
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn was_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Resolves once [`stop`](Self::stop) is called (at once if it was).
    pub async fn stopped(&self) {
        let notified = self.stop.notified();
        if self.was_stopped() {
            return;
        }
        notified.await;
    }

    pub(crate) fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    pub(crate) fn set_received(&self, n: u64, since_start: Duration) {
        if n != self.received.swap(n, Ordering::Relaxed) {
            let ms = u64::try_from(since_start.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            self.last_byte_ms.store(ms, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stopping_wakes_a_waiter_and_later_ones() {
        let w = std::sync::Arc::new(Watch::new());
        let waiter = {
            let w = w.clone();
            tokio::spawn(async move { w.stopped().await })
        };
        tokio::task::yield_now().await;
        w.stop();
        waiter.await.unwrap();
        // A waiter arriving after the stop returns at once.
        tokio::time::timeout(Duration::from_millis(100), w.stopped())
            .await
            .expect("already stopped");
        assert!(w.was_stopped());
    }

    #[test]
    fn phases_and_bytes_are_read_back() {
        let w = Watch::new();
        assert_eq!(w.phase(), Phase::Connecting);
        w.set_phase(Phase::ReadingHead);
        w.set_received(10, Duration::from_millis(40));
        assert_eq!(w.phase(), Phase::ReadingHead);
        assert_eq!(w.received(), 10);
        assert_eq!(w.last_byte(), Some(Duration::from_millis(40)));
    }
}
