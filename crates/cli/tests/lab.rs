//! `originlens lab` run as the real binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

mod common;
use common::cli::originlens;

const TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn list_prints_a_table_of_routes() {
    let out = originlens().args(["lab", "--list"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("PATH") && lines[0].contains("CAUSE"));
    assert!(lines.len() > 40, "{} lines", lines.len());
    let row = |path: &str| {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(path))
            .unwrap_or_else(|| panic!("no row for {path}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(row("/empty")[1..4], ["520", "edge", "response.empty"]);
    assert_eq!(row("/ok")[1..4], ["200", "origin", "-"]);
    assert_eq!(
        row("/gzip-cl-decoded")[1..4],
        ["502", "edge", "encoding.mismatch"]
    );
    assert!(row("/hang").join(" ").contains("[read timeout 2s]"));
}

#[test]
fn list_as_json_has_one_object_per_route() {
    let out = originlens()
        .args(["lab", "--list", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], "originlens.lab-routes/1");
    let rows = doc["routes"].as_array().unwrap();
    let tls = doc["tls"].as_array().unwrap();
    assert!(tls
        .iter()
        .any(|t| t["name"] == "expired" && t["status"] == 526));
    assert!(rows.len() >= 40);
    let find = |p: &str| rows.iter().find(|r| r["path"] == p).unwrap().clone();
    let empty = find("/empty");
    assert_eq!(empty["status"], 520);
    assert_eq!(empty["generated_by"], "edge");
    assert_eq!(empty["cause"], "response.empty");
    assert_eq!(empty["finding"], "response.empty");
    assert_eq!(empty["method"], "GET");
    assert!(empty["read_timeout_ms"].is_null());
    let reset = find("/head-reset");
    assert_eq!(
        (&reset["cause"], &reset["finding"]),
        (&"head.truncated".into(), &"head.reset".into())
    );
    let ok = find("/ok");
    assert!(ok["cause"].is_null() && ok["finding"].is_null());
    assert_eq!(find("/hang")["read_timeout_ms"], 2000);
    assert_eq!(find("/body-on-head")["method"], "HEAD");
}

#[test]
fn refuses_a_public_address_without_the_flag() {
    let out = originlens()
        .args(["lab", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-public"));
}

/// Kills the lab process when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serves_on_an_ephemeral_port_and_answers_ok() {
    let child = originlens()
        .args(["lab", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lab = Running(child);
    let stdout = lab.0.stdout.take().unwrap();
    // Read the banner on a thread so a silent binary fails the test instead of blocking it.
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send((lines.next(), lines.next()));
    });
    let (first, second) = rx
        .recv_timeout(TIMEOUT)
        .expect("the lab prints its address");
    let first = first.unwrap().unwrap();
    assert!(second
        .unwrap()
        .unwrap()
        .contains("originlens probe http://127.0.0.1:"));
    let url = first.split_whitespace().last().unwrap();
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|e| panic!("{first}: {e}"));
    assert!(addr.ip().is_loopback() && addr.port() != 0);

    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.write_all(b"GET /ok HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(
        got,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"
    );
}

/// `originlens … | head`: a reader that has gone away ends the command quietly with exit 0.
#[test]
fn a_closed_stdout_is_a_quiet_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, "events {}\nhttp { server { listen 80; } }\n").unwrap();
    let store = dir.path().join("incidents.db");
    let store = store.to_str().unwrap();
    let conf = conf.to_str().unwrap();
    let commands: [&[&str]; 4] = [
        &["lab", "--list", "--format", "json"],
        &["lab", "--list"],
        &["lint", conf, "--format", "sarif"],
        &["incidents", "--store", store, "export"],
    ];
    // A store with one incident to export: an edge in front of the lab, one empty reply.
    {
        let lab = originlens_lab::LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let edge = common::edge::EdgeProc::builder()
            .args([
                "--origin",
                &format!("http://{}", lab.addr()),
                "--store",
                store,
            ])
            .loopback()
            .start();
        let seen = common::curl::Curl { max_time: "10" }
            .fetch(&format!("http://{}/empty", edge.addr), &[]);
        assert_eq!(seen.status, 520);
        common::curl::Curl { max_time: "10" }.wait_for_written(&edge, 1);
    }
    for args in commands {
        let mut child = common::cli::originlens()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every command says in `--help` what its exit statuses mean.
#[test]
fn every_command_documents_its_exit_status() {
    for cmd in [
        "probe",
        "keepalive",
        "lab",
        "logs",
        "lint",
        "edge",
        "incidents",
        "load",
        "exporter",
        "diagnose",
        "verify",
    ] {
        let out = originlens().args([cmd, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Exit status"), "{cmd} --help:\n{help}");
    }
}
