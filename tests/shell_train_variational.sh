#!/bin/bash
# `veil train --method variational` on a tiny synthetic corpus: the model it saves is an
# ordinary extractor + gender head that `veil extract` and `veil attack` use, the same seed
# gives the same model, --vib-beta reaches the method (and is refused out of range).
# $1 = veil binary, $2 = scratch folder.
set -euo pipefail
veil=$1
dir=$2
rm -rf "$dir"
mkdir -p "$dir"
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_NUM_THREADS=1

"$veil" corpus synth --out "$dir/corpus" --speakers 6 --female 3 --seconds 3 --seed 3 --threads 1 >/dev/null
train() {
    "$veil" train --corpus "$dir/corpus" --method variational --groups 5 --st 2 --epochs 2 --seed 5 \
        --threads 1 --precision fp32 --json -q --filter-divisor 8 "$@"
}
train --vib-beta 0.05 -o "$dir/m.safetensors" > "$dir/train.json"
grep -q '"method":"variational"' "$dir/train.json" || fail "train --json: $(cat "$dir/train.json")"
grep -q '"gender_test_acc":[0-9]' "$dir/train.json" || fail "no gender accuracy: $(cat "$dir/train.json")"
grep -q '"vib_beta":0.05' "$dir/train.json" || fail "beta not in the result: $(cat "$dir/train.json")"
train --vib-beta 0.05 -o "$dir/m2.safetensors" > /dev/null
cmp -s "$dir/m.safetensors" "$dir/m2.safetensors" || fail "the same seed gave two different models"
train --vib-beta 0.5 -o "$dir/m3.safetensors" > /dev/null
cmp -s "$dir/m.safetensors" "$dir/m3.safetensors" && fail "another beta gave the same model"
if train --vib-beta -1 -o "$dir/bad.safetensors" 2> "$dir/err.txt" > /dev/null; then
    fail "a negative beta was accepted"
fi
grep -q "vib_beta" "$dir/err.txt" || fail "message: $(cat "$dir/err.txt")"
[ ! -e "$dir/bad.safetensors" ] || fail "a refused train left a model"

# the saved model is f (the mean mu) and g: no log-variance tensors
head -c 4096 "$dir/m.safetensors" | grep -q "vib.logvar" && fail "the model holds the log-variance layer"

mapfile -t files < <(ls "$dir"/corpus/TRAIN/*/*/*.WAV | head -2)
"$veil" extract --model "$dir/m.safetensors" "${files[@]}" -o "$dir/z.npy" --threads 1 2>/dev/null
h=$(od -An -tu2 -j8 -N2 "$dir/z.npy" | tr -d ' ')
head -c $((h + 10)) "$dir/z.npy" | tail -c +11 | grep -q ", 64)" || fail "feature shape: $(head -c $((h + 10)) "$dir/z.npy")"

"$veil" attack --model "$dir/m.safetensors" --corpus "$dir/corpus" --st 2 --epochs 3 --threads 1 \
    --precision fp32 --json -q > "$dir/attack.json"
grep -q '"attack_acc_mean":[0-9]' "$dir/attack.json" || fail "attack: $(cat "$dir/attack.json")"
echo "shell_train_variational: ok"
