//! Request smuggling at the edge: every vector of `tests/data/smuggling.tsv` is sent to the real
//! edge in front of an origin that records, byte for byte, what reaches it. A vector passes when
//! the edge refuses it (a 4xx of its own, or for h2 a stream or connection error) and nothing
//! reaches the origin, or when the origin receives exactly the well-framed requests the edge
//! answered for: strict CRLF heads, one valid `Host` (the one the edge routed by), no
//! `Transfer-Encoding`, no `Upgrade: h2c`, at most one plain `Content-Length` and exactly that
//! many body bytes, nothing left over.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

mod common;
use common::edge::EdgeProc;
use common::h2frames::{
    frame, header_block, read_frame, ACK, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PREFACE,
    RST_STREAM, SETTINGS,
};

/// Every socket wait gives up after this long.
const WAIT: Duration = Duration::from_secs(10);
const TABLE: &str = include_str!("data/smuggling.tsv");

/// One row of the table.
struct Vector {
    id: String,
    line: usize,
    h2: bool,
    expect: Expect,
    /// The `Host` the origin must see, when a request reaches it.
    host: Option<String>,
    /// h1: the bytes sent. h2: the fields and DATA frames, in order.
    items: Vec<Vec<u8>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// The edge answers this status itself (0 for an h2 refusal of any kind).
    Refused(u16),
    /// This many requests reach the origin.
    Forwarded(usize),
    Either,
}

/// A table cell in the escaped form incidents use (`\r`, `\n`, `\t`, `\\`, `\xHH`).
fn unescape(s: &str, line: usize) -> Vec<u8> {
    originlens_edge::incident::unescape(s).unwrap_or_else(|e| panic!("smuggling.tsv:{line}: {e}"))
}

fn table() -> Vec<Vector> {
    let mut rows = Vec::new();
    for (n, l) in TABLE.lines().enumerate() {
        let line = n + 1;
        if l.starts_with('#') || l.is_empty() {
            continue;
        }
        let cols: Vec<&str> = l.split('\t').collect();
        let [id, proto, expect, host, raw] = cols[..] else {
            panic!("smuggling.tsv:{line}: 5 tab-separated columns wanted");
        };
        let h2 = match proto {
            "h1" => false,
            "h2" => true,
            other => panic!("smuggling.tsv:{line}: protocol {other:?} is neither h1 nor h2"),
        };
        let expect = match expect.parse::<u16>() {
            _ if expect == "any" => Expect::Either,
            Ok(n) if n == 0 || n >= 100 => Expect::Refused(n),
            Ok(n) => Expect::Forwarded(n.into()),
            Err(_) => panic!("smuggling.tsv:{line}: expected outcome {expect:?}"),
        };
        let items = if h2 {
            raw.split(" | ").map(|i| unescape(i, line)).collect()
        } else {
            vec![unescape(raw, line)]
        };
        rows.push(Vector {
            id: id.to_owned(),
            line,
            h2,
            expect,
            host: (host != "-").then(|| host.to_owned()),
            items,
        });
    }
    rows
}

/// What the origin made of the bytes it got: a request it can vouch for, or why not.
type Seen = Result<Request, String>;

#[derive(Debug)]
struct Request {
    host: String,
}

/// Checks the request at the start of `buf`: `Ok(None)` while it is incomplete.
fn well_framed(buf: &[u8]) -> Result<Option<(usize, Request)>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = &buf[..end + 4];
    for (i, &b) in head.iter().enumerate() {
        let bad_lf = b == b'\n' && (i == 0 || head[i - 1] != b'\r');
        let bad_cr = b == b'\r' && head.get(i + 1) != Some(&b'\n');
        if bad_lf || bad_cr {
            return Err(format!("a bare CR or LF at byte {i}"));
        }
    }
    let mut fields = [httparse::EMPTY_HEADER; 160];
    let mut req = httparse::Request::new(&mut fields);
    match req.parse(head) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        other => return Err(format!("not one strict head: {other:?}")),
    }
    if req.version != Some(1) {
        return Err("not HTTP/1.1".into());
    }
    let target = req.path.unwrap_or("");
    if !(target.starts_with('/') || target == "*") {
        return Err(format!("target {target:?} is not in origin form"));
    }
    let (mut hosts, mut lengths) = (Vec::new(), Vec::new());
    for f in req.headers.iter() {
        let name = f.name.to_ascii_lowercase();
        let value = String::from_utf8_lossy(f.value).into_owned();
        match name.as_str() {
            "host" => hosts.push(value),
            "content-length" => lengths.push(value),
            "transfer-encoding" | "http2-settings" => return Err(format!("{name} was forwarded")),
            "upgrade" if value.to_ascii_lowercase().contains("h2c") => {
                return Err("Upgrade: h2c was forwarded".into())
            }
            _ if name.replace('_', "-") != name
                && ["content-length", "transfer-encoding"].contains(&&*name.replace('_', "-")) =>
            {
                return Err(format!("{name} was forwarded"))
            }
            _ => {}
        }
    }
    let [host] = &hosts[..] else {
        return Err(format!("{} Host fields", hosts.len()));
    };
    if host.is_empty() || host.contains([',', ' ', '/', '@']) {
        return Err(format!("Host {host:?}"));
    }
    let body = match &lengths[..] {
        [] => 0,
        [v] if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => v
            .parse::<usize>()
            .map_err(|e| format!("Content-Length {v:?}: {e}"))?,
        more => return Err(format!("Content-Length {more:?}")),
    };
    let total = head.len() + body;
    if buf.len() < total {
        return Ok(None);
    }
    Ok(Some((total, Request { host: host.clone() })))
}

/// An origin on 127.0.0.1 that checks each request it gets and answers it with a 200 marked
/// `x-origin: recorded`; anything it cannot vouch for is reported and the connection closed.
fn recording_origin() -> (SocketAddr, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let tx = tx.clone();
            thread::spawn(move || {
                // The edge keeps pooled connections open for minutes; give up on one after a while.
                stream
                    .set_read_timeout(Some(Duration::from_secs(120)))
                    .unwrap();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    match well_framed(&buf) {
                        Ok(Some((used, req))) => {
                            buf.drain(..used);
                            let _ = tx.send(Ok(req));
                            let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-origin: recorded\r\n\r\nok";
                            if stream.write_all(reply).is_err() {
                                return;
                            }
                            continue;
                        }
                        Ok(None) => {}
                        Err(why) => {
                            let _ = tx.send(Err(why));
                            return;
                        }
                    }
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => {
                            if !buf.is_empty() {
                                let _ = tx.send(Err(format!(
                                    "{} bytes left over: {}",
                                    buf.len(),
                                    buf.escape_ascii()
                                )));
                            }
                            return;
                        }
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (addr, rx)
}

/// What the visitor got back.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    /// A response with this status, from the origin or the edge itself.
    Status { code: u16, origin: bool },
    /// h2: the stream or connection was ended with an error.
    Reset,
}

/// Sends an h1 vector, half-closes, and reads every response until the edge closes.
fn send_h1(edge: SocketAddr, raw: &[u8]) -> Result<Vec<Reply>, String> {
    let mut s = TcpStream::connect(edge).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(raw).map_err(|e| e.to_string())?;
    let _ = s.shutdown(Shutdown::Write);
    let mut all = Vec::new();
    if let Err(e) = s.read_to_end(&mut all) {
        if all.is_empty() {
            return Err(format!("reading the answer: {e}"));
        }
    }
    // A HEAD's answer carries a length but no body.
    let mut bodiless = raw.starts_with(b"HEAD ");
    let mut replies = Vec::new();
    let mut at = 0;
    while at < all.len() {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut fields);
        let len = match resp.parse(&all[at..]) {
            Ok(httparse::Status::Complete(n)) => n,
            other => {
                return Err(format!(
                    "unreadable answer at byte {at} ({other:?}): {}",
                    all[at..].escape_ascii()
                ))
            }
        };
        let field = |name: &str| {
            resp.headers
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(name))
                .map(|f| String::from_utf8_lossy(f.value).into_owned())
        };
        if field("transfer-encoding").is_some() {
            return Err("a chunked answer where a sized one was expected".into());
        }
        let body: usize = match (bodiless, field("content-length")) {
            (true, _) => 0,
            (false, Some(v)) => v.parse().map_err(|_| format!("Content-Length {v:?}"))?,
            (false, None) => return Err("an answer without Content-Length".into()),
        };
        bodiless = false;
        replies.push(Reply::Status {
            code: resp.code.unwrap_or(0),
            origin: field("x-origin").is_some(),
        });
        at += len + body;
    }
    Ok(replies)
}

/// Sends an h2 vector on a connection of its own (prior knowledge) as stream 1, and reads
/// frames until that stream's response head or an error for it or the connection.
fn send_h2(edge: SocketAddr, items: &[Vec<u8>]) -> Result<Vec<Reply>, String> {
    let mut s = TcpStream::connect(edge).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(WAIT)).unwrap();
    let (fields, data): (Vec<&[u8]>, Vec<&[u8]>) = {
        let (d, f): (Vec<_>, Vec<_>) = items.iter().partition(|i| i.starts_with(b"DATA "));
        (
            f.iter().map(|i| i.as_slice()).collect(),
            d.iter().map(|i| &i[5..]).collect(),
        )
    };
    let mut out = PREFACE.to_vec();
    out.extend(frame(SETTINGS, 0, 0, &[]));
    let end_stream = if data.is_empty() { END_STREAM } else { 0 };
    out.extend(frame(
        HEADERS,
        END_HEADERS | end_stream,
        1,
        &header_block(&fields),
    ));
    for (i, d) in data.iter().enumerate() {
        let last = if i + 1 == data.len() { END_STREAM } else { 0 };
        out.extend(frame(DATA, last, 1, d));
    }
    s.write_all(&out).map_err(|e| e.to_string())?;
    for _ in 0..64 {
        let Ok(f) = read_frame(&mut s) else {
            // The edge closed the connection on a protocol error.
            return Ok(vec![Reply::Reset]);
        };
        match (f.kind, f.stream) {
            (SETTINGS, 0) if f.flags & ACK == 0 => {
                s.write_all(&frame(SETTINGS, ACK, 0, &[]))
                    .map_err(|e| e.to_string())?;
            }
            (HEADERS, 1) => {
                let code = f.status()?;
                // The edge's own answers carry its incident or ray header, the origin's too; only
                // the origin's 200 comes with a body of 2 bytes, so the status decides.
                return Ok(vec![Reply::Status {
                    code,
                    origin: code == 200,
                }]);
            }
            (RST_STREAM, 1) | (GOAWAY, _) => return Ok(vec![Reply::Reset]),
            _ => {}
        }
    }
    Err("no answer within 64 frames".into())
}

/// Takes what the origin reported for the vector just sent: it reports before it answers, so
/// everything is in by the time the visitor has its answers; a short wait catches stragglers.
fn drain(seen: &mpsc::Receiver<Seen>) -> Vec<Seen> {
    let mut got = Vec::new();
    while let Ok(s) = seen.recv_timeout(Duration::from_millis(20)) {
        got.push(s);
    }
    got
}

/// Judges one vector; `Ok` says whether it was refused or how many requests were forwarded.
fn judge(v: &Vector, replies: &[Reply], seen: Vec<Seen>) -> Result<Outcome, String> {
    let mut reached = Vec::new();
    for s in seen {
        reached
            .push(s.map_err(|why| format!("the origin got a request it cannot vouch for: {why}"))?);
    }
    if replies.is_empty() {
        return Err("no answer".into());
    }
    let from_origin = replies
        .iter()
        .filter(|r| matches!(r, Reply::Status { origin: true, .. }))
        .count();
    if from_origin != reached.len() {
        return Err(format!(
            "{} answers from the origin, {} requests reached it",
            from_origin,
            reached.len()
        ));
    }
    for r in replies {
        if let Reply::Status {
            code,
            origin: false,
        } = r
        {
            if !(400..500).contains(code) {
                return Err(format!("the edge answered {code}, not a refusal"));
            }
        }
    }
    if let Some(want) = &v.host {
        if let Some(r) = reached.iter().find(|r| !r.host.eq_ignore_ascii_case(want)) {
            return Err(format!("the origin saw Host {:?}, not {want:?}", r.host));
        }
    }
    Ok(if reached.is_empty() {
        Outcome::Refused(match replies[0] {
            Reply::Status { code, .. } if !v.h2 => code,
            _ => 0,
        })
    } else {
        Outcome::Forwarded(reached.len())
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Refused(u16),
    Forwarded(usize),
}

impl Expect {
    fn admits(self, o: Outcome) -> bool {
        match (self, o) {
            (Expect::Either, _) => true,
            (Expect::Refused(a), Outcome::Refused(b)) => a == b,
            (Expect::Forwarded(a), Outcome::Forwarded(b)) => a == b,
            _ => false,
        }
    }
}

#[test]
fn every_smuggling_vector_is_refused_or_reaches_the_origin_well_framed() {
    let vectors = table();
    assert!(vectors.len() >= 150, "{} vectors", vectors.len());
    let (origin, seen) = recording_origin();
    let edge = EdgeProc::builder()
        .loopback()
        .args(["--no-store", "--origin", &format!("http://{origin}")])
        .args(["--read-timeout", "5"])
        .start();
    let mut failures = Vec::new();
    let (mut refused, mut forwarded) = (0, 0);
    for v in &vectors {
        let replies = if v.h2 {
            send_h2(edge.addr, &v.items)
        } else {
            send_h1(edge.addr, &v.items[0])
        };
        let verdict = replies.and_then(|r| judge(v, &r, drain(&seen)));
        let unexpected = match verdict {
            Err(why) => Some(why),
            Ok(o) if v.expect.admits(o) => {
                match o {
                    Outcome::Refused(_) => refused += 1,
                    Outcome::Forwarded(_) => forwarded += 1,
                }
                None
            }
            Ok(o) => Some(format!(
                "passes, but the table says {:?} and it was {o:?}",
                v.expect
            )),
        };
        if let Some(why) = unexpected {
            failures.push(format!("smuggling.tsv:{} {}: {why}", v.line, v.id));
        }
    }
    let stray = drain(&seen);
    eprintln!(
        "smuggling vectors: {} ({} h2): {refused} refused, {forwarded} forwarded well-framed, {} failed",
        vectors.len(),
        vectors.iter().filter(|v| v.h2).count(),
        failures.len()
    );
    assert!(
        failures.is_empty() && stray.iter().all(Result::is_ok),
        "{}\nstray origin reports: {stray:?}",
        failures.join("\n")
    );
}
