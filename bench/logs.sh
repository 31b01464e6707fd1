#!/usr/bin/env bash
# Throughput and memory of `originlens logs` next to ripgrep searching the catalogue's literals.
#
# Generates a mixed log of about BENCH_MB MiB (default 1024): mostly ordinary nginx access and
# error lines, PHP-FPM notices and syslog noise, with a sprinkling of catalogue lines. Then times
#   originlens logs big.log --format json          (full work: match, fields, stamps, correlation)
#   rg -F -c -f <(originlens logs --literals) big.log  (literal search only)
# on a warm page cache, best of BENCH_RUNS (default 3), and prints MB/s, the ratio and peak RSS.
#
# Usage: bench/logs.sh            (needs rg: apt-get install ripgrep, GNU time: apt-get install time)
#        BENCH_MB=256 BENCH_DIR=/tmp/x bench/logs.sh
#        BENCH_MB=100 BENCH_EVERY=40 bench/logs.sh   (one catalogue line in 40 instead of 4000:
#                                                     many incidents, for memory with --format json)
set -euo pipefail
cd "$(dirname "$0")/.."

mb=${BENCH_MB:-1024}
runs=${BENCH_RUNS:-3}
every=${BENCH_EVERY:-4000}
dir=${BENCH_DIR:-/tmp/originlens-bench}
mkdir -p "$dir"
log="$dir/mixed-${mb}M.log"
[ "$every" = 4000 ] || log="$dir/mixed-${mb}M-every${every}.log"

for tool in rg /usr/bin/time awk; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/setup-debian.sh (ripgrep) and apt-get install time" >&2; exit 2; }
done

cargo build --release -q -p originlens
bin="${CARGO_TARGET_DIR:-target}/release/originlens"

if [ ! -s "$log" ]; then
  echo "generating $log ..." >&2
  block="$dir/block.log"
  # One 8 MiB block of varied lines (fixed seed), repeated to the requested size.
  awk -v target=$((8 << 20)) -v every="$every" 'BEGIN {
    srand(42);
    split("/ /index.php /api/orders /cart /static/app.js /img/logo.png /login /search?q=x /wp-login.php /feed", paths, " ");
    split("200 200 200 200 200 304 301 404 200 200", codes, " ");
    split("Mozilla/5.0 curl/8.5.0 Googlebot/2.1 Safari/605.1.15", agents, " ");
    n = 0; bytes = 0; sec = 0;
    while (bytes < target) {
      n++; sec = (sec + (rand() < 0.3)) % 86400;
      h = int(sec / 3600); m = int(sec % 3600 / 60); s = sec % 60;
      ip = sprintf("%d.%d.%d.%d", 1 + int(rand() * 222), int(rand() * 255), int(rand() * 255), 1 + int(rand() * 253));
      r = rand();
      if (n % every == 0) {
        k = int(n / every) % 8;
        if (k == 0) line = sprintf("2024/01/02 %02d:%02d:%02d [error] 2211#2211: *%d upstream prematurely closed connection while reading response header from upstream, client: %s, server: example.com, request: \"GET /api/orders HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"example.com\"", h, m, s, n, ip);
        else if (k == 1) line = sprintf("[02-Jan-2024 %02d:%02d:%02d] WARNING: [pool www] child %d exited on signal 11 (SIGSEGV - core dumped) after 912.503112 seconds from start", h, m, s, 40000 + n % 9999);
        else if (k == 2) line = sprintf("%s - - [02/Jan/2024:%02d:%02d:%02d +0000] \"GET /api/orders HTTP/1.1\" 502 166 \"-\" \"Mozilla/5.0\"", ip, h, m, s);
        else if (k == 3) line = sprintf("2024/01/02 %02d:%02d:%02d [error] 2211#2211: *%d upstream timed out (110: Connection timed out) while reading response header from upstream, client: %s, server: example.com, request: \"GET /slow HTTP/1.1\", upstream: \"http://127.0.0.1:3000/slow\", host: \"example.com\"", h, m, s, n, ip);
        else if (k == 4) line = sprintf("Jan  2 %02d:%02d:%02d web1 kernel: [1234567.891011] Out of memory: Killed process %d (php-fpm8.2) total-vm:912340kB, anon-rss:523456kB, file-rss:1204kB, shmem-rss:45678kB, UID:33 pgtables:1400kB oom_score_adj:0", h, m, s, 40000 + n % 9999);
        else if (k == 5) line = sprintf("[02-Jan-2024 %02d:%02d:%02d] WARNING: [pool www] server reached pm.max_children setting (5), consider raising it", h, m, s);
        else if (k == 6) line = sprintf("2024/01/02 %02d:%02d:%02d [crit] 2211#2211: *%d connect() to unix:/run/php/php8.2-fpm.sock failed (2: No such file or directory) while connecting to upstream, client: %s", h, m, s, n, ip);
        else line = sprintf("[2024-01-02 %02d:%02d:%02d +0000] [1201] [CRITICAL] WORKER TIMEOUT (pid:%d)", h, m, s, 1000 + n % 999);
      } else if (r < 0.80) {
        line = sprintf("%s - - [02/Jan/2024:%02d:%02d:%02d +0000] \"GET %s HTTP/1.1\" %s %d \"https://example.com/\" \"%s\"", ip, h, m, s, paths[1 + int(rand() * 10)], codes[1 + int(rand() * 10)], int(rand() * 90000), agents[1 + int(rand() * 4)]);
      } else if (r < 0.90) {
        line = sprintf("2024/01/02 %02d:%02d:%02d [error] 2211#2211: *%d open() \"/var/www/html%s\" failed (2: No such file or directory), client: %s, server: example.com, request: \"GET %s HTTP/1.1\", host: \"example.com\"", h, m, s, n, paths[1 + int(rand() * 10)], ip, paths[1 + int(rand() * 10)]);
      } else if (r < 0.95) {
        line = sprintf("[02-Jan-2024 %02d:%02d:%02d] NOTICE: [pool www] child %d started", h, m, s, 40000 + n % 9999);
      } else {
        line = sprintf("Jan  2 %02d:%02d:%02d web1 systemd[1]: Started session-%d.scope - Session %d of User deploy.", h, m, s, n, n);
      }
      print line; bytes += length(line) + 1;
    }
  }' > "$block"
  reps=$(( (mb + 7) / 8 ))
  for _ in $(seq "$reps"); do cat "$block"; done > "$log"
  rm -f "$block"
fi

lits="$dir/literals.txt"
"$bin" logs --literals > "$lits"
size=$(stat -c %s "$log")
cat "$log" > /dev/null   # warm the page cache

# best-of-N: prints "seconds peak_kib"
best() {
  local best_s="" best_k=""
  for _ in $(seq "$runs"); do
    local out
    /usr/bin/time -f "%e %M" -o "$dir/time.txt" "$@" > /dev/null 2>&1 || true
    out=$(tail -1 "$dir/time.txt")
    local s=${out% *} k=${out#* }
    if [ -z "$best_s" ] || awk -v a="$s" -v b="$best_s" 'BEGIN { exit !(a < b) }'; then best_s=$s; best_k=$k; fi
  done
  echo "$best_s $best_k"
}

read -r ol_s ol_k < <(best "$bin" logs "$log" --format json --tz UTC --no-progress)
read -r rg_s rg_k < <(best rg -F -c -f "$lits" "$log")
matches=$(rg -F -c -f "$lits" "$log" || true)

awk -v size="$size" -v ols="$ol_s" -v olk="$ol_k" -v rgs="$rg_s" -v rgk="$rg_k" -v lits="$(wc -l < "$lits")" -v m="$matches" 'BEGIN {
  mib = size / 1048576;
  olr = mib / (ols > 0 ? ols : 0.001); rgr = mib / (rgs > 0 ? rgs : 0.001);
  printf "input:      %.0f MiB, %d literals, %d lines containing one\n", mib, lits, m;
  printf "originlens: %6.2f s  %8.0f MiB/s  peak RSS %6.1f MiB   (logs --format json)\n", ols, olr, olk / 1024;
  printf "ripgrep:    %6.2f s  %8.0f MiB/s  peak RSS %6.1f MiB   (rg -F -c -f literals)\n", rgs, rgr, rgk / 1024;
  printf "ratio:      originlens/rg throughput = %.2f\n", olr / rgr;
}'
