#!/bin/sh
# Attacker-head training speed of veil against the same MLP in PyTorch, same machine, same
# run: one epoch (990 samples, batch 90) of D -> 1024 -> 20 at D = 16384, 4096 and 1024 (the
# features of G = 1, 2-3 and 4-5), fp32 and bf16 (bf16 only where the CPU has it).
# usage: bench/head.sh [path/to/veil] [threads] [dims...]
# Prints a table; ratios > 1 mean veil is faster. The first line per D also gives what
# this machine allows for one step (veil bench head --bound) and how close veil gets.
# Both programs run under the same OMP_WAIT_POLICY (veil's default, PASSIVE, unless set).
# Report the load printed before and after with the numbers: on a shared machine they move.
set -eu
VEIL=${1:-build/veil}
THREADS=${2:-2}
shift 2 2>/dev/null || shift $#
DIMS=${*:-16384 4096 1024}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

PRECS=fp32
if grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null; then PRECS="fp32 bf16"; fi

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for d in $DIMS; do
    for p in $PRECS; do
        v=$("$VEIL" bench head --in-dim "$d" --precision "$p" --threads "$THREADS" --bound --json)
        t=$(OMP_NUM_THREADS=$THREADS $PY "$HERE/bench_head.py" --in-dim "$d" --precision "$p" --threads "$THREADS")
        echo "$d $p $v $t" >>"$OUT"
        echo "done D=$d $p" >&2
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

$PY - "$OUT" <<'PY'
import json, sys
print("| D | prec | veil step ms | torch step ms | ratio | bound ms (GEMM GFLOP/s, stream GB/s) | veil at % of bound | veil RSS MiB | torch RSS MiB |")
print("|---|---|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    d, p, rest = line.split(" ", 2)
    dec = json.JSONDecoder()
    v, i = dec.raw_decode(rest)
    t, _ = dec.raw_decode(rest[i:].strip())
    print(f"| {d} | {p} | {v['step_ms']:.1f} | {t['step_ms']:.1f} | {t['step_ms']/v['step_ms']:.2f}x "
          f"| {v['bound_ms']:.1f} ({v['gemm_gflops']:.0f}, {v['stream_gbs']:.1f}) | {100*v['of_bound']:.0f} % "
          f"| {v['peak_rss_mib']:.0f} | {t['peak_rss_mib']:.0f} |")
PY
