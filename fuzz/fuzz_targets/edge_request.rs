//! The edge's request checks on a visitor's head parsed as hyper does (httparse), then the head
//! it writes toward the origin. A request the checks let through must come out as exactly one
//! well-framed request: at most one Content-Length, no Transfer-Encoding, the Host the edge
//! chose, nothing after the empty line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use originlens_edge::request::{
    is_hop_by_hop, names_h2c, upstream_head, valid_host, validate, Fields, Forwarding, Listed,
};

struct Head<'a>(Vec<(&'a [u8], &'a [u8])>);

impl Fields for Head<'_> {
    fn each<'s>(&'s self, f: &mut dyn FnMut(&'s [u8], &'s [u8])) {
        for (n, v) in &self.0 {
            f(n, v);
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(_)) = req.parse(input) else {
        // The helpers still take any bytes.
        let _ = valid_host(input);
        let _ = names_h2c(input);
        let _ = is_hop_by_hop(input, &Listed::of([input].into_iter()));
        return;
    };
    let method = req.method.unwrap_or("GET");
    let target = req.path.unwrap_or("/");
    let http10 = req.version == Some(0);
    let head = Head(
        req.headers
            .iter()
            .map(|h| (h.name.as_bytes(), h.value))
            .collect(),
    );
    let host = head
        .0
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(b"host"))
        .map(|(_, v)| *v)
        .unwrap_or(b"");
    let _ = valid_host(host);
    if validate(method.as_bytes(), http10, &head).is_err() {
        return;
    }
    let upgrade = head
        .0
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case(b"upgrade") && !names_h2c(v));
    let fwd = Forwarding {
        host: "origin.test",
        client_ip: "192.0.2.1",
        proto: "https",
        upgrade,
    };
    let body_len = head
        .0
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(b"content-length"))
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse::<usize>().ok());
    let mut out = Vec::new();
    upstream_head(method, target, &head, &fwd, body_len, &mut out);

    let mut headers = [httparse::EMPTY_HEADER; 80];
    let mut up = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(len)) = up.parse(&out) else {
        panic!(
            "the upstream head does not parse: {:?}",
            String::from_utf8_lossy(&out)
        );
    };
    assert_eq!(len, out.len(), "bytes after the upstream head");
    let named = |name: &str| {
        up.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .count()
    };
    assert_eq!(named("transfer-encoding"), 0);
    assert!(named("content-length") <= 1);
    assert_eq!(named("host"), 1);
    assert_eq!(up.method, Some(method));
});
