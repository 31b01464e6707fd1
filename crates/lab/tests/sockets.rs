//! The lab over real loopback sockets, with a raw `std::net::TcpStream` client.
//!
//! Every read has a timeout, so a misbehaving server fails a test instead of hanging it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use originlens_lab::behaviour::head_of;
use originlens_lab::{route, routes, Behaviour, End, LabHandle, Route, MAX_HEAD};

/// Generous: only reached when the server misbehaves in a way no route asks for.
const SLOW: Duration = Duration::from_secs(5);
/// Long enough to tell "holding the connection" from "about to write".
const QUIET: Duration = Duration::from_millis(400);

fn lab() -> LabHandle {
    LabHandle::start("127.0.0.1:0".parse().unwrap()).expect("start the lab")
}

fn connect(addr: SocketAddr, timeout: Duration) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, SLOW).expect("connect");
    s.set_read_timeout(Some(timeout)).unwrap();
    s.set_write_timeout(Some(SLOW)).unwrap();
    s
}

fn request(method: &str, path: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nHost: lab\r\nUser-Agent: lab-test\r\n\r\n").into_bytes()
}

/// How reading a response ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Fin,
    Reset,
    Timeout,
}

/// Reads until FIN, RST or the read timeout.
fn read_all(s: &mut TcpStream) -> (Vec<u8>, Ending) {
    let mut got = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, Ending::Fin),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return (got, Ending::Reset),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return (got, Ending::Timeout)
            }
            Err(e) => panic!("unexpected read error {e}"),
        }
    }
}

/// Reads exactly `n` bytes (keep-alive responses have no FIN to wait for).
fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    s.read_exact(&mut got)
        .expect("read a whole keep-alive response");
    got
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(200)])
        .escape_debug()
        .to_string()
}

/// Sends the route's probe request and checks bytes and ending against the table.
fn check_route(addr: SocketAddr, r: &Route) {
    let stalls = matches!(r.behaviour.end(), None | Some(End::Hold));
    let mut s = connect(addr, if stalls { QUIET } else { SLOW });
    let method = r.hint.method;
    s.write_all(&request(method, r.path)).unwrap();
    let want = r.behaviour.bytes();
    match r.behaviour.end() {
        _ if r.behaviour.keeps_alive() => {
            let want = if method == "HEAD" {
                head_of(&want).to_vec()
            } else {
                want
            };
            for round in 0..2 {
                let got = read_n(&mut s, want.len());
                assert!(got == want, "{} round {round}: got {}", r.path, show(&got));
                s.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                let (extra, ending) = read_all(&mut s);
                assert_eq!(
                    (extra.len(), ending),
                    (0, Ending::Timeout),
                    "{}: still open, nothing more",
                    r.path
                );
                s.set_read_timeout(Some(SLOW)).unwrap();
                s.write_all(&request(method, r.path)).unwrap();
            }
        }
        end => {
            let (got, ending) = read_all(&mut s);
            let expected = match end {
                Some(End::Fin) => Ending::Fin,
                Some(End::Reset) => Ending::Reset,
                _ => Ending::Timeout,
            };
            assert_eq!(ending, expected, "{}: ending after {}", r.path, show(&got));
            assert!(
                got == want,
                "{}: got {} want {}",
                r.path,
                show(&got),
                show(&want)
            );
        }
    }
}

#[test]
fn every_route_answers_as_documented() {
    let lab = lab();
    let addr = lab.addr();
    // One connection per route, all at once: the timed routes overlap instead of adding up.
    thread::scope(|scope| {
        let checks: Vec<_> = routes()
            .iter()
            .map(|r| (r.path, scope.spawn(move || check_route(addr, r))))
            .collect();
        let failed: Vec<_> = checks
            .into_iter()
            .filter_map(|(p, h)| h.join().is_err().then_some(p))
            .collect();
        assert!(failed.is_empty(), "routes not as documented: {failed:?}");
    });
}

#[test]
fn connection_routes_end_with_fin_or_rst_before_any_byte() {
    let lab = lab();
    for (path, ending) in [("/empty", Ending::Fin), ("/reset", Ending::Reset)] {
        let mut s = connect(lab.addr(), SLOW);
        s.write_all(&request("GET", path)).unwrap();
        let (got, end) = read_all(&mut s);
        assert_eq!((got.len(), end), (0, ending), "{path}");
    }
    // RST in the middle: the bytes arrive first, then the reset.
    for path in ["/head-reset", "/body-reset"] {
        let mut s = connect(lab.addr(), SLOW);
        s.write_all(&request("GET", path)).unwrap();
        let (got, end) = read_all(&mut s);
        assert_eq!(end, Ending::Reset, "{path}");
        assert!(
            !got.is_empty() && got == route(path).unwrap().behaviour.bytes(),
            "{path}"
        );
    }
}

#[test]
fn hang_holds_the_connection_without_a_byte() {
    let lab = lab();
    let mut s = connect(lab.addr(), Duration::from_millis(1200));
    let start = Instant::now();
    s.write_all(&request("GET", "/hang")).unwrap();
    let (got, end) = read_all(&mut s);
    assert_eq!((got.len(), end), (0, Ending::Timeout));
    assert!(start.elapsed() >= Duration::from_millis(1100));
    drop(s);
    // Giving up on a hanging route leaves the server serving.
    check_route(lab.addr(), route("/ok").unwrap());
}

#[test]
fn stall_body_sends_the_head_at_once_then_nothing() {
    let lab = lab();
    let mut s = connect(lab.addr(), SLOW);
    let start = Instant::now();
    s.write_all(&request("GET", "/stall-body")).unwrap();
    let want = route("/stall-body").unwrap().behaviour.bytes();
    let got = read_n(&mut s, want.len());
    assert_eq!(got, want);
    assert!(start.elapsed() < Duration::from_millis(500));
    s.set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();
    assert_eq!(read_all(&mut s), (Vec::new(), Ending::Timeout));
}

#[test]
fn slow_routes_take_their_time_and_complete() {
    let lab = lab();
    let addr = lab.addr();
    let trickle = thread::spawn(move || {
        let mut s = connect(addr, SLOW);
        let start = Instant::now();
        s.write_all(&request("GET", "/slow-trickle")).unwrap();
        let mut first = None;
        let mut reads = 0;
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = s.read(&mut buf).expect("trickle read");
            if n == 0 {
                break;
            }
            first.get_or_insert(start.elapsed());
            reads += 1;
            got.extend_from_slice(&buf[..n]);
        }
        (first.unwrap(), start.elapsed(), reads, got)
    });
    let mut s = connect(addr, SLOW);
    let start = Instant::now();
    s.write_all(&request("GET", "/slow-first-byte")).unwrap();
    let mut one = [0u8; 1];
    s.read_exact(&mut one).unwrap();
    let first_byte = start.elapsed();
    assert!(
        (1400..3000).contains(&first_byte.as_millis()),
        "first byte after {first_byte:?}"
    );
    let (rest, end) = read_all(&mut s);
    assert_eq!(end, Ending::Fin);
    assert_eq!(
        [&one[..], &rest].concat(),
        route("/slow-first-byte").unwrap().behaviour.bytes()
    );

    let (first, total, reads, got) = trickle.join().unwrap();
    assert!(
        first < Duration::from_millis(500),
        "trickle starts at once, not after {first:?}"
    );
    assert!(
        (1500..4000).contains(&total.as_millis()),
        "trickle took {total:?}"
    );
    assert!(reads >= 5, "trickle arrived in {reads} reads");
    assert_eq!(got, route("/slow-trickle").unwrap().behaviour.bytes());
}

#[test]
fn keep_alive_serves_a_sequence_and_pipelined_requests() {
    let lab = lab();
    let mut s = connect(lab.addr(), SLOW);
    let seq = [
        ("GET", "/ok"),
        ("GET", "/chunked-ok"),
        ("HEAD", "/head-aware"),
        ("GET", "/origin-502"),
        ("GET", "/"),
    ];
    for (method, path) in seq {
        s.write_all(&request(method, path)).unwrap();
        let full = route(path).unwrap().behaviour.bytes();
        let want = if method == "HEAD" {
            head_of(&full).to_vec()
        } else {
            full
        };
        assert_eq!(read_n(&mut s, want.len()), want, "{method} {path}");
    }
    // An unknown path: a clean 404 on the same connection, query string ignored for routing.
    s.write_all(&request("GET", "/no-such-route?x=1")).unwrap();
    let mut head = [0u8; 24];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 404 Not Found\r\n");
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let _ = read_all(&mut s);

    // Two requests in one write; a query string; then `Connection: close` ends with FIN.
    let mut s = connect(lab.addr(), SLOW);
    let ok = route("/ok").unwrap().behaviour.bytes();
    let mut two = request("GET", "/ok?a=b");
    two.extend_from_slice(&request("GET", "/ok"));
    s.write_all(&two).unwrap();
    assert_eq!(
        read_n(&mut s, 2 * ok.len()),
        [ok.clone(), ok.clone()].concat()
    );
    s.write_all(b"GET /ok HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_all(&mut s), (ok.clone(), Ending::Fin));

    // HTTP/1.0 without keep-alive closes too; a request body is skipped, not taken as a request.
    let mut s = connect(lab.addr(), SLOW);
    s.write_all(b"POST /ok HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /ok HTTP/1.0\r\n\r\n")
        .unwrap();
    assert_eq!(read_all(&mut s), ([ok.clone(), ok].concat(), Ending::Fin));
}

#[test]
fn keepalive_short_closes_an_idle_connection_after_a_second() {
    let lab = lab();
    let mut s = connect(lab.addr(), SLOW);
    let want = route("/keepalive-short").unwrap().behaviour.bytes();
    for _ in 0..2 {
        s.write_all(&request("GET", "/keepalive-short")).unwrap();
        assert_eq!(read_n(&mut s, want.len()), want);
    }
    let idle = Instant::now();
    assert_eq!(read_all(&mut s), (Vec::new(), Ending::Fin));
    let waited = idle.elapsed();
    assert!(
        (900..2500).contains(&waited.as_millis()),
        "closed after {waited:?}"
    );
}

#[test]
fn hostile_requests_do_not_break_the_server() {
    let lab = lab();
    let oversized = vec![b'A'; MAX_HEAD + 10];
    let mut long_field = b"GET /ok HTTP/1.1\r\nX: ".to_vec();
    long_field.extend(std::iter::repeat_n(b'x', MAX_HEAD));
    // The expected start of the answer; empty: no answer at all.
    let cases: [(&str, Vec<u8>, &[u8]); 9] = [
        ("no target", b"GET\r\n\r\n".to_vec(), b"HTTP/1.1 400 "),
        (
            "binary",
            b"\x00\xff\xfe\x01 \x80\x81 \x7f\r\n\x00: \xff\r\n\r\n".to_vec(),
            b"HTTP/1.1 404 ",
        ),
        ("no line ends", oversized, b"HTTP/1.1 431 "),
        ("huge field", long_field, b"HTTP/1.1 431 "),
        ("only blank lines", b"\r\n\r\n\n\n".to_vec(), b""),
        (
            "absurd length",
            b"POST /ok HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 ",
        ),
        (
            "chunked request",
            b"POST /ok HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
            b"HTTP/1.1 200 ",
        ),
        (
            "bare LF request",
            b"GET /ok HTTP/1.1\nHost: x\n\n".to_vec(),
            b"HTTP/1.1 200 ",
        ),
        (
            "colons",
            b"GET /ok HTTP/1.1\r\n:::\r\n: \r\nContent-Length\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 ",
        ),
    ];
    for (name, bytes, want) in cases {
        let mut s = connect(lab.addr(), Duration::from_millis(600));
        // The server may answer and close before reading everything; that is fine.
        let _ = s.write_all(&bytes);
        let (got, _) = read_all(&mut s);
        let ok = if want.is_empty() {
            got.is_empty()
        } else {
            got.starts_with(want)
        };
        assert!(ok, "{name}: got {}", show(&got));
    }
    // Half a request, then a hang-up.
    let mut s = connect(lab.addr(), SLOW);
    s.write_all(b"GET /o").unwrap();
    drop(s);
    check_route(lab.addr(), route("/ok").unwrap());
}

#[test]
fn dropping_the_handle_stops_the_lab() {
    let lab = lab();
    let addr = lab.addr();
    let mut hanging = connect(addr, SLOW);
    hanging.write_all(&request("GET", "/hang")).unwrap();
    thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    drop(lab);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "drop took {:?}",
        start.elapsed()
    );
    // The hanging connection is closed, and nothing listens any more.
    let (got, end) = read_all(&mut hanging);
    assert!(got.is_empty() && end != Ending::Timeout, "{end:?}");
    assert!(TcpStream::connect_timeout(&addr, SLOW).is_err());
}

#[test]
fn behaviours_cover_every_kind() {
    let has = |f: fn(&Behaviour) -> bool| routes().iter().any(|r| f(&r.behaviour));
    assert!(has(|b| matches!(b, Behaviour::Fin)));
    assert!(has(|b| matches!(b, Behaviour::Reset)));
    assert!(has(|b| matches!(b, Behaviour::Hang)));
    assert!(has(|b| matches!(b, Behaviour::Script { .. })));
    let idle = End::IdleClose(originlens_lab::routes::KEEPALIVE_SHORT);
    for end in [End::Fin, End::KeepAlive, End::Hold, End::Reset, idle] {
        assert!(
            routes()
                .iter()
                .any(|r| matches!(r.behaviour, Behaviour::Reply { end: e, .. } if e == end)),
            "{end:?}"
        );
    }
}
