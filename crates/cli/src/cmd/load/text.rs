//! The text summary of a load run: the failure story first, then where the failures were, the
//! counts, the latency and the evidence.

use std::io::{self, Write};

use originlens_load::report::{thousands, Comparison};
use originlens_load::{LoadReport, Percentiles, Snapshot};

/// Per-second rows printed in full; longer runs print every n-th second.
const SERIES_ROWS: usize = 30;

/// The live progress line.
pub fn progress(s: &Snapshot) -> String {
    let secs = s.elapsed.as_secs_f64().max(1e-3);
    let mut line = format!(
        "{:.0}/{:.0} s  {} requests  {:.0}/s  p99 {:.1} ms  {} failed",
        s.elapsed.as_secs_f64(),
        s.limit.as_secs_f64(),
        thousands(s.requests),
        s.requests as f64 / secs,
        s.p99_ms,
        thousands(s.failed)
    );
    for (cause, n) in s.by_cause.iter().take(4) {
        line.push_str(&format!("  {cause} {}", thousands(*n)));
    }
    line
}

fn pct(p: &Percentiles) -> String {
    format!(
        "p50 {:.2} · p90 {:.2} · p99 {:.2} · p99.9 {:.2} · p99.99 {:.2} · max {:.2}",
        p.p50, p.p90, p.p99, p.p999, p.p9999, p.max
    )
}

/// Prints the whole summary.
pub fn print(out: &mut impl Write, r: &LoadReport) -> io::Result<()> {
    let run = &r.run;
    writeln!(out, "LOAD {}  via {}", run.url, run.connect)?;
    let model = match (run.target_rate, run.protocol.as_str()) {
        (Some(rate), "h2") => format!(
            "open model, {rate} req/s, h2, up to {} in flight on {} connections",
            run.connections * run.streams,
            run.connections
        ),
        (Some(rate), _) => format!(
            "open model, {rate} req/s, up to {} in flight",
            run.connections
        ),
        (None, "h2") => format!(
            "closed model, h2, {} connections × {} streams",
            run.connections, run.streams
        ),
        (None, _) => format!("closed model, {} connections", run.connections),
    };
    let reuse = match (run.keepalive, run.idle_s) {
        (false, _) => "a new connection per request".to_owned(),
        (true, Some(idle)) => format!("keep-alive, {idle} s idle before reuse"),
        (true, None) => "keep-alive".to_owned(),
    };
    writeln!(out, "  {model}, {reuse}, profile {}", run.profile)?;
    writeln!(out)?;
    writeln!(out, "  {}", r.summary)?;
    writeln!(out)?;
    if !r.failures.is_empty() {
        writeln!(out, "  failures")?;
        writeln!(
            out,
            "    {:<20} {:>6}  {:<20} {:>8} {:>8}  by idle before the request · by use of the connection",
            "cause", "status", "route", "count", "reused"
        )?;
        for g in &r.failures {
            let status = g.status.map_or_else(|| "none".into(), |s| s.to_string());
            let idle: Vec<String> = g.by_idle.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let uses: Vec<String> = g.by_reuse.iter().map(|(k, n)| format!("{k} {n}")).collect();
            writeln!(
                out,
                "    {:<20} {:>6}  {:<20} {:>8} {:>8}  {} · {}",
                g.cause.as_str(),
                status,
                g.route,
                thousands(g.count),
                thousands(g.on_reused),
                idle.join(", "),
                uses.join(", ")
            )?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "  requests     {} in {:.1} s = {:.0} req/s; {} connections opened; {} aborted at the deadline; {} read timeouts",
        thousands(r.requests),
        r.duration_s,
        r.rate,
        thousands(r.connections_opened),
        thousands(r.aborted_at_deadline),
        thousands(r.timeouts)
    )?;
    let statuses: Vec<String> = r
        .status_counts
        .iter()
        .map(|(s, n)| format!("{s}: {}", thousands(*n)))
        .collect();
    writeln!(out, "  visitor saw  {}", statuses.join(" · "))?;
    writeln!(out, "  latency ms   {}", pct(&r.latency_ms))?;
    if let Some(c) = &r.corrected_latency_ms {
        writeln!(
            out,
            "  corrected    {}  (from each request's intended send time)",
            pct(c)
        )?;
    }
    if r.latency_by_outcome.len() > 1 {
        for (outcome, p) in &r.latency_by_outcome {
            writeln!(out, "    {outcome:<18} {}", pct(p))?;
        }
    }
    if r.routes.len() > 1 {
        writeln!(out, "  routes")?;
        for route in &r.routes {
            writeln!(
                out,
                "    {:<30} {:>10} requests {:>8} failed",
                route.route,
                thousands(route.requests),
                thousands(route.failed)
            )?;
        }
    }
    series(out, r)?;
    if !r.evidence.is_empty() {
        writeln!(out)?;
        writeln!(out, "  evidence (first exchanges of each cause, escaped)")?;
        for e in &r.evidence {
            let idle = e.idle_s.map_or_else(
                || "new connection".into(),
                |i| format!("reuse #{}, idle {i:.2} s", e.reuse),
            );
            writeln!(
                out,
                "    {} at {:.2} s on {} ({idle}): {}",
                e.cause,
                e.at_s,
                e.route,
                e.message.as_deref().unwrap_or("")
            )?;
            writeln!(out, "      request   {}", e.request)?;
            let response = if e.response.is_empty() {
                "(no byte)".to_owned()
            } else {
                e.response.clone()
            };
            writeln!(
                out,
                "      response  {response}  [{} bytes]",
                e.response_bytes
            )?;
        }
    }
    if let Some(c) = &r.baseline {
        baseline(out, c)?;
    }
    Ok(())
}

fn series(out: &mut impl Write, r: &LoadReport) -> io::Result<()> {
    if r.series.len() < 2 {
        return Ok(());
    }
    let step = r.series.len().div_ceil(SERIES_ROWS);
    writeln!(out, "  per second   t  requests  p99 ms  failures")?;
    for row in r.series.iter().step_by(step) {
        let fails: Vec<String> = row
            .failures
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        let p99 = row.p99_ms.map_or_else(|| "-".into(), |p| format!("{p:.2}"));
        writeln!(
            out,
            "             {:>3} {:>9} {:>7}  {}",
            row.t,
            row.requests,
            p99,
            fails.join(", ")
        )?;
    }
    Ok(())
}

fn baseline(out: &mut impl Write, c: &Comparison) -> io::Result<()> {
    let change = |a: f64, b: f64| {
        if a == 0.0 {
            String::new()
        } else {
            format!(" ({:+.1}%)", (b - a) / a * 100.0)
        }
    };
    writeln!(out)?;
    writeln!(out, "  since the baseline")?;
    writeln!(
        out,
        "    rate        {:.0} → {:.0} req/s{}",
        c.rate.0,
        c.rate.1,
        change(c.rate.0, c.rate.1)
    )?;
    writeln!(
        out,
        "    p99         {:.2} → {:.2} ms{}",
        c.p99_ms.0,
        c.p99_ms.1,
        change(c.p99_ms.0, c.p99_ms.1)
    )?;
    writeln!(
        out,
        "    error rate  {:.4}% → {:.4}%",
        c.error_rate.0 * 100.0,
        c.error_rate.1 * 100.0
    )?;
    for cause in &c.new_causes {
        writeln!(out, "    new cause   {cause}")?;
    }
    for cause in &c.gone_causes {
        writeln!(out, "    gone        {cause}")?;
    }
    for (cause, (a, b)) in &c.by_cause {
        writeln!(
            out,
            "    {:<20} {} → {}",
            cause.as_str(),
            thousands(*a),
            thousands(*b)
        )?;
    }
    Ok(())
}
