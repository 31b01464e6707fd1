//! The heads both the criterion bench (`classify`) and the instruction count
//! (`examples/wire_loop.rs`, run by `bench/wire-callgrind.sh`) read: five realistic heads of
//! 0.3–16 KB, then heads of other shapes, so no figure is tuned to one kind of line.

/// One head of the corpus and the name it is reported under.
pub struct Shape {
    pub name: &'static str,
    pub head: Vec<u8>,
}

/// Every head, in the order they are reported.
pub fn corpus() -> Vec<Shape> {
    let base = "HTTP/1.1 200 OK\r\nDate: Mon, 23 Nov 2026 22:06:00 GMT\r\nContent-Type: application/json\r\n\
                Content-Length: 512\r\nConnection: keep-alive\r\n";
    let api = format!("{base}Cache-Control: no-store\r\nX-Request-Id: 7f3a9c21-1b2c-4d5e-8f90-a1b2c3d4e5f6\r\n\r\n");
    let html = format!(
        "{base}Server: nginx\r\nVary: Accept-Encoding\r\nContent-Encoding: gzip\r\nLast-Modified: Mon, 23 Nov 2026 20:00:00 GMT\r\n\
         ETag: \"5f2b-63a1c4d2e8f00\"\r\nCache-Control: public, max-age=600\r\nX-Frame-Options: SAMEORIGIN\r\n\
         X-Content-Type-Options: nosniff\r\nReferrer-Policy: strict-origin-when-cross-origin\r\n\
         Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n\r\n"
    );
    // The HTML head without its empty line, to append fields to.
    let open = || {
        let mut s = html.trim_end_matches("\r\n").to_owned();
        s.push_str("\r\n");
        s
    };
    let mut cdn = open();
    for i in 0..20 {
        cdn.push_str(&format!(
            "X-Cache-Hop-{i}: edge-{i}.example.net; rtt={}; hit=0\r\n",
            i * 7
        ));
    }
    cdn.push_str("Content-Security-Policy: default-src 'self'; script-src 'self' https://cdn.example.com; img-src * data:\r\n\r\n");
    let cookie = |n: usize, len: usize| -> String {
        let mut s = open();
        for i in 0..n {
            s.push_str(&format!(
                "Set-Cookie: wp_session_{i}={}; Path=/; Expires=Tue, 24 Nov 2026 22:06:00 GMT; HttpOnly; Secure; SameSite=Lax\r\n",
                "a1B2c3D4".repeat(len / 8)
            ));
        }
        s.push_str("\r\n");
        s
    };
    let (shop, flood) = (cookie(20, 240), cookie(60, 160));

    // 100 tiny fields: the cost per line, not per byte.
    let mut small = String::from("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
    for _ in 0..100 {
        small.push_str("X-A: b\r\n");
    }
    small.push_str("\r\n");
    // 60 Set-Cookie lines of 200 bytes each.
    let mut cookies = String::from("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
    for i in 0..60 {
        let line = format!("Set-Cookie: c{i:02}=");
        let pad = 200 - 2 - line.len() - "; Path=/".len();
        cookies.push_str(&format!("{line}{}; Path=/\r\n", "x".repeat(pad)));
    }
    cookies.push_str("\r\n");
    // One 8 KB Content-Security-Policy value.
    let mut csp = String::from("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 0\r\nContent-Security-Policy: default-src 'self'");
    let mut i = 0;
    while csp.len() < 8192 {
        csp.push_str(&format!(
            "; script-src-{i} https://cdn{i}.example.com 'nonce-a1B2c3D4e5F6'"
        ));
        i += 1;
    }
    csp.push_str("\r\nServer: nginx\r\n\r\n");
    // Folded fields: each value goes on over two continuation lines.
    let mut fold = String::from("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
    for i in 0..20 {
        fold.push_str(&format!(
            "X-Folded-{i}: first part of the value\r\n  second part, folded\r\n\tthird part, after a tab\r\n"
        ));
    }
    fold.push_str("\r\n");

    [
        ("api", api),
        ("html", html),
        ("cdn", cdn),
        ("shop", shop),
        ("flood", flood),
        ("small-fields", small),
        ("set-cookie-run", cookies),
        ("long-value", csp),
        ("obs-fold", fold),
    ]
    .into_iter()
    .map(|(name, head)| Shape {
        name,
        head: head.into_bytes(),
    })
    .collect()
}

/// httparse as the comparison runs it: the parse alone, obs-fold accepted so that head parses.
pub fn httparse_parse(head: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 256];
    let mut res = httparse::Response::new(&mut headers);
    let status = httparse::ParserConfig::default()
        .allow_obsolete_multiline_headers_in_responses(true)
        .parse_response(&mut res, head)
        .expect("httparse parses every head of the corpus");
    assert!(
        status.is_complete(),
        "httparse: a head of the corpus is incomplete"
    );
    res.headers.len()
}

/// originlens as the comparison runs it: the reader with full findings, then the Cloudflare
/// verdict.
pub fn originlens_classify(head: &[u8]) -> originlens_wire::Verdict {
    use originlens_wire::{judge, profile, JudgeContext, Reader, ReaderOptions};
    let mut reader = Reader::new(ReaderOptions::default());
    reader.feed(head);
    judge(
        reader.report(),
        &profile::CLOUDFLARE,
        JudgeContext::default(),
    )
}

/// [`originlens_classify`] with the head fed in `reads` reads of nearly equal size.
#[allow(dead_code)] // used by the instruction count only
pub fn originlens_classify_split(head: &[u8], reads: usize) -> originlens_wire::Verdict {
    use originlens_wire::{judge, profile, JudgeContext, Reader, ReaderOptions};
    let mut reader = Reader::new(ReaderOptions::default());
    for piece in head.chunks(head.len().div_ceil(reads).max(1)) {
        reader.feed(piece);
    }
    judge(
        reader.report(),
        &profile::CLOUDFLARE,
        JudgeContext::default(),
    )
}
