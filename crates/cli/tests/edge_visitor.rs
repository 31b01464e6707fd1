//! The edge's visitor side over raw sockets, in front of a scripted origin that records what
//! it receives: request bodies, `Expect: 100-continue`, pipelining, HTTP/1.0 visitors,
//! protocol upgrades, and h2 visitors (curl with prior knowledge, in front of the lab).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

mod common;
use common::edge::EdgeProc;

/// Every socket wait in these tests gives up after this long.
const WAIT: Duration = Duration::from_secs(10);

fn start_edge(origin: SocketAddr) -> EdgeProc {
    start_edge_with(origin, &[])
}

/// An edge in front of `origin`, without a store.
fn start_edge_with(origin: SocketAddr, extra: &[&str]) -> EdgeProc {
    EdgeProc::builder()
        .loopback()
        .args(["--no-store", "--origin", &format!("http://{origin}")])
        .args(["--read-timeout", "5"])
        .args(extra)
        .start()
}

/// One request as the origin received it.
#[derive(Clone, Debug)]
struct Received {
    head: String,
    body: Vec<u8>,
}

impl Received {
    fn field(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// What the scripted origin answers to a request.
type Script = fn(&Received, &mut TcpStream);

/// An origin on 127.0.0.1 that reads each request (head and `Content-Length` body), reports it,
/// and lets `script` answer; connections are kept open for the next request.
fn origin(script: Script) -> (SocketAddr, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let tx = tx.clone();
            thread::spawn(move || {
                stream.set_read_timeout(Some(WAIT)).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                while let Some(req) = read_request(&mut reader) {
                    if tx.send(req.clone()).is_err() {
                        return;
                    }
                    script(&req, &mut stream);
                }
            });
        }
    });
    (addr, rx)
}

fn read_request(reader: &mut impl BufRead) -> Option<Received> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut req = Received {
        head,
        body: Vec::new(),
    };
    let len: usize = req
        .field("content-length")
        .map_or(0, |v| v.parse().unwrap());
    req.body = vec![0; len];
    reader.read_exact(&mut req.body).ok()?;
    Some(req)
}

/// Answers 200 with the request target as the body.
fn echo_target(req: &Received, out: &mut TcpStream) {
    let target = req.head.split(' ').nth(1).unwrap_or("");
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{target}",
        target.len()
    );
    out.write_all(reply.as_bytes()).unwrap();
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

/// Reads until EOF (the edge closed) or the timeout.
fn read_to_close(s: &mut TcpStream) -> String {
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    String::from_utf8_lossy(&all).into_owned()
}

/// Reads until `all` ends with `end`.
fn read_until(s: &mut TcpStream, end: &str) -> String {
    let mut all = Vec::new();
    let mut byte = [0u8; 1];
    while !all.ends_with(end.as_bytes()) {
        match s.read(&mut byte) {
            Ok(1) => all.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[test]
fn a_chunked_request_body_reaches_the_origin_with_its_length() {
    let (origin, seen) = origin(echo_target);
    let edge = start_edge(origin);
    let mut s = connect(edge.addr);
    s.write_all(
        b"POST /upload HTTP/1.1\r\nHost: site.example\r\nTransfer-Encoding: chunked\r\n\
          Connection: close\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
    )
    .unwrap();
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\n/upload"), "{reply}");
    let req = seen.recv_timeout(WAIT).unwrap();
    assert_eq!(req.body, b"hello world");
    assert_eq!(req.field("content-length"), Some("11"));
    assert_eq!(req.field("transfer-encoding"), None);
    assert_eq!(req.field("host"), Some("site.example"));
    assert_eq!(req.field("x-forwarded-for"), Some("127.0.0.1"));
}

#[test]
fn expect_100_continue_is_answered_by_the_edge() {
    let (origin, seen) = origin(echo_target);
    let edge = start_edge(origin);
    let mut s = connect(edge.addr);
    s.write_all(
        b"PUT /file HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    assert_eq!(
        read_until(&mut s, "\r\n\r\n"),
        "HTTP/1.1 100 Continue\r\n\r\n"
    );
    s.write_all(b"data").unwrap();
    let reply = read_until(&mut s, "/file");
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    let req = seen.recv_timeout(WAIT).unwrap();
    assert_eq!(req.body, b"data");
    // The body went along with the head: the origin is not asked to continue.
    assert_eq!(req.field("expect"), None);
}

#[test]
fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let (origin, _seen) = origin(echo_target);
    let edge = start_edge(origin);
    let mut s = connect(edge.addr);
    s.write_all(
        b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nPOST /second HTTP/1.1\r\nHost: x\r\n\
          Content-Length: 2\r\n\r\nabGET /third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let reply = read_to_close(&mut s);
    let bodies: Vec<&str> = reply
        .split("HTTP/1.1 200 OK\r\n")
        .skip(1)
        .map(|r| r.rsplit("\r\n\r\n").next().unwrap())
        .collect();
    assert_eq!(bodies, ["/first", "/second", "/third"], "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
}

#[test]
fn an_http10_visitor_gets_a_body_of_unknown_length_until_close() {
    let (origin, _seen) = origin(|_, out| {
        // A chunked body that is not complete when the head is forwarded.
        out.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            .unwrap();
        thread::sleep(Duration::from_millis(200));
        out.write_all(b"6\r\n world\r\n0\r\n\r\n").unwrap();
    });
    let edge = start_edge(origin);
    let mut s = connect(edge.addr);
    s.write_all(b"GET /slow HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let reply = read_to_close(&mut s);
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    assert_eq!(body, "hello world");
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "{head}"
    );
    assert!(head.contains("connection: close"), "{head}");

    // An HTTP/1.1 visitor gets the same body re-chunked by the edge.
    let mut s = connect(edge.addr);
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // The head first: its last line may end in a 0 too.
    let head = read_until(&mut s, "\r\n\r\n");
    let body = read_until(&mut s, "0\r\n\r\n");
    let reply = format!("{head}{body}");
    assert!(head.contains("transfer-encoding: chunked"), "{reply}");
    // Chunk boundaries follow the origin's reads; the data and the last chunk are what counts.
    assert_eq!(dechunk(&body), "hello world", "{reply}");
}

/// The data of a complete chunked body (without extensions or trailers); panics on anything else.
fn dechunk(mut body: &str) -> String {
    let mut data = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(size, 16).expect("a hex chunk size");
        if size == 0 {
            assert_eq!(rest, "\r\n", "the body ends after the last chunk");
            return data;
        }
        data.push_str(&rest[..size]);
        body = rest[size..]
            .strip_prefix("\r\n")
            .expect("CRLF after chunk data");
    }
}

#[test]
fn an_upgrade_becomes_a_tunnel_both_ways() {
    let (origin, seen) = origin(|req, out| {
        if req.field("upgrade").is_none() {
            return echo_target(req, out);
        }
        out.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        )
        .unwrap();
        // Echo what comes through the tunnel until the edge closes it.
        let mut buf = [0u8; 64];
        while let Ok(n @ 1..) = out.read(&mut buf) {
            out.write_all(&buf[..n]).unwrap();
        }
    });
    let edge = start_edge(origin);
    let mut s = connect(edge.addr);
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    )
    .unwrap();
    let head = read_until(&mut s, "\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(
        head.contains("connection: upgrade\r\nupgrade: websocket\r\n"),
        "{head}"
    );
    s.write_all(b"ping").unwrap();
    assert_eq!(read_until(&mut s, "ping"), "ping");
    let req = seen.recv_timeout(WAIT).unwrap();
    assert_eq!(req.field("upgrade"), Some("websocket"));
    assert_eq!(req.field("connection"), Some("upgrade"));
}

#[test]
fn h2_visitors_with_prior_knowledge_get_the_same_answers() {
    let lab = originlens_lab::LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let edge = start_edge(lab.addr());
    let curl = |path: &str| {
        let out = Command::new("curl")
            .args(["-s", "--max-time", "10", "--http2-prior-knowledge"])
            .args([
                "-H",
                "Accept: application/json",
                "-o",
                "-",
                "-w",
                "\n%{http_version} %{http_code}",
            ])
            .arg(format!("http://{}{path}", edge.addr))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ok = curl("/ok");
    assert!(ok.ends_with("\n2 200"), "{ok}");
    let empty = curl("/empty");
    assert!(empty.ends_with("\n2 520"), "{empty}");
    assert!(empty.contains("\"cause\":\"response.empty\""), "{empty}");
}

#[test]
fn h2_request_bodies_reach_the_origin_whole_and_an_oversized_one_gets_413() {
    let (origin, seen) = origin(echo_target);
    let edge = start_edge_with(origin, &["--max-request-body", "50000"]);
    let post = |body: &[u8]| {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), body).unwrap();
        let out = Command::new("curl")
            .args(["-s", "--max-time", "10", "--http2-prior-knowledge"])
            .args(["-o", "/dev/null", "-w", "%{http_code}", "--data-binary"])
            .arg(format!("@{}", file.path().display()))
            .arg(format!("http://{}/p", edge.addr))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // One DATA frame, then three (the default frame size is 16 KiB).
    for len in [11, 40_000] {
        let body: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        assert_eq!(post(&body), "200", "a body of {len} bytes");
        let req = seen.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(req.body.len(), len);
        assert!(
            req.body == body,
            "the origin got another body of {len} bytes"
        );
    }
    assert_eq!(post(&vec![b'x'; 50_001]), "413");
    assert!(
        seen.recv_timeout(Duration::from_millis(300)).is_err(),
        "a refused body reached the origin"
    );
}

#[test]
fn broken_or_oversized_request_bodies_are_refused_before_the_origin() {
    let (origin, seen) = origin(echo_target);
    let edge = start_edge_with(origin, &["--max-request-body", "8"]);
    let status = |req: &[u8]| {
        let mut s = connect(edge.addr);
        s.write_all(req).unwrap();
        let reply = read_to_close(&mut s);
        reply.split(' ').nth(1).unwrap_or("").to_owned()
    };
    let chunked = "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(
        status(format!("{chunked}zz\r\nhello\r\n0\r\n\r\n").as_bytes()),
        "400"
    );
    assert_eq!(
        status(format!("{chunked}9\r\n123456789\r\n0\r\n\r\n").as_bytes()),
        "413"
    );
    assert_eq!(
        status(b"POST /l HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n123456789"),
        "413"
    );
    assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), "400");
    assert!(
        seen.try_recv().is_err(),
        "a refused request reached the origin"
    );
}
