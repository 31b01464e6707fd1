#!/usr/bin/env bash
# Instructions per byte, under callgrind, for bare httparse and for the classifier (reader +
# Cloudflare verdict with full findings) on the corpus of bench/wire.sh, per shape and in total.
# Each figure is (instructions of 1 + N passes - instructions of 1 pass) / (N * bytes of a
# pass), so start-up and the corpus' construction are left out. httparse picks its SIMD path
# at run time; valgrind reports the host's AVX2 to it.
# Then the classifier with each head fed in 1, 10, 100 and 1000 reads: the instructions per
# extra read must stay about the same (linear growth); the script fails if they grow with the
# number of reads.
# valgrind counts each byte a `rep movsb` copies as an instruction, so the copy of a head into
# the reader would weigh 1 instruction a byte, about ten times what it costs on the CPU; glibc is
# told to copy with vector loads instead (GLIBC_TUNABLES), for both programs.
# Usage: bench/wire-callgrind.sh [PASSES]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
passes="${1:-20}"
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind" >&2; exit 3; }
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p originlens-wire --example wire_loop 2>/dev/null
bin="$target/release/examples/wire_loop"
splits="$(mktemp)"
trap 'rm -f "$splits"' EXIT
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
export GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=2147483647
count() { # mode passes shape -> instructions
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" 2>&1 >/dev/null \
        | sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
printf '%-15s %7s %14s %14s %8s\n' shape bytes "httparse i/B" "originlens i/B" ratio
for shape in api html cdn shop flood small-fields set-cookie-run long-value obs-fold all; do
    bytes="$("$bin" httparse 0 "$shape")"
    line="$shape $bytes"
    for mode in httparse originlens; do
        one="$(count "$mode" 1 "$shape")"
        many="$(count "$mode" $((passes + 1)) "$shape")"
        line="$line $(( many - one ))"
    done
    read -r s b h o <<<"$line"
    python3 -c "import sys; s,b,h,o,n=sys.argv[1],int(sys.argv[2]),int(sys.argv[3]),int(sys.argv[4]),int(sys.argv[5]); print(f'{s:15} {b:7} {h/n/b:14.2f} {o/n/b:14.2f} {h/o:7.2f}x')" "$s" "$b" "$h" "$o" "$passes"
done

echo "split feeding (all shapes, each head in up to READS reads), instructions per pass:"
base=""
for reads in 1 10 100 1000; do
    read -r _ made <<<"$("$bin" split 0 "$reads")"
    one="$(count split 1 "$reads")"
    many="$(count split $((passes + 1)) "$reads")"
    per=$(( (many - one) / passes ))
    if [ -z "$base" ]; then
        base=$per base_made=$made
        printf '  %5s reads a head (%6s reads a pass): %9s\n' "$reads" "$made" "$per"
    else
        extra=$(( (per - base) / (made - base_made) ))
        printf '  %5s reads a head (%6s reads a pass): %9s  (%s more per extra read)\n' \
            "$reads" "$made" "$per" "$extra"
        echo "$reads $extra" >>"$splits"
    fi
done
python3 - "$splits" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
# Linear: an extra read costs about the same at 1000 reads a head as at 100 (rescanning or
# copying what is buffered would make it ten times as much).
(_, at100), (_, at1000) = rows[-2], rows[-1]
if at1000 > 1.5 * at100 + 50:
    sys.exit(f"split feeding is not linear: {rows} (instructions per extra read)")
print(f"linear: {at100} instructions per extra read at 100 reads a head, {at1000} at 1000")
PY
