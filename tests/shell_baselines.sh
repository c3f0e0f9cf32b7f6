#!/usr/bin/env bash
# The opt-in methods of issue 19 end to end on a tiny corpus: raw (the patch itself),
# bottleneck (a linear output layer of bn_dim values; 1 = the task posterior) and
# best-response, under every attacker; the presets leave them out; the semi-informed
# attacker's pool is every speaker but the extractor's and the group's. The raw model's
# features are the MFCC patches to the bit, the bottleneck's have bn_dim values.
# $1: the veil binary, $2: a scratch directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"

tiny_corpus "$tmp/corpus" 16 6
common=(--corpus "$tmp/corpus" --cache "$tmp/cache" --st 4 --attack-groups 2 --cv 1 --gender-epochs 1
        --attack-epochs 2 --filter-divisor 16 --precision fp32 --threads 1 --seed 3)
"$veil" experiment "${common[@]}" --out "$tmp/out" --preset quick --methods raw,bottleneck,best-response \
  --bn-dim 1,3 --bn-epochs 1 --br-epochs 1 --br-steps 3 --attackers all --save-models -v -v >"$tmp/log" 2>&1 \
  || { cat "$tmp/log"; fail "experiment"; }
# the semi-informed attacker learns from every speaker but the extractor's 4 training
# speakers and the 4 of the group it scores: 16 - 4 - 4 = 8, in each of the 2 groups of
# the 4 jobs and on the validation group of the 2 jobs of the bn_dim sweep
n=$(grep -c "semi-informed: embedding trained on .* rows of 8 speakers outside the group" "$tmp/log" || true)
others=$(grep "semi-informed: embedding trained on" "$tmp/log" | grep -vc "of 8 speakers" || true)
val=$(grep -c "validation: attacker group 1/1: semi-informed: embedding trained on" "$tmp/log" || true)
[ "$n" -eq 10 ] && [ "$others" -eq 0 ] && [ "$val" -eq 2 ] ||
  fail "semi-informed pools: $n of 10 with 8 speakers, $others others, $val on validation groups"
python3 - "$tmp/out/results.jsonl" <<'PY' || fail "results of the baselines"
import json, sys
jobs = [json.loads(l) for l in open(sys.argv[1])]
got = sorted((j["method"], j.get("settings", {}).get("bn_dim")) for j in jobs)
assert [m for m, _ in got] == ["best-response", "bottleneck", "bottleneck", "raw"], got
for j in jobs:
    assert 0 <= j["gender_test_acc"] <= 1, j["method"]
    assert "semi-informed" in j["attackers"] and len(j["attackers"]) == 10, sorted(j["attackers"])
PY
grep -q "^| raw | 1 |" "$tmp/out/report.md" || fail "report.md: no raw row"
[ -s "$tmp/out/frontier.png" ] && [ -s "$tmp/out/frontier.svg" ] || fail "no frontier figure"

# the raw model's features are the MFCC patches, to the bit; the bottleneck's have bn_dim values
wav=$(find "$tmp/corpus" -iname '*.wav' | sort | head -1)
"$veil" extract --model "$tmp/out/models/raw-G1-i0.safetensors" -o "$tmp/raw.npy" "$wav" -q
"$veil" mfcc "$wav" --patches -o "$tmp/patches.npy"
for d in 1 3; do
  "$veil" extract --model "$tmp/out/models/bottleneck-G5-bn_dim$d-i0.safetensors" -o "$tmp/bn$d.npy" "$wav" -q
done
python3 - "$tmp" <<'PY' || fail "baseline features"
import ast, struct, sys
def npy(path):
    b = open(path, "rb").read()
    n = struct.unpack("<H", b[8:10])[0]
    h = ast.literal_eval(b[10:10 + n].decode())
    return h["shape"], b[10 + n:]
t = sys.argv[1]
(sr, raw), (sp, pat) = npy(t + "/raw.npy"), npy(t + "/patches.npy")
assert sr == (sp[0], sp[1] * sp[2]) and raw == pat, (sr, sp)
for d in (1, 3):
    s, _ = npy(f"{t}/bn{d}.npy")
    assert s == (sp[0], d), (d, s)
PY
# the presets' default grid leaves the opt-in methods out
"$veil" experiment "${common[@]}" --out "$tmp/q" --preset quick --max-jobs 1 --reference-epochs 1 >/dev/null 2>&1 || fail "quick preset"
python3 - "$tmp/q/config.json" <<'PY' || fail "the quick preset runs an opt-in method"
import json, sys
m = json.load(open(sys.argv[1]))["methods"]
assert m == ["reference", "siamese", "adversarial", "variational"], m
PY
echo "shell_baselines: ok"
