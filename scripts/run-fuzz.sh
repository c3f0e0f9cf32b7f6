#!/usr/bin/env bash
# Runs each libFuzzer harness of a VEIL_FUZZ build for a set time, one process each
# (no -jobs/-fork: one CPU at a time), starting from its committed seeds. New inputs go
# to BUILD/fuzz-corpus/<name>/ (kept between runs), crashes to BUILD/fuzz-crashes/<name>/.
# Prints one line per harness: seconds, executions, coverage (cov = edges, ft = features)
# and the crash files, if any. Usage: run-fuzz.sh BUILD SECONDS [name,name...]
set -uo pipefail
build=$1; seconds=${2:-60}; only=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1
status=0
summary=()
for bin in "$build"/fuzz_*; do
  name=$(basename "$bin"); name=${name#fuzz_}
  case "$name" in *_replay|*.*) continue ;; esac
  [ -x "$bin" ] || continue
  if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then continue; fi
  corpus="$build/fuzz-corpus/$name"; crashes="$build/fuzz-crashes/$name"
  mkdir -p "$corpus" "$crashes"
  log="$build/fuzz-$name.log"
  echo "== fuzz_$name: ${seconds}s =="
  "$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$corpus" "$root/tests/fuzz/$name/seeds" >"$log" 2>&1
  rc=$?
  last=$(grep -E '^#[0-9]+' "$log" | tail -n1)
  found=$(ls "$crashes" | wc -l)
  line="fuzz_$name: ${seconds}s, exit $rc, ${last:-no stats}, crash files: $found"
  echo "$line"
  summary+=("$line")
  if [ $rc -ne 0 ] || [ "$found" -ne 0 ]; then
    status=1
    grep -m1 -A12 -E 'ERROR|runtime error|deadly signal' "$log" || true
    echo "   a crash: fix it, then copy the input to tests/fuzz/$name/crashes/ (make test replays it)"
  fi
done
echo; echo "== summary =="
printf '%s\n' "${summary[@]}"
exit $status
