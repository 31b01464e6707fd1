//! The classifier (reader + Cloudflare verdict, full findings) against bare httparse on the same
//! corpus of realistic response heads (0.3–16 KB). `bench/wire.sh` prints the ratio.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use originlens_wire::{judge, profile, JudgeContext, Reader, ReaderOptions};
use std::hint::black_box;

/// Realistic heads: an API answer, an HTML page, a CDN-fronted page, a cookie-heavy shop page,
/// and a Set-Cookie flood near the old 16 KB budget.
fn corpus() -> Vec<Vec<u8>> {
    let base = "HTTP/1.1 200 OK\r\nDate: Mon, 23 Nov 2026 22:06:00 GMT\r\nContent-Type: application/json\r\n\
                Content-Length: 512\r\nConnection: keep-alive\r\n";
    let api = format!("{base}Cache-Control: no-store\r\nX-Request-Id: 7f3a9c21-1b2c-4d5e-8f90-a1b2c3d4e5f6\r\n\r\n");
    let html = format!(
        "{base}Server: nginx\r\nVary: Accept-Encoding\r\nContent-Encoding: gzip\r\nLast-Modified: Mon, 23 Nov 2026 20:00:00 GMT\r\n\
         ETag: \"5f2b-63a1c4d2e8f00\"\r\nCache-Control: public, max-age=600\r\nX-Frame-Options: SAMEORIGIN\r\n\
         X-Content-Type-Options: nosniff\r\nReferrer-Policy: strict-origin-when-cross-origin\r\n\
         Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n\r\n"
    );
    let mut cdn = html.trim_end_matches("\r\n").to_owned();
    cdn.push_str("\r\n");
    for i in 0..20 {
        cdn.push_str(&format!(
            "X-Cache-Hop-{i}: edge-{i}.example.net; rtt={}; hit=0\r\n",
            i * 7
        ));
    }
    cdn.push_str("Content-Security-Policy: default-src 'self'; script-src 'self' https://cdn.example.com; img-src * data:\r\n\r\n");
    let cookie = |n: usize, len: usize| -> String {
        let mut s = html.trim_end_matches("\r\n").to_owned();
        s.push_str("\r\n");
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
    [api, html, cdn, shop, flood]
        .into_iter()
        .map(String::into_bytes)
        .collect()
}

fn bench(c: &mut Criterion) {
    let corpus = corpus();
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("heads");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("httparse", |b| {
        b.iter(|| {
            for head in &corpus {
                let mut headers = [httparse::EMPTY_HEADER; 256];
                let mut res = httparse::Response::new(&mut headers);
                black_box(res.parse(black_box(head)).unwrap());
            }
        })
    });
    group.bench_function("originlens", |b| {
        b.iter(|| {
            for head in &corpus {
                let mut reader = Reader::new(ReaderOptions::default());
                reader.feed(black_box(head));
                let v = judge(
                    reader.report(),
                    &profile::CLOUDFLARE,
                    JudgeContext::default(),
                );
                black_box(v);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
