#!/usr/bin/env bash
# veil experiment under Open MPI: the same tiny grid run by one process and by mpirun with
# a coordinator and two workers gives the same results (all but the timings), every job
# exactly once; --max-jobs chunks resume under MPI too.
# $1: the veil binary, $2: a scratch directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
# containers run tests as root; Open MPI refuses that unless told
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
command -v mpirun >/dev/null || fail "mpirun not found (Debian package openmpi-bin)"
# Open MPI's own allocations are still reachable at exit: no leak check under mpirun
mpi() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" mpirun -n 3 "$@"; }

tiny_corpus "$tmp/corpus" 8 6
tiny=(--corpus "$tmp/corpus" --cache "$tmp/cache" --preset quick --methods reference,siamese --st 4 --attack-groups 1
      --groups 1,2 --cv 2 --siamese-epochs 1 --gender-epochs 1 --reference-epochs 1
      --attack-epochs 1 --filter-divisor 16 --precision fp32 --threads 1 --seed 3)
norm() { # results without the timings, one sorted line per job
  sed -E 's/"seconds":[^,}]*//; s/"stages":\{[^}]*\}//; s/"attacker_seconds":\{[^}]*\}//' "$1" | sort
}

"$veil" experiment "${tiny[@]}" --out "$tmp/serial" >"$tmp/log0" 2>&1 || { cat "$tmp/log0"; fail "serial run"; }
mpi "$veil" experiment "${tiny[@]}" --out "$tmp/mpi" >"$tmp/log1" 2>&1 || { cat "$tmp/log1"; fail "mpirun"; }
[ "$(wc -l <"$tmp/mpi/results.jsonl")" -eq 6 ] || { cat "$tmp/log1"; fail "6 jobs expected"; }
[ "$(norm "$tmp/mpi/results.jsonl")" = "$(norm "$tmp/serial/results.jsonl")" ] || fail "MPI results differ from the serial run's"
grep -q "2 worker rank(s) under MPI" "$tmp/log1" || fail "coordinator line"
grep -q "(rank [12])" "$tmp/log1" || fail "progress lines name the worker rank"
for f in config.json summary.csv report.md figure3.png figure4.svg; do
  [ -s "$tmp/mpi/$f" ] || fail "$f missing"
done

# chunks: two jobs, then the rest; nothing redone
mpi "$veil" experiment "${tiny[@]}" --out "$tmp/chunks" --max-jobs 2 >"$tmp/log2" 2>&1 || { cat "$tmp/log2"; fail "first chunk"; }
[ "$(wc -l <"$tmp/chunks/results.jsonl")" -eq 2 ] || fail "two jobs after --max-jobs 2"
first=$(head -n2 "$tmp/chunks/results.jsonl")
mpi "$veil" experiment "${tiny[@]}" --out "$tmp/chunks" >"$tmp/log3" 2>&1 || { cat "$tmp/log3"; fail "second chunk"; }
grep -q "2 done, 4 to run" "$tmp/log3" || fail "resume did not skip the finished jobs"
[ "$(head -n2 "$tmp/chunks/results.jsonl")" = "$first" ] || fail "finished lines rewritten"
[ "$(norm "$tmp/chunks/results.jsonl")" = "$(norm "$tmp/serial/results.jsonl")" ] || fail "chunked MPI results differ"

# a knob swept on iteration 0: the iteration-1 job waits for the sweep's results, then runs
# the selected value, the same as in one process (2 workers: one is told to wait)
sweep=(--corpus "$tmp/corpus" --cache "$tmp/cache" --preset quick --methods adversarial --adv-lambda 0,1,3
       --sweep-groups 1 --adv-epochs 1 --st 2 --attack-groups 1 --cv 2 --gender-epochs 1 --attack-epochs 1
       --filter-divisor 16 --precision fp32 --threads 1 --seed 3)
"$veil" experiment "${sweep[@]}" --out "$tmp/sweep-serial" >"$tmp/log5" 2>&1 || { cat "$tmp/log5"; fail "serial sweep"; }
mpi "$veil" experiment "${sweep[@]}" --out "$tmp/sweep-mpi" >"$tmp/log6" 2>&1 || { cat "$tmp/log6"; fail "MPI sweep"; }
[ "$(wc -l <"$tmp/sweep-mpi/results.jsonl")" -eq 4 ] || { cat "$tmp/log6"; fail "4 sweep jobs expected"; }
[ "$(norm "$tmp/sweep-mpi/results.jsonl")" = "$(norm "$tmp/sweep-serial/results.jsonl")" ] || fail "MPI sweep differs from the serial run's"
[ "$(tail -n1 "$tmp/sweep-mpi/results.jsonl" | grep -c '"iteration":1')" -eq 1 ] || fail "the selected job ran before the sweep finished"

# a corpus that cannot fill the protocol: every rank stops, non-zero, nothing written
set +e
mpi "$veil" experiment "${tiny[@]}" --st 20 --out "$tmp/bad" >"$tmp/log4" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || fail "St 20 on 8 speakers accepted under MPI"
grep -q "veil:" "$tmp/log4" || fail "no error message"
[ ! -e "$tmp/bad/results.jsonl" ] || fail "results written for a refused run"
echo "shell_experiment_mpi: ok"
