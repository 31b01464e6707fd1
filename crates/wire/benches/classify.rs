//! The classifier (reader + Cloudflare verdict, full findings) against bare httparse on the same
//! heads: each shape of the corpus alone, then all of them in turn. `bench/wire.sh` prints the
//! ratios.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

mod corpus;
use corpus::{corpus, httparse_parse, originlens_classify};

fn bench(c: &mut Criterion) {
    let corpus = corpus();
    let mut group = c.benchmark_group("heads");
    let mut runs: Vec<(&str, Vec<&[u8]>)> =
        corpus.iter().map(|s| (s.name, vec![&s.head[..]])).collect();
    runs.push(("all", corpus.iter().map(|s| &s.head[..]).collect()));
    for (name, heads) in &runs {
        let bytes: usize = heads.iter().map(|h| h.len()).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_with_input(BenchmarkId::new("httparse", name), heads, |b, heads| {
            b.iter(|| {
                for head in heads {
                    black_box(httparse_parse(black_box(head)));
                }
            })
        });
        group.bench_with_input(BenchmarkId::new("originlens", name), heads, |b, heads| {
            b.iter(|| {
                for head in heads {
                    black_box(originlens_classify(black_box(head)));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
