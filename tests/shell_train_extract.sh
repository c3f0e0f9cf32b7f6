#!/bin/bash
# train -> extract -> attack on a tiny synthetic corpus: the saved model reproduces
# itself from the same seed, extract concatenates files in order and names short audio,
# attack reports every group. $1 = veil binary, $2 = scratch folder.
set -euo pipefail
veil=$1
dir=$2
rm -rf "$dir"
mkdir -p "$dir"
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_NUM_THREADS=1

"$veil" corpus synth --out "$dir/corpus" --speakers 6 --female 3 --seconds 3 --seed 3 --threads 1 >/dev/null
train() {
    "$veil" train --corpus "$dir/corpus" --method siamese --groups 5 --st 2 --epochs 2 --seed 5 \
        --threads 1 --precision fp32 --json -q -o "$1"
}
train "$dir/m.safetensors" > "$dir/train.json"
grep -q '"method":"siamese"' "$dir/train.json" || fail "train --json: $(cat "$dir/train.json")"
grep -q '"gender_test_acc":[0-9]' "$dir/train.json" || fail "no gender accuracy: $(cat "$dir/train.json")"
train "$dir/m2.safetensors" > /dev/null
cmp -s "$dir/m.safetensors" "$dir/m2.safetensors" || fail "the same seed gave two different models"

mapfile -t files < <(ls "$dir"/corpus/TRAIN/*/*/*.WAV | head -2)
"$veil" extract --model "$dir/m.safetensors" "${files[@]}" -o "$dir/both.npy" --threads 1 2>/dev/null
"$veil" extract --model "$dir/m.safetensors" "${files[0]}" -o "$dir/one.npy" --threads 1 2>/dev/null
"$veil" extract --model "$dir/m.safetensors" "${files[1]}" -o "$dir/two.npy" --threads 1 2>/dev/null
# .npy version 1: 8 magic bytes, a 2-byte little-endian header length, the header, the data
data() { local h; h=$(od -An -tu2 -j8 -N2 "$1" | tr -d ' '); tail -c +$((h + 11)) "$1"; }
header() { local h; h=$(od -An -tu2 -j8 -N2 "$1" | tr -d ' '); head -c $((h + 10)) "$1" | tail -c +11; }
header "$dir/both.npy" | grep -q "512)" || fail "feature shape: $(header "$dir/both.npy")"
cmp -s <(data "$dir/both.npy") <(cat <(data "$dir/one.npy") <(data "$dir/two.npy")) ||
    fail "features of two files differ from each file's features in order"
[ "$(data "$dir/both.npy" | wc -c)" -gt 0 ] || fail "no features"

# 0.3 s of silence: shorter than one patch
le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))\\x$(printf %02x $((($1 >> 16) & 255)))\\x$(printf %02x $((($1 >> 24) & 255)))"; }
{ printf 'RIFF'; le32 9636; printf 'WAVEfmt '; le32 16; printf '\x01\x00\x01\x00'; le32 16000; le32 32000
  printf '\x02\x00\x10\x00data'; le32 9600; head -c 9600 /dev/zero; } > "$dir/short.wav"
if "$veil" extract --model "$dir/m.safetensors" "$dir/short.wav" -o "$dir/short.npy" 2> "$dir/err.txt"; then
    fail "extract accepted audio shorter than one patch"
fi
grep -q "short.wav.*shorter than one patch" "$dir/err.txt" || fail "message: $(cat "$dir/err.txt")"
[ ! -e "$dir/short.npy" ] || fail "a failed extract left an output file"

"$veil" attack --model "$dir/m.safetensors" --corpus "$dir/corpus" --st 2 --epochs 3 --threads 1 \
    --precision fp32 --json -q > "$dir/attack.json"
grep -q '"groups":3' "$dir/attack.json" || fail "attack: $(cat "$dir/attack.json")"
grep -q '"attack_acc_mean":[0-9]' "$dir/attack.json" || fail "attack: $(cat "$dir/attack.json")"
# the adversarial method (lambda by name): a model that extract and attack use like any other
"$veil" train --corpus "$dir/corpus" --method adversarial --groups 5 --st 2 --epochs 2 --adv-lambda 3 --seed 5 \
    --threads 1 --precision fp32 --json -q -o "$dir/adv.safetensors" > "$dir/adv.json"
grep -q '"method":"adversarial"' "$dir/adv.json" || fail "train adversarial: $(cat "$dir/adv.json")"
grep -q '"adv_lambda":3,"adv_epochs":2' "$dir/adv.json" || fail "adversarial settings: $(cat "$dir/adv.json")"
"$veil" extract --model "$dir/adv.safetensors" "${files[0]}" -o "$dir/adv.npy" --threads 1 2>/dev/null
header "$dir/adv.npy" | grep -q "512)" || fail "adversarial feature shape: $(header "$dir/adv.npy")"
"$veil" attack --model "$dir/adv.safetensors" --corpus "$dir/corpus" --st 2 --epochs 3 --threads 1 \
    --precision fp32 --json -q > "$dir/adv-attack.json"
grep -q '"attack_acc_mean":[0-9]' "$dir/adv-attack.json" || fail "attack adversarial: $(cat "$dir/adv-attack.json")"
if "$veil" train --corpus "$dir/corpus" --method adversarial --groups 5 --st 2 --adv-lambda -1 -o "$dir/x" 2> "$dir/err2.txt"; then
    fail "train accepted a negative lambda"
fi
grep -q "adv_lambda" "$dir/err2.txt" || fail "message: $(cat "$dir/err2.txt")"
echo "shell_train_extract: ok"
