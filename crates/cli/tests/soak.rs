//! Soak with faults: `originlens lab --mix` answers each request with a route drawn from a
//! weighted mix of clean and broken ones and prints each draw on stderr; the real edge stands in
//! front of it with a store; visitors of this test send numbered requests (`/soak?id=N`) on
//! keep-alive connections and read every response with `originlens-wire`.
//!
//! Held to: the edge never crashes; every response the visitors get is well-formed, with the
//! status the lab's table says the edge shows for the drawn route, and the only defect a
//! visitor may see is the body cut short for a route whose body breaks after its head (that is
//! how the edge ends such a response); every broken draw is an incident with the drawn route's
//! cause (matched by the `originlens-ray` id and the target), and no clean one is; the edge's
//! RSS at the end is less than 10 % above its RSS after warm-up (the first 10 % of requests;
//! the highest sample in between is reported too). And `kill -9` under load: every incident the edge
//! acknowledged before the kill (`originlens_edge_incidents_written_total`, which counts
//! committed incidents) is in the store afterwards.
//!
//! CI runs 50,000 requests; `bench/soak.sh` runs `full_size_from_env` (ignored here) with
//! 1,000,000.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use originlens_lab::Route;
use originlens_net::{Exchange, Stream};
use originlens_wire::{judge, Cause, End, GeneratedBy, JudgeContext, Profile, ReaderOptions};
use originlens_wire::{Kind, Severity};
use serde::Deserialize;

mod common;
use common::edge::{originlens, EdgeProc};
use common::net::KillOnDrop;
use common::watch::{metrics_text, rss_kib, sample};

/// `originlens lab --mix SPEC --seed SEED` on a free loopback port, its draws in a file.
struct MixLab {
    _child: KillOnDrop,
    addr: SocketAddr,
    draws: PathBuf,
    _dir: tempfile::TempDir,
}

impl MixLab {
    fn start(spec: &str, seed: u64) -> MixLab {
        let dir = tempfile::tempdir().unwrap();
        let draws = dir.path().join("draws.txt");
        let mut child = originlens()
            .args(["lab", "--listen", "127.0.0.1:0", "--mix", spec])
            .args(["--seed", &seed.to_string()])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&draws).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let child = KillOnDrop(child);
        let first = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the lab printed its address");
        let addr = first
            .split("on http://")
            .nth(1)
            .and_then(|a| a.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("no address in `{first}`"));
        MixLab {
            _child: child,
            addr,
            draws,
            _dir: dir,
        }
    }

    /// The route drawn for each request id (the lab's stderr: `mix id=N PATH ...`); a request
    /// the edge retried is drawn again, and must meet the same route.
    fn draws(&self) -> (HashMap<u64, &'static Route>, usize) {
        let text = std::fs::read_to_string(&self.draws).unwrap();
        let mut by_id = HashMap::new();
        let mut lines = 0;
        for line in text.lines() {
            let mut parts = line.split(' ');
            let (Some("mix"), Some(key), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Some(id) = key.strip_prefix("id=").and_then(|i| i.parse().ok()) else {
                panic!("a draw without an id: {line}");
            };
            let route = originlens_lab::route(path).unwrap_or_else(|| panic!("{line}"));
            lines += 1;
            if let Some(before) = by_id.insert(id, route) {
                assert_eq!(before.path, route.path, "id {id} drawn twice differently");
            }
        }
        (by_id, lines)
    }
}

/// What a visitor read for one request.
#[derive(Clone, Debug)]
struct Seen {
    id: u64,
    status: Option<u16>,
    head_complete: bool,
    end: Option<End>,
    /// `originlens-ray`: the incident id when there is one.
    ray: Option<String>,
    /// The visitor's own verdict on the edge's response (Cloudflare profile).
    cause: Option<Cause>,
    /// Every error-severity finding in the edge's response.
    errors: Vec<Kind>,
}

/// Sends `/soak?id=N` for ids from `next` up to `n` on one keep-alive connection at a time
/// (a new one whenever the edge closes), reading each response with the wire reader.
async fn visitor(
    edge: SocketAddr,
    next: Arc<AtomicU64>,
    n: u64,
    stop: Arc<AtomicBool>,
) -> Vec<Seen> {
    let profile = Profile::by_name("cloudflare").unwrap();
    let mut out = Vec::new();
    let mut conn: Option<(Stream, originlens_net::Scratch)> = None;
    while !stop.load(Ordering::Relaxed) {
        let id = next.fetch_add(1, Ordering::Relaxed);
        if id >= n {
            break;
        }
        let (stream, scratch) = match conn.take() {
            Some((s, scratch)) => (s, Some(scratch)),
            None => match tokio::net::TcpStream::connect(edge).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    (Stream::Plain(s), None)
                }
                // The edge is gone (the kill -9 test): stop.
                Err(_) => break,
            },
        };
        let timeout = Duration::from_secs(30);
        let mut ex = Exchange::new(
            stream,
            scratch,
            ReaderOptions::default(),
            Instant::now(),
            timeout,
            0,
        );
        let req = format!("GET /soak?id={id} HTTP/1.1\r\nHost: soak.test\r\n\r\n");
        ex.send(req.as_bytes(), b"", timeout).await;
        ex.read_to_end().await;
        let report = ex.reader.report();
        let head = report.head.as_ref();
        let verdict = judge(report, profile, JudgeContext::default());
        let complete = report.end == Some(End::Complete);
        let keep = complete && head.is_some_and(|h| !h.connection_lists(b"close"));
        out.push(Seen {
            id,
            status: report.status(),
            head_complete: report.head_complete,
            end: report.end,
            ray: head
                .and_then(|h| h.first("originlens-ray"))
                .map(|v| String::from_utf8_lossy(v).into_owned()),
            cause: verdict.cause,
            errors: report
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| f.id)
                .collect(),
        });
        if keep {
            conn = Some(ex.into_parts());
        }
    }
    out
}

/// `visitors` visitors sending requests 0..n; stops early when `stop` is set.
fn drive(edge: SocketAddr, n: u64, visitors: usize, stop: Arc<AtomicBool>) -> Vec<Seen> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let next = Arc::new(AtomicU64::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..visitors {
            tasks.spawn(visitor(edge, next.clone(), n, stop.clone()));
        }
        let mut all = Vec::new();
        while let Some(seen) = tasks.join_next().await {
            all.extend(seen.unwrap());
        }
        all
    })
}

/// The fields of an exported incident this test reads.
#[derive(Deserialize)]
struct Row {
    id: String,
    cause: String,
    target: String,
    visitor_status: u16,
}

/// Every stored incident (`originlens incidents export`, read line by line).
fn stored(store: &Path) -> HashMap<String, Row> {
    let mut child = originlens()
        .args(["incidents", "--store"])
        .arg(store)
        .arg("export")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rows = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| {
            let row: Row = serde_json::from_str(&l.unwrap()).expect("an incident line");
            (row.id.clone(), row)
        })
        .collect();
    assert!(child.wait().unwrap().success(), "incidents export failed");
    rows
}

/// What the visitor may see for `route`: the status, and which error findings are the
/// expected ones (the edge's or the origin's 5xx; a body the edge cut after the head).
fn allowed(route: &Route, seen: &Seen) -> Result<(), String> {
    let e = route.expect;
    if seen.status != Some(e.status) || !seen.head_complete {
        return Err(format!(
            "status {:?} (head complete: {}), the table says {}",
            seen.status, seen.head_complete, e.status
        ));
    }
    let cut =
        e.generated_by == GeneratedBy::Origin && e.cause.is_some_and(|c| c != Cause::OriginError);
    let fine = |k: &Kind| match k.cause() {
        Cause::OriginError => e.status >= 500,
        Cause::BodyTruncated => cut,
        _ => false,
    };
    if let Some(bad) = seen.errors.iter().find(|k| !fine(k)) {
        return Err(format!("a malformed response reached the visitor: {bad:?}"));
    }
    // The visitor's own verdict: clean, the 5xx it was shown, or the cut body.
    let want = if cut {
        Some(Cause::BodyTruncated)
    } else if e.status >= 500 {
        Some(Cause::OriginError)
    } else {
        None
    };
    if seen.cause != want {
        return Err(format!(
            "the visitor's verdict is {:?}, expected {want:?}",
            seen.cause
        ));
    }
    if cut == (seen.end == Some(End::Complete)) {
        return Err(format!(
            "ended {:?}: the body must be cut exactly when the route breaks it",
            seen.end
        ));
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Figures {
    requests: usize,
    draws: usize,
    broken: usize,
    incidents: usize,
    dropped: f64,
    seconds: f64,
    rss_warm_kib: u64,
    rss_max_kib: u64,
    rss_end_kib: u64,
}

impl Figures {
    /// RSS growth from the warm-up to the end of the run: what a leak would show.
    fn growth(&self) -> f64 {
        (self.rss_end_kib as f64 - self.rss_warm_kib as f64) / self.rss_warm_kib as f64
    }

    /// The highest RSS after warm-up against the warm-up's: transient buffers included.
    fn peak_growth(&self) -> f64 {
        (self.rss_max_kib as f64 - self.rss_warm_kib as f64) / self.rss_warm_kib as f64
    }

    fn report(&self) -> String {
        format!(
            "{} requests in {:.1} s ({:.0}/s), {} lab draws (retries included); {} broken, {} incidents stored, {} dropped\n\
             edge RSS after warm-up {} KiB, max after {} KiB ({:+.1} %), at the end {} KiB: growth {:+.1} %",
            self.requests,
            self.seconds,
            self.requests as f64 / self.seconds,
            self.draws,
            self.broken,
            self.incidents,
            self.dropped,
            self.rss_warm_kib,
            self.rss_max_kib,
            self.peak_growth() * 100.0,
            self.rss_end_kib,
            self.growth() * 100.0
        )
    }
}

fn start_edge(lab: &MixLab) -> EdgeProc {
    EdgeProc::builder()
        .loopback()
        .temp_store()
        .capture_stderr()
        .args([
            "--origin",
            &format!("http://{}", lab.addr),
            "--workers",
            "2",
        ])
        .start()
}

fn alive(child: &mut Child) -> bool {
    child.try_wait().unwrap().is_none()
}

/// The soak: `n` requests by `visitors` visitors through the edge in front of the default mix.
fn soak(n: u64, visitors: usize) -> Figures {
    let lab = MixLab::start("default", 42);
    let mut edge = start_edge(&lab);
    let pid = edge.child.id();
    let started = Instant::now();

    // Resident memory: after the first 10 % of requests (warm-up), then its maximum.
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        let admin = edge.admin;
        std::thread::spawn(move || {
            let responses = |text: &str| -> f64 {
                text.lines()
                    .filter(|l| l.starts_with("originlens_edge_responses_total{"))
                    .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                    .sum()
            };
            let mut warm = None;
            let mut max = 0;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                if warm.is_none() {
                    if responses(&metrics_text(admin)) >= n as f64 / 10.0 {
                        warm = Some(rss_kib(pid));
                    }
                    continue;
                }
                max = max.max(rss_kib(pid));
            }
            (warm, max)
        })
    };
    let seen = drive(edge.addr, n, visitors, Arc::new(AtomicBool::new(false)));
    let seconds = started.elapsed().as_secs_f64();
    let rss_end_kib = rss_kib(pid);
    done.store(true, Ordering::Relaxed);
    let (warm, max) = sampler.join().unwrap();

    assert!(
        alive(&mut edge.child),
        "the edge died:\n{}",
        edge.stderr_text()
    );
    let stderr = edge.stderr_text();
    assert!(!stderr.contains("panicked"), "the edge panicked:\n{stderr}");
    assert_eq!(seen.len() as u64, n, "every request was answered");

    let (draws, draw_lines) = lab.draws();
    let broken: Vec<&Seen> = seen
        .iter()
        .filter(|s| draws.get(&s.id).is_some_and(|r| r.expect.cause.is_some()))
        .collect();
    // The writer commits in batches: wait until it has every broken one (or stops moving).
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let text = metrics_text(edge.admin);
        let settled = sample(&text, "originlens_edge_incidents_written_total")
            + sample(&text, "originlens_edge_incidents_dropped_total");
        if settled >= broken.len() as f64 || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let rows = stored(edge.store());

    let mut wrong = Vec::new();
    for s in &seen {
        let Some(route) = draws.get(&s.id) else {
            wrong.push(format!("id {}: the lab drew nothing", s.id));
            continue;
        };
        if let Err(e) = allowed(route, s) {
            wrong.push(format!("id {} {}: {e}", s.id, route.path));
        }
        let row = s.ray.as_ref().and_then(|r| rows.get(r));
        match (route.expect.cause, row) {
            (Some(cause), Some(row)) => {
                let target = format!("/soak?id={}", s.id);
                if row.cause != cause.as_str()
                    || row.target != target
                    || row.visitor_status != route.expect.status
                {
                    wrong.push(format!(
                        "id {} {}: incident {} says {} {} {}, the lab drew {}",
                        s.id,
                        route.path,
                        row.id,
                        row.cause,
                        row.target,
                        row.visitor_status,
                        cause.as_str()
                    ));
                }
            }
            (Some(cause), None) => wrong.push(format!(
                "id {} {}: no incident ({}) for ray {:?}",
                s.id,
                route.path,
                cause.as_str(),
                s.ray
            )),
            (None, Some(row)) => wrong.push(format!(
                "id {} {}: a clean response has incident {} ({})",
                s.id, route.path, row.id, row.cause
            )),
            (None, None) => {}
        }
    }
    let figures = Figures {
        requests: seen.len(),
        draws: draw_lines,
        broken: broken.len(),
        incidents: rows.len(),
        dropped: sample(&metrics, "originlens_edge_incidents_dropped_total"),
        seconds,
        rss_warm_kib: warm.unwrap_or(0),
        rss_max_kib: max.max(rss_end_kib),
        rss_end_kib,
    };
    eprintln!("{}", figures.report());
    assert!(
        wrong.is_empty(),
        "{} of {} requests went wrong, the first ones:\n{}\n{}",
        wrong.len(),
        seen.len(),
        wrong[..wrong.len().min(20)].join("\n"),
        figures.report()
    );
    assert_eq!(figures.incidents, figures.broken, "{}", figures.report());
    assert_eq!(figures.dropped, 0.0, "{}", figures.report());
    assert!(warm.is_some(), "no warm-up sample:\n{}", figures.report());
    assert!(
        figures.growth() < 0.10,
        "RSS grew 10 % or more after warm-up:\n{}",
        figures.report()
    );
    figures
}

#[test]
fn soak_through_the_edge_in_front_of_a_mix_of_faults() {
    soak(50_000, 8);
}

/// The full size, for `bench/soak.sh`: `SOAK_REQUESTS` (1,000,000) by `SOAK_VISITORS` (16).
#[test]
#[ignore = "full size: run by bench/soak.sh"]
fn full_size_from_env() {
    let var = |name: &str, default: u64| -> u64 {
        std::env::var(name).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        })
    };
    let figures = soak(
        var("SOAK_REQUESTS", 1_000_000),
        var("SOAK_VISITORS", 16) as usize,
    );
    println!("{}", figures.report());
}

#[test]
fn kill_9_under_load_keeps_every_acknowledged_incident() {
    // Mostly broken, so that incidents are committed all the time.
    let lab = MixLab::start("ok=2,empty=1,cl-conflict=1,chunked-eof=1,origin-500=1", 9);
    let mut edge = start_edge(&lab);
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let load = {
        let (addr, stop, seen) = (edge.addr, stop.clone(), seen.clone());
        std::thread::spawn(move || {
            *seen.lock().unwrap() = drive(addr, u64::MAX, 8, stop);
        })
    };
    // Under load for a while, then: what the edge acknowledged, and at once SIGKILL.
    let deadline = Instant::now() + Duration::from_secs(20);
    let acknowledged = loop {
        std::thread::sleep(Duration::from_millis(200));
        let written = sample(
            &metrics_text(edge.admin),
            "originlens_edge_incidents_written_total",
        );
        if written >= 2000.0 || Instant::now() > deadline {
            break written;
        }
    };
    edge.child.kill().unwrap();
    let status = edge.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "{status}"
    );
    assert!(
        acknowledged > 0.0,
        "nothing was acknowledged before the kill"
    );

    let rows = stored(edge.store());
    let seen = seen.lock().unwrap();
    let rays: std::collections::HashSet<&str> =
        seen.iter().filter_map(|s| s.ray.as_deref()).collect();
    let unseen = rows.keys().filter(|id| !rays.contains(id.as_str())).count();
    let shown = seen
        .iter()
        .filter(|s| s.status.is_some_and(|st| st >= 500))
        .filter(|s| s.ray.as_ref().is_some_and(|r| !rows.contains_key(r)))
        .count();
    eprintln!(
        "acknowledged {acknowledged} incidents, then kill -9; {} stored afterwards; {} responses read; \
         {shown} error responses shown to visitors whose incident was still queued (not acknowledged, lost); \
         {unseen} stored incidents whose response was still on its way",
        rows.len(),
        seen.len(),
    );
    assert!(
        rows.len() as f64 >= acknowledged,
        "{acknowledged} acknowledged, {} stored",
        rows.len()
    );
    // Every stored incident belongs to a request the visitors sent; at most one per visitor
    // was still unanswered when the edge died.
    assert!(unseen <= 8, "{unseen} stored incidents nobody asked for");
    for row in rows.values() {
        assert!(row.target.starts_with("/soak?id="), "{}", row.target);
    }
}
