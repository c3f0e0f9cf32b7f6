#!/usr/bin/env bash
# --task (issue 20): a K = 3 task (a manifest's region column) end to end on tiny data:
# veil corpus info lists it, the experiment records it and says it in its report, a resume
# with another task is refused, train/classify/attack/audit follow it; an unknown task, a
# task of one class, a class of one speaker and St < K are refused with clear messages.
# $1: the veil binary, $2: a scratch directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
export OMP_NUM_THREADS=1 LC_ALL=C

tiny_corpus "$tmp/corpus" 12 6
# the manifest: region = speaker number mod 3 (r0, r1, r2; 4 speakers each), site one value,
# rare a class of one speaker
{
    echo "path,speaker,gender,region,site,rare"
    n=0
    for d in $(find "$tmp/corpus" -mindepth 3 -maxdepth 3 -type d | sort -t/ -k1); do
        spk=$(basename "$d")
        rare=common
        [ $n -eq 0 ] && rare=alone
        for w in $(ls "$d"/*.WAV | sort); do echo "$w,$spk,${spk:0:1},r$((n % 3)),lab,$rare"; done
        n=$((n + 1))
    done
} > "$tmp/k3.csv"
[ "$(cut -d, -f2 "$tmp/k3.csv" | sort -u | wc -l)" -eq 13 ] || fail "manifest: expected 12 speakers"

"$veil" corpus info "$tmp/k3.csv" > "$tmp/info" || fail "corpus info"
grep -q "region (3 classes)" "$tmp/info" || { cat "$tmp/info"; fail "corpus info does not list the region task"; }
grep -q "site" "$tmp/info" && grep "tasks" "$tmp/info" | grep -q "site" && fail "a one-class label listed as a task"
"$veil" corpus info "$tmp/k3.csv" --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["tasks"]
assert t["region"] == {"r0": 4, "r1": 4, "r2": 4}, t
assert t["gender"] == {"F": 6, "M": 6}, t
assert "site" not in t, t' || fail "corpus info --json tasks"

grid=(--corpus "$tmp/k3.csv" --out "$tmp/out" --cache "$tmp/cache" --preset quick --st 3 --attack-groups 2
      --groups 1 --methods reference,siamese,adversarial,variational --cv 1 --siamese-epochs 1
      --reference-epochs 1 --adv-epochs 1 --vib-epochs 1 --gender-epochs 1 --attack-epochs 1
      --filter-divisor 16 --precision fp32 --threads 1 --seed 3)
"$veil" experiment "${grid[@]}" --task region > "$tmp/log" 2>&1 || { cat "$tmp/log"; fail "experiment --task region"; }
python3 - "$tmp/out" <<'EOF' || fail "results of --task region"
import json, sys
out = sys.argv[1]
cfg = json.load(open(out + "/config.json"))
assert cfg["task"] == "region", cfg["task"]
assert cfg["task_classes"] == {"r0": 4, "r1": 4, "r2": 4}, cfg["task_classes"]
lines = [json.loads(l) for l in open(out + "/results.jsonl")]
assert len(lines) == 4, len(lines)
for j in lines:
    assert j["task"] == "region" and j["classes"] == 3, j
    # St = 3 of 3 classes: each training speaker its own class, every group 1/St... per class
    assert 0 < j["label_chance"] <= 1, j["label_chance"]
    assert 0 <= j["gender_test_acc"] <= 1
    # the majority share of 3 balanced classes in the test set: at most a half here
    assert j["gender_test_majority"] < 0.6, j["gender_test_majority"]
EOF
grep -q '\*\*Task: region\*\* (3 classes)' "$tmp/out/report.md" || fail "report: no task line"
grep -q '| region eval | region test |' "$tmp/out/report.md" || fail "report: no region columns"
grep -q 'knows the region' "$tmp/out/report.md" || fail "report: no chance knowing the region"
grep -q 'task: region, 3 classes' "$tmp/out/report.md" || fail "report: the configuration names no task"
# the attackers' cost (issues 15, 21): each of the quick battery per group at G = 1 and 5,
# and the battery against the paper's MLP alone
grep -q '^| attacker | G = 1 | G = 5 | share |$' "$tmp/out/report.md" || fail "report: no attacker cost table"
grep -qE '^\| logreg \| [0-9.]+ \| [0-9.]+ \| [0-9]+ % \|$' "$tmp/out/report.md" || fail "report: no logreg cost"
grep -qE 'The whole battery took [0-9.]+ times the paper.s MLP alone' "$tmp/out/report.md" || fail "report: no battery ratio"
# the same OUT with another task is another configuration
if "$veil" experiment "${grid[@]}" --task gender > "$tmp/log2" 2>&1; then fail "changed task accepted"; fi
grep -q 'task (was "region", now "gender")' "$tmp/log2" || { cat "$tmp/log2"; fail "the refusal names no task"; }
# the default task is gender, recorded as such
"$veil" experiment "${grid[@]/$tmp\/out/$tmp/gout}" --methods siamese > "$tmp/log3" 2>&1 || { cat "$tmp/log3"; fail "gender grid"; }
grep -q '"task":"gender","classes":2' "$tmp/gout/results.jsonl" || fail "gender lines record no task"
grep -q 'Task:' "$tmp/gout/report.md" && fail "a gender report speaks of a task"

# the two grids side by side (scripts/compare-tasks.py): the Siamese G = 1 extractor under
# both tasks, each against its own chance
python3 "$(dirname "$0")/../scripts/compare-tasks.py" "$tmp/gout" "$tmp/out" > "$tmp/cmp.md" || fail "compare-tasks"
grep -qE '^\| siamese G=1 \| gender \| 1 \| [0-9.]+ \| [0-9.]+ \|' "$tmp/cmp.md" || { cat "$tmp/cmp.md"; fail "compare: no gender row"; }
grep -qE '^\| siamese G=1 \| region \| 1 \| [0-9.]+ \| [0-9.]+ \| [-+][0-9.]+ \|' "$tmp/cmp.md" || fail "compare: no region row"
if python3 "$(dirname "$0")/../scripts/compare-tasks.py" "$tmp/nothing" 2>"$tmp/err"; then fail "compare: a missing grid accepted"; fi
grep -q "nothing/config.json" "$tmp/err" || fail "compare: the missing file is not named"

# one model for the task: g has 3 classes, classify prints them, --task checks it
"$veil" train --corpus "$tmp/k3.csv" --cache "$tmp/cache" --method siamese --groups 5 --st 3 --epochs 1 \
    --seed 5 --threads 1 --precision fp32 -q --task region -o "$tmp/m.safetensors" >/dev/null || fail "train --task"
wav=$(sed -n 2p "$tmp/k3.csv" | cut -d, -f1)
"$veil" classify --model "$tmp/m.safetensors" "$wav" > "$tmp/cls" || fail "classify"
head -1 "$tmp/cls" | grep -q 'P(r0).P(r1).P(r2)' || { cat "$tmp/cls"; fail "classify: not the 3 posteriors"; }
"$veil" classify --model "$tmp/m.safetensors" --task region "$wav" >/dev/null || fail "classify --task region"
if "$veil" classify --model "$tmp/m.safetensors" --task gender "$wav" 2>"$tmp/err"; then fail "classify: wrong task accepted"; fi
grep -q "recognises region, not gender" "$tmp/err" || fail "classify: unclear task refusal"
# the attacker's chance knowing the region (the model's task)
"$veil" attack --model "$tmp/m.safetensors" --corpus "$tmp/k3.csv" --cache "$tmp/cache" --st 3 --epochs 1 \
    --threads 1 > "$tmp/att" 2>/dev/null || fail "attack"
grep -q "knowing the region" "$tmp/att" || { cat "$tmp/att"; fail "attack: no chance knowing the region"; }
"$veil" audit --raw --corpus "$tmp/k3.csv" --cache "$tmp/cache" --st 3 --epochs 1 --threads 1 -q \
    --attackers logreg --task region --out "$tmp/aud" || fail "audit --task region"
python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
assert a["task"] == "region" and len(a["chance_label"]) == a["groups"], a.get("task")
assert all(0 < c <= 1 for c in a["chance_label"])' "$tmp/aud/audit.json" || fail "audit.json: no chance_label"

# refusals, each before anything is written
expect_refusal() { # OUT MESSAGE OPTIONS...
    local out=$1 msg=$2
    shift 2
    if "$veil" experiment "${grid[@]/$tmp\/out/$out}" "$@" > "$tmp/err" 2>&1; then fail "accepted: $*"; fi
    grep -qF -- "$msg" "$tmp/err" || { cat "$tmp/err"; fail "refusal of $* does not say: $msg"; }
    [ ! -e "$out/config.json" ] || fail "$*: an output was written"
}
expect_refusal "$tmp/e1" "no label 'accent' for --task; this corpus has: gender, region, site, rare" --task accent
expect_refusal "$tmp/e2" "needs at least 2 classes" --task site
expect_refusal "$tmp/e3" "class alone has 1 speaker" --task rare
expect_refusal "$tmp/e4" "has 3 classes but St = 2" --task region --st 2
if "$veil" experiment "${grid[@]}" --task "" > "$tmp/err" 2>&1; then fail "an empty task accepted"; fi
grep -q "is not a task" "$tmp/err" || fail "empty task: unclear message"
echo "shell_task: ok"
