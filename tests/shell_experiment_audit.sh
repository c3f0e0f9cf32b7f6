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
# an audit never replaces one of another model or job (a resume that renumbered the grid
# once overwrote audits this way): refused by name before any work, the old one left as
# it was; the same job again replaces its own
cp "$tmp/audit2/audit.json" "$tmp/plain.json"
if "$veil" audit --model "$model" --experiment "$tmp/out" --job 0 --out "$tmp/audit2" -q --threads 1 \
    2>"$tmp/aerr"; then fail "audit of job 0 over a plain audit"; fi
grep -q "audit2/audit.json holds the audit of model .*; this audit is of model .*job 0 of" "$tmp/aerr" ||
    fail "refusal: $(cat "$tmp/aerr")"
cmp -s "$tmp/audit2/audit.json" "$tmp/plain.json" || fail "a refused audit changed audit.json"
if "$veil" audit --model "$model" --corpus "$tmp/corpus" --cache "$tmp/cache" --out "$tmp/audit" --st 4 \
    --attackers logreg --threads 1 -q 2>"$tmp/aerr"; then fail "a plain audit over the audit of job 0"; fi
grep -q "holds the audit of .*job 0 of" "$tmp/aerr" || fail "refusal: $(cat "$tmp/aerr")"
before=$(stat -c %i "$tmp/audit/audit.json")   # written to a temporary and renamed: a new inode
"$veil" audit --model "$model" --experiment "$tmp/out" --job 0 --out "$tmp/audit" -q --threads 1 \
  >"$tmp/alog" 2>&1 || { cat "$tmp/alog"; fail "the same job's audit again"; }
[ "$(stat -c %i "$tmp/audit/audit.json")" != "$before" ] || fail "the rerun did not replace the audit"
# Attackers added after the run (docs/experiment.md): the same run without logreg and
# verify-cosine, and the audit of its job inside OUT. The report merges them and shows
# the rows the run itself gave; a plain audit inside OUT is left alone; an audit that is
# not of this run's job fails the report, naming the file, and leaves report.md as it was.
mkdir "$tmp/out2"
cp "$tmp/out/config.json" "$tmp/out2/"
python3 - "$tmp/out/results.jsonl" "$tmp/out2/results.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
for j in lines:
    for name in ("logreg", "verify-cosine"):
        del j["attackers"][name]
        del j["attacker_seconds"][name]
open(sys.argv[2], "w").write("".join(json.dumps(j) + "\n" for j in lines))
PY
cp -r "$tmp/audit" "$tmp/out2/later"
cp -r "$tmp/audit2" "$tmp/out2/plain"
"$veil" experiment --out "$tmp/out2" --report-only >"$tmp/rlog" 2>&1 || { cat "$tmp/rlog"; fail "report-only with an audit"; }
python3 - "$tmp/out/report.md" "$tmp/out2/report.md" <<'PY' || fail "the merged attackers' rows differ from the run's"
import sys
run, merged = open(sys.argv[1]).read(), open(sys.argv[2]).read()
rows = lambda text, name: [l for l in text.splitlines() if l.startswith("| siamese | 2 |") and f"| {name} |" in l]
for name in ("logreg", "verify-cosine", "paper-mlp", "semi-informed"):
    assert rows(run, name) and rows(run, name) == rows(merged, name), (name, rows(run, name), rows(merged, name))
assert "`later/`: logreg, verify-cosine on siamese G = 2, iteration 0" in merged, merged
assert "the run's own numbers kept" in merged and "plain/" not in merged
PY
cp "$tmp/out2/report.md" "$tmp/report-before"
bad() { # $1: what the tampered audit says, $2: the expected message, $3: the Python edit of a
  rm -rf "$tmp/out2/zbad"
  cp -r "$tmp/audit" "$tmp/out2/zbad"
  python3 -c "import json,sys; a=json.load(open(sys.argv[1])); $3; json.dump(a, open(sys.argv[1],'w'))" \
    "$tmp/out2/zbad/audit.json"
  if "$veil" experiment --out "$tmp/out2" --report-only >"$tmp/blog" 2>&1; then fail "report-only took $1"; fi
  grep -q "zbad/audit.json: .*$2" "$tmp/blog" || { cat "$tmp/blog"; fail "no clear message for $1"; }
  cmp -s "$tmp/report-before" "$tmp/out2/report.md" || fail "report.md changed after $1"
}
bad "another group" "attacker groups are not" 'a["group_speakers"][1][0] = "NOBODY"'
bad "another model" "trained with reference" 'a["experiment_job"]["model_method"] = "reference"'
bad "another job" "no line" 'a["experiment_job"]["iteration"] = 4'
bad "another model's speakers" "training speakers" 'a["left_out_speakers"][0] = "NOBODY"'
bad "a rate over 1" "rates in 0..1" 'a["probes"]["logreg"]["acc"][0] = 3'
rm -rf "$tmp/out2/zbad"
echo "shell_experiment_audit: ok"
