//! The live line on a terminal while a probe runs: the phase, the time spent in it against what
//! the edge would wait, and the bytes so far.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use originlens_probe::{Phase, ProbeOptions, Watch};
use originlens_wire::Profile;

/// How often the line is redrawn.
pub const TICK: Duration = Duration::from_millis(100);

/// A spinner on stderr, or nothing.
pub struct Bar {
    bar: Option<ProgressBar>,
    start: Instant,
    edge: &'static Profile,
    to: String,
}

impl Bar {
    /// A bar when `show` (text on a terminal), else a bar that draws nothing.
    pub fn new(show: bool, opts: &ProbeOptions, edge: &'static Profile) -> Bar {
        let bar = show.then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
            b
        });
        Bar {
            bar,
            start: Instant::now(),
            edge,
            to: format!("{}:{}", opts.target.connect_host, opts.target.connect_port),
        }
    }

    /// Redraws from what the probe says now.
    pub fn show(&self, watch: &Watch) {
        let Some(bar) = &self.bar else { return };
        let elapsed = self.start.elapsed();
        let since_byte = watch
            .last_byte()
            .map_or(elapsed, |t| elapsed.saturating_sub(t));
        let limits = self.edge.limits;
        let msg = match watch.phase() {
            Phase::Connecting => format!(
                "connecting to {} · {:.1} s (the edge waits {} s)",
                self.to,
                elapsed.as_secs_f64(),
                limits.connect_timeout.as_secs()
            ),
            Phase::WaitingFirstByte => format!(
                "waiting for the first byte · {:.1} s of {}'s {} s · Ctrl-C shows what the edge would answer now",
                since_byte.as_secs_f64(),
                self.edge.name,
                limits.read_timeout.as_secs()
            ),
            Phase::ReadingHead => format!(
                "reading the head · {} bytes · silent {:.1} s",
                watch.received(),
                since_byte.as_secs_f64()
            ),
            Phase::ReadingBody => format!(
                "reading the body · {} bytes · silent {:.1} s",
                watch.received(),
                since_byte.as_secs_f64()
            ),
            Phase::Done => "done".to_owned(),
        };
        bar.set_message(msg);
        bar.tick();
    }

    /// Removes the line before the report is printed.
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
