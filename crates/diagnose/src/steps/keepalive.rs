//! Keep-alive: the origin's idle timeout and request cap, measured up to `--keepalive-max`.

use originlens_probe::keepalive::KeepaliveReport;
use originlens_probe::ProbeOptions;

use crate::adapters;
use crate::document::KeepaliveRecord;
use crate::options::Options;

/// The step's time limit: the longest idle time, then a response or two.
pub fn limit(opts: &Options) -> std::time::Duration {
    opts.keepalive_max
        + opts.read_timeout * 3
        + opts.connect_timeout
        + std::time::Duration::from_secs(3)
}

/// Measures and summarises.
pub async fn run(opts: &Options) -> Result<(KeepaliveReport, KeepaliveRecord), String> {
    let probe = ProbeOptions {
        target: opts.target.clone(),
        method: "GET".into(),
        headers: opts.headers.clone(),
        body: Vec::new(),
        connect_timeout: opts.connect_timeout,
        read_timeout: opts.read_timeout,
    };
    let ka = adapters::keepalive_options(probe, opts.keepalive_max, opts.profile);
    let measured = ka.idle_times.iter().max().copied().unwrap_or_default();
    if ka.idle_times.is_empty() {
        return Err(format!(
            "--keepalive-max {:.0} s is below the shortest idle time probed (1 s)",
            opts.keepalive_max.as_secs_f64()
        ));
    }
    let report = adapters::keepalive(&ka).await.map_err(|e| e.to_string())?;
    let edge = report.edge_idle.map(|d| d.as_secs());
    let s = |d: std::time::Duration| d.as_secs_f64();
    let summary = match (report.idle.closed_after, report.idle.alive_up_to) {
        (Some(c), _) => format!(
            "the origin closes idle connections after {:.1} s{}",
            s(c),
            edge.map_or(String::new(), |e| format!(
                "; the edge reuses them for up to {e} s"
            ))
        ),
        (None, Some(a)) => format!(
            "idle connections stay open ≥ {:.0} s, not measured to the edge's {} s",
            s(a),
            edge.map_or("reuse window".to_owned(), |e| e.to_string())
        ),
        (None, None) => match report.idle.bracket {
            Some((_, silent)) => format!(
                "after {:.0} s idle the origin no longer answers a reused connection (no FIN)",
                s(silent)
            ),
            None => "the idle measurement got no answer".into(),
        },
    };
    let record = KeepaliveRecord {
        measured_up_to_s: s(measured),
        closed_after_s: report.idle.closed_after.map(s),
        alive_up_to_s: report.idle.alive_up_to.map(s),
        advertised_timeout_s: report.idle.advertised_timeout,
        requests_served: report.requests.served,
        requests_ended: report.requests.ended.to_owned(),
        edge_idle_s: edge,
        race: report.race,
        summary,
    };
    Ok((report, record))
}
