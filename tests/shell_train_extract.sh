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
# alone: nothing to write (an error), the file named in a warning, no output left
if "$veil" extract --model "$dir/m.safetensors" "$dir/short.wav" -o "$dir/short.npy" 2> "$dir/err.txt"; then
    fail "extract wrote features of audio shorter than one patch"
fi
grep -q "short.wav: skipped.*shorter than one patch" "$dir/err.txt" || fail "message: $(cat "$dir/err.txt")"
[ ! -e "$dir/short.npy" ] || fail "a failed extract left an output file"
# among others: skipped with a warning; --strict: an error naming it
"$veil" extract --model "$dir/m.safetensors" "${files[0]}" "$dir/short.wav" -o "$dir/skip.npy" 2> "$dir/err.txt" ||
    fail "a short file stopped the batch: $(cat "$dir/err.txt")"
grep -q "short.wav: skipped" "$dir/err.txt" || fail "no warning naming the short file: $(cat "$dir/err.txt")"
cmp -s "$dir/skip.npy" "$dir/one.npy" || fail "features with a skipped file differ"
if "$veil" extract --model "$dir/m.safetensors" "${files[0]}" "$dir/short.wav" --strict -o "$dir/strict.npy" 2> "$dir/err.txt"; then
    fail "--strict accepted a short file"
fi
grep -q "short.wav.*shorter than one patch" "$dir/err.txt" || fail "--strict message: $(cat "$dir/err.txt")"
[ ! -e "$dir/strict.npy" ] || fail "a failed --strict extract left an output file"

# the index beside the array: row, file, patch within the file, start time
idx=$dir/both.index.csv
[ "$(head -1 "$idx")" = "row,file,patch,start_seconds" ] || fail "index header: $(head -1 "$idx")"
rows=$(($(wc -l < "$idx") - 1))
shape=$(header "$dir/both.npy" | grep -o "([0-9]*," | tr -d '(,')
[ "$rows" = "$shape" ] || fail "index has $rows rows, the array $shape"
n_one=$(($(wc -l < "$dir/one.index.csv") - 1))
grep -q "^$n_one,${files[1]},0,0.000$" "$idx" || fail "the second file's first row: $(sed -n "$((n_one + 2))p" "$idx")"
# --list (and - for the names on standard input), --per-file, -o - (standard output)
printf '%s\n' "${files[@]}" > "$dir/list.txt"
"$veil" extract --model "$dir/m.safetensors" --list "$dir/list.txt" -o "$dir/list.npy" -q
cmp -s "$dir/list.npy" "$dir/both.npy" || fail "--list differs from the files as arguments"
printf '%s\n' "${files[@]}" | "$veil" extract --model "$dir/m.safetensors" --list - -o "$dir/stdin.npy" -q
cmp -s "$dir/stdin.npy" "$dir/both.npy" || fail "--list - differs"
"$veil" extract --model "$dir/m.safetensors" - -o "$dir/pipe.npy" -q < "${files[0]}"
cmp -s "$dir/pipe.npy" "$dir/one.npy" || fail "audio on standard input differs"
"$veil" extract --model "$dir/m.safetensors" "${files[0]}" -o - -q > "$dir/stdout.npy"
cmp -s "$dir/stdout.npy" "$dir/one.npy" || fail "-o - differs"
"$veil" extract --model "$dir/m.safetensors" "${files[@]}" --per-file "$dir/each" -q
name=${files[1]#$dir/corpus/TRAIN/}; name=${name%.*}; name=${name//\//_}
cmp -s <(data "$dir/each/$name.npy") <(data "$dir/two.npy") || fail "--per-file differs"
# docs/library.md's Python: numpy reads the array and the index, rows join back to files
if python3 -c 'import numpy' 2>/dev/null; then
    python3 - "$dir" "${files[0]}" <<'PY' || fail "the Python of docs/library.md"
import csv, sys, numpy as np
d, first = sys.argv[1], sys.argv[2]
z = np.load(f"{d}/both.npy")
with open(f"{d}/both.index.csv", newline="") as f:
    index = list(csv.DictReader(f))
assert len(index) == len(z)
by_file = {}
for r in index:
    by_file.setdefault(r["file"], []).append(int(r["row"]))
assert np.array_equal(z[by_file[first]], np.load(f"{d}/one.npy"))
PY
fi
# classify: a line per file with posteriors summing to 1, JSON on request
"$veil" classify --model "$dir/m.safetensors" "${files[@]}" > "$dir/cls.txt"
[ "$(wc -l < "$dir/cls.txt")" = 3 ] || fail "classify: $(cat "$dir/cls.txt")"
awk -F'\t' 'NR > 1 { s = $3 + $4; if (s < 0.999 || s > 1.001 || ($2 != "female" && $2 != "male")) exit 1 }' "$dir/cls.txt" ||
    fail "classify posteriors: $(cat "$dir/cls.txt")"
"$veil" classify --model "$dir/m.safetensors" "${files[0]}" --json --per-patch | grep -q '"per_patch":\[{"patch":0' ||
    fail "classify --json --per-patch"

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
