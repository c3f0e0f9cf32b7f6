# What bench/train.sh and bench/head.sh share (sourced, after VEIL, THREADS, PY and HERE
# are set): the precisions this CPU has, and the runs of both programs side by side.
PRECS=fp32
if grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null; then PRECS="fp32 bf16"; fi
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
# Both programs run under the same OpenMP wait policy (veil's default unless set).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

# compare BENCH OPTION "VALUES" [more veil options]: for every value of OPTION and every
# precision, `veil bench BENCH` and bench/bench_BENCH.py on the same work, one line each
# "VALUE PRECISION VEIL_JSON TORCH_JSON" in $OUT; the load before and after on stderr.
compare() {
    bench=$1 option=$2 values=$3
    shift 3
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    for x in $values; do
        for p in $PRECS; do
            v=$("$VEIL" bench "$bench" "$option" "$x" --precision "$p" --threads "$THREADS" "$@" --json)
            t=$(OMP_NUM_THREADS=$THREADS $PY "$HERE/bench_$bench.py" "$option" "$x" --precision "$p" --threads "$THREADS")
            echo "$x $p $v $t" >>"$OUT"
            echo "done $option $x $p" >&2
        done
    done
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
}
