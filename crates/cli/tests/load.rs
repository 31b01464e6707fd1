//! The real `originlens load` binary against the lab's flaky routes, a restarting origin and a
//! real nginx: each finds the right cause, on the right connections, with a count in the range
//! the route's rule gives.

use std::time::Duration;

use originlens_lab::{LabHandle, RestartingOrigin};
use serde_json::Value;

mod common;
use common::cli::{json_of, run};
use common::nginx::Nginx;

fn load(url: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["load", url, "--format", "json"];
    if !extra.contains(&"-c") {
        args.extend(["-c", "4"]);
    }
    args.extend(extra);
    let out = run(&args);
    (out.status.code(), json_of(&out))
}

fn lab() -> LabHandle {
    LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap()
}

fn count(doc: &Value, cause: &str) -> u64 {
    doc["failures_by_cause"][cause].as_u64().unwrap_or(0)
}

/// The failure groups of `cause`.
fn groups<'a>(doc: &'a Value, cause: &str) -> Vec<&'a Value> {
    doc["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["cause"] == cause)
        .collect()
}

/// `doc` validates against `schemas/load.json`.
fn valid(doc: &Value) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/load.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}: {doc}");
}

/// Every failure of the run is of `cause`.
fn only(doc: &Value, cause: &str) {
    let causes: Vec<&String> = doc["failures_by_cause"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(causes, [cause], "{doc}");
}

/// One in 50 answered with FIN and no byte: on new connections that is `response.empty`, 2%.
#[test]
fn flaky_empty_is_found_with_its_count() {
    let lab = lab();
    let url = format!("http://{}/flaky/empty?every=50", lab.addr());
    let (code, doc) = load(&url, &["-n", "1000", "--no-keepalive"]);
    assert_eq!(doc["schema"], "originlens.load/1");
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(doc["requests"], 1000, "{doc}");
    let n = count(&doc, "response.empty");
    assert!((18..=22).contains(&n), "{n} response.empty");
    only(&doc, "response.empty");
    assert_eq!(doc["status_counts"]["520"].as_u64(), Some(n));
    assert!(doc["evidence"].as_array().unwrap().len() <= 3);
    assert!(
        doc["summary"]
            .as_str()
            .unwrap()
            .contains("on new connections"),
        "{doc}"
    );
}

/// The same FIN on a kept-alive connection is, for the edge, the keep-alive race.
#[test]
fn flaky_empty_on_reused_connections_is_the_keepalive_race() {
    let lab = lab();
    let url = format!("http://{}/flaky/empty?every=50", lab.addr());
    let (code, doc) = load(&url, &["-n", "1000"]);
    assert_eq!(code, Some(1), "{doc}");
    let n = count(&doc, "keepalive.race");
    assert!((18..=22).contains(&n), "{n} keepalive.race: {doc}");
    only(&doc, "keepalive.race");
    let g = groups(&doc, "keepalive.race");
    assert!(g.iter().all(|g| g["on_reused"] == g["count"]), "{doc}");
}

/// One in 20 reset: `response.reset`, and under the threshold the exit status is 0.
#[test]
fn flaky_reset_is_found_and_thresholds_decide_the_exit() {
    let lab = lab();
    let url = format!("http://{}/flaky/reset?every=20", lab.addr());
    let (code, doc) = load(
        &url,
        &["-n", "400", "--no-keepalive", "--max-error-rate", "10%"],
    );
    let n = count(&doc, "response.reset");
    assert!((18..=22).contains(&n), "{n} response.reset: {doc}");
    only(&doc, "response.reset");
    assert_eq!(code, Some(0), "{doc}");
    let (code, _) = load(
        &url,
        &["-n", "400", "--no-keepalive", "--max-error-rate", "1%"],
    );
    assert_eq!(code, Some(1));
}

/// One in 10 heads is 130 KB, over Cloudflare's 128 KB: `head.too-large`, exactly one in 10.
#[test]
fn flaky_big_head_is_head_too_large() {
    let lab = lab();
    let url = format!("http://{}/flaky/big-head?every=10", lab.addr());
    let (code, doc) = load(&url, &["-n", "200"]);
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(count(&doc, "head.too-large"), 20, "{doc}");
    only(&doc, "head.too-large");
    assert_eq!(doc["status_counts"]["520"], 20, "{doc}");
    assert_eq!(doc["status_counts"]["200"], 180, "{doc}");
}

/// A pool of 2 workers with 3 places to wait, 8 requests at once: 5 answered, 3 reset.
#[test]
fn flaky_pool_resets_beyond_workers_and_queue() {
    let lab = lab();
    let url = format!(
        "http://{}/flaky/pool?workers=2&queue=3&work=400",
        lab.addr()
    );
    let (code, doc) = load(&url, &["-c", "8", "-n", "8", "--no-keepalive"]);
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(count(&doc, "response.reset"), 3, "{doc}");
    only(&doc, "response.reset");
    assert_eq!(doc["ok"], 5, "{doc}");
    // The queued ones waited for a worker: the slowest took three rounds of work.
    let max = doc["latency_by_outcome"]["ok"]["max"].as_f64().unwrap();
    assert!(max >= 1150.0, "slowest answer {max} ms: {doc}");
}

/// Latency grows with concurrency: alone each answer takes 400 ms; four at once take 400, 800,
/// 1200 and 1600 ms, and with a 1.4 s read timeout the last is `response.timeout` (524).
#[test]
fn flaky_slow_times_out_only_under_concurrency() {
    let lab = lab();
    let url = format!("http://{}/flaky/slow?per=400", lab.addr());
    let (code, doc) = load(&url, &["-c", "1", "-n", "3", "--read-timeout", "1.4"]);
    assert_eq!((code, doc["failed"].as_u64()), (Some(0), Some(0)), "{doc}");
    let (code, doc) = load(&url, &["-c", "4", "-n", "4", "--read-timeout", "1.4"]);
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(count(&doc, "response.timeout"), 1, "{doc}");
    only(&doc, "response.timeout");
    assert_eq!(doc["status_counts"]["524"], 1, "{doc}");
    assert_eq!(doc["timeouts"], 1, "{doc}");
}

/// The origin drops connections idle 200 ms without saying so; pausing 500 ms before each
/// reuse loses every reused request to the race, and a 50 ms pause loses none.
#[test]
fn flaky_keepalive_idle_close_is_the_race_after_idle() {
    let lab = lab();
    let url = format!("http://{}/flaky/keepalive?idle=200", lab.addr());
    let (code, doc) = load(&url, &["-c", "2", "-n", "18", "--idle", "500ms"]);
    assert_eq!(code, Some(1), "{doc}");
    // Each connection: new (ok), then every 500 ms a reuse (race) and a new one (ok).
    assert_eq!(count(&doc, "keepalive.race"), 8, "{doc}");
    only(&doc, "keepalive.race");
    let g = groups(&doc, "keepalive.race");
    assert_eq!(g[0]["on_reused"], 8, "{doc}");
    assert_eq!(g[0]["by_idle"]["100ms-1s"], 8, "{doc}");
    assert_eq!(doc["connections_opened"], 10, "{doc}");
    let summary = doc["summary"].as_str().unwrap();
    assert!(
        summary.contains("8 `keepalive.race` (520) on reused connections after 50"),
        "{summary}"
    );
    let idle = doc["evidence"][0]["idle_s"].as_f64().unwrap();
    assert!((0.5..0.6).contains(&idle), "idle {idle} s: {doc}");
    let (code, doc) = load(&url, &["-c", "2", "-n", "20", "--idle", "50ms"]);
    assert_eq!((code, doc["failed"].as_u64()), (Some(0), Some(0)), "{doc}");
}

/// The origin closes after the 5th response without `Connection: close`: the 6th request on
/// each connection is lost, one in six.
#[test]
fn flaky_keepalive_request_cap_is_the_race_on_the_6th_use() {
    let lab = lab();
    let url = format!("http://{}/flaky/keepalive?max=5", lab.addr());
    let (code, doc) = load(&url, &["-c", "1", "-n", "30"]);
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(count(&doc, "keepalive.race"), 5, "{doc}");
    only(&doc, "keepalive.race");
    let g = groups(&doc, "keepalive.race");
    assert_eq!(g[0]["by_reuse"]["3rd-10th"], 5, "{doc}");
    assert_eq!(doc["connections_opened"], 5, "{doc}");
}

/// The listener is gone for 300 ms out of every 600: new connections are refused (521) about
/// half of the time.
#[test]
fn restarting_origin_is_connect_refused() {
    let origin = RestartingOrigin::start(
        "127.0.0.1:0".parse().unwrap(),
        Duration::from_millis(300),
        Duration::from_millis(300),
    )
    .unwrap();
    let url = format!("http://{}/ok", origin.addr());
    let (code, doc) = load(
        &url,
        &[
            "-q",
            "100",
            "--duration",
            "3s",
            "--no-keepalive",
            "-c",
            "10",
        ],
    );
    assert_eq!(code, Some(1), "{doc}");
    let requests = doc["requests"].as_u64().unwrap();
    let refused = count(&doc, "connect.refused");
    assert!(
        (250..=300).contains(&requests),
        "{requests} requests: {doc}"
    );
    let share = refused as f64 / requests as f64;
    assert!(
        (0.3..=0.7).contains(&share),
        "{refused} of {requests} refused: {doc}"
    );
    assert_eq!(doc["status_counts"]["521"].as_u64(), Some(refused), "{doc}");
    // A request in flight when the origin goes away may end without a byte (FIN or RST), a few
    // times at most; nothing else.
    let cut = count(&doc, "response.empty") + count(&doc, "response.reset");
    assert!(cut <= 10, "{cut} cut: {doc}");
    assert_eq!(doc["failed"].as_u64().unwrap(), refused + cut, "{doc}");
}

/// Open model against a stalled origin: each answer takes 200 ms while requests are due every
/// 20 ms, so they wait for the one connection; latency measured from the intended send time
/// shows the wait, the uncorrected latency does not. Against a fast route both agree.
#[test]
fn corrected_latency_shows_the_stall_the_uncorrected_one_hides() {
    let lab = lab();
    let url = format!("http://{}/flaky/slow?per=200", lab.addr());
    let (_, doc) = load(&url, &["-q", "50", "--duration", "2s", "-c", "1"]);
    let plain = doc["latency_ms"]["p99"].as_f64().unwrap();
    let corrected = doc["corrected_latency_ms"]["p99"].as_f64().unwrap();
    assert!(
        (190.0..400.0).contains(&plain),
        "uncorrected p99 {plain} ms: {doc}"
    );
    assert!(corrected > 1000.0, "corrected p99 {corrected} ms: {doc}");
    assert!(doc["latency_ms"]["count"].as_u64().unwrap() <= 11, "{doc}");

    let url = format!("http://{}/ok", lab.addr());
    let (code, doc) = load(&url, &["-q", "50", "--duration", "2s", "-c", "4"]);
    assert_eq!(code, Some(0), "{doc}");
    let plain = doc["latency_ms"]["p50"].as_f64().unwrap();
    let corrected = doc["corrected_latency_ms"]["p50"].as_f64().unwrap();
    assert!(
        corrected - plain < 20.0,
        "p50 {plain} vs corrected {corrected}: {doc}"
    );
}

/// A real nginx with `keepalive_timeout 1s` closes idle connections with a FIN after 1 s; an
/// edge that reuses them after 1.5 s writes its request into a closed connection and gets no
/// answer: `keepalive.race`, only on reused connections, only after the idle pause. Reused
/// after 0.3 s the same connections answer.
#[test]
fn real_nginx_keepalive_timeout_is_the_race_after_idle() {
    let nginx = Nginx::start(
        "keepalive_timeout 1s;",
        "location / { return 200 \"ok\\n\"; }",
    );
    let url = format!("http://127.0.0.1:{}/", nginx.port);
    let (code, doc) = load(&url, &["-c", "2", "-n", "10", "--idle", "1.5s"]);
    assert_eq!(code, Some(1), "{doc}");
    // Each connection: new (ok), then every 1.5 s a reuse (race) and a new one (ok).
    assert_eq!(count(&doc, "keepalive.race"), 4, "{doc}");
    only(&doc, "keepalive.race");
    assert_eq!(doc["connections_opened"], 6, "{doc}");
    let g = groups(&doc, "keepalive.race");
    assert_eq!(g[0]["on_reused"], 4, "{doc}");
    assert_eq!(g[0]["by_idle"]["1-5s"], 4, "{doc}");
    assert_eq!(g[0]["by_reuse"]["2nd"], 4, "{doc}");
    let summary = doc["summary"].as_str().unwrap();
    assert!(
        summary.contains(
            "4 of 10 failed: 4 `keepalive.race` (520) on reused connections after 1.5 s idle"
        ),
        "{summary}"
    );
    let evidence = &doc["evidence"][0];
    assert_eq!(evidence["response_bytes"], 0, "{doc}");
    assert!(evidence["idle_s"].as_f64().unwrap() >= 1.5, "{doc}");

    let (code, doc) = load(&url, &["-c", "2", "-n", "12", "--idle", "300ms"]);
    assert_eq!((code, doc["failed"].as_u64()), (Some(0), Some(0)), "{doc}");
    assert_eq!(doc["connections_opened"], 2, "{doc}");
}

/// A real nginx speaking HTTP/2 over TLS: `--http2 -c 2 --streams 8` opens two connections and
/// carries every request on them, 16 at a time, each response judged. nginx ends a connection
/// after 250 requests with GOAWAY NO_ERROR: the streams it did not take go out again on a new
/// connection, and nothing fails.
#[test]
fn http2_streams_share_few_connections_on_a_real_nginx() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (crt, key) = (dir.path().join("crt.pem"), dir.path().join("key.pem"));
    std::fs::write(&crt, cert.cert.pem()).unwrap();
    std::fs::write(&key, cert.signing_key.serialize_pem()).unwrap();
    let nginx = Nginx::start_tls(
        "http2_max_concurrent_streams 128;\n  keepalive_requests 250;",
        &format!(
            "ssl_certificate {}; ssl_certificate_key {}; location / {{ return 200 \"ok\\n\"; }}",
            crt.display(),
            key.display()
        ),
    );
    let url = format!("https://localhost:{}/", nginx.port);
    let connect = format!("127.0.0.1:{}", nginx.port);
    let h2 = |extra: &[&str]| {
        let mut args = vec!["--connect-to", &connect, "--ssl-mode", "full", "--http2"];
        args.extend(extra);
        load(&url, &args)
    };
    let (code, doc) = h2(&["-c", "2", "--streams", "8", "-n", "400"]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["run"]["protocol"], "h2", "{doc}");
    assert_eq!(doc["run"]["streams"], 8, "{doc}");
    valid(&doc);
    assert_eq!(doc["status_counts"]["200"], 400, "{doc}");
    assert_eq!(doc["connections_opened"], 2, "{doc}");

    let (code, doc) = h2(&["-c", "2", "--streams", "8", "-n", "2000"]);
    assert_eq!((code, doc["failed"].as_u64()), (Some(0), Some(0)), "{doc}");
    assert_eq!(doc["status_counts"]["200"], 2000, "{doc}");
    let opened = doc["connections_opened"].as_u64().unwrap();
    assert!((8..=12).contains(&opened), "{opened} connections: {doc}");

    // The same origin in the open model.
    let (code, doc) = h2(&["-c", "1", "--streams", "4", "-q", "200", "--duration", "1s"]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["connections_opened"], 1, "{doc}");
    assert!(doc["corrected_latency_ms"].is_object(), "{doc}");

    // An http URL cannot agree h2 by ALPN.
    let out = run(&[
        "load",
        &format!("http://127.0.0.1:{}/", nginx.port),
        "--http2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--http2 needs an https URL"));
}

/// The lab's h2 listeners that break the protocol: every stream fails with the probe's cause.
/// GOAWAY ends the connection (each request then gets a new one); REFUSED_STREAM ends only the
/// stream.
#[test]
fn http2_failures_are_named_like_the_probe_names_them() {
    let lab = common::tls_lab::lab();
    let ca = lab.ca.path().to_str().unwrap();
    for (case, n) in [
        (originlens_lab::TlsCase::H2Goaway, "5"),
        (originlens_lab::TlsCase::H2RefusedStream, "1"),
    ] {
        let addr = lab.lab.tls_addr(case).unwrap();
        let url = format!("https://{}:{}/", originlens_lab::LAB_HOST, addr.port());
        let (code, doc) = load(
            &url,
            &[
                "--connect-to",
                &addr.to_string(),
                "--ca-file",
                ca,
                "--http2",
                "-c",
                "1",
                "-n",
                n,
                "--read-timeout",
                "2",
            ],
        );
        assert_eq!(code, Some(1), "{}: {doc}", case.name());
        assert_eq!(
            count(&doc, "h2.protocol").to_string(),
            n,
            "{}: {doc}",
            case.name()
        );
        only(&doc, "h2.protocol");
        assert_eq!(
            doc["connections_opened"].to_string(),
            n,
            "{}: {doc}",
            case.name()
        );
        let finding = doc["evidence"][0]["finding"].as_str().unwrap();
        assert_eq!(format!("h2.{}", &case.name()[3..]), finding, "{doc}");
    }

    // An origin that does not offer h2 stops the run before it starts.
    let addr = lab.lab.tls_addr(originlens_lab::TlsCase::Valid).unwrap();
    let url = format!("https://{}:{}/", originlens_lab::LAB_HOST, addr.port());
    let out = run(&[
        "load",
        &url,
        "--connect-to",
        &addr.to_string(),
        "--ca-file",
        ca,
        "--http2",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not agree h2 by ALPN"), "{err}");
}
