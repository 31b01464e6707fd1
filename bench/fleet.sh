#!/usr/bin/env bash
# Batch probing at fleet scale: `originlens probe --targets` over BENCH_TARGETS lines of lab
# routes, BENCH_CONCURRENCY probes at once, against `originlens lab` on loopback.
#
# The targets cycle through every lab route that answers without a deliberate stall (the ones
# `lab --list --format json` gives no read timeout, GET only: clean, broken and slow ones, as a
# fleet has), each line with its own site name and `connect-to` the lab. Each round runs under
# /usr/bin/time and prints the wall time, the peak RSS of the probe process, the lab's CPU time
# in that round (from /proc: when it is close to the wall time, the single-threaded lab is the
# bottleneck), and checks that every target gave one document and none was refused by the lab
# (a connect.* cause would mean the lab did not take the connections). Then the best, median and
# worst round.
#
# Both processes need a file descriptor per connection: the script raises `ulimit -n` to
# BENCH_CONCURRENCY * 2 + 1024 (or the hard limit) for itself and its children, and says so.
#
# Goal: 10,000 probes at 1,000 at once in under 5 s and under 200 MiB.
#
# Usage: bench/fleet.sh                         (needs jq and GNU time: apt-get install jq time)
#        BENCH_TARGETS=10000 BENCH_CONCURRENCY=1000 BENCH_ROUNDS=5 bench/fleet.sh
set -euo pipefail
cd "$(dirname "$0")/.."

targets=${BENCH_TARGETS:-10000}
concurrency=${BENCH_CONCURRENCY:-1000}
rounds=${BENCH_ROUNDS:-5}

[ -x /usr/bin/time ] || { echo "missing /usr/bin/time: apt-get install time" >&2; exit 2; }
command -v jq >/dev/null || { echo "missing jq: apt-get install jq" >&2; exit 2; }

want_fds=$((concurrency * 2 + 1024))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want_fds" ]; then
  want_fds=$hard
fi
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$want_fds" ]; then
  echo "raising the open-files limit: ulimit -n $(ulimit -Sn) -> $want_fds"
  ulimit -n "$want_fds"
fi

cargo build --release -q --locked -p originlens
bin="${CARGO_TARGET_DIR:-target}/release/originlens"
dir=$(mktemp -d /tmp/originlens-fleet-bench.XXXXXX)
lab_pid=""
cleanup() {
  [ -n "$lab_pid" ] && kill "$lab_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

"$bin" lab --listen 127.0.0.1:0 >"$dir/lab.out" 2>"$dir/lab.err" &
lab_pid=$!
lab=""
for _ in $(seq 100); do
  lab=$(sed -n 's|^originlens lab: .* on http://\([0-9.:]*\)/$|\1|p' "$dir/lab.out" | head -n1)
  [ -n "$lab" ] && break
  sleep 0.1
done
[ -n "$lab" ] || { echo "the lab did not start" >&2; cat "$dir/lab.err" >&2; exit 1; }

"$bin" lab --list --format json |
  jq -r '.routes[] | select(.read_timeout_ms == null and .method == "GET") | .path' >"$dir/routes"
nroutes=$(wc -l <"$dir/routes")
awk -v n="$targets" -v lab="$lab" '
  { route[NR - 1] = $0 }
  END { for (k = 0; k < n; k++) printf "http://site%d.test%s %s\n", k, route[k % NR], lab }
' "$dir/routes" >"$dir/targets.txt"

# CPU seconds (user + system) the lab has used so far.
lab_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$lab_pid/stat"
}

printf 'originlens probe --targets: %s targets (%s lab routes, cycled) at --concurrency %s, lab on %s\n' \
  "$targets" "$nroutes" "$concurrency" "$lab"
printf 'cpu: %s, %s cores\n' "$(lscpu | sed -n 's/^Model name: *//p' | head -n1)" "$(nproc)"
printf '%5s %9s %13s %12s %10s\n' round "wall s" "peak RSS MiB" "lab cpu s" documents
: >"$dir/results"
for round in $(seq "$rounds"); do
  cpu0=$(lab_cpu)
  set +e
  /usr/bin/time -f '%e %M' -o "$dir/time" \
    "$bin" probe --targets "$dir/targets.txt" --concurrency "$concurrency" \
    >"$dir/out.jsonl" 2>"$dir/summary"
  status=$?
  set -e
  cpu1=$(lab_cpu)
  # Exit 1: some lab routes are broken on purpose. 2 or a signal is a failure of the run.
  if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
    echo "probe --targets exited $status" >&2
    cat "$dir/summary" >&2
    exit 1
  fi
  read -r wall rss_kib < <(tail -n1 "$dir/time")
  docs=$(wc -l <"$dir/out.jsonl")
  if [ "$docs" -ne "$targets" ]; then
    echo "round $round: $docs documents for $targets targets" >&2
    cat "$dir/summary" >&2
    exit 1
  fi
  if grep -q ' connect\.' "$dir/summary"; then
    echo "round $round: the lab refused or dropped connections:" >&2
    cat "$dir/summary" >&2
    exit 1
  fi
  rss_mib=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')
  lab_s=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')
  printf '%5s %9s %13s %12s %10s\n' "$round" "$wall" "$rss_mib" "$lab_s" "$docs"
  echo "$wall $rss_mib" >>"$dir/results"
  [ "$round" -eq 1 ] && cp "$dir/summary" "$dir/first-summary"
done

echo
echo "summary of round 1 (stderr of probe --targets):"
sed 's/^/  /' "$dir/first-summary"
echo
sort -n "$dir/results" | awk -v goal_s=5 -v goal_mib=200 '
  { wall[NR] = $1; if ($2 > rss) rss = $2 }
  END {
    median = (NR % 2) ? wall[(NR + 1) / 2] : (wall[NR / 2] + wall[NR / 2 + 1]) / 2
    printf "wall: best %.2f s, median %.2f s, worst %.2f s over %d rounds; peak RSS at most %.1f MiB\n",
      wall[1], median, wall[NR], NR, rss
    printf "goal (< %d s, < %d MiB): %s\n", goal_s, goal_mib,
      (wall[NR] < goal_s && rss < goal_mib) ? "met in every round" : "missed"
  }'
