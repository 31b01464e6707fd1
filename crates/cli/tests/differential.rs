//! Differential testing against the real peers: generated responses, each served on loopback by
//! a raw origin of this test's own through Debian's nginx (1.22.1) and HAProxy (2.6.12), read
//! back by a raw client, and compared with what the `nginx-1.22` and `haproxy` profiles
//! predict: the status the client gets (0: an empty reply or no status line) and, for a
//! response the peer forwards whole, whether the body is the origin's. Each prediction reads
//! the bytes with the profile's framing rules (`Profile::framing`), as the probe does.
//!
//! The responses are the catalogue's malformations mutated and combined (field names and
//! values with control bytes, line endings, framing headers, chunk lines and extensions,
//! status lines, sizes near the peers' limits), deterministic from a seed. Every disagreement
//! must be listed in `tests/data/differential-known.tsv` (vector class, peer, predicted, real,
//! reason; `*` matches anything, `*+body` any outcome ending so); one that is not fails the test.
//!
//! `DIFFERENTIAL_COUNT` (default 5000) and `DIFFERENTIAL_SEED` (default 15) choose the sample;
//! `scripts/differential.sh` runs the full size.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::peers;
use originlens_wire::{
    judge, profile, read_all, Disposition, End, GeneratedBy, JudgeContext, Profile, Reader,
    ReaderOptions,
};

/// splitmix64: small, fast, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// How the body of a generated response is framed before any mutation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    Length,
    Chunked,
    Close,
}

/// A response under construction: status line, field lines, body framing, and the names of the
/// mutations applied (its class).
struct Draft {
    status_line: Vec<u8>,
    fields: Vec<Vec<u8>>,
    /// Line terminators of the status line and of each field line.
    eol: Vec<&'static [u8]>,
    frame: Frame,
    body: Vec<u8>,
    /// The chunk lines (size and extension) and data, for chunked bodies.
    chunks: Vec<(Vec<u8>, Vec<u8>)>,
    last_chunk: Vec<u8>,
    trailers: Vec<Vec<u8>>,
    /// Raw bytes after the body, and how many bytes to cut from the end.
    after: Vec<u8>,
    cut: usize,
    class: Vec<&'static str>,
}

impl Draft {
    fn new(rng: &mut Rng) -> Draft {
        let frame = rng.pick(&[
            Frame::Length,
            Frame::Length,
            Frame::Chunked,
            Frame::Chunked,
            Frame::Close,
        ]);
        let len = if rng.chance(10) {
            0
        } else {
            1 + rng.below(300)
        };
        let body: Vec<u8> = (0..len)
            .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36])
            .collect();
        let mut chunks = Vec::new();
        if frame == Frame::Chunked {
            let mut rest = &body[..];
            while !rest.is_empty() {
                let n = (1 + rng.below(120)).min(rest.len());
                chunks.push((format!("{n:x}").into_bytes(), rest[..n].to_vec()));
                rest = &rest[n..];
            }
        }
        let mut fields = vec![
            b"Server: origin".to_vec(),
            b"Content-Type: text/plain".to_vec(),
        ];
        if rng.chance(50) {
            fields.push(b"X-Request-Id: 1234".to_vec());
        }
        match frame {
            Frame::Length => fields.push(format!("Content-Length: {}", body.len()).into_bytes()),
            Frame::Chunked => fields.push(b"Transfer-Encoding: chunked".to_vec()),
            Frame::Close => fields.push(b"Connection: close".to_vec()),
        }
        if rng.chance(50) {
            let at = rng.below(fields.len());
            let f = fields.remove(fields.len() - 1);
            fields.insert(at, f);
        }
        let eol = vec![&b"\r\n"[..]; fields.len() + 2];
        Draft {
            status_line: b"HTTP/1.1 200 OK".to_vec(),
            fields,
            eol,
            frame,
            body,
            chunks,
            last_chunk: b"0".to_vec(),
            trailers: Vec::new(),
            after: Vec::new(),
            cut: 0,
            class: Vec::new(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut v = self.status_line.clone();
        v.extend_from_slice(self.eol[0]);
        for (i, f) in self.fields.iter().enumerate() {
            v.extend_from_slice(f);
            v.extend_from_slice(self.eol[i + 1]);
        }
        v.extend_from_slice(self.eol[self.fields.len() + 1]);
        match self.frame {
            Frame::Chunked => {
                for (line, data) in &self.chunks {
                    v.extend_from_slice(line);
                    v.extend_from_slice(b"\r\n");
                    v.extend_from_slice(data);
                    v.extend_from_slice(b"\r\n");
                }
                v.extend_from_slice(&self.last_chunk);
                v.extend_from_slice(b"\r\n");
                for t in &self.trailers {
                    v.extend_from_slice(t);
                    v.extend_from_slice(b"\r\n");
                }
                v.extend_from_slice(b"\r\n");
            }
            _ => v.extend_from_slice(&self.body),
        }
        v.extend_from_slice(&self.after);
        v.truncate(v.len().saturating_sub(self.cut));
        v
    }

    /// Index of a field line that is not a framing field (adds one when there is none).
    fn ordinary_field(&mut self, rng: &mut Rng) -> usize {
        let ordinary: Vec<usize> = (0..self.fields.len())
            .filter(|&i| {
                let f = self.fields[i].to_ascii_lowercase();
                !f.starts_with(b"content-length") && !f.starts_with(b"transfer-encoding")
            })
            .collect();
        if ordinary.is_empty() {
            self.fields.insert(0, b"X-Extra: 1".to_vec());
            self.eol.insert(1, b"\r\n");
            return 0;
        }
        rng.pick(&ordinary)
    }

    fn framing_field(&self, name: &[u8]) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.len() >= name.len() && f[..name.len()].eq_ignore_ascii_case(name))
    }

    fn set_field(&mut self, name: &[u8], line: Vec<u8>) {
        match self.framing_field(name) {
            Some(i) => self.fields[i] = line,
            None => {
                self.fields.push(line);
                self.eol.insert(self.fields.len(), b"\r\n");
            }
        }
    }

    fn push_field(&mut self, line: Vec<u8>) {
        let at = 0;
        self.fields.insert(at, line);
        self.eol.insert(1, b"\r\n");
    }
}

const NAME_BYTES: &[u8] = b" \x00\x01\r\x7f@(/\x80\xff_\t\x0b;";
const VALUE_BYTES: &[u8] = b"\x00\x01\r\x7f\x80\xff\t\x0b\x1f\"";

fn mutate(d: &mut Draft, rng: &mut Rng) {
    match rng.below(12) {
        0 => {
            d.class.push("field-name-byte");
            let i = d.ordinary_field(rng);
            let colon = d.fields[i].iter().position(|&b| b == b':').unwrap_or(1);
            let at = rng.below(colon.max(1)) + usize::from(rng.chance(50) && colon > 1);
            d.fields[i].insert(at.min(colon), rng.pick(NAME_BYTES));
        }
        1 => {
            d.class.push("field-value-byte");
            let i = d.ordinary_field(rng);
            let len = d.fields[i].len();
            let colon = d.fields[i].iter().position(|&b| b == b':').unwrap_or(0);
            let at = colon + 2 + rng.below(len.saturating_sub(colon + 1).max(1));
            d.fields[i].insert(at.min(len), rng.pick(VALUE_BYTES));
        }
        2 => {
            d.class.push("line-ending");
            let i = rng.below(d.eol.len());
            d.eol[i] = rng.pick(&[&b"\n"[..], b"\r", b"\r\r\n", b"\n\r", b"\r\n\r\n", b" \r\n"]);
        }
        3 => {
            d.class.push("field-line-shape");
            let line: &[u8] = rng.pick(&[
                &b"X-No-Colon"[..],
                b"X-No Colon here",
                b": empty-name",
                b" X-Leading-Space: 1",
                b"\tfolded",
                b"X-Space-Before-Colon : 1",
                b"X-Tab-Before-Colon\t: 1",
                b"HTTP/1.1 200 OK",
                b"X-Empty:",
                b"X-Ws-Value:   \t ",
            ]);
            let at = rng.below(d.fields.len() + 1);
            d.fields.insert(at, line.to_vec());
            d.eol.insert(at + 1, b"\r\n");
        }
        4 => {
            d.class.push("content-length");
            let n = d.body.len();
            let value: String = match rng.below(13) {
                0 => format!("+{n}"),
                1 => format!("-{n}"),
                2 => format!("0x{n:x}"),
                3 => String::new(),
                4 => format!("{n} {n}"),
                5 => format!("{n}, {n}"),
                6 => format!("{n},{}", n + 1),
                7 => format!("000{n}"),
                8 => "99999999999999999999999".to_owned(),
                9 => format!("{}", n + 1 + rng.below(5)),
                10 => format!("{}", n.saturating_sub(1 + rng.below(3))),
                11 => format!(" {n} "),
                _ => format!("{n}abc"),
            };
            d.set_field(
                b"content-length",
                format!("Content-Length: {value}").into_bytes(),
            );
            if d.frame == Frame::Chunked {
                d.class.push("cl-and-te");
            }
            if rng.chance(20) {
                let extra = format!("Content-Length: {}", if rng.chance(50) { n } else { n + 2 });
                d.push_field(extra.into_bytes());
            }
        }
        5 => {
            d.class.push("transfer-encoding");
            let value: &[u8] = rng.pick(&[
                &b"chunked, deflate"[..],
                b"deflate, chunked",
                b"gzip, chunked",
                b"chunked, chunked",
                b"identity",
                b"xchunked",
                b"chunked;q=1",
                b"Chunked",
                b"CHUNKED",
                b" chunked ",
                b"chunked,",
                b", chunked",
                b"",
            ]);
            let mut line = b"Transfer-Encoding: ".to_vec();
            line.extend_from_slice(value);
            d.set_field(b"transfer-encoding", line);
            if d.frame != Frame::Chunked {
                d.class.push("te-on-unchunked-body");
            }
        }
        6 if d.frame == Frame::Chunked && !d.chunks.is_empty() => {
            d.class.push("chunk-line");
            let i = rng.below(d.chunks.len());
            let size = d.chunks[i].0.clone();
            let mut line = size.clone();
            let tail: &[u8] = rng.pick(&[
                &b";a=b"[..],
                b";",
                b";=x",
                b";a b",
                b";a@b",
                b";a=\"q\\\"\"",
                b" ",
                b"\t",
                b" ;a",
                b" junk",
                b"\x00",
                b"zz",
            ]);
            match rng.below(4) {
                0 => {
                    line = b"0".to_vec();
                    line.extend_from_slice(&size);
                }
                1 => line = format!("0x{}", String::from_utf8_lossy(&size)).into_bytes(),
                2 => line = size.to_ascii_uppercase(),
                _ => line.extend_from_slice(tail),
            }
            d.chunks[i].0 = line;
        }
        7 if d.frame == Frame::Chunked => {
            d.class.push("chunk-framing");
            match rng.below(6) {
                0 => d.last_chunk = b"0;last".to_vec(),
                1 => d.trailers.push(b"X-Trailer: 1".to_vec()),
                2 => d.trailers.push(b"bad trailer".to_vec()),
                3 if !d.chunks.is_empty() => {
                    let i = rng.below(d.chunks.len());
                    d.chunks[i].1.push(b'!');
                }
                4 if !d.chunks.is_empty() => {
                    let i = rng.below(d.chunks.len());
                    d.chunks[i].1.pop();
                }
                _ => d.last_chunk = b"fffffffffffffffff".to_vec(),
            }
        }
        8 => {
            d.class.push("status-line");
            d.status_line = rng
                .pick(&[
                    &b"HTTP/1.1 2000 OK"[..],
                    b"HTTP/1.1 20 OK",
                    b"HTTP/1.0 200 OK",
                    b"HTTP/1.2 200 OK",
                    b"http/1.1 200 OK",
                    b"HTTP/1.1 200",
                    b"HTTP/1.1  200 OK",
                    b"HTTP/1.1\t200 OK",
                    b"HTTP/2.0 200 OK",
                    b"HTTP/1.1 201 Created",
                    b"HTTP/1.1 404 Not Found",
                    b"HTTP/1.1 200 \x01",
                    b"HTTP/1.1 2x0 OK",
                    b"HTTP/1.1 403.1 Forbidden",
                    b"HTTP/1.10 200 OK",
                ])
                .to_vec();
        }
        9 => {
            d.class.push("size-limit");
            // Heads around nginx's 4096-byte buffer and HAProxy's limit (15264 bytes in its HTX
            // form, about 15280 on the wire).
            let target = rng.pick(&[4096usize, 15280]);
            let now = d.bytes().len().saturating_sub(d.body.len());
            let pad = (target + rng.below(40)).saturating_sub(now + 20 + rng.below(20));
            let line = format!("X-Pad: {}", "p".repeat(pad.max(1)));
            d.push_field(line.into_bytes());
        }
        10 => {
            d.class.push("truncated");
            d.cut = 1 + rng.below(d.body.len().max(1) + 2);
        }
        11 => {
            d.class.push("excess");
            d.after = b"HTTP/1.1 200 OK\r\n\r\nextra".to_vec();
        }
        _ => d.class.push("plain"),
    }
}

/// One generated response.
struct Vector {
    bytes: Vec<u8>,
    class: String,
}

fn generate(seed: u64, count: usize) -> Vec<Vector> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|_| {
            let mut d = Draft::new(&mut rng);
            mutate(&mut d, &mut rng);
            if rng.chance(30) {
                mutate(&mut d, &mut rng);
            }
            d.class.sort_unstable();
            d.class.dedup();
            Vector {
                bytes: d.bytes(),
                class: d.class.join("+"),
            }
        })
        .collect()
}

/// Serves vector N at `/vN`: reads the request head, sends the bytes in one write, closes.
fn origin(vectors: Arc<Vec<Vector>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let vectors = Arc::clone(&vectors);
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let n: Option<usize> = head.split(|&b| b == b' ').nth(1).and_then(|p| {
                    std::str::from_utf8(p.strip_prefix(b"/v")?)
                        .ok()?
                        .parse()
                        .ok()
                });
                if let Some(v) = n.and_then(|n| vectors.get(n)) {
                    let _ = conn.write_all(&v.bytes);
                }
                let _ = conn.shutdown(Shutdown::Write);
                // Let the peer read everything before the socket goes away.
                let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

/// What the visitor gets.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// The peer's own error status, or the origin's status with a body that is the origin's,
    /// complete (`whole`) or not.
    Status { code: u16, whole: Option<bool> },
    /// No status line at all: an empty reply, or bytes with no status line a client can read.
    NoStatus,
}

impl Outcome {
    fn show(&self) -> String {
        match self {
            Outcome::Status { code, whole: None } => code.to_string(),
            Outcome::Status {
                code,
                whole: Some(true),
            } => format!("{code}+body"),
            Outcome::Status {
                code,
                whole: Some(false),
            } => format!("{code}+broken-body"),
            Outcome::NoStatus => "empty".to_owned(),
        }
    }
}

/// What the profile predicts, and the body data the visitor should get.
fn predict(v: &Vector, p: &Profile) -> Outcome {
    let report = read_for(v, p);
    let verdict = judge(&report, p, JudgeContext::default());
    let Some(code) = verdict.status else {
        return Outcome::NoStatus;
    };
    if verdict.generated_by == GeneratedBy::Edge
        || verdict.disposition == Some(Disposition::Relay09)
        || verdict.disposition == Some(Disposition::InterimAsFinal)
        || !(200..300).contains(&code)
    {
        return Outcome::Status { code, whole: None };
    }
    Outcome::Status {
        code,
        whole: Some(verdict.body_complete && verdict.cause.is_none()),
    }
}

/// The origin's response as `p`'s peer reads it.
fn read_for(v: &Vector, p: &Profile) -> originlens_wire::Report {
    let mut reader = Reader::new(framed_as(p));
    reader.feed(&v.bytes);
    reader.on_eof();
    reader.into_report()
}

fn framed_as(p: &Profile) -> ReaderOptions {
    ReaderOptions {
        framing: p.framing,
        ..ReaderOptions::default()
    }
}

/// The body data of the origin's response as `p`'s peer decodes it.
fn origin_body(v: &Vector, p: &Profile) -> Vec<u8> {
    let mut data = Vec::new();
    let mut reader = Reader::new(framed_as(p));
    reader.feed_with(&v.bytes, &mut |d| data.extend_from_slice(d));
    reader.on_eof();
    data
}

/// The status a client such as curl reads from the first line: `HTTP/` (any case), a digit, a
/// dot, a digit, spaces, three digits.
fn client_status(bytes: &[u8]) -> Option<u16> {
    let line = bytes.split(|&b| b == b'\n').next()?;
    let line = line.split(|&b| b == b'\r').next()?;
    if line.len() < 12 || !line[..5].eq_ignore_ascii_case(b"HTTP/") {
        return None;
    }
    let rest = &line[5..];
    let (v, rest) = rest.split_at(rest.iter().position(|&b| b == b' ')?);
    if !(v.len() == 3 && v[0].is_ascii_digit() && v[1] == b'.' && v[2].is_ascii_digit()) {
        return None;
    }
    let rest: &[u8] = &rest[rest.iter().position(|&b| b != b' ')?..];
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || rest.get(3).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some(code.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0')))
}

/// Asks the peer for vector `n` and reads the answer to the end.
fn fetch(port: u16, n: usize) -> Vec<u8> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect to the peer");
    conn.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let req = format!("GET /v{n} HTTP/1.1\r\nHost: diff.test\r\nConnection: close\r\n\r\n");
    conn.write_all(req.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => got.extend_from_slice(&buf[..k]),
        }
    }
    got
}

/// What the visitor got from the peer for vector `n`.
fn through(port: u16, n: usize, v: &Vector, p: &Profile, want_body: bool) -> Outcome {
    let got = fetch(port, n);
    let Some(code) = client_status(&got) else {
        return Outcome::NoStatus;
    };
    if !want_body || !(200..300).contains(&code) {
        return Outcome::Status { code, whole: None };
    }
    let mut data = Vec::new();
    let report = {
        let mut r = Reader::new(ReaderOptions::default());
        r.feed_with(&got, &mut |d| data.extend_from_slice(d));
        r.on_eof();
        r.into_report()
    };
    let whole = report.body.complete && data == origin_body(v, p);
    Outcome::Status {
        code,
        whole: Some(whole),
    }
}

/// Vector `n`, the reader's findings, each profile's verdict and each peer's answer, for
/// `DIFFERENTIAL_SHOW=n,m`.
fn explain(n: usize, v: &Vector, runs: &[(&str, &Profile, u16)]) -> String {
    use originlens_wire::escape::escape;
    let mut out = format!("v{n} [{}]\n  sent {}\n", v.class, escape(&v.bytes));
    for (peer, prof, port) in runs {
        let report = read_for(v, prof);
        out.push_str(&format!("  {peer} reads framing {:?}:\n", report.framing));
        for f in &report.findings {
            out.push_str(&format!(
                "    {} @{} {:?}: {}\n",
                f.id,
                f.offset,
                prof.disposition(f.id),
                f.message
            ));
        }
        let verdict = judge(&report, prof, JudgeContext::default());
        out.push_str(&format!(
            "  {peer} predicts {}: {:?} {:?}\n  {peer} answered {}\n",
            predict(v, prof).show(),
            verdict.status,
            verdict.cause,
            escape(&fetch(*port, n))
        ));
    }
    out
}

/// One row of the known-disagreements table.
struct Known {
    class: String,
    peer: String,
    predicted: String,
    real: String,
}

fn known() -> Vec<Known> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/differential-known.tsv"
    );
    let text = std::fs::read_to_string(path).expect("read differential-known.tsv");
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .enumerate()
        .map(|(i, l)| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(
                cols.len() == 5 && !cols[4].trim().is_empty(),
                "differential-known.tsv row {}: want 5 tab-separated columns with a reason: {l:?}",
                i + 1
            );
            Known {
                class: cols[0].to_owned(),
                peer: cols[1].to_owned(),
                predicted: cols[2].to_owned(),
                real: cols[3].to_owned(),
            }
        })
        .collect()
}

/// Is the disagreement listed? A row's class matches a vector that has that mutation among its
/// classes (`*` matches any).
fn is_known(table: &[Known], class: &str, peer: &str, predicted: &str, real: &str) -> bool {
    table.iter().any(|k| {
        (k.class == "*" || class.split('+').any(|c| c == k.class))
            && k.peer == peer
            && outcome_matches(&k.predicted, predicted)
            && outcome_matches(&k.real, real)
    })
}

/// `*` matches any outcome, `*+body` any ending in `+body`, anything else itself.
fn outcome_matches(pattern: &str, outcome: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => outcome.ends_with(suffix),
        None => pattern == outcome,
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn profiles_agree_with_real_nginx_and_haproxy() {
    let count = env_usize("DIFFERENTIAL_COUNT", 5000);
    let seed = env_usize("DIFFERENTIAL_SEED", 15) as u64;
    let vectors = Arc::new(generate(seed, count));
    assert_eq!(vectors.len(), count);
    let table = known();
    let origin = origin(Arc::clone(&vectors));
    let nginx = peers::nginx(origin);
    let haproxy = peers::haproxy(origin);
    let runs: [(&str, &Profile, u16); 2] = [
        ("nginx", &profile::NGINX_1_22, nginx.port),
        ("haproxy", &profile::HAPROXY, haproxy.port),
    ];
    let mut report = String::new();
    let mut unknown = Vec::new();
    if let Ok(show) = std::env::var("DIFFERENTIAL_SHOW") {
        for n in show
            .split(',')
            .filter_map(|n| n.trim().parse::<usize>().ok())
        {
            report.push_str(&explain(n, &vectors[n], &runs));
        }
    }
    for (peer, prof, port) in runs {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<(usize, Outcome, Outcome)>> = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(v) = vectors.get(n) else { return };
                    let want = predict(v, prof);
                    let body = matches!(want, Outcome::Status { whole: Some(_), .. });
                    let real = through(port, n, v, prof, body);
                    results.lock().unwrap().push((n, want, real));
                });
            }
        });
        let results = results.into_inner().unwrap();
        let mut agree = 0;
        let mut classes: BTreeMap<(String, String, String), (usize, usize)> = BTreeMap::new();
        for (n, want, real) in &results {
            if want == real {
                agree += 1;
                continue;
            }
            let v = &vectors[*n];
            let (p, r) = (want.show(), real.show());
            let listed = is_known(&table, &v.class, peer, &p, &r);
            let e = classes
                .entry((v.class.clone(), p.clone(), r.clone()))
                .or_insert((0, *n));
            e.0 += 1;
            if !listed {
                unknown.push(format!(
                    "{peer} v{n} [{}]: predicted {p}, real {r}: {:?}",
                    v.class,
                    String::from_utf8_lossy(&v.bytes[..v.bytes.len().min(300)])
                ));
            }
        }
        let pct = 100.0 * agree as f64 / results.len() as f64;
        report.push_str(&format!(
            "{peer}: {agree}/{} agree ({pct:.2} %), seed {seed}\n",
            results.len()
        ));
        for ((class, p, r), (k, first)) in &classes {
            let b = &vectors[*first].bytes;
            report.push_str(&format!(
                "  {k:5}  {class}: predicted {p}, real {r}, e.g. v{first} {}\n",
                originlens_wire::escape::escape(&b[..b.len().min(240)])
            ));
        }
    }
    println!("{report}");
    eprintln!("{report}");
    assert!(
        unknown.is_empty(),
        "{} disagreements not in tests/data/differential-known.tsv:\n{}\n\n{report}",
        unknown.len(),
        unknown
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_generator_is_deterministic_and_covers_every_mutation() {
    let a = generate(7, 600);
    let b = generate(7, 600);
    assert!(a
        .iter()
        .zip(&b)
        .all(|(x, y)| x.bytes == y.bytes && x.class == y.class));
    for class in [
        "field-name-byte",
        "field-value-byte",
        "line-ending",
        "field-line-shape",
        "content-length",
        "transfer-encoding",
        "chunk-line",
        "chunk-framing",
        "status-line",
        "size-limit",
        "truncated",
        "excess",
    ] {
        assert!(
            a.iter().any(|v| v.class.split('+').any(|c| c == class)),
            "no vector of class {class}"
        );
    }
    // The prediction reads what the origin sends: a plain response is delivered whole.
    let plain = read_all(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        End::Eof,
        ReaderOptions::default(),
    );
    assert!(judge(&plain, &profile::NGINX_1_22, JudgeContext::default()).delivered());
}
