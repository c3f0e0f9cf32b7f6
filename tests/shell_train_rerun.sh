#!/usr/bin/env bash
# One grid job rerun alone: `veil train --from OUT --job N` gives the numbers of job N in
# OUT/results.jsonl (every field but timings) for every job of two grids: one in fp32 on 2
# threads with an adversarial sweep (its knob values, the value iteration 0 selected, the
# attacker-validation group on iteration 0 only), one in the CPU's own precision (bf16
# where the CPU has it) on 1 thread. The rerun uses the recorded threads and precision,
# warns when --threads differs, and refuses a precision the CPU lacks; the MFCC patches are
# the same bytes at any thread count (docs/protocol.md, "Rerunning one job"). --job list
# names the jobs under a header with G and the knob values; veil train takes any 64-bit
# seed; options --from sets itself are refused.
# $1: the veil binary, $2: a scratch directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"

tiny_corpus "$tmp/corpus" 12 6
small=(--preset quick --st 4 --attack-groups 1 --groups 1 --siamese-epochs 2 --gender-epochs 1
       --reference-epochs 1 --adv-epochs 1 --attack-epochs 1 --filter-divisor 16 --seed 3 -q)
# grid A: fp32, 2 threads, adversarial swept over two values at G = 2, 2 iterations
"$veil" experiment --corpus "$tmp/corpus" --out "$tmp/a" --cache "$tmp/cache" "${small[@]}" \
    --methods reference,siamese,adversarial --adv-lambda 0.1,1 --sweep-groups 2 --cv 2 \
    --precision fp32 --threads 2 > /dev/null
[ "$(wc -l < "$tmp/a/results.jsonl")" -eq 7 ] || fail "grid A has $(wc -l < "$tmp/a/results.jsonl") jobs, not 7"
# grid B: the CPU's precision (auto: bf16 where it has it), 1 thread, the corpus given as a
# relative path: config.json and report.md name it as given, no machine's absolute path
(cd "$tmp" && "$veil" experiment --corpus corpus --out b --cache cache "${small[@]}" \
    --methods reference,siamese --cv 1 --precision auto --threads 1 > /dev/null)
grep -q '^- corpus: `corpus` (' "$tmp/b/report.md" || fail "report.md: $(grep corpus "$tmp/b/report.md" | head -2)"
if grep -qF "$tmp" "$tmp/b/report.md" "$tmp/b/config.json"; then fail "an absolute path in grid B's report or config"; fi

"$veil" train --from "$tmp/a" --job list > "$tmp/jobs.txt"
python3 - "$tmp/jobs.txt" "$tmp/a/results.jsonl" <<'EOF' || fail "--job list: $(cat "$tmp/jobs.txt")"
import json, sys
rows = [l.split() for l in open(sys.argv[1])]
assert rows[0][:4] == ["job", "method", "G", "iteration"], rows[0]
body = rows[1:]
assert len(body) == 7, body
assert body[1][:4] == ["1", "siamese", "1", "0"] and len(body[1]) == 4, body[1]
adv = [r for r in body if r[1] == "adversarial"]
assert all(r[2] == "2" for r in adv), adv                      # the sweep's G, not 0
assert [r[4] for r in adv[:2]] == ["adv_lambda=0.1", "adv_lambda=1"], adv
# iteration 1 runs the value iteration 0 selected: the one results.jsonl holds for it
lines = [json.loads(l) for l in open(sys.argv[2])]
sel = [l["settings"]["adv_lambda"] for l in lines if l["method"] == "adversarial" and l["iteration"] == 1]
assert adv[2][3] == "1" and adv[2][4] == "adv_lambda=%g" % sel[0] and "selected" in " ".join(adv[2]), adv[2]
EOF
# the columns stay under their header with every method of the table in the grid (the
# longest name, best-response, is wider than the others)
mkdir -p "$tmp/wide"
python3 - "$tmp/a/config.json" "$tmp/wide/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["methods"] = c["methods"] + ["best-response", "bottleneck", "raw"]
json.dump(c, open(sys.argv[2], "w"))
EOF
"$veil" train --from "$tmp/wide" --job list > "$tmp/wide.txt"
python3 - "$tmp/wide.txt" <<'EOF' || fail "--job list columns: $(cat "$tmp/wide.txt")"
import sys
lines = open(sys.argv[1]).read().splitlines()
g_end = lines[0].index(" G ") + 2       # G is right-aligned under its header
assert any(" best-response " in l for l in lines), lines
for l in lines[1:]:
    assert l[g_end - 1].isdigit() and l[g_end] == " " and l[g_end - 2] == " ", l
EOF

# timings apart, the rerun's line is the grid's line for the same job (found by method,
# G, iteration and settings, so a wrong knob value finds no line)
same() { # results.jsonl rerun.json
    python3 - "$1" "$2" <<'EOF'
import json, sys
def strip(d):
    return {k: v for k, v in d.items() if not (k in ("seconds", "stages", "time", "timing") or k.endswith("_seconds"))}
got = strip(json.loads(open(sys.argv[2]).read()))
key = lambda d: (d["method"], d["groups"], d["iteration"], json.dumps(d.get("settings"), sort_keys=True))
want = [w for w in (strip(json.loads(l)) for l in open(sys.argv[1])) if key(w) == key(got)]
if len(want) != 1: sys.exit("no grid line with the rerun's method, G, iteration and settings: %s" % (key(got),))
diff = ["%s: grid %s, rerun %s" % (k, want[0].get(k), got.get(k)) for k in sorted(set(want[0]) | set(got))
        if want[0].get(k) != got.get(k)]
if diff: sys.exit("\n".join(diff))
EOF
}
for job in 0 1 2 3 4 5 6; do
    "$veil" train --from "$tmp/a" --job $job --cache "$tmp/cache" --json -q -o "$tmp/a$job.safetensors" \
        > "$tmp/rerun-a$job.json"
    same "$tmp/a/results.jsonl" "$tmp/rerun-a$job.json" || fail "grid A job $job: the rerun differs"
done
for job in 0 1; do
    (cd "$tmp" && "$veil" train --from b --job $job --cache cache --json -q -o "b$job.safetensors" > "rerun-b$job.json")
    same "$tmp/b/results.jsonl" "$tmp/rerun-b$job.json" || fail "grid B job $job: the rerun differs"
done
"$veil" train --from "$tmp/a" --job 1 --cache "$tmp/cache" --json -q -o "$tmp/again.safetensors" >/dev/null
cmp -s "$tmp/a1.safetensors" "$tmp/again.safetensors" || fail "two reruns of job 1 saved different models"

# another thread count: a warning that names both counts (the numbers are not promised)
"$veil" train --from "$tmp/a" --job 0 --cache "$tmp/cache" --threads 1 -q -o "$tmp/t1.safetensors" \
    > /dev/null 2> "$tmp/err" || fail "--threads 1 refused: $(cat "$tmp/err")"
grep -q "warning:.* 2 threads .* on 1" "$tmp/err" || fail "no warning for another thread count: $(cat "$tmp/err")"
# a precision this CPU lacks (DNNL_MAX_CPU_ISA=AVX2 takes bf16 away): refused, naming config.json
mkdir "$tmp/a16"; cp "$tmp/a/results.jsonl" "$tmp/a16/"
sed 's/"resolved":[[:space:]]*"fp32"/"resolved": "bf16"/' "$tmp/a/config.json" > "$tmp/a16/config.json"
grep -q '"bf16"' "$tmp/a16/config.json" || fail "test setup: no bf16 in the edited config.json"
if DNNL_MAX_CPU_ISA=AVX2 "$veil" train --from "$tmp/a16" --job 0 --cache "$tmp/cache" -q \
    -o "$tmp/x.safetensors" > /dev/null 2> "$tmp/err"; then fail "a bf16 grid rerun on a CPU without bf16"; fi
grep -q "a16/config.json: the grid ran in bf16" "$tmp/err" || fail "bf16 refusal message: $(cat "$tmp/err")"
[ ! -e "$tmp/x.safetensors" ] || fail "a refused rerun wrote its model"

# the MFCC patches are the same bytes at 1 and 2 threads
"$veil" corpus features "$tmp/corpus" --cache "$tmp/c1" --threads 1 -q > /dev/null
"$veil" corpus features "$tmp/corpus" --cache "$tmp/c2" --threads 2 -q > /dev/null
[ "$(ls "$tmp/c1")" = "$(ls "$tmp/c2")" ] || fail "patch caches named differently"
for f in "$tmp"/c1/*; do cmp -s "$f" "$tmp/c2/$(basename "$f")" || fail "$(basename "$f") differs at 1 and 2 threads"; done

# refused: a job outside the grid, options that --from takes from OUT
if "$veil" train --from "$tmp/a" --job 7 -o "$tmp/x.safetensors" 2> "$tmp/err"; then fail "job 7 of 7 accepted"; fi
grep -q "0\.\.6" "$tmp/err" || fail "job range message: $(cat "$tmp/err")"
if "$veil" train --from "$tmp/a" --job 1 --groups 2 -o "$tmp/x.safetensors" 2> "$tmp/err"; then fail "--from with --groups accepted"; fi
grep -q "from OUT" "$tmp/err" || fail "--from conflict message: $(cat "$tmp/err")"

# a 64-bit seed, as results.jsonl records them
"$veil" train --corpus "$tmp/corpus" --cache "$tmp/cache" --method siamese --groups 1 --st 4 --epochs 1 \
    --gender-epochs 1 --filter-divisor 16 --precision fp32 --threads 1 --seed 18446744073709551615 -q \
    -o "$tmp/big.safetensors" > "$tmp/big.txt" || fail "a 64-bit seed refused"
grep -q ", 1 epoch$" "$tmp/big.txt" || fail "one epoch in the plural: $(cat "$tmp/big.txt")"

# progress: on a terminal the extraction for evaluation shows itself; in a log (stderr a
# file) no progress line at all, only the stages' one-line summaries
one=(--corpus "$tmp/corpus" --cache "$tmp/cache" --method siamese --groups 1 --st 4 --epochs 1 --gender-epochs 1
     --filter-divisor 16 --precision fp32 --threads 1 --extract-batch 8)
"$veil" train "${one[@]}" -o "$tmp/log.safetensors" > /dev/null 2> "$tmp/log.txt"
if grep -q $'\r\|\033' "$tmp/log.txt"; then fail "progress drawn into a log: $(cat -A "$tmp/log.txt" | head -5)"; fi
if grep -q "extracting features" "$tmp/log.txt"; then fail "extraction progress in a log"; fi
grep -q "(Siamese): 1 epoch, " "$tmp/log.txt" || fail "one Siamese epoch in the plural: $(cat "$tmp/log.txt")"
"$veil" train --corpus "$tmp/corpus" --cache "$tmp/cache" --method reference --groups 1 --st 4 --reference-epochs 1 \
    --gender-epochs 1 --filter-divisor 16 --precision fp32 --threads 1 -o "$tmp/ref.safetensors" > /dev/null 2> "$tmp/ref.txt"
grep -q ": 1 epoch, best 1" "$tmp/ref.txt" || fail "one reference epoch in the plural: $(cat "$tmp/ref.txt")"
# -o -: the model alone on standard output (the report on standard error), the bytes of -o FILE
"$veil" train "${one[@]}" -q -o - > "$tmp/stdout.safetensors" 2> "$tmp/stdout.err"
"$veil" train "${one[@]}" -q -o "$tmp/file.safetensors" > /dev/null
cmp -s "$tmp/stdout.safetensors" "$tmp/file.safetensors" || fail "train -o - is not the model -o FILE writes"
grep -q "^saved -" "$tmp/stdout.err" || fail "train -o -: no report on standard error"
if "$veil" train "${one[@]}" -q --json -o - > /dev/null 2> "$tmp/err"; then fail "--json with -o - accepted"; fi
grep -q "both write to standard output" "$tmp/err" || fail "--json with -o -: $(cat "$tmp/err")"
if command -v script > /dev/null; then
    script -qec "$(printf '%q ' "$veil" train "${one[@]}" -o "$tmp/tty.safetensors")" /dev/null > "$tmp/tty.txt" 2>&1 ||
        fail "train under a terminal: $(cat "$tmp/tty.txt")"
    grep -q "extracting features [0-9]*/[0-9]* patches" "$tmp/tty.txt" || fail "no extraction progress on a terminal: $(cat -A "$tmp/tty.txt" | head)"
else
    echo "skipped: the terminal progress (no script(1))"
fi
echo "shell_train_rerun: ok"
