#!/usr/bin/env bash
# veil bench head --bound: its options, and a bound whose Adam bytes are the head's
# (28 per parameter value); no timing is checked. $1 = the veil binary, $2 = a scratch folder
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"

# D = 64: 64 x 1024 + 1024 + 20 x 1024 + 20 values
bytes=$((28 * (64 * 1024 + 1024 + 20 * 1024 + 20)))
for adam in "" --plain-adam; do
    "$veil" bench head --in-dim 64 --repeat 1 --threads 1 --bound --json $adam >"$tmp/head.json"
    python3 - "$tmp/head.json" "$bytes" "${adam:-fused}" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["adam_bytes"] == int(sys.argv[2]), r["adam_bytes"]
assert r["adam"].startswith("plain" if sys.argv[3] == "--plain-adam" else "fused"), r["adam"]
for k in ("gemm_fwd_ms", "gemm_wgrad_ms", "stream_ms", "bound_ms", "step_ms"):
    assert r[k] > 0, k
assert r["gemm_fwd_by"] in ("inner_product", "matmul") and r["gemm_wgrad_by"] in ("inner_product", "matmul")
assert abs(r["bound_ms"] - r["gemm_fwd_ms"] - r["gemm_wgrad_ms"] - r["stream_ms"]) < 0.02, r
PYEOF
done
"$veil" bench head --in-dim 64 --repeat 1 --threads 1 --bound >"$tmp/head.txt"
grep -q "^bound: GEMMs .* Adam pattern, 2.4 MB on the step's arrays" "$tmp/head.txt" || fail "text bound line: $(cat "$tmp/head.txt")"
"$veil" bench head --in-dim 64 --repeat 1 --json >"$tmp/plain.json"
grep -q '"bound_ms"' "$tmp/plain.json" && fail "bound fields without --bound"
# a value out of range exits 1 and names the option; an unknown option is a usage error (2)
for bad in "--in-dim 0" "--repeat 0" "--threads 0"; do
    rc=0
    # shellcheck disable=SC2086
    "$veil" bench head $bad 2>"$tmp/err" >/dev/null || rc=$?
    [ "$rc" -eq 1 ] && grep -q -- "${bad% *}" "$tmp/err" || fail "bench head $bad: exit $rc, $(cat "$tmp/err")"
done
rc=0
"$veil" bench head --bounds 2>"$tmp/err" >/dev/null || rc=$?
[ "$rc" -eq 2 ] && grep -q "did you mean '--bound'" "$tmp/err" || fail "--bounds: exit $rc, $(cat "$tmp/err")"
echo "shell_bench: ok"
