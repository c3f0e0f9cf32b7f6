#!/bin/bash
# veil audit: features written by `veil extract` with a labels CSV give the same attacker
# numbers as the audit of the model on the corpus (same groups, seed and speakers); the
# raw baseline runs; malformed features and labels are refused with messages naming the
# file, the line and the problem, and leave no output. $1 = veil binary, $2 = scratch.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
export OMP_NUM_THREADS=1 LC_ALL=C

tiny_corpus "$tmp/corpus" 10 6 3
tiny_model "$tmp/corpus" siamese -o "$tmp/m.safetensors" >/dev/null
common=(--st 4 --groups 2 --seed 2 --epochs 3 --precision fp32 --threads 1 -q)
"$veil" audit --model "$tmp/m.safetensors" --corpus "$tmp/corpus" --cache "$tmp/cache" \
    --out "$tmp/model" "${common[@]}"
for f in audit.json audit.md audit.png audit.svg; do [ -s "$tmp/model/$f" ] || fail "no $f"; done
grep -q '"strongest"' "$tmp/model/audit.json" || fail "audit.json: no strongest attacker"
grep -q 'Strongest attackers' "$tmp/model/audit.md" || fail "audit.md: no strongest attackers"

# the speakers audited: every corpus speaker but the model's training speakers
left_out=$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["left_out_speakers"]))' \
    "$tmp/model/audit.json")
# files in corpus order: speakers by id, then path; one labels row per feature row; all
# speakers (as `veil attack`) and the speakers the model audit kept
files=() kept=()
printf 'speaker,gender,utterance,file\n' | tee "$tmp/labels_all.csv" > "$tmp/labels.csv"
while read -r spk path; do
    # the file's patch count (the model has the default MFCC settings)
    "$veil" mfcc "$path" --patches -o "$tmp/one.npy" 2>/dev/null
    rows=$(python3 -c 'import sys; h=open(sys.argv[1],"rb").read(128).decode("latin1"); print(h.split("(")[1].split(",")[0])' "$tmp/one.npy")
    utt=$(basename "$path" .WAV)
    files+=("$path")
    for ((k = 0; k < rows; k++)); do echo "$spk,${spk:0:1},$utt,$path" >> "$tmp/labels_all.csv"; done
    case " $left_out " in *" $spk "*) continue ;; esac
    kept+=("$path")
    for ((k = 0; k < rows; k++)); do echo "$spk,${spk:0:1},$utt,$path" >> "$tmp/labels.csv"; done
done < <(for p in "$tmp"/corpus/TRAIN/*/*/*.WAV; do echo "$(basename "$(dirname "$p")") $p"; done | sort -k1,1 -k2,2)
"$veil" extract --model "$tmp/m.safetensors" "${kept[@]}" -o "$tmp/x.npy" --threads 1 2>/dev/null
"$veil" audit --features "$tmp/x.npy" --labels "$tmp/labels.csv" --out "$tmp/features" "${common[@]}"
python3 - "$tmp/model/audit.json" "$tmp/features/audit.json" <<'PY' || fail "features audit differs from the model audit"
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
"$veil" extract --model "$tmp/m.safetensors" "${files[@]}" -o "$tmp/all.npy" --threads 1 2>/dev/null
"$veil" audit --features "$tmp/all.npy" --labels "$tmp/labels_all.csv" --out "$tmp/all" --attackers paper-mlp \
    "${common[@]}"
"$veil" attack --model "$tmp/m.safetensors" --corpus "$tmp/corpus" --cache "$tmp/cache" --st 4 --groups 2 \
    --seed 2 --epochs 3 --precision fp32 --threads 1 --json -q > "$tmp/attack.json"
python3 - "$tmp/attack.json" "$tmp/all/audit.json" <<'PY' || fail "features audit differs from veil attack"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
x, y = a["attack_acc"], b["probes"]["paper-mlp"]["acc"]
print("veil attack", x, "audit", y)
sys.exit(0 if len(x) == len(y) == 2 and all(abs(p - q) < 1e-9 for p, q in zip(x, y)) else 1)
PY

# veil extract --corpus: the files above in corpus order, and an index that is a labels file
"$veil" extract --model "$tmp/m.safetensors" --corpus "$tmp/corpus" -o "$tmp/corp.npy" --threads 1 -q
cmp -s "$tmp/corp.npy" "$tmp/all.npy" || fail "extract --corpus differs from its files in corpus order"
[ "$(head -1 "$tmp/corp.index.csv")" = "row,file,patch,start_seconds,speaker,gender,utterance,dialect,subset,accent" ] ||
    fail "extract --corpus index header: $(head -1 "$tmp/corp.index.csv")"
"$veil" audit --features "$tmp/corp.npy" --labels "$tmp/corp.index.csv" --out "$tmp/corp" --attackers paper-mlp \
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
same_probes "$tmp/all/audit.json" "$tmp/corp/audit.json" || fail "audit of extract --corpus's index differs"
if "$veil" extract --model "$tmp/m.safetensors" --corpus "$tmp/corpus" "${files[0]}" -o "$tmp/x2.npy" 2> "$tmp/err.txt"; then
    fail "--corpus with audio files accepted"; fi
grep -q "exclude each other" "$tmp/err.txt" || fail "--corpus with files: $(cat "$tmp/err.txt")"

# veil corpus features -o: the MFCC patches (n x 32 x 32) with the same labelled index; a
# PyTorch user's features of them audit with it (here: the patches themselves, flattened,
# which is what veil audit --raw audits)
"$veil" corpus features "$tmp/corpus" --cache "$tmp/cache" -o "$tmp/patches.npy" -q > /dev/null
cut -d, -f5- "$tmp/patches.index.csv" > "$tmp/p.labels"; cut -d, -f5- "$tmp/corp.index.csv" > "$tmp/c.labels"
cmp -s "$tmp/p.labels" "$tmp/c.labels" || fail "corpus features -o: its index labels differ from extract --corpus's"
python3 - "$tmp/patches.npy" "$tmp/flat.npy" <<'PY'
import ast, struct, sys
d = open(sys.argv[1], "rb").read()
n = struct.unpack("<H", d[8:10])[0]; h = ast.literal_eval(d[10:10 + n].decode("latin1"))
assert h["descr"] == "<f4" and len(h["shape"]) == 3 and h["shape"][1:] == (32, 32), h
new = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 1024), }" % h["shape"][0]
new += " " * ((64 - (10 + len(new) + 1) % 64) % 64) + "\n"
open(sys.argv[2], "wb").write(d[:8] + struct.pack("<H", len(new)) + new.encode() + d[10 + n:])
PY
"$veil" audit --features "$tmp/flat.npy" --labels "$tmp/patches.index.csv" --out "$tmp/flat" \
    --attackers logreg,verify-cosine --st 4 --seed 2 --threads 1 -q
"$veil" audit --raw --corpus "$tmp/corpus" --cache "$tmp/cache" --out "$tmp/raw" --attackers logreg,verify-cosine \
    --st 4 --seed 2 --threads 1 -q
same_probes "$tmp/raw/audit.json" "$tmp/flat/audit.json" || fail "audit of corpus features -o differs from --raw"
(cd "$tmp" && "$veil" corpus features corpus --cache cache -o - -q > stdout.npy)
cmp -s "$tmp/stdout.npy" "$tmp/patches.npy" || fail "corpus features -o - differs from -o FILE"
[ ! -e "$tmp/-" ] || fail "corpus features -o - created a file named '-'"
grep -qE '"dim":[[:space:]]*1024' "$tmp/raw/audit.json" || fail "raw: dim $(grep dim "$tmp/raw/audit.json")"
grep -q '"verify-cosine"' "$tmp/raw/audit.json" || fail "raw: verify-cosine missing"
if grep -q '"knn-cosine"' "$tmp/raw/audit.json"; then fail "raw: --attackers not respected"; fi

# ---- malformed input: a message naming the file and the problem, no output ----
# a float32 .npy of R x C: zeros, or with a NaN first value
npy() { # path rows cols [nan]
    local h="{'descr': '<f4', 'fortran_order': False, 'shape': ($2, $3), }"
    while [ $(((10 + ${#h} + 1) % 64)) -ne 0 ]; do h="$h "; done
    { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((${#h} + 1)))\\x00"; printf '%s\n' "$h"
      if [ "${4:-}" = nan ]; then printf '\x00\x00\xc0\x7f'; head -c $(($2 * $3 * 4 - 4)) /dev/zero
      else head -c $(($2 * $3 * 4)) /dev/zero; fi; } > "$1"
}
npy "$tmp/z.npy" 6 3
npy "$tmp/nan.npy" 6 3 nan
good='speaker,gender,utterance\na,F,u1\na,F,u1\na,F,u2\nb,M,u1\nb,M,u1\nb,M,u2\n'
printf "$good" > "$tmp/good.csv"
expect_fail() { # message-substring args...
    local want=$1; shift
    rm -rf "$tmp/bad"
    if "$veil" audit "$@" --out "$tmp/bad" --st 2 --threads 1 -q 2> "$tmp/err.txt"; then
        fail "accepted: $* (expected '$want')"
    fi
    grep -qF -- "$want" "$tmp/err.txt" || fail "message for $*: $(cat "$tmp/err.txt") (expected '$want')"
    [ ! -e "$tmp/bad/audit.json" ] || fail "a failed audit left audit.json"
}
"$veil" audit --features "$tmp/z.npy" --labels "$tmp/good.csv" --out "$tmp/ok" --st 2 --threads 1 \
    --attackers verify-cosine -q || fail "a valid small input was refused: $(cat "$tmp/err.txt")"
# labels files beside z.npy that are refused, one a line: NAME|LINES (a printf format)|MESSAGE
while IFS='|' read -r name lines want; do
    printf "$lines" > "$tmp/$name"
    expect_fail "$want" --features "$tmp/z.npy" --labels "$tmp/$name"
done <<'EOF'
short.csv|speaker,gender,utterance\na,F,u1\na,F,u1\nb,M,u1\nb,M,u2\n|short.csv has 4 label rows but
nocol.csv|speaker,gender\na,F\na,F\na,F\nb,M\nb,M\nb,M\n|nocol.csv:1: missing column 'utterance'
one.csv|speaker,gender,utterance\na,F,u1\na,F,u1\na,F,u2\na,F,u1\na,F,u1\na,F,u2\n|only one speaker ('a')
gender.csv|speaker,gender,utterance\na,F,u1\na,F,u1\na,F,u2\nb,X,u1\nb,M,u1\nb,M,u2\n|gender.csv:5: gender 'X' is not F, M, female or male
twog.csv|speaker,gender,utterance\na,F,u1\na,F,u1\na,M,u2\nb,M,u1\nb,M,u1\nb,M,u2\n|twog.csv:4: speaker 'a' has gender M here but F on line 2
fields.csv|speaker,gender,utterance\na,F,u1\na,F\na,F,u2\nb,M,u1\nb,M,u1\nb,M,u2\n|fields.csv:3: 2 fields, the header has 3
empty.csv|speaker,gender,utterance\na,F,u1\n,F,u1\na,F,u2\nb,M,u1\nb,M,u1\nb,M,u2\n|empty.csv:3: empty speaker
lone.csv|speaker,gender,utterance\na,F,u1\nb,M,u1\nb,M,u1\nb,M,u2\nb,M,u1\nb,M,u2\n|lone.csv:2: speaker 'a' has only this row
EOF
expect_fail "nan.npy: feature row 0 (labels line 2), column 0 is NaN" --features "$tmp/nan.npy" --labels "$tmp/good.csv"
printf 'not an npy file' > "$tmp/junk.npy"
expect_fail "junk.npy" --features "$tmp/junk.npy" --labels "$tmp/good.csv"
expect_fail "missing.csv" --features "$tmp/z.npy" --labels "$tmp/missing.csv"
expect_fail "unknown attacker 'nope'" --features "$tmp/z.npy" --labels "$tmp/good.csv" --attackers logreg,nope
expect_fail "--features needs --labels" --features "$tmp/z.npy"
expect_fail "give exactly one of" --features "$tmp/z.npy" --labels "$tmp/good.csv" --raw
# more St than the labels have speakers: the message names the labels file (not `veil
# attack`) and says which --st fits
rm -rf "$tmp/bad"
if "$veil" audit --features "$tmp/z.npy" --labels "$tmp/good.csv" --out "$tmp/bad" --st 20 --threads 1 -q \
    2> "$tmp/err.txt"; then fail "St = 20 on 2 speakers accepted"; fi
grep -qF "good.csv: 1 group of St = 20 speakers needs 20 speakers, and there are 2: use a smaller --st (at most 2)" \
    "$tmp/err.txt" || fail "St message: $(cat "$tmp/err.txt")"
grep -q "attack:" "$tmp/err.txt" && fail "St message names veil attack: $(cat "$tmp/err.txt")"
[ ! -e "$tmp/bad/audit.json" ] || fail "a failed audit left audit.json"

# a usage error is the error and one line pointing to --help, in every command
for cmd in audit attack train experiment extract classify corpus mfcc bench; do
    if "$veil" $cmd --no-such-option x 2> "$tmp/err.txt"; then fail "$cmd accepted --no-such-option"; fi
    [ "$(wc -l < "$tmp/err.txt")" -eq 2 ] && grep -qx "see 'veil $cmd --help'" "$tmp/err.txt" ||
        fail "veil $cmd usage error: $(cat "$tmp/err.txt")"
done
# help texts: audit reads the file column; no method's setting says its method twice
"$veil" audit --help | grep -q "ignored" && ! "$veil" audit --help | grep -q "(file, offset) are ignored" ||
    fail "audit --help on the file column: $("$veil" audit --help | grep -A1 labels)"
"$veil" train --help | grep -E "([a-z]+): \1:" && fail "a setting's help names its method twice"
"$veil" --help | grep -q "siamese | reference" && fail "veil --help: train is more than siamese | reference"
echo "shell_audit: ok"
