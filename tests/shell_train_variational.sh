#!/bin/bash
# `veil train --method variational` on a tiny synthetic corpus: the model it saves is an
# ordinary extractor + gender head that `veil extract` and `veil attack` use, the same seed
# gives the same model, --vib-beta reaches the method (and is refused out of range).
# $1 = veil binary, $2 = scratch folder.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
export OMP_NUM_THREADS=1

tiny_corpus "$tmp/corpus" 6 3 3
train() { tiny_model "$tmp/corpus" variational --epochs 2 --json --filter-divisor 8 "$@"; }
train --vib-beta 0.05 -o "$tmp/m.safetensors" > "$tmp/train.json"
grep -q '"method":"variational"' "$tmp/train.json" || fail "train --json: $(cat "$tmp/train.json")"
grep -q '"gender_test_acc":[0-9]' "$tmp/train.json" || fail "no gender accuracy: $(cat "$tmp/train.json")"
grep -q '"vib_beta":0.05' "$tmp/train.json" || fail "beta not in the result: $(cat "$tmp/train.json")"
train --vib-beta 0.05 -o "$tmp/m2.safetensors" > /dev/null
cmp -s "$tmp/m.safetensors" "$tmp/m2.safetensors" || fail "the same seed gave two different models"
train --vib-beta 0.5 -o "$tmp/m3.safetensors" > /dev/null
cmp -s "$tmp/m.safetensors" "$tmp/m3.safetensors" && fail "another beta gave the same model"
if train --vib-beta -1 -o "$tmp/bad.safetensors" 2> "$tmp/err.txt" > /dev/null; then
    fail "a negative beta was accepted"
fi
grep -q "vib_beta" "$tmp/err.txt" || fail "message: $(cat "$tmp/err.txt")"
[ ! -e "$tmp/bad.safetensors" ] || fail "a refused train left a model"

# the saved model is f (the mean mu) and g: no log-variance tensors
head -c 4096 "$tmp/m.safetensors" | grep -q "vib.logvar" && fail "the model holds the log-variance layer"

mapfile -t files < <(ls "$tmp"/corpus/TRAIN/*/*/*.WAV | head -2)
"$veil" extract --model "$tmp/m.safetensors" "${files[@]}" -o "$tmp/z.npy" --threads 1 2>/dev/null
h=$(od -An -tu2 -j8 -N2 "$tmp/z.npy" | tr -d ' ')
head -c $((h + 10)) "$tmp/z.npy" | tail -c +11 | grep -q ", 64)" || fail "feature shape: $(head -c $((h + 10)) "$tmp/z.npy")"

"$veil" attack --model "$tmp/m.safetensors" --corpus "$tmp/corpus" --st 2 --epochs 3 --threads 1 \
    --precision fp32 --json -q > "$tmp/attack.json"
grep -q '"attack_acc_mean":[0-9]' "$tmp/attack.json" || fail "attack: $(cat "$tmp/attack.json")"
echo "shell_train_variational: ok"
