#!/bin/sh
# Training and extraction speed of veil against the same network in PyTorch, same
# machine, same run: G = 1..5, fp32 and bf16 (bf16 only where the CPU has it).
# usage: bench/train.sh [path/to/veil] [threads] [groups...]
# Prints a table; ratios > 1 mean veil is faster. Run it on an idle machine.
set -eu
VEIL=${1:-build/veil}
THREADS=${2:-2}
shift 2 2>/dev/null || shift $#
GROUPS_LIST=${*:-1 2 3 4 5}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

PRECS=fp32
if grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null; then PRECS="fp32 bf16"; fi

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for g in $GROUPS_LIST; do
    for p in $PRECS; do
        v=$("$VEIL" bench train --groups "$g" --precision "$p" --threads "$THREADS" --json)
        t=$(OMP_NUM_THREADS=$THREADS $PY "$HERE/bench_train.py" --groups "$g" --precision "$p" --threads "$THREADS")
        echo "$g $p $v $t" >>"$OUT"
        echo "done G=$g $p" >&2
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

$PY - "$OUT" <<'EOF'
import json, sys
print("| G | prec | veil epoch s | torch epoch s | ratio | veil extr/s | torch extr/s | ratio | veil RSS MiB | torch RSS MiB |")
print("|---|---|---|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    g, p, rest = line.split(" ", 2)
    dec = json.JSONDecoder()
    v, i = dec.raw_decode(rest)
    t, _ = dec.raw_decode(rest[i:].strip())
    print(f"| {g} | {p} | {v['epoch_s']:.2f} | {t['epoch_s']:.2f} | {t['epoch_s']/v['epoch_s']:.2f}x "
          f"| {v['extract_patches_per_s']:.0f} | {t['extract_patches_per_s']:.0f} "
          f"| {v['extract_patches_per_s']/t['extract_patches_per_s']:.2f}x "
          f"| {v['peak_rss_mib']:.0f} | {t['peak_rss_mib']:.0f} |")
EOF
