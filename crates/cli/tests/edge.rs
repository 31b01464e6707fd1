//! `originlens edge` run as the real binary in front of the lab, with curl as the visitor.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use originlens_lab::{routes, LabHandle, Route};
use originlens_wire::chunked::ChunkedDecoder;
use originlens_wire::{read_all, End, Framing, GeneratedBy, ReaderOptions, RequestInfo};

mod common;
use common::curl::{Curl, Seen};
use common::edge::{export, originlens, EdgeProc};

/// Read timeout given to the edge: the lab's stalling routes need a short one.
const READ_TIMEOUT: &str = "2";
/// curl gives up after 15 s.
const CURL: Curl = Curl { max_time: "15" };

/// An edge in front of `origin` with a store of its own.
fn start_edge(origin: SocketAddr, extra: &[&str]) -> EdgeProc {
    EdgeProc::builder()
        .loopback()
        .args(["--origin", &format!("http://{origin}")])
        .temp_store()
        .args(["--read-timeout", READ_TIMEOUT])
        .args(extra)
        .start()
}

/// curl as the visitor; `HEAD` is curl -I.
fn curl(url: &str, method: &str, extra: &[&str]) -> Seen {
    let head: &[&str] = if method == "HEAD" { &["-I"] } else { &[] };
    CURL.fetch(url, &[head, extra].concat())
}

/// The body data the origin sends for a route, framed as the wire reader frames it.
fn expected_body(route: &Route) -> Vec<u8> {
    let bytes = route.behaviour.bytes();
    let opts = ReaderOptions {
        request: RequestInfo {
            head: route.hint.method == "HEAD",
            ..RequestInfo::default()
        },
        ..ReaderOptions::default()
    };
    let report = read_all(&bytes, End::Eof, opts);
    let start = report.body.offset as usize;
    let rest = &bytes[start.min(bytes.len())..];
    match report.framing {
        Some(Framing::Length(n)) => rest[..(n as usize).min(rest.len())].to_vec(),
        Some(Framing::CloseDelimited) => rest.to_vec(),
        Some(Framing::Chunked) => {
            let mut out = Vec::new();
            ChunkedDecoder::default().feed(
                rest,
                0,
                &mut |d| out.extend_from_slice(d),
                &mut Vec::new(),
            );
            out
        }
        _ => Vec::new(),
    }
}

#[test]
fn every_lab_route_through_the_edge() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let edge = start_edge(lab.addr(), &[]);
    let mut failures = Vec::new();
    // (route, incident id) for every exchange that should have left an incident.
    let mut expected_incidents = Vec::new();
    for route in routes() {
        let e = route.expect;
        let url = format!("http://{}{}", edge.addr, route.path);
        let seen = curl(&url, route.hint.method, &[]);
        let p = route.path;
        if seen.status != e.status {
            failures.push(format!(
                "{p}: status {} (expected {})",
                seen.status, e.status
            ));
            continue;
        }
        let ray = seen.header("originlens-ray").map(str::to_owned);
        // Cloudflare forwards every 1xx the origin sends.
        let want_interim: &[u16] = match p {
            "/continue-then-200" => &[100],
            "/early-hints" => &[103],
            _ => &[],
        };
        if seen.interim != want_interim {
            failures.push(format!(
                "{p}: interim {:?} (expected {want_interim:?})",
                seen.interim
            ));
        }
        match e.generated_by {
            GeneratedBy::Edge => {
                let incident = seen.header("originlens-incident");
                if incident.is_none() || incident != ray.as_deref() {
                    failures.push(format!("{p}: no originlens-incident header"));
                }
                if seen.header("retry-after").is_none() && e.status != 525 && e.status != 526 {
                    failures.push(format!("{p}: no Retry-After"));
                }
                let page = String::from_utf8_lossy(&seen.body);
                if page.contains(&lab.addr().to_string()) {
                    failures.push(format!("{p}: the page shows the origin's address"));
                }
            }
            GeneratedBy::Origin => {
                let want = expected_body(route);
                let body_complete = e
                    .cause
                    .is_none_or(|c| c.phase() != originlens_wire::Phase::Body);
                if route.hint.method == "HEAD" {
                    // curl -I: no body is read; the head must still be complete.
                    if seen.curl_exit != 0 || seen.body.is_empty() {
                        failures.push(format!("{p}: HEAD failed (curl exit {})", seen.curl_exit));
                    }
                } else if body_complete {
                    if seen.body != want {
                        failures.push(format!(
                            "{p}: body {:?} (expected {:?})",
                            String::from_utf8_lossy(&seen.body),
                            String::from_utf8_lossy(&want)
                        ));
                    }
                    if seen.curl_exit != 0 {
                        failures.push(format!("{p}: curl exit {}", seen.curl_exit));
                    }
                } else {
                    // The head went out; the body is cut where the origin's broke.
                    if !want.starts_with(&seen.body) || seen.curl_exit == 0 {
                        failures.push(format!(
                            "{p}: broken body not cut (curl exit {}, body {:?})",
                            seen.curl_exit,
                            String::from_utf8_lossy(&seen.body)
                        ));
                    }
                }
                if seen.header("originlens-incident").is_some() {
                    failures.push(format!("{p}: origin response with an incident header"));
                }
            }
        }
        if e.cause.is_some() {
            match ray {
                Some(id) => expected_incidents.push((route, id)),
                None => failures.push(format!("{p}: no originlens-ray header")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    CURL.wait_for_written(&edge, expected_incidents.len() as u64);
    let rows = export(edge.store());
    assert_eq!(
        rows.len(),
        expected_incidents.len(),
        "one incident per bad route"
    );
    for (route, id) in &expected_incidents {
        let p = route.path;
        let e = route.expect;
        let Some(row) = rows.get(id) else {
            failures.push(format!("{p}: no incident {id}"));
            continue;
        };
        let cause = e.cause.map(|c| c.as_str());
        let finding = e.finding.map(|k| k.as_str());
        if row["cause"].as_str() != cause || row["finding"].as_str() != finding {
            failures.push(format!(
                "{p}: incident says {} / {} (expected {cause:?} / {finding:?})",
                row["cause"], row["finding"]
            ));
        }
        if row["visitor_status"] != e.status || row["target"] != p {
            failures.push(format!("{p}: incident row {row}"));
        }
        let findings = row["findings"].as_array().cloned().unwrap_or_default();
        if !findings.iter().any(|f| f["id"].as_str() == finding) {
            failures.push(format!(
                "{p}: the deciding finding is not among the evidence"
            ));
        }
        // Evidence: whatever the origin sent is kept (the head-130k route is capped).
        let sent = route.behaviour.bytes();
        let raw = originlens_edge::incident::unescape(row["raw"].as_str().unwrap_or("")).unwrap();
        if !sent.starts_with(&raw) || (raw.is_empty() && !sent.is_empty()) {
            failures.push(format!(
                "{p}: raw evidence does not match the origin's bytes"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_pages_follow_accept() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let edge = start_edge(lab.addr(), &[]);
    let url = format!("http://{}/empty", edge.addr);
    let json = curl(&url, "GET", &["-H", "Accept: application/json"]);
    assert_eq!(json.status, 520);
    assert_eq!(json.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(v["status"], 520);
    assert_eq!(v["cause"], "response.empty");
    assert_eq!(v["retryable"], true);
    assert_eq!(v["retry_after"], 60);
    assert_eq!(v["incident"].as_str(), json.header("originlens-incident"));
    let text = curl(&url, "GET", &["-H", "Accept: text/plain"]);
    assert!(text
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert!(String::from_utf8_lossy(&text.body)
        .starts_with("520 Web server is returning an unknown error"));
    let html = curl(&url, "GET", &[]);
    assert!(String::from_utf8_lossy(&html.body).contains("<title>"));

    // `incidents show --raw` marks the defect in the escaped bytes.
    CURL.wait_for_written(&edge, 3);
    let id = curl(&format!("http://{}/missing-colon", edge.addr), "GET", &[])
        .header("originlens-incident")
        .unwrap()
        .to_owned();
    CURL.wait_for_written(&edge, 4);
    let out = originlens()
        .args(["incidents", "--store"])
        .arg(edge.store())
        .args(["show", &id[..8], "--raw"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("field.missing-colon"), "{text}");
    assert!(text.contains("⟦X⟧-Foo bar\\r\\n"), "{text}");
}

/// Sends raw bytes to the edge and returns the status code of the answer.
fn raw_status(addr: SocketAddr, request: &[u8]) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn smuggling_vectors_are_refused() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let edge = start_edge(lab.addr(), &[]);
    let cases: &[&[u8]] = &[
        b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\nx",
        b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\nx",
        b"POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        b"POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        b"POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        b"POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /ok HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ];
    for (i, req) in cases.iter().enumerate() {
        assert_eq!(
            raw_status(edge.addr, req),
            400,
            "case {i}: {}",
            String::from_utf8_lossy(req)
        );
    }
    // A plain request with a body still goes through.
    let ok = b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx";
    assert_eq!(raw_status(edge.addr, ok), 200);
    // Every case is counted as a refusal (the space before the colon as an invalid head).
    assert_eq!(
        CURL.metric(edge.admin, "originlens_edge_refused_requests_total"),
        cases.len() as u64
    );
}

/// Two requests to the lab's short-idle route, 1.5 s apart: the lab closes the pooled
/// connection after 1 s.
fn race(edge: &EdgeProc) -> (Seen, Seen) {
    let url = format!("http://{}/keepalive-short", edge.addr);
    let first = curl(&url, "GET", &[]);
    std::thread::sleep(Duration::from_millis(1500));
    (first, curl(&url, "GET", &[]))
}

#[test]
fn keepalive_race_is_reproduced_without_check_and_retry() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    // One worker: its pool holds the first request's connection for the second.
    let edge = start_edge(
        lab.addr(),
        &["--no-reuse-check", "--no-retry", "--workers", "1"],
    );
    let (first, second) = race(&edge);
    assert_eq!(first.status, 200);
    assert_eq!(second.status, 520);
    let id = second.header("originlens-incident").unwrap().to_owned();
    CURL.wait_for_written(&edge, 1);
    let rows = export(edge.store());
    let row = &rows[&id];
    assert_eq!(row["cause"], "keepalive.race");
    assert_eq!(row["finding"], "response.empty");
    assert_eq!(row["reused"], true);
    assert_eq!(row["conn_uses"], 1);
    assert!(row["conn_age_ms"].as_u64().unwrap() >= 1000);
}

#[test]
fn keepalive_race_is_hidden_by_retry_and_by_the_reuse_check() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let retry_only = start_edge(lab.addr(), &["--no-reuse-check", "--workers", "1"]);
    let (first, second) = race(&retry_only);
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(
        CURL.metric(
            retry_only.admin,
            "originlens_edge_upstream_connection_events_total{event=\"retry\"}"
        ),
        1
    );
    let checked = start_edge(lab.addr(), &["--workers", "1"]);
    let (first, second) = race(&checked);
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(
        CURL.metric(
            checked.admin,
            "originlens_edge_upstream_connection_events_total{event=\"discard-closed\"}"
        ),
        1
    );
    assert_eq!(
        CURL.metric(
            checked.admin,
            "originlens_edge_upstream_connection_events_total{event=\"retry\"}"
        ),
        0
    );
}

#[test]
fn acknowledged_incidents_survive_kill_9() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut edge = start_edge(lab.addr(), &[]);
    for p in ["/empty", "/reset", "/head-truncated", "/cl-conflict"] {
        curl(&format!("http://{}{p}", edge.addr), "GET", &[]);
    }
    CURL.wait_for_written(&edge, 4);
    edge.child.kill().unwrap(); // SIGKILL
    edge.child.wait().unwrap();
    let rows = export(edge.store());
    assert_eq!(rows.len(), 4);
    let list = originlens()
        .args(["incidents", "--store"])
        .arg(edge.store())
        .args(["list", "--since", "1h"])
        .output()
        .unwrap();
    let text = String::from_utf8(list.stdout).unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.contains("head.truncated") && text.contains("response.reset"));
}

#[test]
fn admin_serves_health_and_metrics() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let edge = start_edge(lab.addr(), &["--workers", "1"]);
    let health = curl(&format!("http://{}/healthz", edge.admin), "GET", &[]);
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok\n"[..]));
    let json = curl(
        &format!("http://{}/healthz", edge.admin),
        "GET",
        &["-H", "Accept: application/json"],
    );
    assert_eq!(json.header("content-type"), Some("application/json"));
    let doc: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(doc["schema"], "originlens.edge-health/1");
    assert_eq!(doc["status"], "ok");
    assert_eq!(doc["origins"], 1);
    curl(&format!("http://{}/ok", edge.addr), "GET", &[]);
    curl(&format!("http://{}/ok", edge.addr), "GET", &[]);
    let m = curl(&format!("http://{}/metrics", edge.admin), "GET", &[]);
    assert!(m
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert_eq!(
        CURL.metric(edge.admin, "originlens_edge_responses_total{status=\"200\",cause=\"none\",generated_by=\"origin\"}"),
        2
    );
    // The second request reused the first one's connection.
    assert_eq!(
        CURL.metric(
            edge.admin,
            "originlens_edge_upstream_connection_events_total{event=\"reuse\"}"
        ),
        1
    );
}

#[test]
fn check_config_reports_ok_and_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "listen = \"127.0.0.1:8080\"\n[[origin]]\nurl = \"http://127.0.0.1:9000\"\nhosts = [\"a.example\"]\n\
         [[origin]]\nurl = \"http://127.0.0.1:9001\"\nread_timeout = 5\n",
    )
    .unwrap();
    let out = originlens()
        .arg("edge")
        .arg("--check-config")
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok, 2 origin(s)"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[origin]]\nurl = \"http://x\"\nprofile = \"nope\"\n").unwrap();
    let out = originlens()
        .arg("edge")
        .arg("--check-config")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown profile"));
}

#[test]
fn flags_beside_a_config_file_override_it_or_are_refused() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    // The file's own addresses are taken: an edge that ignored the flags could not start.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("edge.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{busy_addr}\"\nadmin = \"{busy_addr}\"\nstore = \"{}\"\n\
             [[origin]]\nurl = \"http://{}\"\n",
            dir.path().join("file.db").display(),
            lab.addr()
        ),
    )
    .unwrap();
    let edge = EdgeProc::builder()
        .args([OsStr::new("--config"), config.as_os_str()])
        .loopback()
        .temp_store()
        .start();
    assert_ne!(edge.addr, busy_addr);
    let seen = CURL.fetch(&format!("http://{}/empty", edge.addr), &[]);
    assert_eq!(seen.status, 520);
    CURL.wait_for_written(&edge, 1);
    assert_eq!(
        export(edge.store()).len(),
        1,
        "the incident went to --store"
    );
    assert!(
        !dir.path().join("file.db").exists(),
        "not to the file's store"
    );

    let out = originlens()
        .args(["edge", "--config"])
        .arg(&config)
        .args(["--origin", "http://127.0.0.1:1", "--read-timeout", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--origin, --read-timeout cannot be used with --config"),
        "{err}"
    );
}

#[test]
fn errors_are_said_once_and_name_the_address_or_file() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let out = originlens()
        .args(["edge", "--origin", "http://127.0.0.1:1", "--no-store"])
        .args(["--listen", &busy_addr, "--admin", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&busy_addr), "{err}");
    assert_eq!(err.matches("in use").count(), 1, "said once: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = originlens()
        .args([
            "edge",
            "--origin",
            "http://127.0.0.1:1",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--admin", "127.0.0.1:0", "--store", "/nonexistent/dir/x.db"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/dir/x.db"), "{err}");
    assert_eq!(err.matches("unable to open").count(), 1, "said once: {err}");
}
