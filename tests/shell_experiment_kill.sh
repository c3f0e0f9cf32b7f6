#!/usr/bin/env bash
# kill -9 at random moments of a tiny experiment grid, resume each time, and compare the
# results with an uninterrupted run: every field but the timings must be the same, every
# job once (issue 11). The seed of the kill moments is printed, so a failure can be rerun:
# VEIL_KILL_SEED=N. $1: the veil binary, $2: a scratch directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
seed=${VEIL_KILL_SEED:-$(( $(date +%s) % 32768 ))}
kills=${VEIL_KILLS:-5}
RANDOM=$seed
echo "kill moments from seed $seed ($kills kills)"

tiny_corpus "$tmp/corpus" 8 6
grid=(--corpus "$tmp/corpus" --cache "$tmp/cache" --preset quick --st 4 --attack-groups 1 --groups 1,2
      --methods reference,siamese --cv 2 --siamese-epochs 1 --gender-epochs 1 --reference-epochs 1
      --attack-epochs 1 --filter-divisor 16 --precision fp32 --threads 1 --seed 3)

t0=$(date +%s.%N)
"$veil" experiment "${grid[@]}" --out "$tmp/whole" >"$tmp/whole.log" 2>&1 || { cat "$tmp/whole.log"; fail "uninterrupted run"; }
t1=$(date +%s.%N)
whole_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
[ "$(wc -l <"$tmp/whole/results.jsonl")" -eq 6 ] || fail "uninterrupted run: 6 jobs expected"

# kill at a moment anywhere in the uninterrupted run's duration (startup, a job, a line
# being written, the report), then resume; a run that finishes first just finishes
killed=0
for k in $(seq 1 "$kills"); do
  ms=$(( RANDOM % (whole_ms + 1) ))
  "$veil" experiment "${grid[@]}" --out "$tmp/killed" >>"$tmp/killed.log" 2>&1 &
  pid=$!
  sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null || true
  lines=$( [ -f "$tmp/killed/results.jsonl" ] && wc -l <"$tmp/killed/results.jsonl" || echo 0)
  echo "kill $k at ${ms} ms: $lines job line(s) kept"
done
"$veil" experiment "${grid[@]}" --out "$tmp/killed" >"$tmp/resume.log" 2>&1 || { cat "$tmp/resume.log"; fail "final resume"; }

# the same lines, timings aside, in any order, each job once
# (timings: every field named *seconds, a number or a flat object of numbers)
strip() { sed -E 's/"stages":\{[^}]*\}//g; s/"[a-z_]*seconds":(\{[^}]*\}|[^,}]*)//g; s/,,+/,/g; s/,\}/}/g; s/\{,/{/g' "$1" | sort; }
strip "$tmp/whole/results.jsonl" >"$tmp/a"
strip "$tmp/killed/results.jsonl" >"$tmp/b"
if ! cmp -s "$tmp/a" "$tmp/b"; then diff "$tmp/a" "$tmp/b" >&2 || true; fail "results differ after $killed kill(s) (seed $seed)"; fi
[ "$(wc -l <"$tmp/b")" -eq 6 ] || fail "6 job lines expected"
[ "$(cut -d, -f1-12 "$tmp/whole/summary.csv")" = "$(cut -d, -f1-12 "$tmp/killed/summary.csv")" ] ||
  fail "summary differs (timings aside)"
left=$(find "$tmp/killed" -name '*.veil-tmp.*' | wc -l)
[ "$left" -eq 0 ] || fail "temporary files left in OUT after the last run: $left"
echo "shell_experiment_kill: ok ($killed of $kills runs killed, uninterrupted run ${whole_ms} ms, seed $seed)"
