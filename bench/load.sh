#!/usr/bin/env bash
# Throughput and latency of `originlens load` next to wrk and oha, against the same fast origin.
#
# The origin is nginx answering a 2-byte 200 from memory (`return 200`, one worker, no access
# log). The three load tools run one after the other with the same connections and duration, for
# BENCH_ROUNDS rounds (the machine may be shared: the rounds show the spread):
#   originlens load -c C --duration D      (every response read by the wire reader and judged)
#   wrk -t T -c C -d D --latency           (Debian's wrk)
#   oha -c C -z D --no-tui                 (crates.io; installed by this script when missing)
# Prints each one's req/s, p99 and CPU time per request (task-clock from `perf stat`, user plus
# system, of the tool alone) per round, the median and spread of each, and the ratios of
# originlens to wrk and to oha per round (median and range). On a shared machine req/s follows
# the share of the cores each tool gets; CPU time per request does not. Then one run of BENCH_MILLION
# requests (default 1,000,000) with originlens alone, printing its peak RSS one second in and at
# the end: memory stays flat over the run.
#
# oha is looked for on PATH, then in target/bench-tools/bin; when it is in neither, this script
# runs `cargo install oha --locked --root target/bench-tools` (a few minutes, once).
#
# Usage: bench/load.sh          (needs nginx and wrk: apt-get install nginx wrk)
#        BENCH_SECS=10 BENCH_CONNS=50 BENCH_THREADS=2 BENCH_ROUNDS=5 BENCH_MILLION=1000000 bench/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${BENCH_SECS:-5}
conns=${BENCH_CONNS:-50}
threads=${BENCH_THREADS:-2}
rounds=${BENCH_ROUNDS:-3}
million=${BENCH_MILLION:-1000000}
port=${BENCH_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
dir=$(mktemp -d /tmp/originlens-load-bench.XXXXXX)
target=${CARGO_TARGET_DIR:-target}

for tool in wrk nginx awk curl python3 perf; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install nginx wrk curl python3 linux-perf" >&2; exit 2; }
done

oha=$(command -v oha || true)
if [ -z "$oha" ]; then
  oha="$target/bench-tools/bin/oha"
  if [ ! -x "$oha" ]; then
    echo "oha not found: installing it with cargo install oha --locked --root $target/bench-tools" >&2
    cargo install oha --locked --root "$target/bench-tools" >&2
  fi
fi

cargo build --release -q --locked -p originlens
bin="$target/release/originlens"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/origin.conf" <<EOF
worker_processes 1;
pid $dir/origin.pid;
error_log $dir/origin-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    location / { default_type text/plain; return 200 "ok"; }
  }
}
EOF
nginx -p "$dir" -c "$dir/origin.conf" -g 'daemon off;' & pids+=($!)
for _ in $(seq 50); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.1
done
url="http://127.0.0.1:$port/"
[ "$(curl -s "$url")" = "ok" ] || { echo "the origin does not answer on $url" >&2; exit 1; }

# CPU milliseconds (task-clock) of the last run measured with `cpu`.
cpu() { perf stat -x, -e task-clock -o "$dir/cpu" -- "$@"; }
cpu_ms() { awk -F, '/task-clock/ { print $1 }' "$dir/cpu"; }

# Each prints "rps p99_ms cpu_ms" for one measured run of $secs seconds (after a one-second
# warm-up).
run_originlens() {
  "$bin" load "$url" -c "$conns" --duration 1s --format json >/dev/null || true
  cpu "$bin" load "$url" -c "$conns" --duration "${secs}s" --format json >"$dir/originlens.json" || {
    echo "originlens load found failures against the origin:" >&2
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"])' "$dir/originlens.json" >&2
    exit 1
  }
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["rate"], d["latency_ms"]["p99"], sys.argv[2])' "$dir/originlens.json" "$(cpu_ms)"
}
run_wrk() {
  wrk -t"$threads" -c"$conns" -d1s "$url" >/dev/null
  cpu wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$url" >"$dir/wrk.out"
  awk -v cpu="$(cpu_ms)" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec:/ { rps = $2 }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx|Socket errors/ { print "wrk: " $0 > "/dev/stderr" }
    END { printf "%s %.3f %s\n", rps, p99, cpu }
  ' "$dir/wrk.out"
}
run_oha() {
  "$oha" -c "$conns" -z 1s --no-tui "$url" >/dev/null
  cpu "$oha" -c "$conns" -z "${secs}s" --no-tui --output-format json "$url" >"$dir/oha.json"
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
ok = d.get("statusCodeDistribution", {}).get("200", 0)
s = d["summary"]
if s.get("successRate", 1) < 1 or ok == 0:
    print("oha: not every request got a 200: %r" % d.get("statusCodeDistribution"), file=sys.stderr)
print(s["requestsPerSec"], d["latencyPercentiles"]["p99"] * 1000, sys.argv[2])' "$dir/oha.json" "$(cpu_ms)"
}

printf 'origin: nginx return 200 (1 worker) on %s; -c %s for %s s per run; wrk -t %s; cores: %s; rounds: %s\n' \
  "$url" "$conns" "$secs" "$threads" "$(nproc)" "$rounds"
printf '%-11s %5s %12s %10s %12s\n' "tool" "round" "req/s" "p99 ms" "CPU us/req"
: >"$dir/results"
for round in $(seq "$rounds"); do
  for tool in originlens wrk oha; do
    read -r rps p99 cpu < <("run_$tool")
    per=$(awk -v c="$cpu" -v r="$rps" -v s="$secs" 'BEGIN { printf "%.2f", c * 1000 / (r * s) }')
    printf '%-11s %5s %12.0f %10.3f %12s\n' "$tool" "$round" "$rps" "$p99" "$per"
    echo "$round $tool $rps $p99 $per" >>"$dir/results"
  done
done

# Median and spread of each tool, and originlens's ratio to the others round by round (a round
# runs the three back to back, so they saw the same machine).
awk '
  function sort(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t } }
  function med(a, n) { sort(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  { rps[$2, $1] = $3; p99[$2, $1] = $4; us[$2, $1] = $5; if ($1 > n) n = $1 }
  END {
    split("originlens wrk oha", tools, " ")
    for (t = 1; t <= 3; t++) {
      k = tools[t]
      for (i = 1; i <= n; i++) { r[i] = rps[k, i]; q[i] = p99[k, i]; c[i] = us[k, i] }
      m = med(r, n); lo = r[1]; hi = r[n]; mq = med(q, n); mc = med(c, n)
      printf "%-11s req/s median %9.0f (%.0f..%.0f)   p99 median %.3f ms (%.3f..%.3f)   CPU median %.2f us/req (%.2f..%.2f)\n", k, m, lo, hi, mq, q[1], q[n], mc, c[1], c[n]
    }
    for (t = 2; t <= 3; t++) {
      k = tools[t]
      for (i = 1; i <= n; i++) { r[i] = rps["originlens", i] / rps[k, i]; q[i] = p99["originlens", i] / p99[k, i]; c[i] = us["originlens", i] / us[k, i] }
      m = med(r, n); mq = med(q, n); mc = med(c, n)
      printf "originlens/%-4s req/s %.2fx median (%.2fx..%.2fx per round), p99 %.2fx median (%.2fx..%.2fx), CPU per request %.2fx median (%.2fx..%.2fx)\n", k, m, r[1], r[n], mq, q[1], q[n], mc, c[1], c[n]
    }
  }' "$dir/results"

# The long run: peak RSS (VmHWM) one second in and at the end.
"$bin" load "$url" -c "$conns" -n "$million" --format json >"$dir/million.json" &
pid=$!
early="" last=""
start=$(date +%s.%N)
while kill -0 "$pid" 2>/dev/null; do
  hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
  [ -n "$hwm" ] && last=$hwm
  if [ -z "$early" ] && [ -n "$hwm" ] && awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { exit !(n - s >= 1) }'; then
    early=$hwm
  fi
  sleep 0.1
done
wait "$pid" || { echo "the $million-request run found failures" >&2; exit 1; }
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("%d requests in %.1f s (%.0f req/s, p99 %.3f ms, %d failed): peak RSS %s KiB after 1 s, %s KiB at the end"
      % (d["requests"], d["duration_s"], d["rate"], d["latency_ms"]["p99"], d["failed"], sys.argv[2], sys.argv[3]))' \
  "$dir/million.json" "${early:-?}" "${last:-?}"
