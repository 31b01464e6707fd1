//! The real `originlens probe` binary against the real lab on 127.0.0.1: every route's visitor
//! status, who generated it and the cause, plus connection failures, flags and output formats.

use std::net::{SocketAddr, TcpListener};
use std::process::Output;
use std::sync::Mutex;
use std::time::Duration;

use originlens_lab::{routes, LabHandle, Route};
use serde_json::Value;

mod common;
use common::cli::{json_of, run};

fn probe_route(addr: SocketAddr, route: &Route) -> (Output, Value) {
    let url = format!("http://{addr}{}", route.path);
    let mut args = vec![
        "probe",
        url.as_str(),
        "--format",
        "json",
        "-X",
        route.hint.method,
    ];
    let timeout;
    if let Some(t) = route.hint.read_timeout {
        timeout = t.as_secs_f64().to_string();
        args.extend(["--read-timeout", timeout.as_str()]);
    }
    let out = run(&args);
    let doc = json_of(&out);
    (out, doc)
}

/// Every lab route, probed by the binary, gives the verdict the lab documents, and the exit
/// status says whether the visitor got the origin's complete, non-5xx response.
#[test]
fn every_lab_route_gives_its_documented_verdict() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = lab.addr();
    let failures = Mutex::new(Vec::new());
    let queue = Mutex::new(routes().iter().collect::<Vec<_>>());
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| loop {
                let Some(route) = queue.lock().unwrap().pop() else {
                    return;
                };
                let (out, doc) = probe_route(addr, route);
                let v = &doc["verdict"];
                let want_cause = route.expect.cause.map(|c| c.as_str());
                let got = (
                    v["status"].as_u64(),
                    v["generated_by"].as_str(),
                    v["cause"].as_str(),
                    out.status.code(),
                );
                // Like curl --fail: 1 for an edge error, a cut or broken body, or an origin 5xx.
                let edge = route.expect.generated_by.as_str() == "edge";
                let broken = matches!(
                    want_cause,
                    Some("body.truncated" | "body.timeout" | "chunked.invalid" | "origin.error")
                );
                let failed = edge || broken || route.expect.status >= 500;
                let want = (
                    Some(u64::from(route.expect.status)),
                    Some(route.expect.generated_by.as_str()),
                    want_cause,
                    Some(if failed { 1 } else { 0 }),
                );
                if got != want {
                    failures.lock().unwrap().push(format!(
                        "{}: got {got:?}, want {want:?} (finding {})",
                        route.path, v["finding"]
                    ));
                }
                if let Some(kind) = route.expect.finding {
                    let ids: Vec<&str> = doc["findings"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|f| f["id"].as_str())
                        .collect();
                    if !ids.contains(&kind.as_str()) {
                        failures.lock().unwrap().push(format!(
                            "{}: finding {kind} missing from {ids:?}",
                            route.path
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} routes disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn json_document_has_the_promised_fields() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/set-cookie-flood", lab.addr());
    let out = run(&["probe", &url, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc = json_of(&out);
    assert_eq!(doc["schema"], "originlens.probe/1");
    assert_eq!(doc["verdict"]["status"], 200);
    assert_eq!(doc["verdict"]["generated_by"], "origin");
    assert!(doc["verdict"]["cause"].is_null());
    let head = &doc["head"];
    assert!(head["bytes"].as_u64().unwrap() > 16 * 1024);
    assert!(head["fields"].as_u64().unwrap() >= 60);
    assert_eq!(head["set_cookie"]["count"], 60);
    assert!(head["largest_fields"].as_array().unwrap().len() <= 5);
    assert_eq!(head["budget"]["limit_bytes"], 128 * 1024);
    let ids: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert!(ids.contains(&"head.large"), "{ids:?}");
    for key in ["connect_ms", "first_byte_ms", "head_ms", "total_ms"] {
        assert!(doc["timings"][key].as_f64().is_some(), "timings.{key}");
    }
    let peers: Vec<(&str, u64)> = doc["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["profile"].as_str().unwrap(),
                p["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(peers.len(), 6);
    assert!(peers.contains(&("cloudflare", 200)));
    assert!(
        peers.contains(&("nginx", 502)),
        "nginx's 4 KiB buffer: {peers:?}"
    );
    assert!(peers.contains(&("haproxy", 502)), "{peers:?}");
}

#[test]
fn refused_connection_is_521_and_exit_1() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/");
    let out = run(&["probe", &url, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    assert_eq!(doc["verdict"]["status"], 521);
    assert_eq!(doc["verdict"]["cause"], "connect.refused");
    let nginx = doc["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["profile"] == "nginx")
        .unwrap();
    assert_eq!(nginx["status"], 502);
}

#[test]
fn connect_to_keeps_the_url_host_and_profile_changes_the_verdict() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = lab.addr().to_string();
    let out = run(&[
        "probe",
        "http://www.example.com/head-20k",
        "--connect-to",
        &addr,
        "--format",
        "json",
        "--profile",
        "nginx",
    ]);
    let doc = json_of(&out);
    assert_eq!(doc["target"]["host"], "www.example.com");
    assert_eq!(doc["target"]["address"], addr.as_str());
    assert_eq!(doc["verdict"]["profile"], "nginx");
    assert_eq!(doc["verdict"]["status"], 502);
    assert_eq!(doc["verdict"]["cause"], "head.too-large");
    assert_eq!(out.status.code(), Some(1));
}

/// nginx 1.22 and HAProxy 2.6 let a bare LF end chunk lines: the probe reads the body again with
/// their framing rules, so their verdict is the whole body where the RFC reader stops.
#[test]
fn peers_that_frame_bodies_their_own_way_are_judged_on_their_reading() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/chunk-bare-lf", lab.addr());
    for (profile, exit) in [("nginx-1.22", 0), ("haproxy", 0), ("cloudflare", 1)] {
        let out = run(&["probe", &url, "--format", "json", "--profile", profile]);
        let doc = json_of(&out);
        assert_eq!(out.status.code(), Some(exit), "{profile}: {doc}");
        let peer = doc["peers"]
            .as_array()
            .and_then(|p| p.iter().find(|v| v["profile"] == profile))
            .expect("every profile's verdict");
        assert_eq!(peer["body_complete"], exit == 0, "{profile}: {peer}");
    }
}

#[test]
fn short_read_timeout_says_what_the_edge_would_wait() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/hang", lab.addr());
    let started = std::time::Instant::now();
    let out = run(&["probe", &url, "--read-timeout", "0.5"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("524 from the edge"), "{text}");
    assert!(text.contains("response.timeout"), "{text}");
    assert!(text.contains("cloudflare waits 125 s"), "{text}");
}

#[test]
fn raw_output_escapes_the_origin_bytes() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/value-nul", lab.addr());
    let out = run(&["probe", &url, "--raw"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("field-value.nul"), "{text}");
    assert!(text.contains("\\0"), "NUL shown escaped: {text}");
    assert!(
        !out.stdout.contains(&0u8),
        "no raw NUL reaches the terminal"
    );
    assert!(text.contains("> GET /value-nul HTTP/1.1\\r\\n"), "{text}");
}

#[test]
fn usage_errors_exit_2_with_a_reason() {
    let out = run(&["probe", "ftp://example.com/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported scheme"));
    let out = run(&["probe", "http://example.com/", "--profile", "iis"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["probe", "http://example.com/", "-H", "no colon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Name: value"));
}

#[test]
fn lab_tour_probes_every_route_and_agrees() {
    let out = run(&["probe", "--lab"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let n = routes().len() + originlens_lab::TlsCase::ALL.len();
    assert!(
        text.contains(&format!("{n} of {n} routes gave the verdict")),
        "{text}"
    );
    // The TLS and h2 listeners are toured too.
    for name in ["expired", "self-signed", "h2-goaway", "h2-valid"] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "{name} missing: {text}"
        );
    }
    // Columns fit: every row's second column starts where the header's does.
    let header = text
        .lines()
        .find(|l| l.trim_start().starts_with("route"))
        .unwrap();
    let col = header.find("visitor sees").unwrap();
    for line in text
        .lines()
        .filter(|l| l.contains(" (edge) ") || l.contains(" (origin)"))
    {
        let before: String = line.chars().take(col).collect();
        assert!(
            before.ends_with(' ') && line.chars().nth(col).is_some_and(|c| c.is_ascii_digit()),
            "misaligned row: {line}"
        );
    }
}

#[test]
fn unresolvable_origin_is_530() {
    // `.invalid` never resolves (RFC 6761).
    let out = run(&[
        "probe",
        "http://www.example.com/",
        "--connect-to",
        "origin.invalid",
        "--connect-timeout",
        "5",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    assert_eq!(doc["verdict"]["status"], 530);
    assert_eq!(doc["verdict"]["cause"], "dns.unresolved");
}

/// An origin that reads one request (head plus its Content-Length body), answers 200 and hands
/// the bytes it got to the test.
fn recording_origin() -> (SocketAddr, std::thread::JoinHandle<Vec<u8>>) {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let got = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                if buf.len() >= end + 4 + length {
                    break;
                }
            }
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        buf
    });
    (addr, got)
}

#[test]
fn data_is_sent_as_a_post_body_with_its_length() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.json");
    std::fs::write(&file, b"{\"cart\": [1, 2]}\n").unwrap();

    let (addr, got) = recording_origin();
    let url = format!("http://{addr}/checkout");
    let out = run(&["probe", &url, "-d", &format!("@{}", file.display())]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let sent = String::from_utf8(got.join().unwrap()).unwrap();
    assert!(sent.starts_with("POST /checkout HTTP/1.1\r\n"), "{sent}");
    assert!(sent.contains("\r\nContent-Length: 17\r\n"), "{sent}");
    assert!(sent.ends_with("\r\n\r\n{\"cart\": [1, 2]}\n"), "{sent}");

    // -X wins over the implied POST; a header the user gives is kept, not doubled.
    let (addr, got) = recording_origin();
    let url = format!("http://{addr}/item");
    let out = run(&[
        "probe",
        &url,
        "-X",
        "PUT",
        "-d",
        "a=1",
        "-H",
        "Content-Type: text/plain",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let sent = String::from_utf8(got.join().unwrap()).unwrap();
    assert!(sent.starts_with("PUT /item HTTP/1.1\r\n"), "{sent}");
    assert_eq!(sent.matches("Content-Length").count(), 1, "{sent}");
    assert!(
        sent.contains("Content-Type: text/plain\r\n") && sent.ends_with("\r\n\r\na=1"),
        "{sent}"
    );

    let out = run(&["probe", "http://127.0.0.1:1/", "-d", "@/nonexistent/body"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/body"));
}

#[test]
fn the_text_report_shows_the_response_head_and_curl_shorthands_work() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    // No scheme: http://, as curl takes it.
    let url = format!("{}/value-nul", lab.addr());
    let out = run(&["probe", &url, "--color", "never"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("response head"), "{text}");
    assert!(text.contains("    HTTP/1.1 200 OK\n"), "{text}");
    assert!(
        text.contains("    X-Foo: a\\0b\n"),
        "the field, escaped: {text}"
    );

    // A long field is cut with its length said.
    let url = format!("http://{}/head-130k", lab.addr());
    let text =
        String::from_utf8_lossy(&run(&["probe", &url, "--color", "never"]).stdout).to_string();
    assert!(text.contains("bytes in all)"), "{text}");

    // -I sends HEAD.
    let url = format!("http://{}/ok", lab.addr());
    let doc = json_of(&run(&["probe", &url, "-I", "--format", "json", "--raw"]));
    assert!(
        doc["raw"]["request"]
            .as_str()
            .unwrap()
            .starts_with("HEAD /ok "),
        "{doc:#}"
    );
    // -k is --ssl-mode full: an expired certificate is a 526 in strict mode, a warning here.
    let tls = common::tls_lab::lab();
    let expired = tls.lab.tls_addr(originlens_lab::TlsCase::Expired).unwrap();
    let url = format!("https://{}/", originlens_lab::LAB_HOST);
    let (connect, ca) = (expired.to_string(), tls.ca.path().display().to_string());
    let base = [
        "probe",
        &url,
        "--connect-to",
        &connect,
        "--ca-file",
        &ca,
        "--format",
        "json",
    ];
    let strict = json_of(&run(&base));
    assert_eq!(strict["verdict"]["status"], 526, "{strict:#}");
    let full = json_of(&run(&[&base[..], &["-k"]].concat()));
    assert_eq!(full["verdict"]["status"], 200, "{full:#}");
    let out = run(&["probe", &url, "-k", "--ssl-mode", "strict"]);
    assert_eq!(out.status.code(), Some(2), "-k and --ssl-mode conflict");
}

/// Ctrl-C while the origin hangs: the probe stops at once, shows what it received and the
/// verdict the edge would give if it stopped waiting then, and exits 130.
#[test]
fn ctrl_c_shows_what_was_received_and_exits_130() {
    use std::process::Stdio;
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    for (route, format) in [("/hang-mid-head", "json"), ("/hang", "text")] {
        let url = format!("http://{}{route}", lab.addr());
        let started = std::time::Instant::now();
        let child = common::cli::originlens()
            .args(["probe", &url, "--format", format, "--color", "never"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(800));
        let sent = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let out = child.wait_with_output().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "stopped at once, not at the 125 s read timeout"
        );
        assert_eq!(
            out.status.code(),
            Some(130),
            "{route}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        if format == "json" {
            let doc = json_of(&out);
            let after = doc["timeouts"]["interrupted_s"].as_f64().unwrap();
            assert!((0.5..5.0).contains(&after), "{doc:#}");
            assert_eq!(doc["verdict"]["status"], 524, "{doc:#}");
            assert_eq!(doc["head"]["complete"], false, "{doc:#}");
            assert!(
                doc["head"]["bytes"].as_u64().unwrap_or(0) > 0,
                "the half head received is kept: {doc:#}"
            );
        } else {
            assert!(stdout.contains("stopped       by Ctrl-C after"), "{stdout}");
            assert!(stdout.contains("524 from the edge"), "{stdout}");
        }
    }
}
