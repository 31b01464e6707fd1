//! How the origin treats idle and reused connections, against the edge's reuse window.
//!
//! The edge pools idle origin connections (Cloudflare: 900 s) and reuses them. An origin that
//! closes sooner races the edge: a request written as the origin's FIN crosses it gets no answer
//! and the visitor a 520 (`keepalive.race`). Waiting 900 s per idle time would make the answer
//! useless, so every idle time is probed on its own connection at once, each connection also
//! watching for the origin's FIN, and the measurement stops as soon as the answer is known: the
//! first FIN gives the idle timeout; for an origin that forgets connections silently, the first
//! reuse that gets no answer, with every shorter idle time answered, brackets it.

use std::time::{Duration, Instant};

use originlens_net::{
    dial, watch_idle, Endpoint, IdleEvent, Scratch, ServerName, Stream, Timeouts, TlsClient,
    TlsPolicy, TlsTo,
};
use originlens_wire::{End, Kind, ReaderOptions};
use tokio::sync::mpsc;

use crate::tls_check::SslMode;
use crate::{build_request, ProbeError, ProbeOptions};

/// How long the probe waits after a response for the origin's FIN before the next request.
const CLOSE_CHECK: Duration = Duration::from_millis(20);
/// How long a `Connection: close` request waits for the origin to close after its response.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// What to measure.
#[derive(Clone, Debug)]
pub struct KeepaliveOptions {
    /// Target, headers and timeouts (the read timeout bounds each response).
    pub probe: ProbeOptions,
    /// Idle times to test by reuse, each on its own connection, all at once.
    pub idle_times: Vec<Duration>,
    /// Requests sent on one connection at most, to find the origin's per-connection cap.
    pub max_requests: u32,
    /// The edge's reuse window (`None`: the edge does not pool).
    pub edge_idle: Option<Duration>,
}

/// How an idle connection ended, or did not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleOutcome {
    /// The second request after this idle time was answered.
    Alive,
    /// The origin closed with FIN after this long idle.
    Fin(Duration),
    /// The origin reset the idle connection after this long.
    Reset(Duration),
    /// The reused connection got no answer (the origin forgot it silently).
    Silent,
    /// The reused connection was closed or reset when the request was sent.
    ClosedOnReuse,
    /// The first request already failed: nothing measured.
    Failed,
}

impl IdleOutcome {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdleOutcome::Alive => "alive",
            IdleOutcome::Fin(_) => "fin",
            IdleOutcome::Reset(_) => "reset",
            IdleOutcome::Silent => "no-answer",
            IdleOutcome::ClosedOnReuse => "closed-on-reuse",
            IdleOutcome::Failed => "failed",
        }
    }
}

/// The idle measurement.
#[derive(Clone, Debug, Default)]
pub struct IdleReport {
    /// Each idle time probed to its end, in order of idle time.
    pub probes: Vec<(Duration, IdleOutcome)>,
    /// The idle time after which the origin closed with FIN (or RST), when one was seen.
    pub closed_after: Option<Duration>,
    /// For silent origins: the longest idle time answered and the shortest not answered.
    pub bracket: Option<(Option<Duration>, Duration)>,
    /// The longest idle time the connection was seen alive.
    pub alive_up_to: Option<Duration>,
    /// `Keep-Alive: timeout=` as advertised, seconds.
    pub advertised_timeout: Option<u64>,
    /// `Keep-Alive: max=` as advertised.
    pub advertised_max: Option<u64>,
    /// Wall time spent.
    pub elapsed: Duration,
}

/// The requests-per-connection measurement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestsReport {
    /// Responses received on the connection.
    pub served: u32,
    /// How it ended: `announced` (Connection: close), `fin`, `reset`, `no-answer`, `open`
    /// (still open after `max_requests`), `failed`.
    pub ended: &'static str,
    /// Why the connection did not open, when it did not.
    pub connect: Option<ConnectFailure>,
    /// Why the first request on it got no usable response (`response.empty`,
    /// `response.reset`, `response.timeout`, ...), when it did not.
    pub first_request: Option<ConnectFailure>,
}

/// A connection that could not be opened: the cause the edge would name (`connect.timeout`
/// for a SYN that is never answered, `connect.unreachable` without a route, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectFailure {
    /// The finding (its cause is [`Kind::cause`]).
    pub kind: Kind,
    /// What happened (it names the address).
    pub message: String,
}

/// The `Connection: close` check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloseReport {
    /// The response carried `Connection: close`.
    pub announced: bool,
    /// The origin closed the connection after the response.
    pub closed: bool,
    /// The response came at all.
    pub answered: bool,
}

/// Everything measured.
#[derive(Clone, Debug, Default)]
pub struct KeepaliveReport {
    /// Idle behaviour.
    pub idle: IdleReport,
    /// Per-connection request cap.
    pub requests: RequestsReport,
    /// `Connection: close` handling.
    pub close: CloseReport,
    /// The edge's reuse window used for the comparison.
    pub edge_idle: Option<Duration>,
    /// Is there a keep-alive race with the edge?
    pub race: bool,
    /// Why (or why not), for people.
    pub risk: Vec<String>,
}

struct Response {
    keep_alive: Option<String>,
    close: bool,
}

enum Event {
    Idle(Duration, IdleOutcome),
    Header(Option<String>),
    Progress(String),
}

/// An open connection and the buffers of its last exchange.
struct Open {
    parts: Option<(Stream, Option<Scratch>)>,
    /// The deciding finding of the last exchange that failed.
    failure: Option<ConnectFailure>,
}

/// Opens a connection; over TLS any certificate is accepted (only the connection's life is
/// measured here).
async fn connect(opts: &ProbeOptions, tls: Option<&TlsClient>) -> Result<Open, ConnectFailure> {
    let t = &opts.target;
    let bare = t.host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(bare.to_owned()).map_err(|_| ConnectFailure {
        kind: Kind::DnsUnresolved,
        message: format!("`{bare}` is not a host name"),
    })?;
    let timeouts = Timeouts {
        connect: opts.connect_timeout,
        handshake: Some(opts.read_timeout),
    };
    let tls = tls.map(|client| TlsTo {
        client,
        name: &name,
    });
    let endpoint = Endpoint::new(t.connect_host.clone(), t.connect_port);
    let dialed = dial(&endpoint, timeouts, tls)
        .await
        .map_err(|e| ConnectFailure {
            kind: e.kind,
            message: e.message,
        })?;
    Ok(Open {
        failure: None,
        parts: Some((dialed.stream, None)),
    })
}

/// Sends one request and reads one complete response.
async fn exchange(
    open: &mut Open,
    request: &[u8],
    timeout: Duration,
) -> Result<Response, IdleOutcome> {
    let Some((stream, scratch)) = open.parts.take() else {
        return Err(IdleOutcome::ClosedOnReuse);
    };
    let mut ex = originlens_net::Exchange::new(
        stream,
        scratch,
        ReaderOptions::default(),
        Instant::now(),
        timeout,
        0,
    );
    ex.send(request, b"", timeout).await;
    ex.read_to_end().await;
    let end = ex.reader.report().end;
    let head = ex.reader.report().head.clone();
    let failed = ex
        .reader
        .report()
        .findings
        .iter()
        .any(|f| matches!(f.severity, originlens_wire::Severity::Error));
    open.failure = ex
        .reader
        .report()
        .findings
        .iter()
        .find(|f| f.severity == originlens_wire::Severity::Error)
        .map(|f| ConnectFailure {
            kind: f.id,
            message: f.message.to_string(),
        });
    let (stream, scratch) = ex.into_parts();
    match end {
        Some(End::Timeout) => return Err(IdleOutcome::Silent),
        // A FIN before any answer: the origin had closed (its FIN crossed the request).
        Some(End::Eof) if head.is_none() => return Err(IdleOutcome::Fin(Duration::ZERO)),
        Some(End::Eof | End::Reset) => return Err(IdleOutcome::ClosedOnReuse),
        _ => {}
    }
    if failed && head.is_none() {
        return Err(IdleOutcome::Failed);
    }
    open.parts = Some((stream, Some(scratch)));
    let field = |name: &str| {
        head.as_ref()
            .and_then(|h| h.first(name))
            .map(|v| String::from_utf8_lossy(v).trim().to_owned())
    };
    Ok(Response {
        keep_alive: field("keep-alive"),
        close: head.as_ref().is_some_and(|h| h.connection_lists(b"close")),
    })
}

/// Waits up to `d` for the origin to do something on an idle connection.
async fn watch(open: &mut Open, d: Duration) -> Option<IdleOutcome> {
    let (stream, _) = open.parts.as_mut()?;
    Some(match watch_idle(stream, d).await? {
        (IdleEvent::Closed, after) => IdleOutcome::Fin(after),
        (IdleEvent::Reset, after) => IdleOutcome::Reset(after),
        // Unexpected bytes on an idle connection: the edge would discard it too.
        (IdleEvent::StrayBytes, _) => IdleOutcome::ClosedOnReuse,
    })
}

async fn idle_probe(
    opts: ProbeOptions,
    tls: Option<TlsClient>,
    request: Vec<u8>,
    idle: Duration,
    tx: mpsc::UnboundedSender<Event>,
) {
    let outcome = async {
        let Ok(mut io) = connect(&opts, tls.as_ref()).await else {
            return IdleOutcome::Failed;
        };
        match exchange(&mut io, &request, opts.read_timeout).await {
            Ok(r) => {
                let _ = tx.send(Event::Header(r.keep_alive));
                if r.close {
                    return IdleOutcome::Fin(Duration::ZERO);
                }
            }
            Err(_) => return IdleOutcome::Failed,
        }
        if let Some(ended) = watch(&mut io, idle).await {
            return ended;
        }
        let _ = tx.send(Event::Progress(format!(
            "idle {} s: connection still open, reusing it",
            idle.as_secs_f64()
        )));
        let reuse_timeout = opts.read_timeout.min(Duration::from_secs(5));
        match exchange(&mut io, &request, reuse_timeout).await {
            Ok(_) => IdleOutcome::Alive,
            // The watch ended just before the origin's FIN: it closes at about this idle time,
            // which is a FIN close, not a silent one.
            Err(IdleOutcome::Fin(_)) => IdleOutcome::Fin(idle),
            Err(e) => e,
        }
    }
    .await;
    let _ = tx.send(Event::Idle(idle, outcome));
}

fn parse_keep_alive(v: &str) -> (Option<u64>, Option<u64>) {
    let mut timeout = None;
    let mut max = None;
    for part in v.split(',') {
        if let Some((k, val)) = part.split_once('=') {
            let n = val.trim().trim_matches('"').parse().ok();
            match k.trim().to_ascii_lowercase().as_str() {
                "timeout" => timeout = n,
                "max" => max = n,
                _ => {}
            }
        }
    }
    (timeout, max)
}

/// Measures idle closing: all idle times at once, stopping as soon as the answer is known.
pub async fn measure_idle(
    opts: &KeepaliveOptions,
    tls: Option<&TlsClient>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<IdleReport, ProbeError> {
    let request = build_request(&opts.probe)?;
    let start = Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut times = opts.idle_times.clone();
    times.sort();
    times.dedup();
    let mut tasks = tokio::task::JoinSet::new();
    for &t in &times {
        tasks.spawn(idle_probe(
            opts.probe.clone(),
            tls.cloned(),
            request.clone(),
            t,
            tx.clone(),
        ));
    }
    drop(tx);
    let mut report = IdleReport::default();
    let mut done: Vec<(Duration, IdleOutcome)> = Vec::new();
    while let Some(ev) = rx.recv().await {
        match ev {
            Event::Header(Some(v)) if report.advertised_timeout.is_none() => {
                (report.advertised_timeout, report.advertised_max) = parse_keep_alive(&v);
            }
            Event::Header(_) => {}
            Event::Progress(p) => progress(&p),
            Event::Idle(t, outcome) => {
                progress(&format!(
                    "idle {} s: {} ({:.1} s elapsed)",
                    t.as_secs_f64(),
                    match outcome {
                        IdleOutcome::Fin(after) | IdleOutcome::Reset(after) => format!(
                            "{} after {:.1} s idle",
                            outcome.as_str(),
                            after.as_secs_f64()
                        ),
                        other => other.as_str().to_owned(),
                    },
                    start.elapsed().as_secs_f64()
                ));
                done.push((t, outcome));
                done.sort_by_key(|d| d.0);
                if let IdleOutcome::Fin(after) | IdleOutcome::Reset(after) = outcome {
                    report.closed_after = Some(after);
                    break;
                }
                if matches!(outcome, IdleOutcome::Silent | IdleOutcome::ClosedOnReuse) {
                    let shorter_known = times
                        .iter()
                        .filter(|&&s| s < t)
                        .all(|s| done.iter().any(|d| d.0 == *s));
                    if shorter_known {
                        break;
                    }
                }
            }
        }
    }
    tasks.abort_all();
    report.alive_up_to = done
        .iter()
        .filter(|d| d.1 == IdleOutcome::Alive)
        .map(|d| d.0)
        .max();
    if report.closed_after.is_none() {
        if let Some(first_dead) = done
            .iter()
            .find(|d| matches!(d.1, IdleOutcome::Silent | IdleOutcome::ClosedOnReuse))
        {
            let below = done
                .iter()
                .filter(|d| d.1 == IdleOutcome::Alive && d.0 < first_dead.0)
                .map(|d| d.0)
                .max();
            report.bracket = Some((below, first_dead.0));
        }
    }
    report.probes = done;
    report.elapsed = start.elapsed();
    Ok(report)
}

/// Sends requests back to back on one connection until the origin stops serving it.
pub async fn measure_requests(
    opts: &KeepaliveOptions,
    tls: Option<&TlsClient>,
) -> Result<RequestsReport, ProbeError> {
    let request = build_request(&opts.probe)?;
    let mut out = RequestsReport {
        served: 0,
        ended: "failed",
        connect: None,
        first_request: None,
    };
    let mut io = match connect(&opts.probe, tls).await {
        Ok(io) => io,
        Err(failure) => {
            out.connect = Some(failure);
            return Ok(out);
        }
    };
    for _ in 0..opts.max_requests {
        match exchange(&mut io, &request, opts.probe.read_timeout).await {
            Err(_) if out.served == 0 => {
                out.first_request = io.failure.take();
                return Ok(out);
            }
            Ok(r) => {
                out.served += 1;
                if r.close {
                    out.ended = "announced";
                    return Ok(out);
                }
            }
            Err(IdleOutcome::Silent) => {
                out.ended = "no-answer";
                return Ok(out);
            }
            Err(_) => {
                out.ended = if out.served == 0 { "failed" } else { "fin" };
                return Ok(out);
            }
        }
        match watch(&mut io, CLOSE_CHECK).await {
            None => {}
            Some(IdleOutcome::Reset(_)) => {
                out.ended = "reset";
                return Ok(out);
            }
            Some(_) => {
                out.ended = "fin";
                return Ok(out);
            }
        }
    }
    out.ended = "open";
    Ok(out)
}

/// Sends one request with `Connection: close` and checks that the origin closes after it.
pub async fn measure_close(
    opts: &KeepaliveOptions,
    tls: Option<&TlsClient>,
) -> Result<CloseReport, ProbeError> {
    let mut probe = opts.probe.clone();
    probe
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("connection"));
    probe.headers.push(("Connection".into(), "close".into()));
    let request = build_request(&probe)?;
    let mut out = CloseReport::default();
    let Ok(mut io) = connect(&probe, tls).await else {
        return Ok(out);
    };
    if let Ok(r) = exchange(&mut io, &request, probe.read_timeout).await {
        out.answered = true;
        out.announced = r.close;
        out.closed = matches!(
            watch(&mut io, CLOSE_WAIT).await,
            Some(IdleOutcome::Fin(_) | IdleOutcome::Reset(_))
        );
    }
    Ok(out)
}

/// Runs the three measurements and compares them with the edge's reuse window.
pub async fn measure(
    opts: &KeepaliveOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<KeepaliveReport, ProbeError> {
    // Certificates are `probe`'s business: here only the connection's life matters.
    let client = if opts.probe.target.tls {
        let policy = TlsPolicy {
            mode: SslMode::Full,
            ..TlsPolicy::default()
        };
        Some(TlsClient::new(policy).map_err(|e| ProbeError::TlsSetup(e.to_string()))?)
    } else {
        None
    };
    let tls = client.as_ref();
    progress("probing idle times, the request cap and Connection: close in parallel");
    let (close, requests, idle) = tokio::join!(
        measure_close(opts, tls),
        measure_requests(opts, tls),
        measure_idle(opts, tls, progress)
    );
    let (close, requests, idle) = (close?, requests?, idle?);
    let mut report = KeepaliveReport {
        idle,
        requests,
        close,
        edge_idle: opts.edge_idle,
        race: false,
        risk: Vec::new(),
    };
    assess(&mut report);
    Ok(report)
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

fn assess(r: &mut KeepaliveReport) {
    if let Some(f) = &r.requests.first_request {
        r.risk.push(format!(
            "the first request already failed ({}: {}): nothing was measured",
            f.kind.cause().as_str(),
            f.message
        ));
        return;
    }
    if let Some(f) = &r.requests.connect {
        r.risk.push(format!(
            "no connection could be opened ({}: {}): nothing was measured",
            f.kind.cause().as_str(),
            f.message
        ));
        return;
    }
    let Some(edge) = r.edge_idle else {
        r.risk
            .push("this edge does not pool origin connections: no race to lose".into());
        return;
    };
    let edge_s = secs(edge);
    if let Some(after) = r.idle.closed_after {
        if after < edge {
            r.race = true;
            r.risk.push(format!(
                "the origin closes idle connections after {} but the edge reuses them for up to {edge_s}: a request written while the origin's FIN is on its way gets no answer, and the visitor an intermittent 520",
                secs(after)
            ));
        }
    } else if let Some((below, above)) = r.idle.bracket {
        if above < edge {
            r.race = true;
            r.risk.push(format!(
                "the origin forgets idle connections silently (no FIN) after {} to {}: the edge cannot see it and reuses them for up to {edge_s}; those requests get no answer (520, or 524 after the read timeout)",
                below.map_or("0 s".to_owned(), secs),
                secs(above)
            ));
        }
    } else if let Some(alive) = r.idle.alive_up_to {
        if alive < edge {
            r.risk.push(format!(
                "connections stayed usable for the longest idle time probed ({}); the edge pools {edge_s}: probe with --max-wait {} to cover the whole window",
                secs(alive),
                edge.as_secs()
            ));
        }
    }
    if let Some(t) = r.idle.advertised_timeout {
        if Duration::from_secs(t) < edge && !r.race {
            r.race = true;
            r.risk.push(format!(
                "the origin advertises Keep-Alive: timeout={t}, shorter than the edge's {edge_s}"
            ));
        }
    }
    match r.requests.ended {
        "fin" | "reset" | "no-answer" => {
            r.race = true;
            r.risk.push(format!(
                "the origin stops serving a connection after {} requests without announcing it (no Connection: close): the edge's next request on it fails",
                r.requests.served
            ));
        }
        "announced" => r.risk.push(format!(
            "the origin closes a connection after {} requests and says so with Connection: close, which the edge honours",
            r.requests.served
        )),
        _ => {}
    }
    if r.close.answered && !r.close.closed {
        r.risk
            .push("the origin kept the connection open after answering Connection: close".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_header_is_parsed() {
        assert_eq!(parse_keep_alive("timeout=5, max=100"), (Some(5), Some(100)));
        assert_eq!(parse_keep_alive("Timeout = 2"), (Some(2), None));
        assert_eq!(parse_keep_alive("garbage"), (None, None));
        assert_eq!(parse_keep_alive("timeout=-1"), (None, None));
    }
}
