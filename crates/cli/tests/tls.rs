//! The real `originlens probe` binary against the lab's TLS listeners on 127.0.0.1: every
//! certificate and handshake problem is named, the verdict follows `--ssl-mode`, and the HTTP
//! exchange still happens after a certificate problem.

use std::process::Output;

use originlens_lab::{TlsCase, LAB_HOST};
use serde_json::Value;

mod common;
use common::cli::{json_of, run};
use common::tls_lab::{lab, Lab};

impl Lab {
    fn url(&self, case: TlsCase) -> (String, String) {
        let addr = self.lab.tls_addr(case).expect("a listener per case");
        (
            format!("https://{LAB_HOST}:{}/", addr.port()),
            addr.to_string(),
        )
    }

    fn probe(&self, case: TlsCase, extra: &[&str]) -> (Output, Value) {
        let (url, addr) = self.url(case);
        let ca = self.ca.path().to_str().unwrap().to_owned();
        let mut args = vec![
            "probe",
            url.as_str(),
            "--connect-to",
            addr.as_str(),
            "--format",
            "json",
            "--read-timeout",
            "5",
        ];
        if !extra.contains(&"--no-ca") {
            args.extend(["--ca-file", ca.as_str()]);
        }
        args.extend(extra.iter().filter(|a| **a != "--no-ca"));
        let out = run(&args);
        let doc = json_of(&out);
        (out, doc)
    }
}

fn problem_ids(doc: &Value) -> Vec<String> {
    doc["tls"]["problems"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["id"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Every TLS case gives the documented strict verdict, names its reason, and exits 1 exactly
/// when the edge answers with its own error.
#[test]
fn every_tls_case_gives_its_documented_verdict() {
    let lab = lab();
    let mut failures = Vec::new();
    for &case in TlsCase::ALL {
        let (out, doc) = lab.probe(case, &[]);
        let e = case.expect();
        let v = &doc["verdict"];
        let got_status = v["status"].as_u64();
        let got_cause = v["cause"].as_str();
        let reason = match e.cause.map(|c| c.as_str()) {
            Some("tls.handshake") => doc["tls"]["handshake"]["reason"]
                .as_str()
                .map(str::to_owned),
            Some(_) => problem_ids(&doc).into_iter().next(),
            None => None,
        };
        let code = out.status.code();
        let want_code = if e.cause.is_some() { 1 } else { 0 };
        if got_status != Some(u64::from(e.status))
            || got_cause != e.cause.map(|c| c.as_str())
            || reason.as_deref() != e.reason
            || code != Some(want_code)
        {
            failures.push(format!(
                "{}: want {} {:?} {:?} exit {want_code}, got {got_status:?} {got_cause:?} {reason:?} exit {code:?}\n{}",
                case.name(),
                e.status,
                e.cause.map(|c| c.as_str()),
                e.reason,
                serde_json::to_string_pretty(&doc["tls"]).unwrap()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The valid chain: version, cipher, ALPN, dates, names and a complete, ordered, trusted chain;
/// without SNI the origin serves the same certificate.
#[test]
fn valid_chain_tells_the_whole_story() {
    let lab = lab();
    let (out, doc) = lab.probe(TlsCase::Valid, &[]);
    assert_eq!(out.status.code(), Some(0));
    let tls = &doc["tls"];
    assert_eq!(tls["mode"], "strict");
    assert_eq!(tls["version"], "TLS 1.3");
    assert_eq!(tls["alpn"], "http/1.1");
    assert!(tls["cipher"].as_str().unwrap().starts_with("TLS13_"));
    assert_eq!(tls["handshake"]["sni"], LAB_HOST);
    assert_eq!(tls["trusted"], true);
    assert_eq!(tls["name_matches"], true);
    assert_eq!(tls["chain_complete"], true);
    assert_eq!(tls["chain_ordered"], true);
    let chain = tls["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 2);
    assert!(chain[0]["names"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == LAB_HOST));
    let days = chain[0]["days_left"].as_i64().unwrap();
    assert!((58..=60).contains(&days), "days left {days}");
    assert!(chain[1]["subject"]
        .as_str()
        .unwrap()
        .contains("intermediate"));
    assert_eq!(tls["problems"].as_array().unwrap().len(), 0, "{tls}");
    let w = &tls["without_sni"];
    assert_eq!(w["handshake"]["ok"], true);
    assert_eq!(w["handshake"]["sni"], Value::Null);
    assert_eq!(w["same_certificate"], true);
    // The HTTP story is told too.
    assert_eq!(doc["head"]["status"], 200);

    let text = run(&[
        "probe",
        &lab.url(TlsCase::Valid).0,
        "--connect-to",
        &lab.url(TlsCase::Valid).1,
        "--ca-file",
        lab.ca.path().to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    for needle in [
        "tls           TLS 1.3",
        "matches lab.originlens.test",
        "complete, in order, trusted",
        "without SNI   the same certificate",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
}

/// Without the lab root the valid chain ends at an unknown issuer: 526 in strict mode.
#[test]
fn an_untrusted_root_is_an_unknown_issuer() {
    let lab = lab();
    let (out, doc) = lab.probe(TlsCase::Valid, &["--no-ca"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(doc["verdict"]["status"], 526);
    assert_eq!(problem_ids(&doc), vec!["unknown-issuer"]);
    assert_eq!(doc["tls"]["chain_complete"], false);
}

/// webpki stops at the first failure; the independent checks list them all. The HTTP exchange
/// still happens after the certificate problem.
#[test]
fn every_problem_is_listed_not_only_the_first() {
    let lab = lab();
    // Expired, and no trusted root: both are named.
    let (_, doc) = lab.probe(TlsCase::Expired, &["--no-ca"]);
    let ids = problem_ids(&doc);
    assert!(
        ids.contains(&"expired".to_owned()) && ids.contains(&"unknown-issuer".to_owned()),
        "{ids:?}"
    );
    assert!(doc["tls"]["chain"][0]["days_left"].as_i64().unwrap() < 0);
    assert_eq!(doc["head"]["status"], 200, "the exchange went on");
    // Self-signed for the right name, checked from an IP URL: name still matches by IP SAN? No:
    // the self-signed leaf names the host and 127.0.0.1, so only self-signed is reported.
    let (_, doc) = lab.probe(TlsCase::SelfSigned, &[]);
    assert_eq!(problem_ids(&doc), vec!["self-signed"]);
    // A wrong host is named with the names the certificate does carry.
    let (_, doc) = lab.probe(TlsCase::WrongHost, &[]);
    let msg = doc["tls"]["problems"][0]["message"].as_str().unwrap();
    assert!(msg.contains("other.originlens.test"), "{msg}");
}

/// Full mode does not verify: certificate problems are warnings and the origin's 200 passes;
/// a failed handshake is still a 525.
#[test]
fn full_mode_warns_about_certificates_but_not_handshakes() {
    let lab = lab();
    let (out, doc) = lab.probe(TlsCase::Expired, &["--ssl-mode", "full"]);
    assert_eq!(out.status.code(), Some(0), "{doc}");
    assert_eq!(doc["verdict"]["status"], 200);
    assert_eq!(doc["tls"]["mode"], "full");
    assert_eq!(doc["tls"]["problems"][0]["severity"], "warning");
    let (out, doc) = lab.probe(TlsCase::PlainHttp, &["--ssl-mode", "full"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(doc["verdict"]["status"], 525);
}

/// TLS 1.2-only origins are fine for the edge and reported as such.
#[test]
fn tls12_only_is_reported() {
    let lab = lab();
    let (out, doc) = lab.probe(TlsCase::Tls12Only, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(doc["tls"]["version"], "TLS 1.2");
    assert!(doc["tls"]["cipher"]
        .as_str()
        .unwrap()
        .starts_with("TLS_ECDHE_"));
}

/// Flexible mode never reaches TLS: the probe says so instead of pretending.
#[test]
fn flexible_mode_is_refused_for_https() {
    let lab = lab();
    let (url, addr) = lab.url(TlsCase::Valid);
    let out = run(&[
        "probe",
        &url,
        "--connect-to",
        &addr,
        "--ssl-mode",
        "flexible",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plain HTTP") && err.contains(":80"), "{err}");
}

/// A bad --ca-file is a usage error, not a silent fallback.
#[test]
fn a_ca_file_without_certificates_is_an_error() {
    let lab = lab();
    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), "not a certificate").unwrap();
    let (url, addr) = lab.url(TlsCase::Valid);
    let out = run(&[
        "probe",
        &url,
        "--connect-to",
        &addr,
        "--ca-file",
        junk.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// Every certificate problem is a finding under `tls.certificate` in both modes: an error that
/// decides the 526 in Strict mode, a warning that says what Strict would answer in Full mode.
#[test]
fn every_certificate_problem_is_a_finding_in_both_modes() {
    let lab = lab();
    let cases = [
        (TlsCase::Expired, "tls.certificate.expired"),
        (TlsCase::NotYetValid, "tls.certificate.not-yet-valid"),
        (TlsCase::WrongHost, "tls.certificate.name-mismatch"),
        (TlsCase::SelfSigned, "tls.certificate.self-signed"),
        (
            TlsCase::MissingIntermediate,
            "tls.certificate.incomplete-chain",
        ),
    ];
    let finding = |doc: &Value, id: &str| -> Value {
        doc["findings"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("no finding {id}: {doc:#}"))
    };
    for (case, id) in cases {
        let (out, strict) = lab.probe(case, &[]);
        assert_eq!(out.status.code(), Some(1), "{id}");
        assert_eq!(strict["verdict"]["status"], 526, "{id}: {strict:#}");
        assert_eq!(
            strict["verdict"]["finding"], id,
            "the specific problem decides"
        );
        let f = finding(&strict, id);
        assert_eq!(f["severity"], "error", "{id}");
        assert_eq!(f["cause"], "tls.certificate", "{id}");

        let (out, full) = lab.probe(case, &["--ssl-mode", "full"]);
        assert_eq!(out.status.code(), Some(0), "{id}: {full:#}");
        assert_eq!(full["verdict"]["status"], 200, "{id}: {full:#}");
        let f = finding(&full, id);
        assert_eq!(f["severity"], "warning", "{id}");
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .contains("Strict mode the edge answers 526"),
            "{f:#}"
        );
    }
}

/// An origin that demands a client certificate is a 525 with the reason named, under TLS 1.3
/// (the alert comes on the first read) and TLS 1.2 (inside the handshake); presenting the
/// certificate it trusts with --cert/--key gets its 200, as Authenticated Origin Pulls does.
#[test]
fn a_required_client_certificate_is_named_and_can_be_presented() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("client.pem"), dir.path().join("client.key"));
    std::fs::write(&cert, &lab.lab.client_pem().chain).unwrap();
    std::fs::write(&key, &lab.lab.client_pem().key).unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    for case in [
        TlsCase::ClientCertRequired,
        TlsCase::ClientCertRequiredTls12,
    ] {
        let (out, doc) = lab.probe(case, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", case.name());
        assert_eq!(doc["verdict"]["status"], 525, "{doc:#}");
        assert_eq!(doc["verdict"]["cause"], "tls.handshake", "{doc:#}");
        assert_eq!(
            doc["tls"]["handshake"]["reason"], "client-certificate-required",
            "{doc:#}"
        );
        let first = &doc["findings"][0];
        assert!(
            first["message"]
                .as_str()
                .unwrap()
                .contains("requires a client certificate"),
            "{doc:#}"
        );

        let (out, doc) = lab.probe(case, &["--cert", cert, "--key", key]);
        assert_eq!(out.status.code(), Some(0), "{}: {doc:#}", case.name());
        assert_eq!(doc["verdict"]["status"], 200, "{doc:#}");
    }
    let out = run(&["probe", "https://127.0.0.1/", "--cert", cert]);
    assert_eq!(out.status.code(), Some(2), "--cert needs --key");
}
