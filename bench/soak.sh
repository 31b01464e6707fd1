#!/usr/bin/env bash
# Soak with faults at full size: `originlens lab --mix` (the default mix: about 85 % clean
# responses, the rest every kind of broken head, cut body and origin 5xx) behind
# `originlens edge` with a SQLite store, driven by SOAK_VISITORS (16) keep-alive visitors for
# SOAK_REQUESTS (1,000,000) numbered requests, each response read with originlens-wire.
# Prints the requests, the lab's draws, broken responses and incidents stored, and the edge's
# RSS after warm-up (the first 10 % of requests), at its maximum after that and at the end.
# Fails like the CI test (crates/cli/tests/soak.rs) on a crash, a malformed response, an
# incident missing or with another cause than the lab drew, or RSS at the end 10 % or more
# above its value after warm-up.
# The kill -9 check runs with it (kill_9_under_load_keeps_every_acknowledged_incident).
#
# Usage: bench/soak.sh
#        SOAK_REQUESTS=200000 SOAK_VISITORS=8 bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
cargo test --release --locked -p originlens --test soak -- \
    --include-ignored --test-threads 1 --nocapture full_size_from_env kill_9_under_load
