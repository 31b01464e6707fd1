//! Who sends the next request and when: a shared ticket counter bounded by `-n`, and for the open
//! model the intended send time of each ticket (with the rate ramping up linearly).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::options::Model;

/// One request to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    /// Its number, from 0.
    pub index: u64,
    /// When the open model means it to leave (`None` in the closed model: now).
    pub intended: Option<Instant>,
}

/// The shared plan of a run.
#[derive(Debug)]
pub(crate) struct Schedule {
    start: Instant,
    deadline: Instant,
    model: Model,
    ramp: Duration,
    limit: u64,
    next: AtomicU64,
}

impl Schedule {
    pub(crate) fn new(
        start: Instant,
        deadline: Instant,
        model: Model,
        ramp: Duration,
        limit: Option<u64>,
    ) -> Schedule {
        Schedule {
            start,
            deadline,
            model,
            ramp,
            limit: limit.unwrap_or(u64::MAX),
            next: AtomicU64::new(0),
        }
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The next ticket, or `None` once `-n` are handed out or the next one would be due after
    /// the deadline.
    pub(crate) fn take(&self) -> Option<Ticket> {
        if Instant::now() >= self.deadline {
            return None;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        if index >= self.limit {
            return None;
        }
        let intended = match self.model {
            Model::Closed => None,
            Model::Open { rate } => {
                let at = self.start + offset(index, rate, self.ramp);
                if at >= self.deadline {
                    return None;
                }
                Some(at)
            }
        };
        Some(Ticket { index, intended })
    }

    /// When connection `i` of `n` starts in the closed model: spread over the ramp.
    pub(crate) fn connection_start(&self, i: usize, n: usize) -> Instant {
        if n == 0 || self.ramp.is_zero() {
            return self.start;
        }
        self.start + self.ramp.mul_f64(i as f64 / n as f64)
    }
}

/// When request `i` is due at `rate` per second, the rate growing linearly from 0 over `ramp`:
/// during the ramp `i = rate t² / 2R`, after it `i = rate R / 2 + rate (t - R)`.
fn offset(i: u64, rate: f64, ramp: Duration) -> Duration {
    let i = i as f64;
    let r = ramp.as_secs_f64();
    let in_ramp = rate * r / 2.0;
    let t = if r > 0.0 && i < in_ramp {
        (2.0 * r * i / rate).sqrt()
    } else {
        r + (i - in_ramp) / rate
    };
    Duration::from_secs_f64(t.clamp(0.0, 1e9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_rate_spaces_requests_evenly() {
        assert_eq!(offset(0, 100.0, Duration::ZERO), Duration::ZERO);
        let t = offset(250, 100.0, Duration::ZERO).as_secs_f64();
        assert!((t - 2.5).abs() < 1e-9, "{t}");
    }

    #[test]
    fn the_ramp_sends_half_as_many_then_the_full_rate() {
        let ramp = Duration::from_secs(2);
        // 100/s ramped over 2 s: 100 requests in the ramp, the 100th exactly at its end.
        let t = offset(100, 100.0, ramp).as_secs_f64();
        assert!((t - 2.0).abs() < 1e-9, "{t}");
        let t = offset(25, 100.0, ramp).as_secs_f64();
        assert!((t - 1.0).abs() < 1e-9, "{t}");
        let t = offset(200, 100.0, ramp).as_secs_f64();
        assert!((t - 3.0).abs() < 1e-9, "{t}");
    }

    #[test]
    fn tickets_stop_at_the_count_and_the_deadline() {
        let now = Instant::now();
        let s = Schedule::new(
            now,
            now + Duration::from_secs(60),
            Model::Closed,
            Duration::ZERO,
            Some(3),
        );
        assert_eq!((0..10).filter_map(|_| s.take()).count(), 3);
        let s = Schedule::new(
            now,
            now + Duration::from_secs(1),
            Model::Open { rate: 10.0 },
            Duration::ZERO,
            None,
        );
        // 10 per second for 1 s: tickets 0..=9 are due before the deadline.
        assert_eq!((0..100).filter_map(|_| s.take()).count(), 10);
    }
}
