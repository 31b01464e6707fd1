//! The real `originlens keepalive` binary against the lab's short-idle routes and against a real
//! nginx with a short `keepalive_timeout` and `keepalive_requests`.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use originlens_lab::routes::{KEEPALIVE_REQUESTS, KEEPALIVE_SHORT, KEEPALIVE_SILENT};
use originlens_lab::LabHandle;
use serde_json::Value;

mod common;
use common::nginx::Nginx;

fn run(args: &[&str]) -> (Output, Value, Duration) {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_originlens"))
        .args(args)
        .output()
        .expect("run originlens");
    let took = start.elapsed();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, doc, took)
}

fn keepalive(url: &str, extra: &[&str]) -> (Output, Value, Duration) {
    let mut args = vec!["keepalive", url, "--format", "json", "--read-timeout", "3"];
    args.extend(extra);
    run(&args)
}

/// FIN after 1 s idle: measured within a few hundred ms, reported as a race, and fast.
#[test]
fn short_idle_close_is_measured_and_is_a_race() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/keepalive-short", lab.addr());
    let (out, doc, took) = keepalive(&url, &["--max-wait", "30", "--max-requests", "20"]);
    assert_eq!(doc["schema"], "originlens.keepalive/1");
    assert_eq!(out.status.code(), Some(1), "{doc}");
    assert_eq!(doc["cause"], "keepalive.race");
    let closed = doc["idle"]["closed_after_s"].as_f64().unwrap();
    let want = KEEPALIVE_SHORT.as_secs_f64();
    assert!(
        (want - 0.2..want + 0.5).contains(&closed),
        "closed after {closed}"
    );
    assert_eq!(doc["idle"]["advertised_timeout_s"], 1);
    assert_eq!(doc["requests"]["ended"], "open");
    assert_eq!(doc["connection_close"]["honoured"], true);
    assert_eq!(doc["edge"]["idle_pool_s"], 900.0);
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// No FIN, the connection is just forgotten: bracketed by reuse, without waiting for max-wait.
#[test]
fn silent_drop_is_bracketed_by_reuse() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/keepalive-silent", lab.addr());
    let (out, doc, took) = keepalive(
        &url,
        &[
            "--idle",
            "1,3,6,20",
            "--max-wait",
            "20",
            "--max-requests",
            "5",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{doc}");
    assert!(doc["idle"]["closed_after_s"].is_null(), "{doc}");
    let b = &doc["idle"]["silent_between_s"];
    let (lo, hi) = (b[0].as_f64().unwrap(), b[1].as_f64().unwrap());
    let t = KEEPALIVE_SILENT.as_secs_f64();
    assert!(lo <= t && t <= hi, "bracket {lo}..{hi}");
    assert_eq!((lo, hi), (1.0, 3.0));
    // Answered after the 3 s reuse timed out, long before the 20 s idle time.
    assert!(took < Duration::from_secs(12), "took {took:?}");
}

/// A request cap closed without `Connection: close`.
#[test]
fn unannounced_request_cap_is_counted() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/keepalive-requests", lab.addr());
    let (out, doc, _) = keepalive(&url, &["--idle", "1", "--max-wait", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(doc["requests"]["served"], KEEPALIVE_REQUESTS);
    assert_eq!(doc["requests"]["ended"], "fin");
    assert_eq!(doc["idle"]["alive_up_to_s"], 1.0);
}

/// An origin that keeps connections longer than the edge's window would be no race; with the
/// `nginx` profile (no pooling) there is nothing to lose either, and the exit status is 0.
#[test]
fn no_pooling_edge_means_no_race() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/ok", lab.addr());
    let (out, doc, _) = keepalive(
        &url,
        &[
            "--idle",
            "1",
            "--max-wait",
            "1",
            "--max-requests",
            "10",
            "--profile",
            "haproxy",
        ],
    );
    if doc["edge"]["idle_pool_s"].is_null() {
        assert_eq!(out.status.code(), Some(0), "{doc}");
        assert_eq!(doc["race"], false);
    } else {
        // The profile pools: /ok stayed open for the whole (short) probe, which is no FIN race.
        assert!(doc["idle"]["closed_after_s"].is_null(), "{doc}");
    }
    assert_eq!(doc["requests"]["served"], 10);
    assert_eq!(doc["requests"]["ended"], "open");
}

/// A real nginx with `keepalive_timeout 2s 2s; keepalive_requests 5;`: the idle close, the
/// advertised timeout, the request cap (announced with Connection: close) and the race.
#[test]
fn real_nginx_values_are_measured() {
    let nginx = Nginx::start(
        "keepalive_timeout 2s 2s;\n  keepalive_requests 5;",
        "location / { }",
    );
    let url = format!("http://127.0.0.1:{}/", nginx.port);
    let (out, doc, took) = keepalive(&url, &["--max-wait", "30", "--max-requests", "20"]);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let closed = doc["idle"]["closed_after_s"].as_f64().unwrap_or(-1.0);
    assert!((1.8..2.8).contains(&closed), "closed after {closed}: {doc}");
    assert_eq!(doc["idle"]["advertised_timeout_s"], 2, "{doc}");
    assert_eq!(doc["requests"]["served"], 5, "{doc}");
    assert_eq!(doc["requests"]["ended"], "announced", "{doc}");
    assert_eq!(doc["connection_close"]["honoured"], true);
    assert_eq!(doc["cause"], "keepalive.race");
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

/// An idle time equal to the origin's keep-alive timeout is the race in the measurement itself:
/// the watch ends a moment before the origin's FIN, which then crosses the reused request. That
/// is a FIN close at about that idle time, never a silent one: 50 runs, none silent.
#[test]
fn a_fin_at_the_measured_idle_time_is_never_called_silent() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/keepalive-short", lab.addr());
    let idle = KEEPALIVE_SHORT.as_secs_f64().to_string();
    let mut wrong = Vec::new();
    for _ in 0..5 {
        let runs: Vec<_> = (0..10)
            .map(|_| {
                let (url, idle) = (url.clone(), idle.clone());
                std::thread::spawn(move || {
                    keepalive(
                        &url,
                        &["--idle", &idle, "--max-wait", "3", "--max-requests", "2"],
                    )
                    .1
                })
            })
            .collect();
        for run in runs {
            let doc = run.join().unwrap();
            // At exactly the origin's timeout the reuse may also still win (alive): both are
            // what happened; "silent" never is.
            let closed = doc["idle"]["closed_after_s"].as_f64();
            let alive =
                doc["idle"]["alive_up_to_s"].as_f64() == Some(KEEPALIVE_SHORT.as_secs_f64());
            if !doc["idle"]["silent_between_s"].is_null()
                || !(alive || closed.is_some_and(|c| (0.8..1.6).contains(&c)))
            {
                wrong.push(doc["idle"].to_string());
            }
        }
    }
    assert!(wrong.is_empty(), "{} of 50 runs: {wrong:#?}", wrong.len());
}

/// When the first request already fails, nothing is measured, and the report says why with the
/// cause and the status the edge would give, and exits 1: never "no race".
#[test]
fn a_failing_first_request_is_named_with_its_cause() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    for (route, cause, status) in [
        ("/empty", "response.empty", 520),
        ("/reset", "response.reset", 520),
        ("/hang", "response.timeout", 524),
    ] {
        let url = format!("http://{}{route}", lab.addr());
        let (out, doc, _) = keepalive(&url, &["--max-wait", "2"]);
        assert_eq!(out.status.code(), Some(1), "{route}: {doc:#}");
        assert_eq!(doc["cause"], cause, "{route}: {doc:#}");
        assert_eq!(doc["first_request"]["status"], status, "{route}: {doc:#}");
        assert_eq!(doc["race"], false, "{route}: {doc:#}");
        let text = Command::new(env!("CARGO_BIN_EXE_originlens"))
            .args(["keepalive", &url, "--max-wait", "2", "--read-timeout", "1"])
            .args(["--color", "never"])
            .output()
            .expect("run originlens");
        let text = String::from_utf8_lossy(&text.stdout).to_string();
        assert!(
            text.contains(&format!("verdict       {cause} ({status} at the edge)")),
            "{text}"
        );
        assert!(!text.contains("no race"), "{text}");
    }
}
