#!/usr/bin/env bash
# The classifier (reader + Cloudflare verdict with full findings) against bare httparse on the
# same corpus of realistic response heads (0.3-16 KB). Prints bytes/s for both and the ratio.
# Usage: bench/wire.sh [extra criterion args]
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo bench -p originlens-wire --bench classify -- --warm-up-time 2 --measurement-time 8 "$@" >/dev/null
python3 - "$target" <<'PY'
import json, sys
target = sys.argv[1]
def mean_ns(name):
    with open(f"{target}/criterion/heads/{name}/new/estimates.json") as f:
        return json.load(f)["mean"]["point_estimate"]
with open(f"{target}/criterion/heads/httparse/new/benchmark.json") as f:
    corpus = json.load(f)["throughput"]["Bytes"]
h, o = mean_ns("httparse"), mean_ns("originlens")
mib = lambda ns: corpus / (ns / 1e9) / 2**20
print(f"corpus: {corpus} bytes in 5 heads")
print(f"httparse (parse only):          {mib(h):8.0f} MiB/s")
print(f"originlens (findings + verdict): {mib(o):8.0f} MiB/s")
print(f"ratio: {h / o:.2f}x httparse")
PY
