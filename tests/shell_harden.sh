#!/usr/bin/env bash
# Malformed input and odd output paths from the command line (issues 11 and 18): each case
# used to hang, crash, lose data, give silently wrong numbers or refuse valid input. Every command runs under a
# timeout, so a hang fails the test instead of the CI job. No LSAN_OPTIONS here: the
# program's own suppression (cli/veil.c) must keep an ASan build's figures from failing.
# $1: the veil binary, $2: a scratch directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
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

# ======== second round (issue 18): audit, extract's outputs, classify, resume ========
accepts() { # must exit 0 (stderr kept in err.txt)
  set +e; t "$@" >"$tmp/out.txt" 2>"$tmp/err.txt"; local rc=$?; set -e
  [ $rc -eq 0 ] || { cat "$tmp/err.txt" >&2; fail "refused (exit $rc): $*"; }
}
h=$tmp/h2; mkdir -p "$h"
# a model with a gender head, and copies edited with python (no numpy): huge weights, an
# unknown method, a class named twice, a tensor shape of [-1] or [2^62, 4]
t "$veil" train --corpus "$tmp/corpus" --method siamese --groups 1 --st 4 --epochs 1 --filter-divisor 16 \
  --cache "$tmp/cache" --threads 1 --precision fp32 -q -o "$h/m.safetensors" >/dev/null 2>&1
cat >"$h/edit.py" <<'PY'
import json, struct, sys
src, dst, mode = sys.argv[1:4]
b = open(src, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); data = bytearray(b[8 + n:])
if mode == "huge":
    lo, hi = h["head.fc1.weight"]["data_offsets"]
    data[lo:hi] = struct.pack("<f", 3e38) * ((hi - lo) // 4)
elif mode == "bogus": h["__metadata__"]["method"] = "bogus"
elif mode == "twice": h["__metadata__"]["classes"] = '["x","x"]'
elif mode == "neg": h["head.fc2.bias"]["shape"] = [-1]
elif mode == "big": h["head.fc2.weight"]["shape"] = [2**62, 4]
t = json.dumps(h).encode(); t += b" " * (-len(t) % 8)
open(dst, "wb").write(struct.pack("<Q", len(t)) + t + bytes(data))
PY
for m in huge bogus twice neg big; do python3 "$h/edit.py" "$h/m.safetensors" "$h/$m.safetensors" $m; done
cp "$wav" "$h/x.wav"

# ---- extract: no output may be an input, the model or another output (data lost) ----
cp "$h/x.wav" "$h/keep.wav"; cp "$h/m.safetensors" "$h/keep.safetensors"
refuses "--index $h/x.wav is the audio file" "$veil" extract --model "$h/m.safetensors" "$h/x.wav" -o "$h/x.npy" --index "$h/x.wav"
refuses "is the audio file" "$veil" extract --model "$h/m.safetensors" "$h/x.wav" -o "$h/./x.wav"
refuses "is the model" "$veil" extract --model "$h/m.safetensors" "$h/x.wav" -o "$h/m.safetensors"
ln -s x.wav "$h/link.npy"
refuses "is the audio file" "$veil" extract --model "$h/m.safetensors" "$h/x.wav" -o "$h/link.npy"
refuses "is the audio file" "$veil" classify --model "$h/m.safetensors" "$h/x.wav" -o "$h/x.wav"
refuses "is the audio file" "$veil" mfcc "$h/x.wav" -o "$h/x.wav"
cmp -s "$h/x.wav" "$h/keep.wav" || fail "extract overwrote its input audio"
cmp -s "$h/m.safetensors" "$h/keep.safetensors" || fail "extract overwrote the model"
# two outputs in one stream, or one file for both
refuses "would both go to standard output" "$veil" extract --model "$h/m.safetensors" "$h/x.wav" -o - --index -
refuses "are the same file" "$veil" extract --model "$h/m.safetensors" "$h/x.wav" -o "$h/y.npy" --index "$h/y.npy"
[ ! -e "$h/y.npy" ] || fail "--index equal to -o wrote a file"
accepts "$veil" extract --model "$h/m.safetensors" "$h/x.wav" -o /dev/null --index /dev/null

# ---- resume removes only veil's own temporaries, of a process that is gone ----
t "$veil" experiment "${grid[@]}" --out "$h/run" --max-jobs 1 >/dev/null 2>&1 || fail "first job of $h/run"
sh -c 'exit 0' & dead=$!; wait $dead
echo notes >"$h/run/notes.tmp.42"; echo mine >"$h/run/results.jsonl.tmp.1"
echo stale >"$h/run/summary.csv.veil-tmp.$dead"; echo live >"$h/run/report.md.veil-tmp.$$"
accepts "$veil" experiment "${grid[@]}" --out "$h/run" --max-jobs 1
[ -f "$h/run/notes.tmp.42" ] && [ -f "$h/run/results.jsonl.tmp.1" ] || fail "resume deleted a user's file"
[ ! -e "$h/run/summary.csv.veil-tmp.$dead" ] || fail "resume kept a dead run's temporary"
[ -f "$h/run/report.md.veil-tmp.$$" ] || fail "resume deleted a live process's temporary"

# ---- audit: features and labels made here ----
cat >"$h/mk.py" <<'PY'
import struct, sys, random
# OUT.npy LABELS.csv speakers rows_per_speaker dim mode [utterances_per_speaker]
out, lab, S, R, D, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
U = int(sys.argv[7]) if len(sys.argv) > 7 else 4
random.seed(1)
const = {"zero": 0.0, "seven": 7.0, "tiny": 7e-42}
vals = [const[mode] if mode in const else (s + 1) * 3e37 * (1 if d % 2 else -1) if mode == "huge"
        else s * 0.5 + random.gauss(0, 1) for s in range(S) for r in range(R) for d in range(D)]
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (S * R, D)
hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
with open(out, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + struct.pack("<%df" % len(vals), *vals))
names = [b"s%d" % s for s in range(S)]
if mode == "oddnames": names[0], names[1] = b"bad\xff\xfeid", b'"a|b\nc"'
with open(lab, "wb") as f:
    f.write(b"speaker,gender,utterance\n")
    for s in range(S):
        for r in range(R):
            f.write(b"%s,%s,u%d\n" % (names[s], b"FM"[s % 2:s % 2 + 1], r % U))
PY
au=(--st 4 --epochs 2 --threads 1 -q)
python3 "$h/mk.py" "$h/n.npy" "$h/n.csv" 8 12 16 normal
# --out is checked before any attacker runs
for bad in '' "$h/dangling" "$h/$(printf 'd%.0s' {1..5000})"; do
  ln -sfn "$h/nowhere" "$h/dangling"
  set +e; t "$veil" audit --features "$h/n.npy" --labels "$h/n.csv" --out "$bad" --st 4 --epochs 2 --threads 1 \
    >/dev/null 2>"$tmp/err.txt"; rc=$?; set -e
  [ $rc -ne 0 ] || fail "audit --out '${bad:0:40}' accepted"
  grep -q "audit group" "$tmp/err.txt" && fail "audit ran attackers before refusing --out '${bad:0:40}'"
done
grep -q "does not exist" <(t "$veil" audit --features "$h/n.npy" --labels "$h/n.csv" --out "$h/dangling" "${au[@]}" 2>&1) ||
  fail "dangling --out: the message does not say the link's target does not exist"
# a full disk (each file at most 30 kB: audit.svg does not fit) leaves no part of the set
set +e
(trap '' XFSZ; ulimit -f 30; exec timeout 120 "$veil" audit --features "$h/n.npy" --labels "$h/n.csv" --out "$h/full" "${au[@]}") \
  2>&1 >/dev/null | cat >"$tmp/err.txt"
rc=${PIPESTATUS[0]}
set -e
[ $rc -ne 0 ] || fail "audit on a full disk: exit 0"
[ -z "$(ls -A "$h/full" 2>/dev/null)" ] || fail "audit on a full disk left $(ls -A "$h/full")"
# precision: fp32 by default (as extract), recorded
accepts "$veil" audit --features "$h/n.npy" --labels "$h/n.csv" --out "$h/a-n" "${au[@]}"
grep -q '"precision":[[:space:]]*"fp32"' "$h/a-n/audit.json" || fail "audit.json does not record precision fp32"
# invalid UTF-8, | and a line break in speaker ids: valid JSON, tables intact
python3 "$h/mk.py" "$h/o.npy" "$h/o.csv" 8 12 16 oddnames
accepts "$veil" audit --features "$h/o.npy" --labels "$h/o.csv" --out "$h/a-o" "${au[@]}" --groups 1 --st 8
python3 -c 'import json,sys; json.loads(open(sys.argv[1],"rb").read().decode("utf-8"))' "$h/a-o/audit.json" ||
  fail "audit.json with a non-UTF-8 speaker id is not valid UTF-8 JSON"
grep -qF 'a\|b\nc' "$h/a-o/audit.md" || fail "audit.md: | and line break of a speaker id not escaped"
python3 - "$h/a-o/audit.md" <<'PY' || fail "audit.md: a table row has the wrong number of cells"
import re, sys
rows = [l for l in open(sys.argv[1], encoding="utf-8", errors="replace") if l.startswith("|")]
for l in rows:
    cells = len(re.findall(r"(?<!\\)\|", l))
    want = len(re.findall(r"(?<!\\)\|", rows[0])) if "attacker" in l or l.startswith("|---|---|---|---|---|---|---|") else None
assert rows, "no table"
per_group = [l for l in rows if re.match(r"\| \d+ \|", l)]
header = [l for l in rows if l.startswith("| group |")][0]
n = lambda l: len(re.findall(r"(?<!\\)\|", l))
assert per_group and all(n(l) == n(header) for l in per_group), (header, per_group)
PY
# constant features (all 0, all 7, x 1e-42) and one utterance per speaker: verify-lda gives
# null with its reason, the other attackers' numbers are kept
for mode in zero seven tiny one; do
  if [ $mode = one ]; then python3 "$h/mk.py" "$h/c.npy" "$h/c.csv" 8 12 16 normal 1
  else python3 "$h/mk.py" "$h/c.npy" "$h/c.csv" 8 12 16 $mode; fi
  accepts "$veil" audit --features "$h/c.npy" --labels "$h/c.csv" --out "$h/a-$mode" --st 4 --epochs 2 --threads 1
  python3 - "$h/a-$mode/audit.json" <<'PY' || fail "audit of $mode features: verify-lda not null with a reason, or others lost"
import json, sys
a = json.load(open(sys.argv[1]))
lda = a["probes"]["verify-lda"]
assert all(e is None for e in lda["eer"]) and all(lda["no_result"]), lda
assert all(x is not None for x in a["probes"]["logreg"]["acc"]), a["probes"]["logreg"]
PY
  grep -q "verify-lda: no result" "$tmp/err.txt" || fail "audit of $mode features: no warning for verify-lda"
done
# ... but an audit where no attacker scored anything is an error, not a report of nulls
refuses "no attacker gave a result on any group (verify-lda: LDA" "$veil" audit --features "$h/c.npy" --labels "$h/c.csv" \
  --out "$h/a-none" --attackers verify-lda "${au[@]}"
[ ! -e "$h/a-none" ] || fail "an audit with no result wrote its output"
# huge finite features: refused before the attackers, with the cause, never "try --precision fp32"
python3 "$h/mk.py" "$h/g.npy" "$h/g.csv" 8 12 16 huge
refuses "overflows float32 in any precision" "$veil" audit --features "$h/g.npy" --labels "$h/g.csv" --out "$h/a-g" "${au[@]}"
grep -q "precision fp32" "$tmp/err.txt" && fail "huge features: suggests --precision fp32, already set"
[ ! -e "$h/a-g" ] || fail "huge features: output written"
# a speaker with one row: the labels file and line
python3 "$h/mk.py" "$h/r.npy" "$h/r.csv" 8 12 16 normal
{ head -n 12 "$h/r.csv"; echo "lonely,F,u0"; tail -n +13 "$h/r.csv" | head -n 84; } >"$h/r1.csv"
refuses "r1.csv:13: speaker 'lonely' has only this row" "$veil" audit --features "$h/r.npy" --labels "$h/r1.csv" --out "$h/a-r" "${au[@]}"

# ---- the model loader: one rule for every command ----
refuses "metadata 'method'" "$veil" classify --model "$h/bogus.safetensors" "$h/x.wav"
refuses "metadata 'method'" "$veil" audit --model "$h/bogus.safetensors" --corpus "$tmp/corpus" --out "$h/a-b" \
  --cache "$tmp/cache" "${au[@]}"
refuses "names 'x' twice" "$veil" classify --model "$h/twice.safetensors" "$h/x.wav" --json
refuses "head.fc1.weight" "$veil" classify --model "$h/huge.safetensors" "$h/x.wav" --json
refuses "has shape [-1]" "$veil" classify --model "$h/neg.safetensors" "$h/x.wav"
refuses "has shape [4611686018427387904,4]" "$veil" classify --model "$h/big.safetensors" "$h/x.wav"

# ---- classify: names that are not UTF-8 or hold a tab ----
cp "$h/x.wav" "$h/bad$(printf '\377')name.wav"; cp "$h/x.wav" "$h/tab$(printf '\t')name.wav"
accepts "$veil" classify --model "$h/m.safetensors" "$h/bad$(printf '\377')name.wav" --json --per-patch
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1],"rb").read().decode("utf-8").splitlines()]' "$tmp/out.txt" ||
  fail "classify --json: a non-UTF-8 file name gives invalid JSON"
accepts "$veil" classify --model "$h/m.safetensors" "$h/tab$(printf '\t')name.wav" --per-patch
awk -F'\t' 'NR == 1 { n = NF } NF != n { exit 1 }' "$tmp/out.txt" || fail "classify: a tab in a file name shifts the columns"
grep -qF 'tab\tname.wav' "$tmp/out.txt" || fail "classify: the tab of a file name is not written as \\t"

# ---- audio input ----
flac=$(ls "${VEIL_SOURCE_DIR:-$(dirname "$0")/..}"/tests/fuzz/sphere/seeds/*.flac | head -n1)
set +e; cat "$flac" | t "$veil" mfcc - -o "$h/f.npy" 2>"$tmp/err.txt"; set -e
grep -q "lost sync" "$tmp/err.txt" && fail "FLAC on a pipe: not spooled ($(cat "$tmp/err.txt"))"
grep -q "shorter than one frame" "$tmp/err.txt" || { cat "$tmp/err.txt" >&2; fail "FLAC on a pipe: not decoded"; }
cp "$h/x.wav" "$h/r0.wav"; printf '\000\000\000\000' | dd of="$h/r0.wav" bs=1 seek=24 conv=notrunc status=none
refuses "sample rate of 0 Hz" "$veil" mfcc "$h/r0.wav" -o "$h/x0.npy"
head -c 30000 "$h/x.wav" >"$h/cut.wav"
accepts "$veil" mfcc "$h/cut.wav" -o "$h/cut.npy"
grep -q "cut.wav: truncated" "$tmp/err.txt" || fail "a WAV cut mid-data: no warning"
# a WAV written to a pipe declares its length unknown (0xFFFFFFFF): no warning for that
cp "$h/x.wav" "$h/piped.wav"
printf '\377\377\377\377' | dd of="$h/piped.wav" bs=1 seek=4 conv=notrunc status=none
printf '\377\377\377\377' | dd of="$h/piped.wav" bs=1 seek=40 conv=notrunc status=none
accepts "$veil" mfcc "$h/piped.wav" -o "$h/piped.npy"
grep -q "truncated" "$tmp/err.txt" && fail "a WAV of unknown length (written to a pipe) called truncated"
printf '\357\273\277%s\n' "$h/x.wav" >"$h/bom.list"
accepts "$veil" extract --model "$h/m.safetensors" --list "$h/bom.list" -o "$h/bom.npy"
printf '%s\000junk\n' "$h/x.wav" >"$h/nul.list"
refuses "nul.list:1: a NUL byte" "$veil" extract --model "$h/m.safetensors" --list "$h/nul.list" -o "$h/nul.npy"

# ---- results.jsonl and config.json: values as they are, 64-bit seeds ----
good=$(head -n1 "$h/run/results.jsonl")
cp "$h/run/config.json" "$h/config.keep"
printf '%s\n' "$(echo "$good" | sed 's/"seconds":[^,}]*/"seconds":1e308/')" >"$h/run/results.jsonl"
refuses '"seconds" is 1e+308, outside 0..1e+09' "$veil" experiment --out "$h/run" --report-only
printf '%s\n' "$(echo "$good" | sed 's/"stages":{"train":[^,}]*/"stages":{"train":1e308/')" >"$h/run/results.jsonl"
refuses '"stages"."train" is 1e+308, expected seconds' "$veil" experiment --out "$h/run" --report-only
printf '%s\n' "$(echo "$good" | sed 's/"seed":[0-9]*/"seed":18446744073709551616/')" >"$h/run/results.jsonl"
refuses '"seed" is 18446744073709551616, not a whole number' "$veil" experiment --out "$h/run" --report-only
printf '%s\n' "$good" >"$h/run/results.jsonl"
sed 's/"seed":[[:space:]]*[0-9]*/"seed": 9007199254740993/' "$h/config.keep" >"$h/run/config.json"
refuses "but the grid's seed 9007199254740993 gives this job" "$veil" experiment --out "$h/run" --report-only
sed 's/"cv":[[:space:]]*[0-9]*/"cv": 1000000000/' "$h/config.keep" >"$h/run/config.json"
refuses '"cv" is 1000000000, outside 1..1000' "$veil" experiment --out "$h/run" --report-only
cp "$h/config.keep" "$h/run/config.json"
accepts "$veil" experiment --out "$h/run" --report-only
refuses "--job: expected an integer" "$veil" train --from "$h/run" --job ' 0' -o "$h/j.safetensors"
echo "shell_harden: ok"
