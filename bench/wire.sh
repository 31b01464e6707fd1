#!/usr/bin/env bash
# The classifier (reader + Cloudflare verdict with full findings) against bare httparse on the
# same heads: the five realistic heads of 0.3-16 KB and heads of other shapes (100 tiny fields,
# a run of 60 Set-Cookie lines, one 8 KB value, obs-fold), each alone and all in turn
# (crates/wire/benches/corpus/mod.rs). Runs ROUNDS rounds (default 5) and prints, per round,
# MiB/s for both and the ratio for every shape, then each shape's ratio spread (min-max, median).
# Usage: bench/wire.sh [ROUNDS] [extra criterion args]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
shift || true
target="${CARGO_TARGET_DIR:-target}"
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
cargo bench -p originlens-wire --bench classify --no-run 2>/dev/null
# Figures of an earlier corpus must not be read as this one's.
rm -rf "$target/criterion/heads"
for round in $(seq 1 "$rounds"); do
    cargo bench -p originlens-wire --bench classify -- \
        --warm-up-time 1 --measurement-time 3 "$@" >/dev/null 2>&1
    python3 - "$target" "$round" "$results" <<'PY'
import json, os, sys
target, round_no, results = sys.argv[1], sys.argv[2], sys.argv[3]
base = f"{target}/criterion/heads"
def read(kind, shape):
    with open(f"{base}/{kind}/{shape}/new/estimates.json") as f:
        ns = json.load(f)["mean"]["point_estimate"]
    with open(f"{base}/{kind}/{shape}/new/benchmark.json") as f:
        size = json.load(f)["throughput"]["Bytes"]
    return size, ns
shapes = sorted(s for s in os.listdir(f"{base}/originlens")
                if os.path.exists(f"{base}/originlens/{s}/new/estimates.json"))
shapes = [s for s in shapes if s != "all"] + ["all"]
mib = lambda size, ns: size / (ns / 1e9) / 2**20
row = {}
print(f"round {round_no}")
for s in shapes:
    size, h = read("httparse", s)
    _, o = read("originlens", s)
    row[s] = h / o
    print(f"  {s:15} {size:6} B  httparse {mib(size, h):6.0f} MiB/s  originlens {mib(size, o):6.0f} MiB/s  ratio {h / o:.2f}x")
# The five realistic heads alone (the corpus before the other shapes were added), from the
# per-shape means: bytes over the sum of the times.
five = ["api", "html", "cdn", "shop", "flood"]
if all(s in shapes for s in five):
    size = sum(read("httparse", s)[0] for s in five)
    h = sum(read("httparse", s)[1] for s in five)
    o = sum(read("originlens", s)[1] for s in five)
    row["five-realistic"] = h / o
    print(f"  {'five-realistic':15} {size:6} B  httparse {mib(size, h):6.0f} MiB/s  originlens {mib(size, o):6.0f} MiB/s  ratio {h / o:.2f}x")
with open(results, "a") as f:
    f.write(json.dumps(row) + "\n")
PY
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"ratio (originlens throughput / httparse throughput) over {len(rows)} rounds: min-max (median)")
for s in rows[0]:
    r = [row[s] for row in rows]
    print(f"  {s:15} {min(r):.2f}-{max(r):.2f}x  (median {statistics.median(r):.2f}x)")
PY
