//! `originlens edge` run as the real binary with curl as the visitor: HTTPS origins (the lab's TLS
//! listeners, strict and full SSL modes) and several origins chosen by `Host` from a TOML file.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use originlens_lab::{LabHandle, TlsCase, LAB_HOST};

mod common;
use common::curl::{Curl, Seen};
use common::edge::{export, originlens, EdgeProc};

/// curl gives up after 10 s.
const CURL: Curl = Curl { max_time: "10" };

/// Starts `originlens edge ARGS` (which must bind port 0 and an admin listener), its stderr kept
/// for the failure messages.
fn start_edge<S: AsRef<OsStr>>(args: &[S]) -> EdgeProc {
    // One worker thread: the tests count the connections of one upstream pool.
    EdgeProc::builder()
        .args(["--workers", "1"])
        .args(args)
        .capture_stderr()
        .start()
}

impl EdgeProc {
    /// GET `path` with `Host: host`.
    fn get(&self, host: &str, path: &str, extra: &[&str]) -> Seen {
        let host_header = format!("Host: {host}");
        let mut args = vec!["-H", host_header.as_str()];
        args.extend_from_slice(extra);
        CURL.fetch(&format!("http://{}{path}", self.addr), &args)
    }
}

/// `path` as a TOML basic string.
fn toml_path(path: &Path) -> String {
    let s = path.to_str().expect("a UTF-8 temporary path");
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A lab with its root CA written to a file.
struct TlsLab {
    lab: LabHandle,
    dir: tempfile::TempDir,
    ca: PathBuf,
}

fn tls_lab() -> TlsLab {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("lab-ca.pem");
    std::fs::write(&ca, lab.ca_pem()).unwrap();
    TlsLab { lab, dir, ca }
}

impl TlsLab {
    fn url(&self, case: TlsCase) -> String {
        format!("https://{}", self.lab.tls_addr(case).unwrap())
    }
}

/// The TLS cases an HTTP/1.1 edge can tell apart (the h2 listeners speak HTTP/1.1 to a client
/// that does not offer h2).
fn http1_cases() -> impl Iterator<Item = TlsCase> {
    TlsCase::ALL.iter().copied().filter(|c| !c.offers_h2())
}

/// Strict mode with the lab root trusted: a good response passes byte for byte, and the TLS
/// connection is pooled and reused.
#[test]
fn https_origin_passes_in_strict_mode_and_reuses_the_connection() {
    let t = tls_lab();
    let store = t.dir.path().join("incidents.db");
    let url = t.url(TlsCase::Valid);
    let args: Vec<&OsStr> = vec![
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--admin".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--store".as_ref(),
        store.as_os_str(),
        "--origin".as_ref(),
        url.as_ref(),
        "--sni".as_ref(),
        LAB_HOST.as_ref(),
        "--ca-file".as_ref(),
        t.ca.as_os_str(),
        "--connect-timeout".as_ref(),
        "2".as_ref(),
        "--read-timeout".as_ref(),
        "2".as_ref(),
    ];
    let edge = start_edge(&args);
    for i in 0..3 {
        let seen = edge.get("www.example.test", "/checkout?x=1", &[]);
        assert_eq!(
            seen.status,
            200,
            "request {i}: {seen:?}\n{}",
            edge.stderr_text()
        );
        assert_eq!(seen.body, b"ok: tls case valid\n", "request {i}");
        assert_eq!(seen.header("content-length"), Some("19"));
        assert_eq!(seen.header("originlens-incident"), None);
    }
    let events = |e: &str| {
        CURL.metric(
            edge.admin,
            &format!("originlens_edge_upstream_connection_events_total{{event=\"{e}\"}}"),
        )
    };
    assert_eq!((events("connect"), events("reuse")), (1, 2));
    assert_eq!(
        CURL.metric(
            edge.admin,
            "originlens_edge_responses_total{status=\"200\",cause=\"none\",generated_by=\"origin\"}"
        ),
        3
    );
    assert_eq!(
        CURL.metric(edge.admin, "originlens_edge_pool_idle_connections"),
        1
    );
}

/// An IP origin without `sni` or `host_header` goes out under the visitor's host name, as
/// Cloudflare sends it: strict mode checks the certificate against that name, and a pooled
/// connection only carries requests for the name it was opened with.
#[test]
fn ip_origins_take_the_server_name_from_the_visitor() {
    let t = tls_lab();
    let store = t.dir.path().join("incidents.db");
    let url = t.url(TlsCase::Valid);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let args: Vec<&OsStr> = vec![
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--admin".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--store".as_ref(),
        store.as_os_str(),
        "--origin".as_ref(),
        url.as_ref(),
        "--ssl-mode".as_ref(),
        "strict".as_ref(),
        "--ca-file".as_ref(),
        t.ca.as_os_str(),
        "--connect-timeout".as_ref(),
        "2".as_ref(),
        "--read-timeout".as_ref(),
        "2".as_ref(),
    ];
    let edge = start_edge(&args);
    let context = || format!("edge stderr:\n{}", edge.stderr_text());

    // The lab leaf names LAB_HOST, localhost and 127.0.0.1, not www.example.test: checked
    // against the IP, as before, that name would have passed.
    let ok = edge.get(LAB_HOST, "/", &[]);
    assert_eq!(
        (ok.status, ok.body.as_slice()),
        (200, &b"ok: tls case valid\n"[..]),
        "{}",
        context()
    );
    let wrong = edge.get("www.example.test", "/", &[]);
    assert_eq!(wrong.status, 526, "{wrong:?}\n{}", context());
    CURL.wait_for_written(&edge, 1);
    let id = wrong.header("originlens-incident").unwrap();
    let rows = export(&store);
    let message = rows[id]["findings"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("not valid for name \"www.example.test\""),
        "{message}"
    );

    // Two names in turn: each opens its own connection and then reuses only that one.
    let events = |e: &str| {
        CURL.metric(
            edge.admin,
            &format!("originlens_edge_upstream_connection_events_total{{event=\"{e}\"}}"),
        )
    };
    let (connects, reuses) = (events("connect"), events("reuse"));
    for round in 0..3 {
        for host in ["localhost", LAB_HOST] {
            let seen = edge.get(host, "/", &[]);
            assert_eq!(seen.status, 200, "{host}, round {round}: {}", context());
        }
    }
    assert_eq!(
        (events("connect") - connects, events("reuse") - reuses),
        (1, 5),
        "{}",
        context()
    );
    assert_eq!(
        CURL.metric(edge.admin, "originlens_edge_pool_idle_connections"),
        2
    );
}

/// One edge, one origin per TLS case and SSL mode, chosen by `Host`: strict mode gives the
/// status the lab documents for each case (526 for a certificate, 525 for a handshake), full
/// mode passes every certificate but not a failed handshake, and each incident names its cause.
#[test]
fn tls_cases_give_525_and_526_by_ssl_mode() {
    let t = tls_lab();
    // Accepts TCP (the kernel does) and never answers the ClientHello.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let store = t.dir.path().join("incidents.db");
    let mut config = format!(
        "listen = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\nstore = {}\n",
        toml_path(&store)
    );
    // (Host, origin URL, expected status, expected cause, expected body on success)
    let mut cases: Vec<(String, String, u16, Option<&str>, String)> = Vec::new();
    for case in http1_cases() {
        let name = case.name();
        let e = case.expect();
        let ok_body = format!("ok: tls case {name}\n");
        for mode in ["strict", "full"] {
            let host = format!("{mode}-{name}.test");
            config.push_str(&format!(
                "[[origin]]\nurl = \"{}\"\nhosts = [\"{host}\"]\nssl_mode = \"{mode}\"\nsni = \"{LAB_HOST}\"\n\
                 ca_file = {}\nconnect_timeout = 2\nread_timeout = 2\n",
                t.url(case),
                toml_path(&t.ca),
            ));
            let cause = e.cause.map(|c| c.as_str());
            let (status, cause) = match (mode, cause) {
                ("full", Some("tls.certificate")) => (200, None),
                _ => (e.status, cause),
            };
            cases.push((host, t.url(case), status, cause, ok_body.clone()));
        }
    }
    // Without the lab root the valid chain ends at an unknown issuer.
    config.push_str(&format!(
        "[[origin]]\nurl = \"{}\"\nhosts = [\"untrusted.test\"]\nsni = \"{LAB_HOST}\"\n",
        t.url(TlsCase::Valid)
    ));
    cases.push((
        "untrusted.test".into(),
        t.url(TlsCase::Valid),
        526,
        Some("tls.certificate"),
        String::new(),
    ));
    // An IP URL without `sni` takes the server name from `host_header`: right name, wrong name.
    for (host, header, status, cause) in [
        ("sni-from-host-header.test", LAB_HOST, 200, None),
        (
            "sni-wrong-name.test",
            "other.originlens.test",
            526,
            Some("tls.certificate"),
        ),
    ] {
        config.push_str(&format!(
            "[[origin]]\nurl = \"{}\"\nhosts = [\"{host}\"]\nhost_header = \"{header}\"\nca_file = {}\n",
            t.url(TlsCase::Valid),
            toml_path(&t.ca),
        ));
        cases.push((
            host.into(),
            t.url(TlsCase::Valid),
            status,
            cause,
            "ok: tls case valid\n".into(),
        ));
    }
    let silent_url = format!("https://{}", silent.local_addr().unwrap());
    config.push_str(&format!(
        "[[origin]]\nurl = \"{silent_url}\"\nhosts = [\"silent.test\"]\nssl_mode = \"full\"\nconnect_timeout = 1\n"
    ));
    cases.push((
        "silent.test".into(),
        silent_url,
        525,
        Some("tls.handshake"),
        String::new(),
    ));
    let path = t.dir.path().join("edge.toml");
    std::fs::write(&path, &config).unwrap();
    let edge = start_edge(&[OsStr::new("--config"), path.as_os_str()]);

    let mut failures = Vec::new();
    let mut incidents = Vec::new();
    for (host, origin, status, cause, ok_body) in &cases {
        let seen = edge.get(host, "/", &[]);
        if seen.status != *status {
            failures.push(format!(
                "{host}: status {} (expected {status})",
                seen.status
            ));
            continue;
        }
        match cause {
            None => {
                if seen.body != ok_body.as_bytes() || seen.header("originlens-incident").is_some() {
                    failures.push(format!("{host}: body {:?}", seen.text()));
                }
            }
            Some(cause) => {
                let id = seen.header("originlens-incident").map(str::to_owned);
                // Cloudflare sends no Retry-After for 525 and 526.
                if id.is_none() || seen.header("retry-after").is_some() {
                    failures.push(format!("{host}: headers {:?}", seen.headers));
                }
                let timed = Duration::from_millis(950)..Duration::from_secs(4);
                if host == "silent.test" && !timed.contains(&seen.took) {
                    failures.push(format!(
                        "{host}: the 1 s connect timeout took {:?}",
                        seen.took
                    ));
                }
                incidents.push((host, origin, *status, *cause, id.unwrap_or_default()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\nedge stderr:\n{}",
        failures.join("\n"),
        edge.stderr_text()
    );

    CURL.wait_for_written(&edge, incidents.len() as u64);
    let rows = export(&store);
    assert_eq!(rows.len(), incidents.len());
    for (host, origin, status, cause, id) in &incidents {
        let row = &rows[id];
        let authority = origin.trim_start_matches("https://");
        if row["cause"] != *cause
            || row["finding"] != *cause
            || row["visitor_status"] != *status
            || row["generated_by"] != "edge"
            || row["host"] != **host
            || row["origin"] != authority
        {
            failures.push(format!("{host}: incident {row}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // `incidents list --cause` finds the handshake failures and nothing else.
    let list = originlens()
        .args(["incidents", "--store"])
        .arg(&store)
        .args(["list", "--cause", "tls.handshake"])
        .output()
        .unwrap();
    let text = String::from_utf8(list.stdout).unwrap();
    let handshakes = incidents.iter().filter(|i| i.3 == "tls.handshake").count();
    assert_eq!(text.lines().count(), 1 + handshakes, "{text}");
    assert!(!text.contains("tls.certificate"), "{text}");

    // The evidence says which certificate problem it was.
    let message = |host: &str| {
        let id = &incidents.iter().find(|i| i.0 == host).unwrap().4;
        rows[id]["findings"][0]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    for (host, needle) in [
        ("strict-expired.test", "certificate expired"),
        ("strict-not-yet-valid.test", "not valid yet"),
        ("strict-wrong-host.test", "not valid for name"),
        ("strict-self-signed.test", "UnknownIssuer"),
        ("strict-missing-intermediate.test", "UnknownIssuer"),
        ("untrusted.test", "UnknownIssuer"),
        (
            "sni-wrong-name.test",
            "not valid for name \"other.originlens.test\"",
        ),
        (
            "strict-plain-http.test",
            "answered the ClientHello in plain HTTP",
        ),
        ("strict-old-protocol.test", "protocol_version alert"),
        ("silent.test", "did not finish within"),
    ] {
        let m = message(host);
        assert!(m.contains(needle), "{host}: {m}");
    }

    // The JSON page tells the visitor it is not worth retrying.
    let json = edge.get(
        "strict-expired.test",
        "/",
        &["-H", "Accept: application/json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(
        (v["status"].as_u64(), v["cause"].as_str()),
        (Some(526), Some("tls.certificate"))
    );
    assert_eq!(v["retryable"], false, "{v}");
}

/// A test origin that answers every request with its own request head as the body (so the test
/// sees the `Host` the edge sent), except `/hang`, which is never answered. It keeps
/// connections alive and counts them.
struct Echo {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

impl Echo {
    fn requests(&self) -> usize {
        self.heads.lock().unwrap().len()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn echo_origin() -> Echo {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (seen, count) = (heads.clone(), connections.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            count.fetch_add(1, Ordering::SeqCst);
            let seen = seen.clone();
            std::thread::spawn(move || echo_connection(stream, &seen));
        }
    });
    Echo {
        addr,
        heads,
        connections,
    }
}

fn echo_connection(mut stream: TcpStream, seen: &Mutex<Vec<String>>) {
    // Bounds the life of a connection thread whatever the edge does.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match stream.read(&mut chunk) {
                Ok(n) if n > 0 => {
                    buf.extend_from_slice(&chunk[..n]);
                    continue;
                }
                _ => return,
            }
        };
        let head = String::from_utf8_lossy(&buf[..end + 4]).into_owned();
        buf.drain(..end + 4);
        seen.lock().unwrap().push(head.clone());
        if head.starts_with("GET /hang ") {
            // Hold the connection, answer nothing.
            while matches!(stream.read(&mut chunk), Ok(n) if n > 0) {}
            return;
        }
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{head}",
            head.len()
        );
        if stream.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// The `Host` line of a request head, lower-cased name.
fn host_line(head: &str) -> Option<&str> {
    head.split("\r\n")
        .find(|l| l.to_ascii_lowercase().starts_with("host:"))
        .map(|l| l[5..].trim())
}

/// A port nothing listens on.
fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn routed_config(lab: SocketAddr, echo: SocketAddr, down: SocketAddr, store: &Path) -> String {
    format!(
        r#"listen = "127.0.0.1:0"
admin = "127.0.0.1:0"
store = {store}

# The lab, with a short read timeout.
[[origin]]
url = "http://{lab}"
hosts = ["lab.test"]
profile = "cloudflare"
connect_timeout = 1
read_timeout = 0.5

# The same lab judged as nginx judges it.
[[origin]]
url = "http://{lab}"
hosts = ["nginx.test"]
profile = "nginx"
read_timeout = 0.5

# The echo origin under its own name; its read timeout stays the profile's (60 s).
[[origin]]
url = "http://{echo}"
hosts = ["echo.test", "www.echo.test"]
profile = "nginx"
host_header = "echo.internal"

# Nothing listens there.
[[origin]]
url = "http://{down}"
hosts = ["down.test"]
connect_timeout = 1
"#,
        store = toml_path(store),
    )
}

/// Several origins chosen by `Host`: each request reaches its origin with that origin's profile,
/// timeouts and `Host`; a `Host` no origin claims gets 421 when there is no default origin.
#[test]
fn origins_are_chosen_by_host_with_their_own_settings() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let echo = echo_origin();
    let down = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("incidents.db");
    let path = dir.path().join("edge.toml");
    std::fs::write(&path, routed_config(lab.addr(), echo.addr, down, &store)).unwrap();
    let edge = start_edge(&[OsStr::new("--config"), path.as_os_str()]);
    let context = || format!("edge stderr:\n{}", edge.stderr_text());

    // The lab's clean route, byte for byte.
    let ok = edge.get("lab.test", "/ok", &[]);
    assert_eq!(
        (ok.status, ok.body.as_slice()),
        (200, &b"ok\n"[..]),
        "{}",
        context()
    );

    // The echo origin gets its own Host header; names match whatever the case, port or final
    // dot.
    for host in ["echo.test", "WWW.Echo.Test:8080", "echo.test."] {
        let seen = edge.get(host, "/where?q=1", &[]);
        assert_eq!(seen.status, 200, "{host}: {seen:?}\n{}", context());
        let head = seen.text();
        assert!(head.starts_with("GET /where?q=1 HTTP/1.1\r\n"), "{head}");
        assert_eq!(host_line(&head), Some("echo.internal"), "{head}");
    }
    assert_eq!(echo.requests(), 3, "only echo.test reaches the echo origin");
    // Its nginx profile keeps no idle upstream connections: one connection per request.
    assert_eq!(echo.connections(), 3);

    // The same lab route under two profiles: Cloudflare's 520, nginx's 502.
    let cf = edge.get("lab.test", "/empty", &[]);
    let nginx = edge.get("nginx.test", "/empty", &[]);
    assert_eq!((cf.status, nginx.status), (520, 502));

    // The lab origin's 0.5 s read timeout: 524, long before the echo origin's 60 s.
    let hang = edge.get("lab.test", "/hang", &[]);
    assert_eq!(hang.status, 524);
    assert!(
        hang.took >= Duration::from_millis(450) && hang.took < Duration::from_secs(4),
        "524 after {:?}",
        hang.took
    );
    let waited = edge.get("echo.test", "/hang", &["--max-time", "2"]);
    assert_eq!(
        (waited.status, waited.curl_exit),
        (0, 28),
        "the echo origin's request timed out early: {waited:?}"
    );

    // Nothing listens behind down.test.
    let down_seen = edge.get("down.test", "/ok", &[]);
    assert_eq!(down_seen.status, 521);

    // No origin claims this name and there is no default: refused, no incident.
    let refused_before = CURL.metric(edge.admin, "originlens_edge_refused_requests_total");
    let unknown = edge.get("elsewhere.test", "/ok", &["-H", "Accept: application/json"]);
    assert_eq!(unknown.status, 421, "{unknown:?}");
    assert_eq!(unknown.header("originlens-incident"), None);
    let v: serde_json::Value = serde_json::from_slice(&unknown.body).unwrap();
    assert_eq!(v["cause"], "no-origin", "{v}");
    assert_eq!(
        CURL.metric(
            edge.admin,
            "originlens_edge_refused_requests_total{event=\"no-origin\"}"
        ),
        refused_before + 1
    );
    assert_eq!(echo.requests(), 4, "the echo origin saw /hang only");

    // Each incident names the origin that was asked and the visitor's Host.
    CURL.wait_for_written(&edge, 4);
    let rows = export(&store);
    let row = |seen: &Seen| rows[seen.header("originlens-incident").unwrap()].clone();
    for (seen, host, origin, cause, profile) in [
        (&cf, "lab.test", lab.addr(), "response.empty", "cloudflare"),
        (&nginx, "nginx.test", lab.addr(), "response.empty", "nginx"),
        (
            &hang,
            "lab.test",
            lab.addr(),
            "response.timeout",
            "cloudflare",
        ),
        (
            &down_seen,
            "down.test",
            down,
            "connect.refused",
            "cloudflare",
        ),
    ] {
        let r = row(seen);
        assert_eq!(
            (
                r["host"].as_str(),
                r["origin"].as_str(),
                r["cause"].as_str(),
                r["profile"].as_str()
            ),
            (
                Some(host),
                Some(origin.to_string().as_str()),
                Some(cause),
                Some(profile)
            ),
            "{r}"
        );
    }
    assert_eq!(rows.len(), 4);
}

/// With a default origin (no `hosts`), a `Host` no other origin claims goes there and keeps the
/// visitor's `Host`.
#[test]
fn unknown_hosts_go_to_the_default_origin() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let echo = echo_origin();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edge.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n\
             [[origin]]\nurl = \"http://{}\"\nhosts = [\"lab.test\"]\n\
             [[origin]]\nurl = \"http://{}\"\n",
            lab.addr(),
            echo.addr
        ),
    )
    .unwrap();
    let edge = start_edge(&[OsStr::new("--config"), path.as_os_str()]);
    for host in ["anything.test", "lab.test.example"] {
        let seen = edge.get(host, "/x", &[]);
        assert_eq!(seen.status, 200, "{}", edge.stderr_text());
        assert_eq!(host_line(&seen.text()), Some(host));
    }
    let lab_seen = edge.get("lab.test", "/ok", &[]);
    assert_eq!(lab_seen.body, b"ok\n");
    assert_eq!(echo.requests(), 2);
    // The Cloudflare profile pools: the second request reused the first one's connection.
    assert_eq!(echo.connections(), 1);
}

fn check_config(path: &Path) -> (Option<i32>, String, String) {
    let out = originlens()
        .arg("edge")
        .arg("--check-config")
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `--check-config` accepts a good file (the routing test's plus an https origin) and names the
/// file and the line of every mistake.
#[test]
fn check_config_names_the_file_and_line_of_a_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, lab.ca_pem()).unwrap();
    let store = dir.path().join("incidents.db");
    let mut good_text = routed_config(
        "127.0.0.1:9000".parse().unwrap(),
        "127.0.0.1:9001".parse().unwrap(),
        closed_port(),
        &store,
    );
    good_text.push_str(&format!(
        "\n[[origin]]\nurl = \"https://127.0.0.1:9443\"\nhosts = [\"secure.test\"]\n\
         sni = \"secure.test\"\nssl_mode = \"strict\"\nca_file = {}\n",
        toml_path(&ca)
    ));
    let good = dir.path().join("good.toml");
    std::fs::write(&good, &good_text).unwrap();
    let (code, stdout, stderr) = check_config(&good);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("{}: ok, 5 origin(s), listen 127.0.0.1:0", good.display())
    );

    // Each mistake replaces the first line equal to `from`; the error must point at that line.
    let replace = |from: &str, to: &str| -> (String, usize) {
        let line = good_text
            .lines()
            .position(|l| l == from)
            .unwrap_or_else(|| panic!("`{from}` is in the good file"));
        let mut lines: Vec<&str> = good_text.lines().collect();
        lines[line] = to;
        (lines.join("\n"), line + 1)
    };
    let missing_ca = format!(
        "ca_file = {}",
        toml_path(&dir.path().join("missing-ca.pem"))
    );
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let not_pem = format!("ca_file = {}", toml_path(&not_pem));
    let ca_line = format!("ca_file = {}", toml_path(&ca));
    let mut mistakes: Vec<(String, usize, &str)> = Vec::new();
    for (from, to, needle) in [
        (
            "profile = \"nginx\"",
            "profile = \"nginy\"",
            "unknown profile `nginy`",
        ),
        ("read_timeout = 0.5", "read_timout = 0.5", "read_timout"),
        ("read_timeout = 0.5", "read_timeout = -1", "read_timeout"),
        ("read_timeout = 0.5", "read_timeout = 0", "read_timeout"),
        (
            "read_timeout = 0.5",
            "read_timeout = \"fast\"",
            "\"fast\", expected f64",
        ),
        ("connect_timeout = 1", "connect_timeout = 1e400", "overflow"),
        (
            "hosts = [\"nginx.test\"]",
            "hosts = [\"LAB.test.\"]",
            "LAB.test.",
        ),
        (
            "hosts = [\"nginx.test\"]",
            "hosts = [\"nginx.test:8080\"]",
            "without a port",
        ),
        (
            "url = \"http://127.0.0.1:9001\"",
            "url = \"ftp://127.0.0.1:9001\"",
            "ftp://",
        ),
        (
            "host_header = \"echo.internal\"",
            "ssl_mode = \"flexible\"",
            "flexible",
        ),
        (
            "sni = \"secure.test\"",
            "sni = \"not a name\"",
            "not a name",
        ),
        (&ca_line, &missing_ca, "missing-ca.pem"),
        (&ca_line, &not_pem, "not.pem"),
        ("[[origin]]", "[[origin]", "expected"),
    ] {
        let (text, line) = replace(from, to);
        mistakes.push((text, line, needle));
    }
    // A second origin without `hosts`: the error points at its table.
    let lines = good_text.lines().count();
    mistakes.push((
        format!("{good_text}\n[[origin]]\nurl = \"http://a\"\n\n[[origin]]\nurl = \"http://b\"\n"),
        lines + 5,
        "default",
    ));

    let mut failures = Vec::new();
    for (i, (text, line, needle)) in mistakes.iter().enumerate() {
        let bad = dir.path().join(format!("bad-{i}.toml"));
        std::fs::write(&bad, text).unwrap();
        let (code, _, stderr) = check_config(&bad);
        let at = format!("{}:{line}:", bad.display());
        if code != Some(2) || !stderr.contains(&at) || !stderr.contains(needle) {
            failures.push(format!(
                "mistake {i}: exit {code:?}, want `{at}` and `{needle}` in: {stderr}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An origin that demands a client certificate gets the one given with --cert/--key (as
/// Authenticated Origin Pulls presents it) or, in a config file, `client_cert`/`client_key`.
#[test]
fn the_edge_presents_a_client_certificate_when_given_one() {
    let t = tls_lab();
    let cert = t.dir.path().join("client.pem");
    let key = t.dir.path().join("client.key");
    std::fs::write(&cert, &t.lab.client_pem().chain).unwrap();
    std::fs::write(&key, &t.lab.client_pem().key).unwrap();
    for case in [
        TlsCase::ClientCertRequired,
        TlsCase::ClientCertRequiredTls12,
    ] {
        let edge = start_edge(&[
            OsStr::new("--origin"),
            OsStr::new(&t.url(case)),
            OsStr::new("--ca-file"),
            t.ca.as_os_str(),
            OsStr::new("--sni"),
            OsStr::new(LAB_HOST),
            OsStr::new("--cert"),
            cert.as_os_str(),
            OsStr::new("--key"),
            key.as_os_str(),
            OsStr::new("--listen"),
            OsStr::new("127.0.0.1:0"),
            OsStr::new("--admin"),
            OsStr::new("127.0.0.1:0"),
            OsStr::new("--no-store"),
        ]);
        let seen = edge.get("shop.test", "/", &[]);
        assert_eq!(seen.status, 200, "{}: {}", case.name(), edge.stderr_text());
    }
    let config = t.dir.path().join("edge.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n[[origin]]\nurl = \"{}\"\n\
             sni = \"{LAB_HOST}\"\nca_file = {}\nclient_cert = {}\nclient_key = {}\n",
            t.url(TlsCase::ClientCertRequired),
            toml_path(&t.ca),
            toml_path(&cert),
            toml_path(&key),
        ),
    )
    .unwrap();
    let edge = start_edge(&[OsStr::new("--config"), config.as_os_str()]);
    assert_eq!(edge.get("shop.test", "/", &[]).status, 200);
}
