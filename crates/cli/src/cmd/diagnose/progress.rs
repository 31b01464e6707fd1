//! One spinner per step on a terminal, with its time limit; nothing on a pipe.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use originlens_diagnose::ProgressEvent;

/// The spinners, when stderr is a terminal.
pub struct Bars {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<&'static str, ProgressBar>>,
}

impl Bars {
    /// Spinners only when `tty`.
    pub fn new(tty: bool) -> Bars {
        Bars {
            multi: tty.then(MultiProgress::new),
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// Moves the spinners.
    pub fn event(&self, e: ProgressEvent) {
        let Some(multi) = &self.multi else { return };
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        match e {
            ProgressEvent::Started(name, limit) => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(format!("{name} (limit {:.0} s)", limit.as_secs_f64()));
                bar.enable_steady_tick(Duration::from_millis(120));
                bars.insert(name, bar);
            }
            ProgressEvent::Finished(rec) => {
                if let Some(bar) = bars.remove(rec.name) {
                    bar.finish_with_message(format!(
                        "{} {} in {:.1} s: {}",
                        rec.name,
                        rec.status.as_str(),
                        rec.took_s,
                        rec.detail
                    ));
                }
            }
        }
    }

    /// Clears the spinners before the report is printed.
    pub fn finish(&self) {
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
    }
}
