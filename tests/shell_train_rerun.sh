#!/usr/bin/env bash
# One grid job rerun alone: `veil train --from OUT --job N` gives the numbers of job N in
# OUT/results.jsonl (every field but timings) and the same model twice; --job list names
# the jobs; veil train takes any 64-bit seed; options --from sets itself are refused.
# $1: the veil binary, $2: a scratch directory.
set -euo pipefail
veil=$1; tmp=$2
rm -rf "$tmp"; mkdir -p "$tmp"
echo "leak:libfontconfig.so" > "$tmp/lsan.supp"
export LSAN_OPTIONS="suppressions=$tmp/lsan.supp:print_suppressions=0"
fail() { echo "FAILED: $*" >&2; exit 1; }

"$veil" corpus synth --out "$tmp/corpus" --speakers 8 --female 4 --seconds 6 --threads 1 >/dev/null
"$veil" experiment --corpus "$tmp/corpus" --out "$tmp/out" --cache "$tmp/cache" --preset quick --st 4 \
    --attack-groups 1 --groups 1,2 --methods reference,siamese --cv 2 --siamese-epochs 2 \
    --gender-epochs 1 --reference-epochs 1 --attack-epochs 1 --filter-divisor 16 --precision fp32 \
    --threads 1 --seed 3 -q > /dev/null
[ "$(wc -l < "$tmp/out/results.jsonl")" -eq 6 ] || fail "the grid has $(wc -l < "$tmp/out/results.jsonl") jobs, not 6"

"$veil" train --from "$tmp/out" --job list > "$tmp/jobs.txt"
grep -q "^4 *siamese *1 *1$" "$tmp/jobs.txt" || fail "--job list: $(cat "$tmp/jobs.txt")"

# timings apart, the rerun's line is the grid's line for the same job
strip() {
    python3 -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l)
    for k in list(d):
        if k in ("seconds", "stages", "time", "timing") or k.endswith("_seconds"): d.pop(k)
    print(json.dumps(d, sort_keys=True))'
}
for job in 3 4; do
    "$veil" train --from "$tmp/out" --job $job --cache "$tmp/cache" --threads 1 --json -q \
        -o "$tmp/job$job.safetensors" > "$tmp/rerun$job.json"
    want=$(sed -n "$((job + 1))p" "$tmp/out/results.jsonl" | strip)
    got=$(strip < "$tmp/rerun$job.json")
    [ "$want" = "$got" ] || fail "job $job rerun differs:
grid:  $want
rerun: $got"
done
"$veil" train --from "$tmp/out" --job 4 --cache "$tmp/cache" --threads 1 --json -q -o "$tmp/again.safetensors" >/dev/null
cmp -s "$tmp/job4.safetensors" "$tmp/again.safetensors" || fail "two reruns of job 4 saved different models"

# refused: a job outside the grid, options that --from takes from OUT
if "$veil" train --from "$tmp/out" --job 6 -o "$tmp/x.safetensors" 2> "$tmp/err"; then fail "job 6 of 6 accepted"; fi
grep -q "0\.\.5" "$tmp/err" || fail "job range message: $(cat "$tmp/err")"
if "$veil" train --from "$tmp/out" --job 1 --groups 2 -o "$tmp/x.safetensors" 2> "$tmp/err"; then fail "--from with --groups accepted"; fi
grep -q "from OUT" "$tmp/err" || fail "--from conflict message: $(cat "$tmp/err")"

# a 64-bit seed, as results.jsonl records them
"$veil" train --corpus "$tmp/corpus" --cache "$tmp/cache" --method siamese --groups 1 --st 4 --epochs 1 \
    --gender-epochs 1 --filter-divisor 16 --precision fp32 --threads 1 --seed 18446744073709551615 -q \
    -o "$tmp/big.safetensors" > /dev/null || fail "a 64-bit seed refused"
echo "shell_train_rerun: ok"
