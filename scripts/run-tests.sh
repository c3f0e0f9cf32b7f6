#!/usr/bin/env bash
# Runs the ctest suite in the release build and in the sanitizer build.
set -uo pipefail
rel=$1; asan=$2; jobs=${3:-2}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "== release build tests =="
(cd "$rel" && ctest --output-on-failure -j "$jobs"); r1=$?
echo "== sanitizer build tests (address, undefined) =="
(cd "$asan" && ctest --output-on-failure -j "$jobs" -E '_nosan$'); r2=$?
[ $r1 -eq 0 ] && [ $r2 -eq 0 ]
