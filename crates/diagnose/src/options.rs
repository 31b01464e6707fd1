//! What a run is asked to do.

use std::path::PathBuf;
use std::time::Duration;

use originlens_probe::{Target, TlsOptions};
use originlens_wire::Profile;

use crate::document::Mode;

/// Where the logs or configuration come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inputs {
    /// The usual places on this machine (only when the target is local).
    Auto,
    /// These files or directories.
    Paths(Vec<PathBuf>),
    /// Skip the step.
    None,
}

/// `--burst N×C`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Burst {
    /// Requests in total.
    pub requests: u32,
    /// At most this many at once.
    pub concurrency: u32,
}

impl Burst {
    /// The default: 200 requests, 20 at once.
    pub const DEFAULT: Burst = Burst {
        requests: 200,
        concurrency: 20,
    };

    /// Parses `200x20`, `200×20` or `200` (20 at once).
    pub fn parse(s: &str) -> Result<Option<Burst>, String> {
        let s = s.trim();
        if s == "none" || s == "0" {
            return Ok(None);
        }
        let (n, c) = match s.split_once(['x', 'X', '×']) {
            Some((n, c)) => (n, c),
            None => (s, "20"),
        };
        let num = |v: &str, what: &str| {
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|&x| (1..=100_000).contains(&x))
                .ok_or_else(|| format!("--burst `{s}`: {what} must be a number from 1 to 100000"))
        };
        let requests = num(n, "the request count")?;
        let concurrency = num(c, "the concurrency")?.min(requests).min(1000);
        Ok(Some(Burst {
            requests,
            concurrency,
        }))
    }
}

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct Options {
    /// `diagnose` or `verify`.
    pub mode: Mode,
    /// The URL and the address to connect to.
    pub target: Target,
    /// The URL as given.
    pub url: String,
    /// The user's method (`-X`).
    pub method: String,
    /// The body of the user's request (`-d`), empty for none.
    pub body: Vec<u8>,
    /// The user's extra headers (`-H`).
    pub headers: Vec<(String, String)>,
    /// TLS policy toward the origin (strict/full, extra roots).
    pub tls: TlsOptions,
    /// The edge's profile (Cloudflare by default).
    pub profile: &'static Profile,
    /// Bound on connecting, for every exchange of the run.
    pub connect_timeout: Duration,
    /// Bound on each silence while reading, for every exchange of the run.
    pub read_timeout: Duration,
    /// Longest idle time measured by the keep-alive step (`Duration::ZERO` skips it).
    pub keepalive_max: Duration,
    /// The burst, `None` to skip.
    pub burst: Option<Burst>,
    /// Logs to read.
    pub logs: Inputs,
    /// Configuration to lint.
    pub config: Inputs,
    /// How far back logs, edge records and the store are read.
    pub since: Duration,
    /// Zone of logs whose stamps carry none (`None`: this machine's).
    pub tz: Option<String>,
    /// Clock skew allowed when joining probe events with log lines.
    pub skew: Duration,
    /// Cloudflare Logpush `http_requests` JSON lines.
    pub edge_logs: Option<PathBuf>,
    /// An originlens edge incident store.
    pub store: Option<PathBuf>,
    /// The public URL through the edge.
    pub via: Option<String>,
}
