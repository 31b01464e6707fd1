//! Fleet use against real programs: Debian's Prometheus scraping `originlens exporter` with the
//! multi-target relabel config, batch probing of a targets file, completions and the man page.

mod common;

use common::net::{free_port, KillOnDrop};

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{originlens, run};
use originlens_lab::LabHandle;

/// A program from Debian's packages; its absence fails the test with the way to install it.
fn program(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!(
        "{name} is not installed: run `bash scripts/setup-debian.sh` (Debian package {package})"
    );
}

/// Starts `originlens exporter` on a free loopback port; returns it with its address.
fn exporter(extra: &[&str]) -> (KillOnDrop, SocketAddr) {
    let mut child = originlens()
        .args(["exporter", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start originlens exporter");
    let stderr = child.stderr.take().unwrap();
    let mut line = String::new();
    BufReader::new(stderr).read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (KillOnDrop(child), addr)
}

/// A plain HTTP GET over a fresh connection; returns status and body.
fn get(addr: SocketAddr, path: &str, extra: &str) -> (u16, String) {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn exporter_answers_a_scrape_with_blackbox_names_and_the_cause() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let (_exp, addr) = exporter(&[]);
    let lab_addr = lab.addr();
    let (status, body) = get(
        addr,
        &format!("/probe?target=http%3A%2F%2Fshop.test%2Fempty&connect_to={lab_addr}"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(sample(&body, "probe_success"), Some(0.0), "{body}");
    assert_eq!(
        sample(&body, "originlens_cause{cause=\"response.empty\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&body, "originlens_visitor_status"), Some(520.0));
    assert_eq!(
        sample(&body, "originlens_generated_by{by=\"edge\"}"),
        Some(1.0)
    );

    let (_, body) = get(addr, &format!("/probe?target=http://{lab_addr}/ok"), "");
    assert_eq!(sample(&body, "probe_success"), Some(1.0), "{body}");
    assert_eq!(sample(&body, "probe_http_status_code"), Some(200.0));
    assert!(sample(&body, "originlens_head_bytes").unwrap() > 10.0);
    assert!(!body.contains("originlens_cause{"), "{body}");

    // The scrape timeout bounds the probe: a hang becomes the edge's 524 within it.
    let started = Instant::now();
    let (_, body) = get(
        addr,
        &format!("/probe?target=http://{lab_addr}/hang"),
        "X-Prometheus-Scrape-Timeout-Seconds: 1.5\r\n",
    );
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        sample(&body, "originlens_cause{cause=\"response.timeout\"}"),
        Some(1.0),
        "{body}"
    );

    let (status, body) = get(addr, "/probe?module=nope&target=http://a.test/", "");
    assert_eq!((status, body.as_str()), (400, "Unknown module \"nope\"\n"));
    let (status, _) = get(addr, "/probe", "");
    assert_eq!(status, 400);
    let (_, own) = get(addr, "/metrics", "");
    assert_eq!(
        sample(
            &own,
            "originlens_exporter_probes_total{module=\"default\",result=\"failure\"}"
        ),
        Some(2.0),
        "{own}"
    );
}

#[test]
fn exporter_refuses_a_public_address_and_names_a_bad_modules_file() {
    let out = run(&["exporter", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-public"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("modules.toml");
    std::fs::write(&file, "[modules.a]\nprofile = \"nginx\"\ntimout = 3\n").unwrap();
    let out = run(&[
        "exporter",
        "--config",
        file.to_str().unwrap(),
        "--check-config",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("modules.toml:3:1:"), "{err}");
}

/// Prometheus scrapes the exporter with blackbox_exporter's multi-target relabelling; its
/// query API then shows the cause of each lab route's failure.
#[test]
fn prometheus_scrapes_the_exporter_and_can_alert_on_a_cause() {
    let prometheus = program("prometheus", "prometheus");
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let (_exp, exporter_addr) = exporter(&[]);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    let scrape = include_str!("../../../docs/prometheus/prometheus.yml")
        .replace("127.0.0.1:9115", &exporter_addr.to_string())
        .replace("203.0.113.7:443", &lab.addr().to_string())
        .replace("https://www.example.com/checkout", "http://shop.test/empty")
        .replace("https://www.example.com/", "http://shop.test/ok")
        .replace(
            "https://api.example.com/health",
            "http://shop.test/head-130k",
        )
        .replace("scrape_interval: 30s", "scrape_interval: 1s")
        .replace("scrape_timeout: 25s", "scrape_timeout: 1s");
    std::fs::write(&config, scrape).unwrap();
    let _prom = KillOnDrop(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let api: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let query = |q: &str| -> Vec<(String, f64)> {
        let path = format!("/api/v1/query?query={}", encode(q));
        let Ok(mut s) = std::net::TcpStream::connect(api) else {
            return Vec::new();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        use std::io::Write;
        let _ = write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
        let mut raw = String::new();
        let _ = s.read_to_string(&mut raw);
        let Some((_, body)) = raw.split_once("\r\n\r\n") else {
            return Vec::new();
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
            return Vec::new();
        };
        v["data"]["result"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|s| {
                        (
                            s["metric"]["instance"].as_str().unwrap_or("").to_owned(),
                            s["value"][1]
                                .as_str()
                                .unwrap_or("nan")
                                .parse()
                                .unwrap_or(f64::NAN),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut success = Vec::new();
    while Instant::now() < deadline {
        success = query("probe_success");
        if success.len() == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    success.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        success,
        vec![
            ("http://shop.test/empty".to_owned(), 0.0),
            ("http://shop.test/head-130k".to_owned(), 0.0),
            ("http://shop.test/ok".to_owned(), 1.0),
        ],
        "Prometheus did not scrape the three targets in time"
    );
    assert_eq!(
        query("originlens_cause{cause=\"response.empty\"} == 1"),
        vec![("http://shop.test/empty".to_owned(), 1.0)]
    );
    assert_eq!(
        query("originlens_cause{cause=\"head.too-large\"}"),
        vec![("http://shop.test/head-130k".to_owned(), 1.0)]
    );
    assert_eq!(
        query("originlens_visitor_status{instance=\"http://shop.test/empty\"}"),
        vec![("http://shop.test/empty".to_owned(), 520.0)]
    );
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn completions_and_man_page_are_generated_for_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        for sub in ["probe", "keepalive", "exporter", "incidents"] {
            assert!(text.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let out = run(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let roff = String::from_utf8_lossy(&out.stdout);
    assert!(roff.starts_with(".ie"), "{roff}");
    assert!(roff.contains(".TH originlens 1"));
    assert!(roff.contains("exporter"));
    // A closed stdout ends quietly.
    let mut child = originlens()
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
