//! Every JSON output of the real binary validates against its checked-in schema under
//! `schemas/`, carries that schema's id, and the schemas' cause enums are `Cause::ALL`.

use std::io::Write;
use std::process::{Output, Stdio};

use originlens_lab::TlsCase;
use originlens_wire::Cause;
use serde_json::Value;

mod common;
use common::cli::{originlens, run};
use common::curl::Curl;
use common::edge::EdgeProc;
use common::schema::{check, schema, schemas_dir};
use common::tls_lab;

const CURL: Curl = Curl { max_time: "15" };

/// The one JSON document on stdout, validated; its `schema` member must be the schema's id.
fn check_doc(name: &str, out: &Output) -> Value {
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    check(name, &doc);
    doc
}

/// Every line of stdout as one JSON document, each validated.
fn check_lines(name: &str, out: &Output) -> Vec<Value> {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let docs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        !docs.is_empty(),
        "no JSON lines; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for d in &docs {
        check(name, d);
    }
    docs
}

#[test]
fn every_schema_compiles_and_names_the_causes_of_cause_all() {
    let ids: Vec<&str> = Cause::ALL.iter().map(|c| c.as_str()).collect();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(schemas_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let s = schema(&name);
        jsonschema::validator_for(&s).unwrap_or_else(|e| panic!("{name}: {e}"));
        let listed: Vec<&str> = s["$defs"]["cause"]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no $defs.cause.enum"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(listed, ids, "{name}: cause ids differ from Cause::ALL");
        names.push(name);
    }
    names.sort();
    assert_eq!(
        names,
        [
            "diagnose",
            "edge-health",
            "incident",
            "keepalive",
            "lab-routes",
            "lab-tour",
            "lint",
            "load",
            "logs",
            "probe"
        ]
    );
}

#[test]
fn a_wrong_document_is_refused() {
    let schema = schema("probe");
    let v = jsonschema::validator_for(&schema).unwrap();
    assert!(!v.is_valid(&serde_json::json!({"schema": "originlens.probe/1"})));
    let lab = originlens_lab::LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/ok", lab.addr());
    let mut doc: Value =
        serde_json::from_slice(&run(&["probe", &url, "--format", "json"]).stdout).unwrap();
    assert!(v.is_valid(&doc));
    doc["verdict"]["cause"] = "no.such-cause".into();
    assert!(!v.is_valid(&doc), "an unknown cause id must not validate");
}

#[test]
fn probe_documents_validate() {
    let lab = tls_lab::lab();
    let http = lab.lab.addr();
    for path in [
        "/ok",
        "/empty",
        "/chunk-bare-lf",
        "/cl-conflict",
        "/set-cookie-flood",
        "/continue-then-200",
    ] {
        let url = format!("http://{http}{path}");
        let out = run(&["probe", &url, "--format", "json", "--read-timeout", "3"]);
        let doc = check_doc("probe", &out);
        assert_eq!(doc["schema"], "originlens.probe/1");
    }
    let raw = run(&[
        "probe",
        &format!("http://{http}/value-nul"),
        "--format",
        "json",
        "--raw",
    ]);
    let doc = check_doc("probe", &raw);
    assert_eq!(doc["raw"]["response_cut"], false);
    let ca = lab.ca.path().to_str().unwrap();
    for case in [
        TlsCase::Valid,
        TlsCase::Expired,
        TlsCase::OldProtocol,
        TlsCase::H2Goaway,
        TlsCase::H2Valid,
    ] {
        let addr = lab.lab.tls_addr(case).unwrap();
        let url = format!("https://{}:{}/", originlens_lab::LAB_HOST, addr.port());
        let out = run(&[
            "probe",
            &url,
            "--connect-to",
            &addr.to_string(),
            "--ca-file",
            ca,
            "--format",
            "json",
        ]);
        let doc = check_doc("probe", &out);
        assert!(doc["tls"].is_object(), "{}: no tls member", case.name());
    }
}

#[test]
fn keepalive_document_validates() {
    let lab = originlens_lab::LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/keepalive-short", lab.addr());
    let out = run(&[
        "keepalive",
        &url,
        "--format",
        "json",
        "--idle",
        "1.5s",
        "--max-wait",
        "2",
        "--read-timeout",
        "3",
    ]);
    let doc = check_doc("keepalive", &out);
    assert_eq!(doc["schema"], "originlens.keepalive/1");
}

/// Runs of every shape: closed and open model, several routes with failures of several causes
/// and their evidence, a connection refused (no status, no reading), and a `--baseline`
/// comparison; each document validates, and a changed one does not.
#[test]
fn load_documents_validate() {
    let lab = originlens_lab::LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let base = format!("http://{}", lab.addr());
    let dir = tempfile::tempdir().unwrap();
    let urls = dir.path().join("urls");
    std::fs::write(
        &urls,
        format!("{base}/flaky/empty?every=10\n{base}/flaky/big-head?every=10\n{base}/ok\n"),
    )
    .unwrap();
    let urls = urls.to_str().unwrap();
    let load = |extra: &[&str]| {
        let mut args = vec!["load", "--format", "json", "-c", "2"];
        args.extend(extra);
        run(&args)
    };
    let closed = load(&["--urls", urls, "-n", "300"]);
    assert_eq!(closed.status.code(), Some(1));
    let doc = check_doc("load", &closed);
    assert_eq!(doc["schema"], "originlens.load/1");
    let causes = doc["failures_by_cause"].as_object().unwrap();
    assert!(causes.len() >= 2, "{causes:?}");
    assert!(!doc["evidence"].as_array().unwrap().is_empty());
    assert_eq!(doc["routes"].as_array().unwrap().len(), 3);
    let first = dir.path().join("first.json");
    std::fs::write(&first, &closed.stdout).unwrap();

    let open = load(&[
        &format!("{base}/ok"),
        "-q",
        "200",
        "--duration",
        "1s",
        "--no-keepalive",
        "--baseline",
        first.to_str().unwrap(),
    ]);
    assert_eq!(open.status.code(), Some(0));
    let doc = check_doc("load", &open);
    assert!(doc["corrected_latency_ms"].is_object(), "{doc}");
    assert!(doc["baseline"]["gone_causes"].as_array().unwrap().len() >= 2);

    let refused = load(&[
        &format!("http://127.0.0.1:{}/", common::net::free_port()),
        "-n",
        "5",
        "--connect-timeout",
        "1",
    ]);
    let mut doc = check_doc("load", &refused);
    assert_eq!(doc["failures_by_cause"]["connect.refused"], 5, "{doc}");
    assert!(doc["evidence"][0]["end"].is_null(), "{doc}");

    let v = jsonschema::validator_for(&schema("load")).unwrap();
    doc["failures_by_cause"]["no.such-cause"] = 1.into();
    assert!(!v.is_valid(&doc), "an unknown cause id must not validate");
    doc["failures_by_cause"] = serde_json::json!({});
    doc["extra"] = true.into();
    assert!(!v.is_valid(&doc), "an unknown member must not validate");
}

#[test]
fn lab_list_and_tour_validate() {
    let list = run(&["lab", "--list", "--format", "json"]);
    let doc = check_doc("lab-routes", &list);
    assert_eq!(doc["schema"], "originlens.lab-routes/1");
    let tour = run(&["probe", "--lab", "--format", "json"]);
    let doc = check_doc("lab-tour", &tour);
    assert_eq!(doc["schema"], "originlens.lab-tour/1");
    let kinds: Vec<&str> = doc["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"http") && kinds.contains(&"tls"));
    assert_eq!(doc["agreed"], doc["total"]);
}

#[test]
fn incidents_show_and_export_validate_and_since_takes_both_forms() {
    let lab = originlens_lab::LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let edge = EdgeProc::builder()
        .loopback()
        .args(["--origin", &format!("http://{}", lab.addr())])
        .temp_store()
        .args(["--read-timeout", "2"])
        .start();
    for p in ["/empty", "/cl-conflict"] {
        CURL.fetch(&format!("http://{}{p}", edge.addr), &[]);
    }
    CURL.wait_for_written(&edge, 2);
    let incidents = |args: &[&str]| {
        originlens()
            .args(["incidents", "--store"])
            .arg(edge.store())
            .args(args)
            .output()
            .unwrap()
    };
    let export = incidents(&["export"]);
    let rows = check_lines("incident", &export);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["schema"] == "originlens.incident/1"));
    for since in ["1h", "2 hours ago", "today"] {
        let out = incidents(&["export", "--since", since]);
        assert_eq!(check_lines("incident", &out).len(), 2, "--since {since}");
    }
    let none = incidents(&["export", "--since", "2030-01-01T00:00:00Z"]);
    assert!(none.status.success() && none.stdout.is_empty());
    let bad = incidents(&["list", "--since", "soon"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`soon`"));

    let id = rows[0]["id"].as_str().unwrap();
    let show = incidents(&["show", id, "--format", "json"]);
    let doc = check_doc("incident", &show);
    assert_eq!(doc["id"], id);
    // The old spelling still works.
    let alias = incidents(&["show", id, "--json"]);
    assert_eq!(check_doc("incident", &alias), doc);
}

#[test]
fn edge_health_document_validates() {
    let config = originlens_edge::EdgeConfig::single(
        "127.0.0.1:0".parse().unwrap(),
        originlens_edge::OriginConfig::new(
            originlens_edge::OriginUrl::parse("http://127.0.0.1:9").unwrap(),
            "cloudflare",
        )
        .unwrap(),
    );
    let shared = originlens_edge::shared::Shared::new(
        config,
        std::sync::Arc::new(originlens_edge::metrics::Metrics::new(1)),
        None,
        1,
    )
    .unwrap();
    let doc: Value =
        serde_json::from_str(&originlens_edge::health::Health::of(&shared).to_json()).unwrap();
    check("edge-health", &doc);
}

#[test]
fn logs_and_lint_lines_validate() {
    let mut child = originlens()
        .args(["logs", "-", "--format", "json", "--tz", "UTC"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"2024/01/02 03:04:05 [error] 123#123: *1 upstream prematurely closed connection while reading response header from upstream, client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"a\"\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let lines = check_lines("logs", &out);
    assert_eq!(lines.first().unwrap()["type"], "begin");
    assert_eq!(lines.last().unwrap()["type"], "end");

    let conf = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../lint/tests/corpus/nginx/08-inheritance/nginx.conf");
    let out = originlens()
        .args(["lint", "--format", "json"])
        .arg(&conf)
        .output()
        .unwrap();
    let lines = check_lines("lint", &out);
    assert!(lines.iter().any(|l| l["type"] == "finding"));
    assert_eq!(lines.last().unwrap()["type"], "summary");
}

#[test]
fn json_lines_outputs_say_so_in_help() {
    for (args, what) in [
        (&["incidents", "export", "--help"][..], "JSON lines"),
        (&["logs", "--help"][..], "JSON lines"),
        (&["lint", "--help"][..], "JSON lines"),
    ] {
        let out = run(args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(what),
            "{args:?} --help does not say {what}:\n{text}"
        );
    }
}
