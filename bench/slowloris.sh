#!/usr/bin/env bash
# Slow clients at full size against `originlens edge` (its default timeouts: header 60 s, body
# 60 s between reads, send 60 s) in front of the lab, while a normal visitor sends a GET every
# 5 ms and measures its latency:
#   SLOWLORIS_CONNECTIONS (5000) slowloris connections, one header byte every SLOWLORIS_EVERY_S
#   (10) seconds each, reconnecting when closed; SLOWLORIS_MOVING_BODIES (500) request bodies
#   that keep moving (a byte every 30 s) and SLOWLORIS_STALLED_BODIES (200) that stall;
#   SLOWLORIS_SLOW_READERS (200) clients that pipeline requests and never read;
#   SLOWLORIS_SECS (120) seconds of attack after a 10 s baseline (half before, half after).
# Prints the normal visitor's p99 with and without the attack and their ratio, the edge's RSS
# before and at the peak, and when the slow connections were closed; fails like the CI test
# (crates/cli/tests/slow_clients.rs) when a figure is out of bounds.
#
# Usage: bench/slowloris.sh
#        SLOWLORIS_CONNECTIONS=2000 SLOWLORIS_EVERY_S=5 bench/slowloris.sh
set -euo pipefail
cd "$(dirname "$0")/.."

conns=${SLOWLORIS_CONNECTIONS:-5000}
# Each side (the clients, the edge) holds one socket per connection, plus the rest.
need=$((conns + 2048))
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt "$need" ]; then
    echo "the open-files limit is $(ulimit -n), $conns connections need $need: raise it (ulimit -Hn, /etc/security/limits.conf)" >&2
    exit 1
fi
echo "open-files limit $(ulimit -n); $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
cargo test --release --locked -p originlens --test slow_clients -- \
    --ignored --exact full_size_from_env --nocapture
