#!/usr/bin/env bash
# The battery inside the experiment against veil audit (issue 15): a tiny grid with every
# attacker and --save-models; then `veil audit --model <the job's model> --experiment OUT
# --job N` on the same groups gives every probe's numbers of that job's results line, and
# the saved model names its training speakers. $1: the veil binary, $2: a scratch directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"

tiny_corpus "$tmp/corpus" 12 6
"$veil" experiment --corpus "$tmp/corpus" --out "$tmp/out" --cache "$tmp/cache" --preset quick --st 4 \
  --attack-groups 2 --groups 2 --methods siamese --cv 1 --siamese-epochs 1 --gender-epochs 1 \
  --attack-epochs 2 --filter-divisor 16 --precision fp32 --threads 1 --seed 3 --attackers all \
  --save-models >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "experiment"; }
model="$tmp/out/models/siamese-G2-i0.safetensors"
[ -s "$model" ] || { ls -R "$tmp/out" >&2; fail "--save-models wrote no $model"; }
"$veil" audit --model "$model" --experiment "$tmp/out" --job 0 --out "$tmp/audit" -q --threads 1 \
  >"$tmp/alog" 2>&1 || { cat "$tmp/alog"; fail "audit --experiment"; }
python3 - "$tmp/out/results.jsonl" "$tmp/audit/audit.json" <<'PY' || fail "audit numbers differ from the job's"
import json, math, sys
job = json.loads(open(sys.argv[1]).readline())
audit = json.load(open(sys.argv[2]))
names = list(job["attackers"])
assert len(names) == 10, names
probes = audit["probes"]
assert set(probes) == set(names), (sorted(probes), names)
same = lambda a, b: (a is None and b is None) or (a is not None and b is not None and a == b)
compared = 0
for name in names:
    fields = ["acc", "acc_utt", "eer", "min_dcf"] + (["eer_same_gender"] if name == "semi-informed" else [])
    for field in fields:
        mine, theirs = job["attackers"][name][field], probes[name].get(field)
        assert theirs is not None and len(mine) == len(theirs) == 2, (name, field, mine, theirs)
        for a, b in zip(mine, theirs):
            assert same(a, b), (name, field, mine, theirs)
            compared += a is not None
assert compared >= 20, compared
# the groups are the job's, and the model's training speakers are the job's
assert [sorted(g) for g in job["split"]["attack_groups"]] == [sorted(g) for g in audit["group_speakers"]], audit["group_speakers"]
assert sorted(audit["left_out_speakers"]) == sorted(job["split"]["train_speakers"]), audit["left_out_speakers"]
PY
# a plain audit of the saved model leaves its training speakers out
"$veil" audit --model "$model" --corpus "$tmp/corpus" --cache "$tmp/cache" --out "$tmp/audit2" --st 4 --epochs 1 \
  --attackers logreg --threads 1 -q >"$tmp/alog2" 2>&1 || { cat "$tmp/alog2"; fail "audit --model"; }
python3 - "$tmp/out/results.jsonl" "$tmp/audit2/audit.json" <<'PY' || fail "audit --model audited a training speaker"
import json, sys
job = json.loads(open(sys.argv[1]).readline())
audit = json.load(open(sys.argv[2]))
train = set(job["split"]["train_speakers"])
assert train and not train & {s for g in audit["group_speakers"] for s in g}, audit["group_speakers"]
PY
echo "shell_experiment_audit: ok"
