#!/usr/bin/env bash
# veil experiment from the command line: a tiny grid in two chunks (--max-jobs 1, then the
# rest), the outputs, --report-only, a refused configuration change and usage errors.
# $1: the veil binary, $2: a scratch directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"

tiny_corpus "$tmp/corpus" 8 6
tiny=(--corpus "$tmp/corpus" --out "$tmp/out" --cache "$tmp/cache" --preset quick --st 4
      --attack-groups 1 --groups 1 --methods siamese --cv 2 --siamese-epochs 1 --gender-epochs 1
      --attack-epochs 1 --filter-divisor 16 --precision fp32 --threads 1 --seed 3)

"$veil" experiment "${tiny[@]}" --max-jobs 1 >"$tmp/log1" 2>&1 || { cat "$tmp/log1"; fail "first chunk"; }
[ "$(wc -l <"$tmp/out/results.jsonl")" -eq 1 ] || fail "one job after --max-jobs 1"
first=$(head -n1 "$tmp/out/results.jsonl")
grep -q "job 1/2 siamese G=1 iteration 0" "$tmp/log1" || fail "progress line of the finished job"

"$veil" experiment "${tiny[@]}" >"$tmp/log2" 2>&1 || { cat "$tmp/log2"; fail "second chunk"; }
[ "$(wc -l <"$tmp/out/results.jsonl")" -eq 2 ] || fail "two jobs in all"
[ "$(head -n1 "$tmp/out/results.jsonl")" = "$first" ] || fail "first line rewritten"
grep -q '"iteration":1' "$tmp/out/results.jsonl" || fail "iteration 1 missing"
grep -q "1 done, 1 to run" "$tmp/log2" || fail "resume did not skip the finished job"
grep -q "^siamese " "$tmp/log2" || fail "summary table on stdout"
for f in config.json summary.csv report.md figure3.png figure3.svg figure4.png figure4.svg; do
  [ -s "$tmp/out/$f" ] || fail "$f missing"
done
grep -q '^siamese,1,2,' "$tmp/out/summary.csv" || fail "summary row over two runs"
[ "$(head -c 8 "$tmp/out/figure3.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "PNG signature"

# the report again from OUT alone
rm "$tmp/out/report.md"
"$veil" experiment --out "$tmp/out" --report-only >/dev/null 2>&1 || fail "--report-only"
[ -s "$tmp/out/report.md" ] || fail "report.md not rewritten"

# another configuration in the same OUT is refused by name, and nothing changes
before=$(md5sum <"$tmp/out/results.jsonl")
if "$veil" experiment "${tiny[@]}" --gender-epochs 2 >"$tmp/log3" 2>&1; then fail "changed config accepted"; fi
grep -q "train.gender_epochs" "$tmp/log3" || { cat "$tmp/log3"; fail "message does not name the field"; }
[ "$(md5sum <"$tmp/out/results.jsonl")" = "$before" ] || fail "results changed by a refused run"

# usage errors and a corpus that cannot fill the protocol: non-zero, nothing written
set +e
"$veil" experiment --corpus "$tmp/corpus" >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing --out"
"$veil" experiment "${tiny[@]}" --bogus 1 >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option"
"$veil" experiment "${tiny[@]}" --groups 7 >/dev/null 2>&1; [ $? -ne 0 ] || fail "--groups 7"
"$veil" experiment --corpus "$tmp/corpus" --out "$tmp/out2" --cache "$tmp/cache" --st 20 >"$tmp/log4" 2>&1
[ $? -ne 0 ] || fail "St 20 on 8 speakers"
set -e
[ ! -e "$tmp/out2" ] || fail "output directory created for a failed run"
grep -q "veil:" "$tmp/log4" || fail "no error message"
echo "shell_experiment: ok"
