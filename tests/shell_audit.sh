#!/bin/bash
# veil audit: features written by `veil extract` with a labels CSV give the same attacker
# numbers as the audit of the model on the corpus (same groups, seed and speakers); the
# raw baseline runs; malformed features and labels are refused with messages naming the
# file, the line and the problem, and leave no output. $1 = veil binary, $2 = scratch.
set -euo pipefail
veil=$1
dir=$2
rm -rf "$dir"
mkdir -p "$dir"
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_NUM_THREADS=1 LC_ALL=C
# fontconfig (under cairo's text) leaves parts of its configuration unreachable at exit
echo "leak:libfontconfig.so" > "$dir/lsan.supp"
export LSAN_OPTIONS="suppressions=$dir/lsan.supp:print_suppressions=0"

"$veil" corpus synth --out "$dir/corpus" --speakers 10 --female 5 --seconds 6 --seed 3 --threads 1 >/dev/null
"$veil" train --corpus "$dir/corpus" --method siamese --groups 5 --st 2 --epochs 1 --seed 5 \
    --threads 1 --precision fp32 -q -o "$dir/m.safetensors" >/dev/null
common=(--st 4 --groups 2 --seed 2 --epochs 3 --precision fp32 --threads 1 -q)
"$veil" audit --model "$dir/m.safetensors" --corpus "$dir/corpus" --cache "$dir/cache" \
    --out "$dir/model" "${common[@]}"
for f in audit.json audit.md audit.png audit.svg; do [ -s "$dir/model/$f" ] || fail "no $f"; done
grep -q '"strongest"' "$dir/model/audit.json" || fail "audit.json: no strongest attacker"
grep -q 'Strongest attackers' "$dir/model/audit.md" || fail "audit.md: no strongest attackers"

# the speakers audited: every corpus speaker but the model's training speakers
left_out=$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["left_out_speakers"]))' \
    "$dir/model/audit.json")
# files in corpus order: speakers by id, then path; one labels row per feature row; all
# speakers (as `veil attack`) and the speakers the model audit kept
files=() kept=()
printf 'speaker,gender,utterance,file\n' | tee "$dir/labels_all.csv" > "$dir/labels.csv"
while read -r spk path; do
    # the file's patch count (the model has the default MFCC settings)
    "$veil" mfcc "$path" --patches -o "$dir/one.npy" 2>/dev/null
    rows=$(python3 -c 'import sys; h=open(sys.argv[1],"rb").read(128).decode("latin1"); print(h.split("(")[1].split(",")[0])' "$dir/one.npy")
    utt=$(basename "$path" .WAV)
    files+=("$path")
    for ((k = 0; k < rows; k++)); do echo "$spk,${spk:0:1},$utt,$path" >> "$dir/labels_all.csv"; done
    case " $left_out " in *" $spk "*) continue ;; esac
    kept+=("$path")
    for ((k = 0; k < rows; k++)); do echo "$spk,${spk:0:1},$utt,$path" >> "$dir/labels.csv"; done
done < <(for p in "$dir"/corpus/TRAIN/*/*/*.WAV; do echo "$(basename "$(dirname "$p")") $p"; done | sort -k1,1 -k2,2)
"$veil" extract --model "$dir/m.safetensors" "${kept[@]}" -o "$dir/x.npy" --threads 1 2>/dev/null
"$veil" audit --features "$dir/x.npy" --labels "$dir/labels.csv" --out "$dir/features" "${common[@]}"
python3 - "$dir/model/audit.json" "$dir/features/audit.json" <<'PY' || fail "features audit differs from the model audit"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["group_speakers"] == b["group_speakers"], (a["group_speakers"], b["group_speakers"])
assert a["rows"] == b["rows"] and a["dim"] == b["dim"], (a["rows"], b["rows"])
assert set(a["probes"]) == set(b["probes"]) and "paper-mlp" in a["probes"], list(a["probes"])
bad = 0
for name, pa in a["probes"].items():
    pb = b["probes"][name]
    for k, va in pa.items():
        if k in ("seconds", "about", "mean"): continue
        for x, y in zip(va, pb[k]):
            if (x is None) != (y is None) or (x is not None and abs(x - y) > 1e-9):
                print(f"{name} {k}: model {va} features {pb[k]}"); bad = 1
sys.exit(bad)
PY
# every speaker's features against `veil attack` on the whole corpus: the same groups and
# the same paper-mlp numbers
"$veil" extract --model "$dir/m.safetensors" "${files[@]}" -o "$dir/all.npy" --threads 1 2>/dev/null
"$veil" audit --features "$dir/all.npy" --labels "$dir/labels_all.csv" --out "$dir/all" --attackers paper-mlp \
    "${common[@]}"
"$veil" attack --model "$dir/m.safetensors" --corpus "$dir/corpus" --cache "$dir/cache" --st 4 --groups 2 \
    --seed 2 --epochs 3 --precision fp32 --threads 1 --json -q > "$dir/attack.json"
python3 - "$dir/attack.json" "$dir/all/audit.json" <<'PY' || fail "features audit differs from veil attack"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
x, y = a["attack_acc"], b["probes"]["paper-mlp"]["acc"]
print("veil attack", x, "audit", y)
sys.exit(0 if len(x) == len(y) == 2 and all(abs(p - q) < 1e-9 for p, q in zip(x, y)) else 1)
PY

# veil extract --corpus: the files above in corpus order, and an index that is a labels file
"$veil" extract --model "$dir/m.safetensors" --corpus "$dir/corpus" -o "$dir/corp.npy" --threads 1 -q
cmp -s "$dir/corp.npy" "$dir/all.npy" || fail "extract --corpus differs from its files in corpus order"
[ "$(head -1 "$dir/corp.index.csv")" = "row,file,patch,start_seconds,speaker,gender,utterance,dialect,subset" ] ||
    fail "extract --corpus index header: $(head -1 "$dir/corp.index.csv")"
"$veil" audit --features "$dir/corp.npy" --labels "$dir/corp.index.csv" --out "$dir/corp" --attackers paper-mlp \
    "${common[@]}"
same_probes() { # audit.json audit.json: every number of every probe
python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["group_speakers"] == b["group_speakers"] and a["rows"] == b["rows"], (a["group_speakers"], b["group_speakers"])
bad = 0
for name, pa in a["probes"].items():
    for k, va in pa.items():
        if k in ("seconds", "about", "mean"): continue
        if va != b["probes"][name][k]: print(f"{name} {k}: {va} against {b['probes'][name][k]}"); bad = 1
sys.exit(bad)
PY
}
same_probes "$dir/all/audit.json" "$dir/corp/audit.json" || fail "audit of extract --corpus's index differs"
if "$veil" extract --model "$dir/m.safetensors" --corpus "$dir/corpus" "${files[0]}" -o "$dir/x2.npy" 2> "$dir/err.txt"; then
    fail "--corpus with audio files accepted"; fi
grep -q "exclude each other" "$dir/err.txt" || fail "--corpus with files: $(cat "$dir/err.txt")"

# veil corpus features -o: the MFCC patches (n x 32 x 32) with the same labelled index; a
# PyTorch user's features of them audit with it (here: the patches themselves, flattened,
# which is what veil audit --raw audits)
"$veil" corpus features "$dir/corpus" --cache "$dir/cache" -o "$dir/patches.npy" -q > /dev/null
cut -d, -f5- "$dir/patches.index.csv" > "$dir/p.labels"; cut -d, -f5- "$dir/corp.index.csv" > "$dir/c.labels"
cmp -s "$dir/p.labels" "$dir/c.labels" || fail "corpus features -o: its index labels differ from extract --corpus's"
python3 - "$dir/patches.npy" "$dir/flat.npy" <<'PY'
import ast, struct, sys
d = open(sys.argv[1], "rb").read()
n = struct.unpack("<H", d[8:10])[0]; h = ast.literal_eval(d[10:10 + n].decode("latin1"))
assert h["descr"] == "<f4" and len(h["shape"]) == 3 and h["shape"][1:] == (32, 32), h
new = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 1024), }" % h["shape"][0]
new += " " * ((64 - (10 + len(new) + 1) % 64) % 64) + "\n"
open(sys.argv[2], "wb").write(d[:8] + struct.pack("<H", len(new)) + new.encode() + d[10 + n:])
PY
"$veil" audit --features "$dir/flat.npy" --labels "$dir/patches.index.csv" --out "$dir/flat" \
    --attackers logreg,verify-cosine --st 4 --seed 2 --threads 1 -q
"$veil" audit --raw --corpus "$dir/corpus" --cache "$dir/cache" --out "$dir/raw" --attackers logreg,verify-cosine \
    --st 4 --seed 2 --threads 1 -q
same_probes "$dir/raw/audit.json" "$dir/flat/audit.json" || fail "audit of corpus features -o differs from --raw"
(cd "$dir" && "$veil" corpus features corpus --cache cache -o - -q > stdout.npy)
cmp -s "$dir/stdout.npy" "$dir/patches.npy" || fail "corpus features -o - differs from -o FILE"
[ ! -e "$dir/-" ] || fail "corpus features -o - created a file named '-'"
grep -qE '"dim":[[:space:]]*1024' "$dir/raw/audit.json" || fail "raw: dim $(grep dim "$dir/raw/audit.json")"
grep -q '"verify-cosine"' "$dir/raw/audit.json" || fail "raw: verify-cosine missing"
if grep -q '"knn-cosine"' "$dir/raw/audit.json"; then fail "raw: --attackers not respected"; fi

# ---- malformed input: a message naming the file and the problem, no output ----
# a float32 .npy of R x C: zeros, or with a NaN first value
npy() { # path rows cols [nan]
    local h="{'descr': '<f4', 'fortran_order': False, 'shape': ($2, $3), }"
    while [ $(((10 + ${#h} + 1) % 64)) -ne 0 ]; do h="$h "; done
    { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((${#h} + 1)))\\x00"; printf '%s\n' "$h"
      if [ "${4:-}" = nan ]; then printf '\x00\x00\xc0\x7f'; head -c $(($2 * $3 * 4 - 4)) /dev/zero
      else head -c $(($2 * $3 * 4)) /dev/zero; fi; } > "$1"
}
npy "$dir/z.npy" 6 3
npy "$dir/nan.npy" 6 3 nan
good='speaker,gender,utterance\na,F,u1\na,F,u1\na,F,u2\nb,M,u1\nb,M,u1\nb,M,u2\n'
printf "$good" > "$dir/good.csv"
expect_fail() { # message-substring args...
    local want=$1; shift
    rm -rf "$dir/bad"
    if "$veil" audit "$@" --out "$dir/bad" --st 2 --threads 1 -q 2> "$dir/err.txt"; then
        fail "accepted: $* (expected '$want')"
    fi
    grep -qF -- "$want" "$dir/err.txt" || fail "message for $*: $(cat "$dir/err.txt") (expected '$want')"
    [ ! -e "$dir/bad/audit.json" ] || fail "a failed audit left audit.json"
}
"$veil" audit --features "$dir/z.npy" --labels "$dir/good.csv" --out "$dir/ok" --st 2 --threads 1 \
    --attackers verify-cosine -q || fail "a valid small input was refused: $(cat "$dir/err.txt")"
printf 'speaker,gender,utterance\na,F,u1\na,F,u1\nb,M,u1\nb,M,u2\n' > "$dir/short.csv"
expect_fail "short.csv has 4 label rows but" --features "$dir/z.npy" --labels "$dir/short.csv"
printf 'speaker,gender\na,F\na,F\na,F\nb,M\nb,M\nb,M\n' > "$dir/nocol.csv"
expect_fail "nocol.csv:1: missing column 'utterance'" --features "$dir/z.npy" --labels "$dir/nocol.csv"
expect_fail "nan.npy: feature row 0 (labels line 2), column 0 is NaN" --features "$dir/nan.npy" --labels "$dir/good.csv"
printf 'speaker,gender,utterance\na,F,u1\na,F,u1\na,F,u2\na,F,u1\na,F,u1\na,F,u2\n' > "$dir/one.csv"
expect_fail "only one speaker ('a')" --features "$dir/z.npy" --labels "$dir/one.csv"
printf 'speaker,gender,utterance\na,F,u1\na,F,u1\na,F,u2\nb,X,u1\nb,M,u1\nb,M,u2\n' > "$dir/gender.csv"
expect_fail "gender.csv:5: gender 'X' is not F, M, female or male" --features "$dir/z.npy" --labels "$dir/gender.csv"
printf 'speaker,gender,utterance\na,F,u1\na,F,u1\na,M,u2\nb,M,u1\nb,M,u1\nb,M,u2\n' > "$dir/twog.csv"
expect_fail "twog.csv:4: speaker 'a' has gender M here but F on line 2" --features "$dir/z.npy" --labels "$dir/twog.csv"
printf 'speaker,gender,utterance\na,F,u1\na,F\na,F,u2\nb,M,u1\nb,M,u1\nb,M,u2\n' > "$dir/fields.csv"
expect_fail "fields.csv:3: 2 fields, the header has 3" --features "$dir/z.npy" --labels "$dir/fields.csv"
printf 'speaker,gender,utterance\na,F,u1\n,F,u1\na,F,u2\nb,M,u1\nb,M,u1\nb,M,u2\n' > "$dir/empty.csv"
expect_fail "empty.csv:3: empty speaker" --features "$dir/z.npy" --labels "$dir/empty.csv"
printf 'speaker,gender,utterance\na,F,u1\nb,M,u1\nb,M,u1\nb,M,u2\nb,M,u1\nb,M,u2\n' > "$dir/lone.csv"
expect_fail "lone.csv:2: speaker 'a' has only this row" --features "$dir/z.npy" --labels "$dir/lone.csv"
printf 'not an npy file' > "$dir/junk.npy"
expect_fail "junk.npy" --features "$dir/junk.npy" --labels "$dir/good.csv"
expect_fail "missing.csv" --features "$dir/z.npy" --labels "$dir/missing.csv"
expect_fail "unknown attacker 'nope'" --features "$dir/z.npy" --labels "$dir/good.csv" --attackers logreg,nope
expect_fail "--features needs --labels" --features "$dir/z.npy"
expect_fail "give exactly one of" --features "$dir/z.npy" --labels "$dir/good.csv" --raw
# more St than the labels have speakers: the message names the labels file (not `veil
# attack`) and says which --st fits
rm -rf "$dir/bad"
if "$veil" audit --features "$dir/z.npy" --labels "$dir/good.csv" --out "$dir/bad" --st 20 --threads 1 -q \
    2> "$dir/err.txt"; then fail "St = 20 on 2 speakers accepted"; fi
grep -qF "good.csv: 1 group of St = 20 speakers needs 20 speakers, and there are 2: use a smaller --st (at most 2)" \
    "$dir/err.txt" || fail "St message: $(cat "$dir/err.txt")"
grep -q "attack:" "$dir/err.txt" && fail "St message names veil attack: $(cat "$dir/err.txt")"
[ ! -e "$dir/bad/audit.json" ] || fail "a failed audit left audit.json"

# a usage error is the error and one line pointing to --help, in every command
for cmd in audit attack train experiment extract classify corpus mfcc bench; do
    if "$veil" $cmd --no-such-option x 2> "$dir/err.txt"; then fail "$cmd accepted --no-such-option"; fi
    [ "$(wc -l < "$dir/err.txt")" -eq 2 ] && grep -qx "see 'veil $cmd --help'" "$dir/err.txt" ||
        fail "veil $cmd usage error: $(cat "$dir/err.txt")"
done
# help texts: audit reads the file column; no method's setting says its method twice
"$veil" audit --help | grep -q "ignored" && ! "$veil" audit --help | grep -q "(file, offset) are ignored" ||
    fail "audit --help on the file column: $("$veil" audit --help | grep -A1 labels)"
"$veil" train --help | grep -E "([a-z]+): \1:" && fail "a setting's help names its method twice"
"$veil" --help | grep -q "siamese | reference" && fail "veil --help: train is more than siamese | reference"
echo "shell_audit: ok"
