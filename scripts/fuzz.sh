#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600) with one job, from seed corpora written
# at run time (scripts/fuzz-seeds.py), and prints executions and crashes per target.
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# FUZZ_SANITIZER=none runs without AddressSanitizer, about three times faster: the project's crates
# forbid unsafe code, so ASan only watches dependencies; panics, overflows and OOMs are caught either way.
# FUZZ_RUNS=N ends each target after N executions (or SECONDS, whichever comes first).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
shift || true
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2; exit 2; }
python3 scripts/fuzz-seeds.py
sanitizer="${FUZZ_SANITIZER:-address}"
runs="${FUZZ_RUNS:--1}"
(cd fuzz && cargo +nightly fuzz build -O -s "$sanitizer")
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
logs="$(mktemp -d)"
status=0
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    # -rss_limit_mb guards the decoders' caps; a crash leaves its input in fuzz/artifacts/<target>/.
    if ! (cd fuzz && cargo +nightly fuzz run -O -s "$sanitizer" "$t" "corpus/$t" -- \
            -max_total_time="$secs" -runs="$runs" -jobs=1 -workers=1 -rss_limit_mb=2048 -max_len=65536 \
            -print_final_stats=1) >"$logs/$t.log" 2>&1; then
        status=1
    fi
done
printf '%-18s %14s %8s %8s\n' target executions exec/s crashes
for t in "${targets[@]}"; do
    log="$logs/$t.log"
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    crashes=$(find "fuzz/artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) | wc -l)
    printf '%-18s %14s %8s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "$crashes"
    [ "$crashes" -eq 0 ] || { status=1; grep -m5 -A20 'ERROR: libFuzzer\|panicked' "$log" >&2 || true; }
done
rm -rf "$logs"
exit "$status"
