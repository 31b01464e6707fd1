//! `originlens diagnose` and `verify` against the lab on loopback: each broken route names the
//! right cause and fills the checklist; hostile inputs are reported, never a crash.

mod common;
mod diagnose_support;

use std::net::SocketAddr;
use std::sync::OnceLock;

use diagnose_support::{causes, check, check_evidence, checklist_ids, run_json};
use originlens_lab::LabHandle;

fn lab() -> SocketAddr {
    static LAB: OnceLock<LabHandle> = OnceLock::new();
    LAB.get_or_init(|| LabHandle::start("127.0.0.1:0".parse().unwrap()).expect("start the lab"))
        .addr()
}

/// Diagnose one route with the slow steps off; extra flags after.
fn diagnose(route: &str, extra: &[&str]) -> serde_json::Value {
    let url = format!("http://lab.test{route}");
    let connect = lab().to_string();
    let mut args = vec!["diagnose", &url, "--connect-to", &connect];
    // The slow steps off unless the caller turns them on.
    for (flag, value) in [
        ("--logs", "none"),
        ("--config", "none"),
        ("--keepalive-max", "0"),
        ("--burst", "none"),
        ("--read-timeout", "3"),
    ] {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    run_json(&args).1
}

#[test]
fn broken_routes_name_their_cause_and_fail_the_direct_check() {
    let cases = [
        ("/empty", "response.empty", Some(520u16)),
        ("/reset", "response.reset", Some(520)),
        ("/head-130k", "head.too-large", Some(520)),
        ("/body-before-head", "start-line.invalid", Some(520)),
    ];
    for (route, cause, status) in cases {
        let doc = diagnose(route, &[]);
        assert_eq!(doc["verdict"]["cause"], cause, "{route}: {doc:#}");
        assert_eq!(
            doc["verdict"]["status"].as_u64(),
            status.map(u64::from),
            "{route}"
        );
        assert_eq!(doc["verdict"]["generated_by"], "edge", "{route}");
        assert_eq!(causes(&doc)[0], cause, "{route}");
        assert_eq!(doc["causes"][0]["confidence"], "high", "{route}");
        assert!(!doc["causes"][0]["fix"].as_str().unwrap().is_empty());
        assert_eq!(check(&doc, "direct-response-valid"), "fail", "{route}");
        assert_eq!(doc["exit_status"], 1);
        assert_eq!(
            checklist_ids(&doc),
            [
                "direct-response-valid",
                "no-crashes-in-logs",
                "edge-requests-succeed",
                "headers-under-16k",
                "no-52x-at-edge"
            ]
        );
        // The defect is marked in the bytes.
        let ev = &doc["causes"][0]["evidence"][0];
        assert_eq!(ev["kind"], "bytes", "{route}");
        assert!(ev["excerpt"].is_object(), "{route}: {ev:#}");
    }
    let big = diagnose("/head-130k", &[]);
    assert_eq!(check(&big, "headers-under-16k"), "fail");
    assert!(big["head_budget"]["limits"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["name"].as_str().unwrap().contains("cloudflare") && l["over"] == true));
    let bad_start = diagnose("/body-before-head", &[]);
    assert_eq!(
        bad_start["causes"][0]["evidence"][0]["excerpt"]["at"], "<",
        "the first byte of the body is the defect"
    );
}

#[test]
fn set_cookie_flood_passes_the_edge_but_fails_the_16k_budget() {
    let doc = diagnose("/set-cookie-flood", &[]);
    assert_eq!(check(&doc, "direct-response-valid"), "pass");
    assert_eq!(check(&doc, "headers-under-16k"), "fail");
    assert!(check_evidence(&doc, "headers-under-16k").contains("set-cookie"));
    let b = &doc["head_budget"];
    assert!(b["set_cookie_count"].as_u64().unwrap() >= 50, "{b:#}");
    assert_eq!(b["largest_fields"][0]["name"], "set-cookie");
    assert!(causes(&doc).contains(&"head.too-large".to_owned()));
    assert_eq!(doc["verdict"]["status"], 200);
    assert_eq!(doc["exit_status"], 1);
}

#[test]
fn gzip_with_the_decoded_length_is_an_encoding_mismatch() {
    let doc = diagnose("/gzip-cl-decoded", &[]);
    assert!(
        causes(&doc).contains(&"encoding.mismatch".to_owned()),
        "{:?}",
        causes(&doc)
    );
}

#[test]
fn an_origin_that_never_answers_is_a_524_within_the_read_timeout() {
    let start = std::time::Instant::now();
    let doc = diagnose("/hang", &["--read-timeout", "1"]);
    assert!(start.elapsed().as_secs() < 10, "bounded by --read-timeout");
    assert_eq!(doc["verdict"]["cause"], "response.timeout");
    assert_eq!(doc["verdict"]["status"], 524);
    assert_eq!(check(&doc, "headers-under-16k"), "not-checked");
    assert!(check_evidence(&doc, "headers-under-16k").contains("no response head"));
}

#[test]
fn keepalive_race_is_measured_up_to_the_bound() {
    let doc = diagnose("/keepalive-short", &["--keepalive-max", "2"]);
    let ka = &doc["keepalive"];
    assert_eq!(ka["race"], true, "{ka:#}");
    assert_eq!(ka["measured_up_to_s"], 2.0);
    assert!(causes(&doc).contains(&"keepalive.race".to_owned()));
    // A clean route measured to the bound says how far it went.
    let ok = diagnose("/ok", &["--keepalive-max", "1"]);
    let summary = ok["keepalive"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("≥ 1 s, not measured to the edge's 900 s"),
        "{summary}"
    );
}

#[test]
fn a_clean_route_passes_with_a_burst_and_says_what_was_not_checked() {
    let doc = diagnose("/ok", &["--burst", "30x6"]);
    assert_eq!(doc["burst"]["requests"], 30);
    assert_eq!(doc["burst"]["failed"], 0);
    assert_eq!(check(&doc, "direct-response-valid"), "pass");
    assert_eq!(check(&doc, "headers-under-16k"), "pass");
    for id in [
        "no-crashes-in-logs",
        "edge-requests-succeed",
        "no-52x-at-edge",
    ] {
        assert_eq!(check(&doc, id), "not-checked", "{id}");
        assert!(!check_evidence(&doc, id).is_empty());
    }
    assert!(causes(&doc).is_empty(), "{:?}", causes(&doc));
    assert_eq!(doc["exit_status"], 0);
    let steps = doc["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["limit_s"].is_number()));
    assert!(steps
        .iter()
        .any(|s| s["name"] == "burst" && s["status"] == "ok"));
}

#[test]
fn the_burst_catches_an_origin_that_fails_every_time() {
    let doc = diagnose("/reset", &["--burst", "20x5"]);
    assert_eq!(doc["burst"]["failed"], 20);
    assert_eq!(doc["burst"]["by_cause"]["response.reset"], 20);
}

#[test]
fn verify_runs_only_the_checklist_and_follows_via_and_edge_records() {
    let dir = tempfile::tempdir().unwrap();
    let now = jiff_now();
    let logpush = dir.path().join("http_requests.json");
    std::fs::write(
        &logpush,
        format!(
            "{{\"EdgeStartTimestamp\":\"{now}\",\"EdgeResponseStatus\":520,\"OriginResponseStatus\":0,\"ClientRequestHost\":\"lab.test\",\"ClientRequestURI\":\"/x\",\"RayID\":\"8f00aa\",\"OriginIP\":\"127.0.0.1\"}}\n\
             {{\"EdgeStartTimestamp\":\"{now}\",\"EdgeResponseStatus\":200,\"OriginResponseStatus\":200,\"ClientRequestHost\":\"lab.test\",\"ClientRequestURI\":\"/\",\"RayID\":\"8f00ab\"}}\n\
             {{\"EdgeStartTimestamp\":\"2001-01-01T00:00:00Z\",\"EdgeResponseStatus\":522}}\n\
             not json\n"
        ),
    )
    .unwrap();
    let connect = lab().to_string();
    let via_ok = format!("http://{connect}/ok");
    let (_, doc) = run_json(&[
        "verify",
        "http://lab.test/ok",
        "--connect-to",
        &connect,
        "--logs",
        "none",
        "--via",
        &via_ok,
        "--edge-logs",
        logpush.to_str().unwrap(),
        "--since",
        "30m",
    ]);
    assert_eq!(doc["mode"], "verify");
    assert_eq!(check(&doc, "edge-requests-succeed"), "pass");
    assert_eq!(check(&doc, "no-52x-at-edge"), "fail");
    let ev = check_evidence(&doc, "no-52x-at-edge");
    assert!(
        ev.contains("1 of 2"),
        "old records are outside --since: {ev}"
    );
    assert!(
        ev.contains("http_requests.json:4"),
        "the bad line is named: {ev}"
    );
    assert_eq!(doc["edge"]["hits"][0]["id"], "8f00aa");
    assert!(doc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["source"] == "edge"));
    assert_eq!(doc["exit_status"], 1);
    // verify ran no keep-alive, burst, host or config step.
    for s in doc["steps"].as_array().unwrap() {
        if ["keepalive", "burst", "config", "host"].contains(&s["name"].as_str().unwrap()) {
            assert_eq!(s["status"], "skipped", "{s:#}");
        }
    }

    // A clean origin with an empty incident store verifies.
    let store = dir.path().join("incidents.db");
    originlens_edge::store::open(&store).unwrap();
    let (_, clean) = run_json(&[
        "verify",
        "http://lab.test/ok",
        "--connect-to",
        &connect,
        "--logs",
        "none",
        "--via",
        &via_ok,
        "--store",
        store.to_str().unwrap(),
    ]);
    assert_eq!(check(&clean, "no-52x-at-edge"), "pass", "{clean:#}");
    assert_eq!(clean["exit_status"], 0);

    // Through a broken edge the edge check fails.
    let via_bad = format!("http://{connect}/empty");
    let (_, bad) = run_json(&[
        "verify",
        "http://lab.test/ok",
        "--connect-to",
        &connect,
        "--logs",
        "none",
        "--via",
        &via_bad,
    ]);
    assert_eq!(check(&bad, "edge-requests-succeed"), "fail");
    assert_eq!(bad["exit_status"], 1);
    // And a broken direct response fails verify.
    let (_, direct) = run_json(&[
        "verify",
        "http://lab.test/empty",
        "--connect-to",
        &connect,
        "--logs",
        "none",
    ]);
    assert_eq!(check(&direct, "direct-response-valid"), "fail");
    assert_eq!(direct["exit_status"], 1);
}

fn jiff_now() -> String {
    // RFC 3339 now, without pulling a date crate into the tests.
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("date");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn hostile_inputs_are_named_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("binary.log");
    std::fs::write(
        &binary,
        b"\x00\x01\x02\xff\xfe\x00segfault\x00\n\x7fELF\x00\x00",
    )
    .unwrap();
    let missing = dir.path().join("gone.log");
    let broken = dir.path().join("nginx.conf");
    std::fs::write(&broken, "events {}\nhttp {\n  server { listen 80\n}\n").unwrap();
    let doc = diagnose(
        "/ok",
        &[
            "--logs",
            binary.to_str().unwrap(),
            "--logs",
            missing.to_str().unwrap(),
            "--config",
            broken.to_str().unwrap(),
        ],
    );
    let notes = doc["logs"]["notes"].to_string();
    assert!(notes.contains("gone.log"), "{notes}");
    assert!(notes.contains("binary.log"), "{notes}");
    let crash = check_evidence(&doc, "no-crashes-in-logs");
    assert!(
        crash.contains("gone.log"),
        "the unreadable file is named: {crash}"
    );
    let errors = doc["config"]["errors"].to_string();
    assert!(errors.contains("nginx.conf:"), "{errors}");
    let logs_step = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "logs")
        .unwrap();
    assert_eq!(logs_step["status"], "partial", "{logs_step:#}");
}

#[test]
fn text_output_leads_with_the_verdict_and_has_no_colour_on_a_pipe() {
    let connect = lab().to_string();
    let out = diagnose_support::originlens()
        .args([
            "diagnose",
            "http://lab.test/empty",
            "--connect-to",
            &connect,
            "--logs",
            "none",
            "--config",
            "none",
            "--keepalive-max",
            "0",
            "--burst",
            "none",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("NOT VERIFIED  visitor sees 520"), "{text}");
    let checklist = text.find("Checklist").unwrap();
    let causes = text.find("Causes").unwrap();
    let details = text.find("Details").unwrap();
    assert!(checklist < causes && causes < details);
    assert!(!text.contains('\x1b'), "no colour on a pipe");
    assert!(
        out.stderr.is_empty(),
        "no progress on a pipe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = diagnose_support::originlens()
        .args(["diagnose", "http://lab.test/", "--since", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = diagnose_support::originlens()
        .args([
            "diagnose",
            "http://lab.test/",
            "-H",
            "X Y: z",
            "--connect-to",
            "127.0.0.1:1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn data_adds_the_users_post_to_the_exchanges() {
    let doc = diagnose("/ok", &["-d", "a=1&b=2"]);
    let exchanges = doc["exchanges"].as_array().unwrap();
    let labels: Vec<&str> = exchanges
        .iter()
        .map(|e| e["label"].as_str().unwrap())
        .collect();
    assert_eq!(exchanges[0]["method"], "POST", "{labels:?}");
    assert!(labels[0].contains("7 B body"), "{labels:?}");
    assert!(
        labels.iter().any(|l| l.starts_with("GET /ok")),
        "{labels:?}"
    );
}

#[test]
fn https_is_checked_over_h2_as_the_edge_offers_it_and_over_http11() {
    let lab = common::tls_lab::lab();
    let addr = lab.lab.tls_addr(originlens_lab::TlsCase::H2Valid).unwrap();
    let url = format!("https://{}/", originlens_lab::LAB_HOST);
    let connect = addr.to_string();
    let ca = lab.ca.path().display().to_string();
    let (_, doc) = run_json(&[
        "diagnose",
        &url,
        "--connect-to",
        &connect,
        "--ca-file",
        &ca,
        "--logs",
        "none",
        "--config",
        "none",
        "--keepalive-max",
        "0",
        "--burst",
        "none",
        "--read-timeout",
        "3",
    ]);
    let exchanges = doc["exchanges"].as_array().unwrap();
    let protocol_of = |label: &str| {
        exchanges
            .iter()
            .find(|e| e["label"] == label)
            .unwrap_or_else(|| panic!("no exchange `{label}`: {doc:#}"))["protocol"]
            .clone()
    };
    assert_eq!(protocol_of("GET /"), "h2");
    assert_eq!(protocol_of("GET / (HTTP/1.1 only)"), "HTTP/1.1");
    assert_eq!(check(&doc, "direct-response-valid"), "pass", "{doc:#}");
}

#[test]
fn the_burst_on_the_load_engine_catches_one_failure_in_ten() {
    let doc = diagnose("/flaky/empty?every=10", &["--burst", "100x5"]);
    let burst = &doc["burst"];
    assert_eq!(burst["requests"], 100, "{burst:#}");
    let empty = burst["by_cause"]["response.empty"].as_u64().unwrap_or(0)
        + burst["by_cause"]["keepalive.race"].as_u64().unwrap_or(0);
    assert!((8..=12).contains(&empty), "{burst:#}");
    assert_eq!(burst["failed"].as_u64(), Some(empty), "{burst:#}");
    assert!(burst["engine"].as_str().unwrap().contains("load engine"));
    // The burst's failures are on the timeline.
    let timeline = doc["timeline"].as_array().unwrap();
    assert!(
        timeline.iter().any(|e| e["text"]
            .as_str()
            .unwrap()
            .starts_with("probe: burst request")),
        "{doc:#}"
    );
}
