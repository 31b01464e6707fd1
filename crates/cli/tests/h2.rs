//! The real `originlens probe` binary against the lab's HTTP/2 listeners on 127.0.0.1: when the
//! origin picks `h2` by ALPN the request goes over HTTP/2, a clean h2 response is forwarded, and
//! every way of breaking h2 is a 520 (`h2.protocol`) with its own finding.

use std::process::Output;

use originlens_lab::{TlsCase, LAB_HOST};
use serde_json::Value;

mod common;
use common::cli::{json_of, run};
use common::tls_lab::{lab, Lab};

impl Lab {
    fn args(&self, case: TlsCase) -> Vec<String> {
        let addr = self.lab.tls_addr(case).expect("a listener per case");
        vec![
            "probe".into(),
            format!("https://{LAB_HOST}:{}/", addr.port()),
            "--connect-to".into(),
            addr.to_string(),
            "--ca-file".into(),
            self.ca.path().to_str().unwrap().into(),
            "--read-timeout".into(),
            "5".into(),
        ]
    }

    fn json(&self, case: TlsCase) -> (Output, Value) {
        let mut args = self.args(case);
        args.extend(["--format".into(), "json".into()]);
        let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let doc = json_of(&out);
        (out, doc)
    }

    fn text(&self, case: TlsCase) -> String {
        let args = self.args(case);
        let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn h2_cases() -> Vec<TlsCase> {
    TlsCase::ALL
        .iter()
        .copied()
        .filter(|c| c.offers_h2())
        .collect()
}

/// Every h2 case: ALPN `h2`, the request over HTTP/2, the documented status, cause and finding,
/// the same finding named in the `h2` member, and exit 1 exactly for the edge's own 520.
#[test]
fn every_h2_case_gives_its_documented_verdict() {
    let lab = lab();
    let cases = h2_cases();
    assert_eq!(cases.len(), 6, "the h2 listeners");
    let mut failures = Vec::new();
    for case in cases {
        let (out, doc) = lab.json(case);
        let e = case.expect();
        let v = &doc["verdict"];
        let want_finding = e.finding.map(|k| k.as_str());
        let want_code = if e.cause.is_some() { 1 } else { 0 };
        let got = (
            v["status"].as_u64(),
            v["cause"].as_str(),
            v["finding"].as_str(),
            doc["h2"]["error"]["kind"].as_str(),
            out.status.code(),
        );
        let want = (
            Some(u64::from(e.status)),
            e.cause.map(|c| c.as_str()),
            want_finding,
            want_finding,
            Some(want_code),
        );
        if got != want
            || doc["tls"]["alpn"] != "h2"
            || doc["h2"]["used"] != true
            || v["generated_by"] != if e.cause.is_some() { "edge" } else { "origin" }
        {
            failures.push(format!(
                "{}: want {want:?}, got {got:?}\nh2: {}\nverdict: {v}",
                case.name(),
                doc["h2"],
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A clean h2 response is forwarded with the origin's status, and its head and body are judged
/// like an HTTP/1 one.
#[test]
fn a_clean_h2_response_is_forwarded() {
    let lab = lab();
    let (out, doc) = lab.json(TlsCase::H2Valid);
    assert_eq!(out.status.code(), Some(0));
    let h2 = &doc["h2"];
    assert_eq!(h2["status"], 200);
    assert_eq!(h2["complete"], true);
    assert_eq!(h2["error"], Value::Null);
    let body = "ok: h2 case h2-valid\n";
    assert_eq!(h2["body_bytes"], body.len());
    assert_eq!(h2["fields"], 2);
    assert_eq!(doc["head"]["status"], 200);
    assert_eq!(doc["body"]["complete"], true);
    assert_eq!(doc["body"]["data"], body.len());
    assert_eq!(doc["findings"].as_array().unwrap().len(), 0, "{doc}");
    // Every peer forwards it.
    for p in doc["peers"].as_array().unwrap() {
        assert_eq!(p["status"], 200, "{p}");
    }
    let text = lab.text(TlsCase::H2Valid);
    assert!(
        text.contains("h2            status 200, 2 fields"),
        "no h2 line in:\n{text}"
    );
}

/// HTTP/1 after agreeing h2: the finding sits on the HTTP/1 status line the origin sent.
#[test]
fn http1_after_alpn_h2_points_at_the_status_line() {
    let lab = lab();
    let (_, doc) = lab.json(TlsCase::H2SpeaksHttp1);
    let f = &doc["findings"][0];
    assert_eq!(f["id"], "h2.http1-after-alpn");
    assert_eq!(f["offset"], 0);
    assert_eq!(f["span"][1], "HTTP/1.1 400 Bad Request".len());
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("`HTTP/1.1 400 Bad Request`"),
        "{f}"
    );
    assert_eq!(doc["h2"]["error"]["by"], "connection");
    let text = lab.text(TlsCase::H2SpeaksHttp1);
    for needle in [
        "visitor sees  520 from the edge",
        "h2            broken: h2.http1-after-alpn",
        "because       h2.http1-after-alpn at byte 0",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
}

/// GOAWAY and RST_STREAM: the code is named, the origin is the one that sent it, and the finding
/// sits on the frame (after the origin's SETTINGS and SETTINGS ACK, so never at byte 0).
#[test]
fn goaway_and_refused_stream_name_their_code_and_frame() {
    let lab = lab();
    // The escaped frame header: 3 length bytes (38 is `&`), then the type.
    for (case, code, name, frame_start) in [
        (TlsCase::H2Goaway, 1, "PROTOCOL_ERROR", "\\0\\0&\\x07"),
        (
            TlsCase::H2RefusedStream,
            7,
            "REFUSED_STREAM",
            "\\0\\0\\x04\\x03",
        ),
    ] {
        let (_, doc) = lab.json(case);
        let e = &doc["h2"]["error"];
        assert_eq!(e["code"], code, "{}: {e}", case.name());
        assert_eq!(e["code_name"], name, "{}: {e}", case.name());
        assert_eq!(e["by"], "origin", "{}: {e}", case.name());
        let f = &doc["findings"][0];
        let offset = f["offset"].as_u64().unwrap();
        assert!(offset >= 18, "{}: {f}", case.name());
        assert_eq!(f["span"][1].as_u64(), Some(offset + 9), "{f}");
        let x = &f["excerpt"];
        let at = format!(
            "{}{}",
            x["at"].as_str().unwrap(),
            x["after"].as_str().unwrap()
        );
        assert!(at.starts_with(frame_start), "{}: {f}", case.name());
    }
    let text = lab.text(TlsCase::H2Goaway);
    assert!(
        text.contains("h2            broken: h2.goaway PROTOCOL_ERROR (1) by the origin"),
        "{text}"
    );
}

/// Frames no peer may send (DATA on stream 0) make the client itself close with GOAWAY
/// PROTOCOL_ERROR: Pingora's `InvalidH2`.
#[test]
fn invalid_frames_are_the_clients_goaway() {
    let lab = lab();
    let (_, doc) = lab.json(TlsCase::H2GarbageFrames);
    let e = &doc["h2"]["error"];
    assert_eq!(e["kind"], "h2.protocol");
    assert_eq!(e["by"], "probe");
    assert_eq!(e["code_name"], "PROTOCOL_ERROR");
    let (_, doc) = lab.json(TlsCase::H2BadPreface);
    assert!(
        doc["h2"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("first frame is DATA on stream 0"),
        "{}",
        doc["h2"]
    );
}

/// An origin without h2 in ALPN keeps the HTTP/1.1 path: no `h2` use, the same 200.
#[test]
fn http1_origins_stay_on_http1() {
    let lab = lab();
    let (out, doc) = lab.json(TlsCase::Valid);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(doc["tls"]["alpn"], "http/1.1");
    assert_eq!(doc["h2"], serde_json::json!({"used": false}));
    assert_eq!(doc["head"]["status"], 200);
}
