//! What a run does: the routes, how hard to drive them, and the limits that make it stop by itself.

use std::time::Duration;

use originlens_net::TlsPolicy;
use originlens_probe::{build_request, ProbeOptions, Target};

use crate::h2::H2Request;
use originlens_wire::{Profile, RequestInfo};

/// No run lasts longer than this, whatever was asked.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// No run sends more requests than this.
pub const MAX_REQUESTS: u64 = 100_000_000;
/// Most connections (closed model) or requests in flight (open model).
pub const MAX_CONNECTIONS: usize = 10_000;
/// Most HTTP/2 streams at once on one connection (`--streams`).
pub const MAX_STREAMS: usize = 1000;
/// Highest request rate of the open model, per second.
pub const MAX_RATE: f64 = 1_000_000.0;
/// The duration of a run given neither `-n` nor `--duration`.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// Raw response bytes kept per evidence exchange.
pub const EVIDENCE_BYTES: usize = 2048;

/// How requests are sent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Model {
    /// `connections` loops, each sending its next request as soon as the last one ended.
    Closed,
    /// Requests at a fixed rate per second, whatever the origin does; latency counts from each
    /// request's intended send time (coordinated omission corrected).
    Open {
        /// Requests per second (after the ramp).
        rate: f64,
    },
}

/// One URL of the run, with its request bytes.
#[derive(Clone, Debug)]
pub struct Route {
    /// What the summary calls it: the path and query.
    pub name: String,
    /// The request, as sent.
    pub request: Vec<u8>,
    /// What the reader must know about the request (HEAD, CONNECT, upgrade).
    pub info: RequestInfo,
    /// The request as HTTP/2 sends it (`--http2`); `request` is then its text, for evidence.
    pub h2: Option<H2Request>,
}

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Where to connect and what Host/SNI to send (from the first URL).
    pub target: Target,
    /// The routes, sent in turn.
    pub routes: Vec<Route>,
    /// Closed or open model.
    pub model: Model,
    /// Connections (closed model, HTTP/1.1) or most requests in flight (open model); with
    /// HTTP/2, connections, each carrying `streams` requests at once.
    pub connections: usize,
    /// Speak HTTP/2 (https only, `h2` offered by ALPN).
    pub http2: bool,
    /// Requests at once on each HTTP/2 connection.
    pub streams: usize,
    /// Stop after this many requests.
    pub requests: Option<u64>,
    /// Stop after this long (always bounded by [`MAX_DURATION`]).
    pub duration: Option<Duration>,
    /// Connections (closed) or the rate (open) grow linearly from zero over this time.
    pub ramp: Duration,
    /// Reuse connections (the edge's pool); `false` sends `Connection: close`.
    pub keepalive: bool,
    /// Pause this long before reusing a connection, as a pooled edge connection sits idle.
    pub idle: Option<Duration>,
    /// The pause comes before every n-th reuse only.
    pub idle_every: u32,
    /// The edge whose verdict decides what a failure is.
    pub profile: &'static Profile,
    /// Time allowed to connect (and shake hands).
    pub connect_timeout: Duration,
    /// Longest silence allowed while reading a response.
    pub read_timeout: Duration,
    /// TLS settings for https (the edge's: a bad certificate is refused in strict mode).
    pub tls: TlsPolicy,
    /// Raw exchanges kept per cause.
    pub evidence_per_cause: usize,
}

/// Options that make no sense together, or exceed a hard limit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionsError {
    /// A number out of range.
    #[error("{0}")]
    Range(String),
    /// A request that cannot be built.
    #[error("invalid request: {0}")]
    Request(String),
}

/// What a request carries beyond the URL.
#[derive(Clone, Debug, Default)]
pub struct RequestSpec {
    /// Method.
    pub method: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// A request body (`-d`).
    pub body: Option<Vec<u8>>,
}

impl Route {
    /// The request bytes for `target` as the probe builds them (the edge's headers), with
    /// `Connection: close` when keep-alive is off and `Content-Length` for a body; with `http2`,
    /// the request as the probe sends it over HTTP/2.
    pub fn build(
        target: &Target,
        spec: &RequestSpec,
        keepalive: bool,
        http2: bool,
    ) -> Result<Route, OptionsError> {
        let mut headers = spec.headers.clone();
        if !keepalive {
            headers.push(("Connection".into(), "close".into()));
        }
        if let Some(body) = &spec.body {
            headers.push(("Content-Length".into(), body.len().to_string()));
        }
        let probe = ProbeOptions {
            target: target.clone(),
            method: spec.method.clone(),
            headers,
            body: Vec::new(),
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
        };
        let mut request =
            build_request(&probe).map_err(|e| OptionsError::Request(e.to_string()))?;
        if let Some(body) = &spec.body {
            request.extend_from_slice(body);
        }
        let info = RequestInfo {
            head: spec.method.eq_ignore_ascii_case("HEAD"),
            connect: spec.method.eq_ignore_ascii_case("CONNECT"),
            upgrade: spec
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("upgrade")),
        };
        let h2 = if http2 {
            let req = originlens_probe::h2::build_request(&probe)
                .map_err(|e| OptionsError::Request(e.to_string()))?;
            let h2 = H2Request::new(req, spec.body.as_deref());
            request = h2.text();
            Some(h2)
        } else {
            None
        };
        Ok(Route {
            name: target.path.clone(),
            request,
            info,
            h2,
        })
    }
}

impl LoadOptions {
    /// Requests at once: the connections, times the streams of each with HTTP/2.
    pub fn slots(&self) -> usize {
        if self.http2 {
            self.connections * self.streams
        } else {
            self.connections
        }
    }

    /// Checks the hard limits; returns the time limit the run will obey.
    pub fn validate(&self) -> Result<Duration, OptionsError> {
        let range = |s: String| Err(OptionsError::Range(s));
        if self.routes.is_empty() {
            return range("no URL to load".into());
        }
        if self.connections == 0 || self.connections > MAX_CONNECTIONS {
            return range(format!(
                "-c {}: give 1 to {MAX_CONNECTIONS} connections",
                self.connections
            ));
        }
        if self.http2 {
            if !self.target.tls {
                return range("--http2 needs an https URL (h2 is agreed by ALPN over TLS)".into());
            }
            if !self.keepalive {
                return range("--http2 keeps its connections open: drop --no-keepalive".into());
            }
            if self.idle.is_some() {
                return range("--idle pauses HTTP/1.1 connections: not with --http2".into());
            }
            if self.streams == 0 || self.streams > MAX_STREAMS {
                return range(format!(
                    "--streams {}: give 1 to {MAX_STREAMS} streams per connection",
                    self.streams
                ));
            }
            if self.connections * self.streams > MAX_CONNECTIONS {
                return range(format!(
                    "-c {} × --streams {}: at most {MAX_CONNECTIONS} requests at once",
                    self.connections, self.streams
                ));
            }
        }
        if let Model::Open { rate } = self.model {
            if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE) {
                return range(format!(
                    "-q {rate}: give a rate between 0 and {MAX_RATE} per second"
                ));
            }
        }
        if let Some(n) = self.requests {
            if n == 0 || n > MAX_REQUESTS {
                return range(format!("-n {n}: give 1 to {MAX_REQUESTS} requests"));
            }
        }
        let limit = match (self.duration, self.requests) {
            (Some(d), _) => d,
            (None, Some(_)) => MAX_DURATION,
            (None, None) => DEFAULT_DURATION,
        };
        if limit.is_zero() || limit > MAX_DURATION {
            return range(format!(
                "--duration {:.1} s: give more than 0 and at most {} s",
                limit.as_secs_f64(),
                MAX_DURATION.as_secs()
            ));
        }
        if self.ramp > limit {
            return range("--ramp is longer than the run".into());
        }
        if self.idle_every == 0 {
            return range("--idle-every 0: give 1 or more".into());
        }
        Ok(limit)
    }
}
