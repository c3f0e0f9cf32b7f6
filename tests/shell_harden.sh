#!/usr/bin/env bash
# Malformed input and odd output paths from the command line (issue 11): each case used to
# hang, crash, lose data or give silently wrong numbers. Every command runs under a
# timeout, so a hang fails the test instead of the CI job. No LSAN_OPTIONS here: the
# program's own suppression (cli/veil.c) must keep an ASan build's figures from failing.
# $1: the veil binary, $2: a scratch directory.
set -euo pipefail
veil=$1; tmp=$2
rm -rf "$tmp"; mkdir -p "$tmp"
fail() { echo "FAILED: $*" >&2; exit 1; }
t() { timeout 120 "$@"; }
# must fail (not 0, not a timeout), message on stderr containing $1
refuses() {
  local want=$1; shift
  set +e; t "$@" >"$tmp/out.txt" 2>"$tmp/err.txt"; local rc=$?; set -e
  [ $rc -ne 0 ] || fail "accepted: $*"
  [ $rc -ne 124 ] || fail "hang: $*"
  grep -qF -- "$want" "$tmp/err.txt" || { cat "$tmp/err.txt" >&2; fail "message lacks '$want': $*"; }
}

t "$veil" corpus synth --out "$tmp/corpus" --speakers 8 --female 4 --seconds 6 --threads 1 >/dev/null
wav=$(find "$tmp/corpus" -iname '*.wav' | sort | head -n1)

# ---- outputs: - is stdout, a link writes its target, a device is written through ----
t "$veil" mfcc "$wav" -o - -q >"$tmp/stdout.npy"
[ "$(head -c 6 "$tmp/stdout.npy" | od -An -c | tr -d ' ')" = "223NUMPY" ] || fail "-o - did not write .npy to stdout"
t "$veil" mfcc "$wav" -o "$tmp/real.npy" -q
cmp -s "$tmp/stdout.npy" "$tmp/real.npy" || fail "-o - differs from a file"
ln -s real.npy "$tmp/link.npy"
rm "$tmp/real.npy"
t "$veil" mfcc "$wav" -o "$tmp/link.npy" -q
[ -L "$tmp/link.npy" ] || fail "-o LINK replaced the link"
cmp -s "$tmp/stdout.npy" "$tmp/real.npy" || fail "-o LINK did not write its target"
t "$veil" mfcc "$wav" -o /dev/null -q
[ -c /dev/null ] || fail "/dev/null replaced"
refuses "is a directory" "$veil" mfcc "$wav" -o "$tmp"
refuses "output path is empty" "$veil" mfcc "$wav" -o ''

# ---- inputs: a FIFO is refused at once, never waited on ----
mkfifo "$tmp/fifo.wav"
refuses "a FIFO, not a regular file" "$veil" mfcc "$tmp/fifo.wav" -o "$tmp/x.npy"
cp -r "$tmp/corpus" "$tmp/corpus-fifo"
spk=$(find "$tmp/corpus-fifo" -iname '*.wav' | sort | head -n1 | xargs dirname)
mkfifo "$spk/ZZ9.WAV"
refuses "ZZ9.WAV: a FIFO" "$veil" corpus info "$tmp/corpus-fifo"
# a FIFO where the patch cache is (it used to block forever)
t "$veil" corpus features "$tmp/corpus" --cache "$tmp/fifocache" --threads 1 >/dev/null 2>&1
cachefile=$(find "$tmp/fifocache" -type f | head -n1)
[ -n "$cachefile" ] || fail "no patch cache written"
rm "$cachefile"; mkfifo "$cachefile"
refuses "a FIFO, not a regular file" "$veil" corpus features "$tmp/corpus" --cache "$tmp/fifocache" --threads 1
# a header that declares 1 Hz (once reported as hours of audio, then 3 GB to resample)
cp "$wav" "$tmp/onehz.wav"
printf '\001\000\000\000\002\000\000\000' | dd of="$tmp/onehz.wav" bs=1 seek=24 conv=notrunc status=none
refuses "sample rate is outside 1000..384000" "$veil" mfcc "$tmp/onehz.wav" -o "$tmp/x.npy"

# ---- train: the output path is checked before the training, not after ----
refuses "output path is empty" "$veil" train --corpus "$tmp/corpus" --method siamese --groups 1 -o '' \
  --cache "$tmp/cache" --st 4
grep -q "epoch" "$tmp/err.txt" && fail "train trained before refusing -o ''"

# ---- experiment: --out '' used to spin forever ----
refuses "output directory (--out) is empty" "$veil" experiment --corpus "$tmp/corpus" --out ''

# ---- results.jsonl on resume ----
grid=(--corpus "$tmp/corpus" --out "$tmp/out" --cache "$tmp/cache" --preset quick --st 4 --attack-groups 1
      --groups 1 --methods siamese --cv 2 --siamese-epochs 1 --gender-epochs 1 --attack-epochs 1
      --filter-divisor 16 --precision fp32 --threads 1 --seed 3)
t "$veil" experiment "${grid[@]}" --max-jobs 1 >/dev/null 2>"$tmp/log1" || { cat "$tmp/log1"; fail "first job (ASan: figures)"; }
good=$(cat "$tmp/out/results.jsonl")
check_refused() { # $1: the file's new text, $2: the expected message
  printf '%s' "$1" >"$tmp/out/results.jsonl"
  local before; before=$(md5sum <"$tmp/out/results.jsonl")
  refuses "$2" "$veil" experiment "${grid[@]}"
  [ "$(md5sum <"$tmp/out/results.jsonl")" = "$before" ] || fail "results.jsonl changed by a refused run ($2)"
}
# a complete last line that does not parse is not deleted (it used to be)
check_refused "$good"$'\n''{"method": "siamese", "gro'$'\n' "results.jsonl line 2: not a JSON object"
check_refused "$good"$'\n'"$good"$'\n' "results.jsonl line 2: siamese G=1 iteration 0 is already on line 1"
check_refused "$(echo "$good" | sed 's/"gender_test_acc":[^,]*/"gender_test_acc":5.0/')"$'\n' '"gender_test_acc" is 5, outside 0..1'
check_refused "$(echo "$good" | sed 's/"groups":1/"groups":7/')"$'\n' '"groups" is 7, outside 1..5'
check_refused "$(echo "$good" | sed 's/"iteration":0/"iteration":-1/')"$'\n' '"iteration" is -1'
check_refused "$(echo "$good" | sed 's/"seed":[0-9]*/"seed":12/')"$'\n' "but the grid's seed 3 gives this job"
check_refused "$(echo "$good" | sed 's/"precision":"fp32"/"precision":"bf16"/')"$'\n' "config.json resolved fp32"
check_refused "$(echo "$good" | sed 's/"margin":1/"margin":2/')"$'\n' "differ from config.json's method_settings.siamese"
# a torn last line (no newline) is cut with a warning, and the run goes on
printf '%s\n{"method":"sia' "$good" >"$tmp/out/results.jsonl"
t "$veil" experiment "${grid[@]}" >/dev/null 2>"$tmp/log2" || { cat "$tmp/log2"; fail "resume after a torn line"; }
grep -q "cutting .* torn last line" "$tmp/log2" || fail "no warning for the torn line"
[ "$(wc -l <"$tmp/out/results.jsonl")" -eq 2 ] || fail "two jobs after the resume"
[ "$(head -n1 "$tmp/out/results.jsonl")" = "$good" ] || fail "first line changed"
# --report-only refuses the same lines
printf '%s\n%s\n' "$good" "$good" >"$tmp/out/results.jsonl"
refuses "is already on line 1" "$veil" experiment --out "$tmp/out" --report-only

# ---- a fresh OUT on a "full disk" (no byte may be written: EFBIG) leaves no .lock behind ----
set +e
# (stderr through a pipe: the file-size limit applies to regular files only)
(trap '' XFSZ; ulimit -f 0; exec timeout 120 "$veil" experiment "${grid[@]}" --out "$tmp/full") 2>&1 >/dev/null | cat >"$tmp/err.txt"
rc=${PIPESTATUS[0]}
set -e
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "full disk: exit $rc"
grep -q "config.json" "$tmp/err.txt" || { cat "$tmp/err.txt" >&2; fail "full disk: message does not name config.json"; }
[ ! -e "$tmp/full" ] || fail "full disk: $(ls -A "$tmp/full") left in a fresh OUT"
echo "shell_harden: ok"
