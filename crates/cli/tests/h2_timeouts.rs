//! HTTP/2 visitors held to the edge's visitor timeouts, in raw frames against the real edge in
//! front of the lab: a connection that sends pings but no request is closed at the header
//! timeout, one left idle after its answer at the idle timeout, a request waiting for a slow
//! origin is cut by neither, a request body that stops gets a 408 on its stream while a body
//! that moves on the same connection is answered, and a visitor whose flow-control window never
//! opens is closed at the send timeout.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

mod common;
use common::edge::EdgeProc;
use common::h2frames::{
    frame, header_block, read_frame, settings, Frame, ACK, DATA, END_HEADERS, END_STREAM, GOAWAY,
    HEADERS, PING, PREFACE, SETTINGS,
};
use common::watch::{metrics_text, sample};

/// SETTINGS_INITIAL_WINDOW_SIZE (RFC 9113 §6.5.2).
const INITIAL_WINDOW_SIZE: u16 = 0x4;

/// An edge in front of a fresh lab with the timeouts given (`--header-timeout 300ms` ...).
fn edge(timeouts: &[(&str, &str)]) -> (EdgeProc, originlens_lab::LabHandle) {
    let lab = originlens_lab::LabHandle::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut edge = EdgeProc::builder().loopback().args([
        "--no-store",
        "--origin",
        &format!("http://{}", lab.addr()),
    ]);
    for (flag, value) in timeouts {
        edge = edge.args([*flag, *value]);
    }
    (edge.capture_stderr().start(), lab)
}

fn timeouts_counted(edge: &EdgeProc, event: &str) -> f64 {
    sample(
        &metrics_text(edge.admin),
        &format!("originlens_edge_visitor_timeouts_total{{event=\"{event}\"}}"),
    )
}

/// What waiting for the edge's next frame gave.
#[derive(Debug)]
enum Event {
    Frame(Frame),
    /// EOF or a reset: the edge closed the connection.
    Closed,
    /// Nothing within the wait.
    Quiet,
}

/// A visitor speaking h2 with prior knowledge, frame by frame.
struct Visitor {
    s: TcpStream,
    opened: Instant,
    /// A GOAWAY came.
    goaway: bool,
}

impl Visitor {
    fn open(edge: SocketAddr, values: &[(u16, u32)]) -> Visitor {
        let s = TcpStream::connect(edge).unwrap();
        s.set_nodelay(true).unwrap();
        let mut v = Visitor {
            s,
            opened: Instant::now(),
            goaway: false,
        };
        let mut out = PREFACE.to_vec();
        out.extend(frame(SETTINGS, 0, 0, &settings(values)));
        v.send(&out);
        v
    }

    /// Sends `bytes`; a connection the edge closed already is seen at the next read.
    fn send(&mut self, bytes: &[u8]) {
        let _ = self.s.write_all(bytes);
    }

    /// Opens stream `stream` with `method` on `path`; `end` ends it with the head.
    fn request(&mut self, stream: u32, method: &str, path: &str, extra: &[&str], end: bool) {
        let fields = [
            format!(":method: {method}"),
            ":scheme: http".into(),
            ":authority: lab.test".into(),
            format!(":path: {path}"),
        ];
        let fields: Vec<&[u8]> = fields
            .iter()
            .map(|f| f.as_bytes())
            .chain(extra.iter().map(|f| f.as_bytes()))
            .collect();
        let flags = END_HEADERS | if end { END_STREAM } else { 0 };
        self.send(&frame(HEADERS, flags, stream, &header_block(&fields)));
    }

    /// The edge's next frame within `wait`; its SETTINGS and PINGs are acknowledged, acks of
    /// the visitor's own are skipped.
    fn next(&mut self, wait: Duration) -> Event {
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Event::Quiet;
            }
            self.s.set_read_timeout(Some(left)).unwrap();
            let f = match read_frame(&mut self.s) {
                Ok(f) => f,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Event::Quiet;
                }
                Err(_) => return Event::Closed,
            };
            match f.kind {
                SETTINGS | PING if f.flags & ACK != 0 => {}
                SETTINGS => self.send(&frame(SETTINGS, ACK, 0, &[])),
                PING => self.send(&frame(PING, ACK, 0, &f.payload)),
                GOAWAY => self.goaway = true,
                _ => return Event::Frame(f),
            }
        }
    }

    /// Reads until the edge closes the connection, failing after `wait`; when it closed.
    fn until_closed(&mut self, wait: Duration) -> Instant {
        let until = Instant::now() + wait;
        loop {
            match self.next(until.saturating_duration_since(Instant::now())) {
                Event::Closed => return Instant::now(),
                Event::Quiet => panic!("the edge kept the connection open for {wait:?}"),
                Event::Frame(_) => {}
            }
        }
    }

    /// Reads until stream `stream` ends (a frame with END_STREAM on it); its `:status`.
    fn answer(&mut self, stream: u32, wait: Duration) -> u16 {
        let until = Instant::now() + wait;
        let mut status = None;
        loop {
            match self.next(until.saturating_duration_since(Instant::now())) {
                Event::Frame(f) if f.stream == stream => {
                    if f.kind == HEADERS {
                        status = Some(f.status().unwrap());
                    }
                    if f.flags & END_STREAM != 0 && matches!(f.kind, HEADERS | DATA) {
                        return status.expect("a stream that ended without a head");
                    }
                }
                Event::Frame(_) => {}
                other => panic!("stream {stream}: {other:?} before its answer ended"),
            }
        }
    }
}

#[test]
fn an_h2_connection_that_sends_only_pings_is_closed_at_the_header_timeout() {
    let (edge, _lab) = edge(&[("--header-timeout", "300ms")]);
    let mut v = Visitor::open(edge.addr, &[]);
    // A ping every 100 ms is traffic, not a request: it must not keep the connection.
    let closed = loop {
        v.send(&frame(PING, 0, 0, &[7; 8]));
        match v.next(Duration::from_millis(100)) {
            Event::Closed => break Instant::now(),
            _ if v.opened.elapsed() > Duration::from_secs(5) => {
                panic!("the edge kept a connection without a request for 5 s")
            }
            _ => {}
        }
    };
    let lived = closed - v.opened;
    assert!(
        lived >= Duration::from_millis(290) && lived < Duration::from_secs(2),
        "closed {lived:?} after the connect (header timeout 300 ms)"
    );
    assert!(v.goaway, "the edge closed without a GOAWAY");
    assert_eq!(timeouts_counted(&edge, "header"), 1.0);
}

#[test]
fn an_idle_h2_connection_is_closed_at_the_idle_timeout_after_its_last_answer() {
    let (edge, _lab) = edge(&[
        ("--header-timeout", "300ms"),
        ("--visitor-idle-timeout", "1200ms"),
    ]);
    let mut v = Visitor::open(edge.addr, &[]);
    v.request(1, "GET", "/", &[], true);
    assert_eq!(v.answer(1, Duration::from_secs(10)), 200);
    v.request(3, "GET", "/", &[], true);
    assert_eq!(v.answer(3, Duration::from_secs(10)), 200);
    let answered = Instant::now();
    // Past the header timeout, within the idle timeout: still open.
    assert!(matches!(v.next(Duration::from_millis(700)), Event::Quiet));
    assert!(!v.goaway, "a GOAWAY within the idle timeout");
    let idle = v.until_closed(Duration::from_secs(5)) - answered;
    assert!(
        idle >= Duration::from_millis(1100) && idle < Duration::from_secs(3),
        "closed {idle:?} after the last answer (idle timeout 1200 ms)"
    );
    assert!(v.goaway, "the edge closed without a GOAWAY");
    assert_eq!(timeouts_counted(&edge, "idle"), 1.0);
    assert_eq!(timeouts_counted(&edge, "header"), 0.0);
}

#[test]
fn an_h2_request_waiting_for_a_slow_origin_is_cut_by_neither_the_header_nor_the_idle_timeout() {
    let (edge, _lab) = edge(&[
        ("--header-timeout", "300ms"),
        ("--visitor-idle-timeout", "300ms"),
    ]);
    let mut v = Visitor::open(edge.addr, &[]);
    v.request(1, "GET", "/slow-first-byte", &[], true);
    assert_eq!(v.answer(1, Duration::from_secs(10)), 200);
    assert!(v.opened.elapsed() >= Duration::from_millis(1400));
    assert!(!v.goaway, "a GOAWAY while the request was in service");
    assert_eq!(timeouts_counted(&edge, "header"), 0.0);
    assert_eq!(timeouts_counted(&edge, "idle"), 0.0);
}

#[test]
fn an_h2_body_that_stops_gets_408_on_its_stream_while_a_moving_one_is_answered() {
    let (edge, _lab) = edge(&[("--body-timeout", "1s")]);
    let mut v = Visitor::open(edge.addr, &[]);
    v.request(1, "POST", "/", &["content-length: 4"], false);
    v.request(3, "POST", "/", &["content-length: 6"], false);
    v.send(&frame(DATA, 0, 1, b"a"));
    let stalled = Instant::now();
    let mut statuses = Vec::new();
    let note = |f: Frame, statuses: &mut Vec<(u32, u16, Duration)>| {
        if f.kind == HEADERS {
            statuses.push((f.stream, f.status().unwrap(), stalled.elapsed()));
        }
    };
    // Stream 3 gets a byte every 250 ms (its last at 1.25 s, after stream 1's timeout);
    // stream 1 nothing after its first.
    for i in 0..6u8 {
        let flags = if i == 5 { END_STREAM } else { 0 };
        v.send(&frame(DATA, flags, 3, &[b'b' + i]));
        let next_byte = Instant::now() + Duration::from_millis(250);
        while let Event::Frame(f) = v.next(next_byte.saturating_duration_since(Instant::now())) {
            note(f, &mut statuses);
        }
    }
    let until = Instant::now() + Duration::from_secs(10);
    while statuses.len() < 2 && Instant::now() < until {
        if let Event::Frame(f) = v.next(Duration::from_millis(100)) {
            note(f, &mut statuses);
        }
    }
    let of = |stream| statuses.iter().find(|s| s.0 == stream);
    let (_, status, after) = of(1).unwrap_or_else(|| panic!("no answer on stream 1: {statuses:?}"));
    assert_eq!(*status, 408, "{statuses:?}");
    assert!(
        *after >= Duration::from_millis(990) && *after < Duration::from_millis(2500),
        "408 {after:?} after the last byte (body timeout 1 s)"
    );
    assert_eq!(of(3).map(|s| s.1), Some(200), "{statuses:?}");
    assert!(!v.goaway, "the connection was closed for one stream's body");
    assert_eq!(timeouts_counted(&edge, "body"), 1.0);
}

#[test]
fn an_h2_visitor_whose_window_never_opens_is_closed_at_the_send_timeout() {
    let (edge, _lab) = edge(&[("--send-timeout", "400ms")]);
    let mut v = Visitor::open(edge.addr, &[(INITIAL_WINDOW_SIZE, 0)]);
    v.request(1, "GET", "/", &[], true);
    // The head is not flow-controlled; the body waits for a window that never opens.
    let head = loop {
        match v.next(Duration::from_secs(10)) {
            Event::Frame(f) if f.kind == HEADERS => break f,
            Event::Frame(f) if f.kind == DATA && !f.payload.is_empty() => {
                panic!("DATA sent into a closed window: {f:?}")
            }
            Event::Frame(_) => {}
            other => panic!("{other:?} before the response head"),
        }
    };
    assert_eq!(head.status().unwrap(), 200);
    assert_eq!(head.flags & END_STREAM, 0, "the lab's / has a body");
    let headed = Instant::now();
    let stalled = v.until_closed(Duration::from_secs(5)) - headed;
    assert!(
        stalled >= Duration::from_millis(350) && stalled < Duration::from_millis(2500),
        "closed {stalled:?} after the head (send timeout 400 ms)"
    );
    assert_eq!(timeouts_counted(&edge, "send"), 1.0);
}
