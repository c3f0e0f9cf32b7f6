#!/bin/bash
# train -> extract -> attack on a tiny synthetic corpus: the saved model reproduces
# itself from the same seed, extract concatenates files in order and names short audio,
# attack reports every group. $1 = veil binary, $2 = scratch folder.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
export OMP_NUM_THREADS=1

tiny_corpus "$tmp/corpus" 6 3 3
train() { tiny_model "$tmp/corpus" siamese --epochs 2 --json -o "$1"; }
train "$tmp/m.safetensors" > "$tmp/train.json"
grep -q '"method":"siamese"' "$tmp/train.json" || fail "train --json: $(cat "$tmp/train.json")"
grep -q '"gender_test_acc":[0-9]' "$tmp/train.json" || fail "no gender accuracy: $(cat "$tmp/train.json")"
train "$tmp/m2.safetensors" > /dev/null
cmp -s "$tmp/m.safetensors" "$tmp/m2.safetensors" || fail "the same seed gave two different models"

mapfile -t files < <(ls "$tmp"/corpus/TRAIN/*/*/*.WAV | head -2)
"$veil" extract --model "$tmp/m.safetensors" "${files[@]}" -o "$tmp/both.npy" --threads 1 2>/dev/null
"$veil" extract --model "$tmp/m.safetensors" "${files[0]}" -o "$tmp/one.npy" --threads 1 2>/dev/null
"$veil" extract --model "$tmp/m.safetensors" "${files[1]}" -o "$tmp/two.npy" --threads 1 2>/dev/null
# .npy version 1: 8 magic bytes, a 2-byte little-endian header length, the header, the data
data() { local h; h=$(od -An -tu2 -j8 -N2 "$1" | tr -d ' '); tail -c +$((h + 11)) "$1"; }
header() { local h; h=$(od -An -tu2 -j8 -N2 "$1" | tr -d ' '); head -c $((h + 10)) "$1" | tail -c +11; }
header "$tmp/both.npy" | grep -q "512)" || fail "feature shape: $(header "$tmp/both.npy")"
cmp -s <(data "$tmp/both.npy") <(cat <(data "$tmp/one.npy") <(data "$tmp/two.npy")) ||
    fail "features of two files differ from each file's features in order"
[ "$(data "$tmp/both.npy" | wc -c)" -gt 0 ] || fail "no features"

# 0.3 s of silence: shorter than one patch
le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))\\x$(printf %02x $((($1 >> 16) & 255)))\\x$(printf %02x $((($1 >> 24) & 255)))"; }
{ printf 'RIFF'; le32 9636; printf 'WAVEfmt '; le32 16; printf '\x01\x00\x01\x00'; le32 16000; le32 32000
  printf '\x02\x00\x10\x00data'; le32 9600; head -c 9600 /dev/zero; } > "$tmp/short.wav"
# alone: nothing to write (an error), the file named in a warning, no output left
if "$veil" extract --model "$tmp/m.safetensors" "$tmp/short.wav" -o "$tmp/short.npy" 2> "$tmp/err.txt"; then
    fail "extract wrote features of audio shorter than one patch"
fi
grep -q "short.wav: skipped.*shorter than one patch" "$tmp/err.txt" || fail "message: $(cat "$tmp/err.txt")"
[ ! -e "$tmp/short.npy" ] || fail "a failed extract left an output file"
# among others: skipped with a warning; --strict: an error naming it
"$veil" extract --model "$tmp/m.safetensors" "${files[0]}" "$tmp/short.wav" -o "$tmp/skip.npy" 2> "$tmp/err.txt" ||
    fail "a short file stopped the batch: $(cat "$tmp/err.txt")"
grep -q "short.wav: skipped" "$tmp/err.txt" || fail "no warning naming the short file: $(cat "$tmp/err.txt")"
cmp -s "$tmp/skip.npy" "$tmp/one.npy" || fail "features with a skipped file differ"
if "$veil" extract --model "$tmp/m.safetensors" "${files[0]}" "$tmp/short.wav" --strict -o "$tmp/strict.npy" 2> "$tmp/err.txt"; then
    fail "--strict accepted a short file"
fi
grep -q "short.wav.*shorter than one patch" "$tmp/err.txt" || fail "--strict message: $(cat "$tmp/err.txt")"
[ ! -e "$tmp/strict.npy" ] || fail "a failed --strict extract left an output file"

# the index beside the array: row, file, patch within the file, start time
idx=$tmp/both.index.csv
[ "$(head -1 "$idx")" = "row,file,patch,start_seconds" ] || fail "index header: $(head -1 "$idx")"
rows=$(($(wc -l < "$idx") - 1))
shape=$(header "$tmp/both.npy" | grep -o "([0-9]*," | tr -d '(,')
[ "$rows" = "$shape" ] || fail "index has $rows rows, the array $shape"
n_one=$(($(wc -l < "$tmp/one.index.csv") - 1))
grep -q "^$n_one,${files[1]},0,0.000$" "$idx" || fail "the second file's first row: $(sed -n "$((n_one + 2))p" "$idx")"
# --list (and - for the names on standard input), --per-file, -o - (standard output)
printf '%s\n' "${files[@]}" > "$tmp/list.txt"
"$veil" extract --model "$tmp/m.safetensors" --list "$tmp/list.txt" -o "$tmp/list.npy" -q
cmp -s "$tmp/list.npy" "$tmp/both.npy" || fail "--list differs from the files as arguments"
printf '%s\n' "${files[@]}" | "$veil" extract --model "$tmp/m.safetensors" --list - -o "$tmp/stdin.npy" -q
cmp -s "$tmp/stdin.npy" "$tmp/both.npy" || fail "--list - differs"
"$veil" extract --model "$tmp/m.safetensors" - -o "$tmp/pipe.npy" -q < "${files[0]}"
cmp -s "$tmp/pipe.npy" "$tmp/one.npy" || fail "audio on standard input differs"
"$veil" extract --model "$tmp/m.safetensors" "${files[0]}" -o - -q > "$tmp/stdout.npy"
cmp -s "$tmp/stdout.npy" "$tmp/one.npy" || fail "-o - differs"
"$veil" extract --model "$tmp/m.safetensors" "${files[@]}" --per-file "$tmp/each" -q
name=${files[1]#$tmp/corpus/TRAIN/}; name=${name%.*}; name=${name//\//_}
cmp -s <(data "$tmp/each/$name.npy") <(data "$tmp/two.npy") || fail "--per-file differs"
# docs/library.md's Python: numpy reads the array and the index, rows join back to files
if python3 -c 'import numpy' 2>/dev/null; then
    python3 - "$tmp" "${files[0]}" <<'PY' || fail "the Python of docs/library.md"
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
"$veil" classify --model "$tmp/m.safetensors" "${files[@]}" > "$tmp/cls.txt"
[ "$(wc -l < "$tmp/cls.txt")" = 3 ] || fail "classify: $(cat "$tmp/cls.txt")"
awk -F'\t' 'NR > 1 { s = $3 + $4; if (s < 0.999 || s > 1.001 || ($2 != "female" && $2 != "male")) exit 1 }' "$tmp/cls.txt" ||
    fail "classify posteriors: $(cat "$tmp/cls.txt")"
"$veil" classify --model "$tmp/m.safetensors" "${files[0]}" --json --per-patch | grep -q '"per_patch":\[{"patch":0' ||
    fail "classify --json --per-patch"

"$veil" attack --model "$tmp/m.safetensors" --corpus "$tmp/corpus" --st 2 --epochs 3 --threads 1 \
    --precision fp32 --json -q > "$tmp/attack.json"
grep -q '"groups":3' "$tmp/attack.json" || fail "attack: $(cat "$tmp/attack.json")"
grep -q '"attack_acc_mean":[0-9]' "$tmp/attack.json" || fail "attack: $(cat "$tmp/attack.json")"
# the adversarial method (lambda by name): a model that extract and attack use like any other
tiny_model "$tmp/corpus" adversarial --epochs 2 --adv-lambda 3 --json -o "$tmp/adv.safetensors" > "$tmp/adv.json"
grep -q '"method":"adversarial"' "$tmp/adv.json" || fail "train adversarial: $(cat "$tmp/adv.json")"
grep -q '"adv_lambda":3,"adv_epochs":2' "$tmp/adv.json" || fail "adversarial settings: $(cat "$tmp/adv.json")"
"$veil" extract --model "$tmp/adv.safetensors" "${files[0]}" -o "$tmp/adv.npy" --threads 1 2>/dev/null
header "$tmp/adv.npy" | grep -q "512)" || fail "adversarial feature shape: $(header "$tmp/adv.npy")"
"$veil" attack --model "$tmp/adv.safetensors" --corpus "$tmp/corpus" --st 2 --epochs 3 --threads 1 \
    --precision fp32 --json -q > "$tmp/adv-attack.json"
grep -q '"attack_acc_mean":[0-9]' "$tmp/adv-attack.json" || fail "attack adversarial: $(cat "$tmp/adv-attack.json")"
if "$veil" train --corpus "$tmp/corpus" --method adversarial --groups 5 --st 2 --adv-lambda -1 -o "$tmp/x" 2> "$tmp/err2.txt"; then
    fail "train accepted a negative lambda"
fi
grep -q "adv_lambda" "$tmp/err2.txt" || fail "message: $(cat "$tmp/err2.txt")"
echo "shell_train_extract: ok"
