#!/usr/bin/env bash
# Differential test against Debian's nginx and HAProxy at full size: COUNT generated responses
# (default 20000) from SEED (default 15), agreement per peer printed; fails on a disagreement
# not listed in crates/cli/tests/data/differential-known.tsv.
# Usage: scripts/differential.sh [COUNT] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
DIFFERENTIAL_COUNT="${1:-20000}" DIFFERENTIAL_SEED="${2:-15}" \
    cargo test -p originlens --locked --test differential -- --nocapture profiles_agree
