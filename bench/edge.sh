#!/usr/bin/env bash
# Throughput and latency of `originlens edge` next to nginx as a plain reverse proxy.
#
# One small fast origin (nginx answering a 2-byte 200 from memory), then, in front of it:
#   nginx     proxy_pass with an upstream keep-alive pool (a plain reverse proxy)
#   originlens edge --no-store   (full validation: every origin byte goes through the wire reader)
# Both are loaded by wrk with the same threads, connections and duration, one after the other,
# alternating for BENCH_ROUNDS rounds (the machine may be shared: the rounds show the spread).
# Prints req/s, p50/p99 latency and the proxy's CPU time per request (user + system, and each
# apart, from /proc, nginx's workers summed) per round, the best round of each and the
# edge/nginx ratios of the best rounds and per round (with the median), the edge's system time
# against nginx's whole CPU time (how low the CPU ratio could go if the edge's own code cost
# nothing), and the edge's upstream connection reuse from its /metrics. BENCH_PROFILE=1 then
# profiles the edge under the same load: `perf record` (the symbols that take its CPU) and
# `strace -c` (system calls per request, of the edge and of nginx).
#
# Fairness: nginx runs BENCH_WORKERS worker processes, the edge BENCH_WORKERS runtime worker
# threads (--workers); wrk, the origin and the proxy share the same cores.
#
# BENCH_HEAD_BYTES=16384 makes the origin's response head about that large (padding fields of
# 100 bytes), to compare the proxies on big heads; nginx then gets a proxy_buffer_size that
# holds it (its default, one page, answers 502 to a head over 4 KB).
#
# Usage: bench/edge.sh            (needs wrk and nginx: apt-get install wrk nginx)
#        BENCH_SECS=20 BENCH_CONNS=128 BENCH_THREADS=2 BENCH_WORKERS=2 BENCH_ROUNDS=5 bench/edge.sh
#        BENCH_HEAD_BYTES=16384 bench/edge.sh
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${BENCH_SECS:-10}
conns=${BENCH_CONNS:-64}
threads=${BENCH_THREADS:-2}
workers=${BENCH_WORKERS:-2}
rounds=${BENCH_ROUNDS:-3}
head_bytes=${BENCH_HEAD_BYTES:-0}
dir=$(mktemp -d /tmp/originlens-edge-bench.XXXXXX)
origin_port=${BENCH_ORIGIN_PORT:-18901}
nginx_port=${BENCH_NGINX_PORT:-18902}
edge_port=${BENCH_EDGE_PORT:-18903}
admin_port=${BENCH_ADMIN_PORT:-18904}

profile=${BENCH_PROFILE:-0}
tools="wrk nginx awk curl"
[ "$profile" = 1 ] && tools="$tools perf strace"
for tool in $tools; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install wrk nginx linux-perf strace" >&2; exit 2; }
done

cargo build --release -q -p originlens
bin="${CARGO_TARGET_DIR:-target}/release/originlens"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# Padding fields for BENCH_HEAD_BYTES: "X-Pad-NNN: " and 87 bytes of value, 100 with CR LF.
pad_fields=""
proxy_buffers=""
if [ "$head_bytes" -gt 0 ]; then
  value=$(printf 'p%.0s' $(seq 87))
  for i in $(seq -w 1 $((head_bytes / 100))); do
    pad_fields="$pad_fields add_header X-Pad-$i $value;"
  done
  # A buffer that holds the whole head with room to spare.
  kib=$((head_bytes / 1024 + 8))
  proxy_buffers="proxy_buffer_size ${kib}k; proxy_buffers 8 ${kib}k; proxy_busy_buffers_size $((kib * 2))k;"
fi

# The origin and the nginx proxy: one config each, run in the foreground of their own process.
cat >"$dir/origin.conf" <<EOF
worker_processes 1;
pid $dir/origin.pid;
error_log $dir/origin-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$origin_port;
    location / { default_type text/plain;$pad_fields return 200 "ok"; }
  }
}
EOF
cat >"$dir/proxy.conf" <<EOF
worker_processes $workers;
pid $dir/proxy.pid;
error_log $dir/proxy-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream origin { server 127.0.0.1:$origin_port; keepalive 256; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      $proxy_buffers
    }
  }
}
EOF
nginx -p "$dir" -c "$dir/origin.conf" -g 'daemon off;' & pids+=($!)
nginx -p "$dir" -c "$dir/proxy.conf" -g 'daemon off;' & pids+=($!)
nginx_pid=$!
"$bin" edge --workers "$workers" --listen "127.0.0.1:$edge_port" \
  --origin "http://127.0.0.1:$origin_port" --no-store --admin "127.0.0.1:$admin_port" \
  >"$dir/edge.out" 2>"$dir/edge.err" & pids+=($!)
edge_pid=$!

for port in "$origin_port" "$nginx_port" "$edge_port"; do
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
  done
done
body=$(curl -s "http://127.0.0.1:$edge_port/")
[ "$body" = "ok" ] || { echo "the edge does not answer: $body" >&2; cat "$dir/edge.err" >&2; exit 1; }
head_sizes=""
for port in "$origin_port" "$nginx_port" "$edge_port"; do
  size=$(curl -s -o /dev/null -w '%{size_header}' "http://127.0.0.1:$port/")
  [ "$(curl -s "http://127.0.0.1:$port/")" = "ok" ] || { echo "port $port does not answer ok" >&2; exit 1; }
  head_sizes="$head_sizes $size"
done

# cpu_ticks PID...: "user system" clock ticks the processes have used (all their threads).
cpu_ticks() {
  for p in "$@"; do awk '{ print $14, $15 }' "/proc/$p/stat"; done | awk '{ u += $1; s += $2 } END { print u, s }'
}
# The proxy's processes: nginx's master and its workers, or the edge.
proxy_pids() {
  if [ "$1" = nginx ]; then echo "$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"; else echo "$edge_pid"; fi
}
ticks_per_s=$(getconf CLK_TCK)

# run NAME PORT: one warm-up second, then the measured run; prints "rps p50_ms p99_ms cpu_us
# user_us sys_us", the proxy's CPU time per request in microseconds, all of it, then in its own
# code (user) and in the kernel for it (system).
run() {
  wrk -t"$threads" -c"$conns" -d1s "http://127.0.0.1:$2/" >/dev/null
  local user0 sys0 user1 sys1
  # shellcheck disable=SC2046
  read -r user0 sys0 < <(cpu_ticks $(proxy_pids "$1"))
  wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$2/" >"$dir/$1.wrk"
  # shellcheck disable=SC2046
  read -r user1 sys1 < <(cpu_ticks $(proxy_pids "$1"))
  awk -v user=$((user1 - user0)) -v sys=$((sys1 - sys0)) -v hz="$ticks_per_s" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /requests in/ { n = $1 }
    /Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx/ { bad = $NF }
    END { if (bad > 0) { print "non-2xx responses: " bad > "/dev/stderr"; exit 1 }
      us = 1e6 / hz / n
      printf "%s %.3f %.3f %.2f %.2f %.2f\n", rps, p50, p99, (user + sys) * us, user * us, sys * us }
  ' "$dir/$1.wrk"
}

printf 'wrk -t%s -c%s -d%ss, origin: nginx return 200, proxy workers: %s, cores: %s, rounds: %s\n' \
  "$threads" "$conns" "$secs" "$workers" "$(nproc)" "$rounds"
read -r origin_head nginx_head edge_head <<<"$head_sizes"
printf 'response head bytes: origin %s, through nginx %s, through the edge %s\n' \
  "$origin_head" "$nginx_head" "$edge_head"
printf '%-8s %5s %12s %10s %10s %12s %8s %8s\n' "proxy" "round" "req/s" "p50 ms" "p99 ms" "CPU us/req" "user" "system"
: >"$dir/results"
for round in $(seq "$rounds"); do
  for name in nginx edge; do
    port=$nginx_port
    [ "$name" = edge ] && port=$edge_port
    read -r rps p50 p99 cpu user sys < <(run "$name" "$port")
    printf '%-8s %5s %12.0f %10.3f %10.3f %12.2f %8.2f %8.2f\n' "$name" "$round" "$rps" "$p50" "$p99" "$cpu" "$user" "$sys"
    echo "$name $rps $p50 $p99 $cpu $user $sys" >>"$dir/results"
  done
done

# The best round of each (by req/s), the spread of req/s over the rounds, and the ratios.
awk '
  { n[$1]++; if (!($1 in best) || $2 > best[$1]) { best[$1] = $2; p50[$1] = $3; p99[$1] = $4 }
    if (!($1 in lo) || $2 < lo[$1]) lo[$1] = $2 }
  END {
    for (k in best) printf "best %-6s %9.0f req/s  p50 %.3f ms  p99 %.3f ms  (req/s spread %.0f..%.0f over %d rounds)\n", k, best[k], p50[k], p99[k], lo[k], best[k], n[k]
    printf "ratio edge/nginx (best rounds): req/s %.2fx, p99 %.2fx (target: req/s >= 1.00x, p99 <= 1.00x)\n", best["edge"] / best["nginx"], p99["edge"] / p99["nginx"]
  }' "$dir/results" | sort
# Each round runs nginx then the edge back to back, so a round's pair saw the same machine.
awk '
  function sort(a, n,  i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  }
  $1 == "nginx" { n++; nr[n] = $2; np[n] = $4; nc[n] = $5; nu[n] = $6; ns[n] = $7 }
  $1 == "edge"  { e++; er[e] = $2; ep[e] = $4; ec[e] = $5; eu[e] = $6; es[e] = $7 }
  END {
    for (i = 1; i <= e; i++) {
      r[i] = er[i] / nr[i]; q[i] = ep[i] / np[i]; c[i] = ec[i] / nc[i]
      # The kernel time of the edge alone against all of the CPU time of nginx: the ratio the
      # CPU per request of the edge could reach if its own code cost nothing.
      f[i] = es[i] / nc[i]
    }
    # Each figure sorted on its own: the spread and the median of each.
    sort(r, e); sort(q, e); sort(c, e); sort(f, e); sort(nu, e); sort(ns, e); sort(eu, e); sort(es, e)
    m = int((e + 1) / 2)
    printf "ratio edge/nginx per round: req/s %.2fx..%.2fx (median %.2fx), p99 %.2fx..%.2fx (median %.2fx), CPU per request %.2fx..%.2fx (median %.2fx)\n", r[1], r[e], r[m], q[1], q[e], q[m], c[1], c[e], c[m]
    printf "CPU per request, median of the rounds: nginx user %.2f us + system %.2f us, edge user %.2f us + system %.2f us\n", nu[m], ns[m], eu[m], es[m]
    printf "system time of the edge / CPU time of nginx, per request: %.2fx..%.2fx (median %.2fx): the floor of the CPU ratio while both make the same system calls\n", f[1], f[e], f[m]
  }' "$dir/results"

# Upstream connection reuse: connects should stay near the number of wrk connections.
curl -s "http://127.0.0.1:$admin_port/metrics" | awk '
  /^originlens_edge_upstream_connection_events_total/ { split($1, a, "\""); ev[a[2]] = $2 }
  END { printf "edge upstream: %d connects, %d reuses (%.2f%% reused)\n", ev["connect"], ev["reuse"], 100 * ev["reuse"] / (ev["reuse"] + ev["connect"] + 1e-9) }'

[ "$profile" = 1 ] || exit 0
# Where the edge's CPU goes under the same load: sampled call stacks, then system calls counted
# over a run of its own (strace slows the edge down; the count per request is what it shows).
echo "profile: perf record -g of the edge under wrk -t$threads -c$conns -d${secs}s"
perf record -q -e cpu-clock -F 999 -g -o "$dir/perf.data" -p "$edge_pid" -- sleep "$secs" 2>/dev/null &
perf_pid=$!
wrk -t"$threads" -c"$conns" -d"${secs}s" "http://127.0.0.1:$edge_port/" >/dev/null
wait "$perf_pid"
echo "share of the edge's CPU samples by object, then by symbol (1 % and more):"
perf report -q -i "$dir/perf.data" -g none --no-children --sort dso 2>/dev/null | awk 'NF { print "  " $0 }' || true
perf report -q -i "$dir/perf.data" -g none --no-children --sort dso,symbol --percent-limit 1 2>/dev/null |
  awk 'NF { print "  " substr($0, 1, 110) }' || true
# syscalls NAME PORT: system calls per request of the proxy NAME under a run of its own.
syscalls() {
  local attach=() p
  for p in $(proxy_pids "$1"); do attach+=(-p "$p"); done
  strace -c -f -o "$dir/strace-$1.txt" "${attach[@]}" &
  local strace_pid=$!
  sleep 1
  wrk -t"$threads" -c"$conns" -d5s "http://127.0.0.1:$2/" >"$dir/strace-$1.wrk"
  kill -INT "$strace_pid"
  wait "$strace_pid" 2>/dev/null || true
  local requests; requests=$(awk '/requests in/ { print $1 }' "$dir/strace-$1.wrk")
  echo "$1: system calls per request under strace ($requests requests; wrk's and the origin's not counted):"
  awk -v n="$requests" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { calls = $4; name = $NF; printf "  %-16s %8.2f\n", name, calls / n; total += calls }
    END { printf "  %-16s %8.2f\n", "all", total / n }' "$dir/strace-$1.txt"
}
syscalls edge "$edge_port"
syscalls nginx "$nginx_port"
