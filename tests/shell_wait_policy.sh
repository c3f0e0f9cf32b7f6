#!/usr/bin/env bash
# veil's OpenMP wait policy (cli/veil.c): PASSIVE unless the user set OMP_WAIT_POLICY or
# GOMP_SPINCOUNT. libgomp reads them when it loads, so veil runs itself again with the
# setting; OMP_DISPLAY_ENV makes each libgomp start print its settings, once per start.
# $1: the veil binary.
set -euo pipefail
veil=$1
fail() { echo "FAILED: $*" >&2; exit 1; }
starts() { grep -c "OPENMP DISPLAY ENVIRONMENT BEGIN" <<<"$1" || true; }

out=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=true "$veil" --version 2>&1)
[ "$(starts "$out")" -eq 2 ] || fail "no second start with the default policy: $out"
[ "$(grep "OMP_WAIT_POLICY" <<<"$out" | tail -n1 | tr -d ' ')" = "OMP_WAIT_POLICY='PASSIVE'" ] || fail "not PASSIVE: $out"
grep -q "^veil " <<<"$out" || fail "the command did not run: $out"

out=$(env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active OMP_DISPLAY_ENV=true "$veil" --version 2>&1)
[ "$(starts "$out")" -eq 1 ] || fail "re-ran although OMP_WAIT_POLICY was set"
grep -q "OMP_WAIT_POLICY = 'ACTIVE'" <<<"$out" || fail "the user's policy was not kept: $out"

out=$(env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=1000 OMP_DISPLAY_ENV=true "$veil" --version 2>&1)
[ "$(starts "$out")" -eq 1 ] || fail "re-ran although GOMP_SPINCOUNT was set"
echo "wait policy: ok"
