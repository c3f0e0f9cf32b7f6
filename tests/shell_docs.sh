#!/usr/bin/env bash
# The docs run as written: every code block marked `<!-- examples/FILE -->` in README.md
# and docs/*.md is that file byte for byte, every Python block is such a file, and each
# example runs here (the PyTorch ones where python3-torch is installed, the numpy one
# where numpy is). The README lists every command and every doc; the man page's SEE
# ALSO names audit; the numbers and rules the docs state are the program's.
# $1: the veil binary, $2: a scratch directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
veil=$(cd "$(dirname "$veil")" && pwd)/$(basename "$veil") # examples run it from elsewhere
src=$(cd "$(dirname "$0")/.." && pwd)

# ---- the blocks are the files; no Python block outside examples/ ----
python3 - "$src" <<'EOF' || fail "docs and examples/ differ"
import glob, os, re, sys
src = sys.argv[1]
bad = 0
shown = set()
for doc in ["README.md"] + sorted(os.path.relpath(p, src) for p in glob.glob(f"{src}/docs/*.md")):
    text = open(f"{src}/{doc}").read()
    for m in re.finditer(r"<!-- (examples/[^ ]+) -->\n```\w*\n(.*?)```\n", text, re.S):
        shown.add(m.group(1))
        if not os.path.exists(f"{src}/{m.group(1)}"):
            print(f"{doc}: {m.group(1)} does not exist"); bad = 1
        elif open(f"{src}/{m.group(1)}").read() != m.group(2):
            print(f"{doc}: the block of {m.group(1)} is not the file"); bad = 1
    for m in re.finditer(r"(.*)\n```python\n", text):
        if not m.group(1).startswith("<!-- examples/"):
            print(f"{doc}:{text[:m.end()].count(chr(10))}: a Python block that is not a file of examples/"); bad = 1
for f in ("veil_torch.py", "audit_torch.py", "labels_from_index.py", "index_by_file.py", "audit_corpus.sh"):
    if f"examples/{f}" not in shown: print(f"examples/{f} is shown by no doc"); bad = 1
sys.exit(bad)
EOF

# ---- the examples run ----
tiny_corpus "$tmp/corpus" 8 4
tiny_model "$tmp/corpus" siamese --groups 2 --gender-epochs 1 --filter-divisor 16 --seed 3 \
    -o "$tmp/model.safetensors" >/dev/null
mkdir -p "$tmp/bin"; ln -s "$veil" "$tmp/bin/veil"
PATH="$tmp/bin:$PATH" sh "$src/examples/audit_corpus.sh" "$tmp/model.safetensors" "$tmp/corpus" "$tmp/ac" \
    --st 4 --attackers logreg --threads 1 -q 2>/dev/null || fail "examples/audit_corpus.sh"
[ -s "$tmp/ac/audit/audit.json" ] || fail "examples/audit_corpus.sh wrote no audit.json"
# labels_from_index.py on an index of plain files (TIMIT layout: folder = speaker)
"$veil" extract --model "$tmp/model.safetensors" "$tmp"/corpus/TRAIN/*/*/*.WAV -o "$tmp/feats.npy" -q
python3 "$src/examples/labels_from_index.py" "$tmp/feats.index.csv" "$tmp/labels.csv"
"$veil" audit --features "$tmp/feats.npy" --labels "$tmp/labels.csv" --out "$tmp/lab" --st 4 --attackers logreg \
    --threads 1 -q || fail "veil audit refused examples/labels_from_index.py's labels"
if python3 -c "import numpy" 2>/dev/null; then
    python3 "$src/examples/index_by_file.py" "$tmp/feats.npy" > "$tmp/by_file.txt"
    [ "$(wc -l < "$tmp/by_file.txt")" -eq "$(ls "$tmp"/corpus/TRAIN/*/*/*.WAV | wc -l)" ] ||
        fail "examples/index_by_file.py: $(cat "$tmp/by_file.txt")"
else
    echo "skipped: examples/index_by_file.py (no numpy)"
fi
if python3 -c "import torch, numpy" 2>/dev/null; then
    "$veil" corpus features "$tmp/corpus" -o "$tmp/patches.npy" -q > /dev/null
    (cd "$tmp" && PYTHONPATH="$src/examples" python3 "$src/examples/audit_torch.py" patches.npy torch_feats.npy \
        model.safetensors) || fail "examples/audit_torch.py"
    "$veil" audit --features "$tmp/torch_feats.npy" --labels "$tmp/patches.index.csv" --out "$tmp/torch" --st 4 \
        --attackers logreg --threads 1 -q || fail "veil audit refused examples/audit_torch.py's features"
else
    echo "skipped: examples/veil_torch.py and audit_torch.py (no python3-torch)"
fi

# ---- the README and the man page name every command and doc ----
for cmd in $("$veil" --help | awk '/^  [a-z]/ && $1 !~ /^-/ {print $1}'); do
    grep -q "^veil $cmd\b" "$src/README.md" || fail "README's command list omits veil $cmd"
done
for doc in "$src"/docs/*.md; do
    grep -q "(docs/$(basename "$doc"))" "$src/README.md" || fail "README's docs list omits docs/$(basename "$doc")"
done
man=$(dirname "$veil")/veil.1
if [ -f "$man" ]; then sed -n '/^\.SH SEE ALSO/,$p' "$man" | grep -q "audit" || fail "veil(1) SEE ALSO omits audit"; fi
"$veil" --help | grep -q "siamese | reference" && fail "veil --help: train is more than (siamese | reference)"

# ---- numbers and rules the docs state ----
# the shortest audio that gives a patch: library.md says the program's number
python3 - "$tmp/short.wav" <<'EOF'
import struct, sys, wave
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
    w.writeframes(b"".join(struct.pack("<h", (i * 37) % 2000 - 1000) for i in range(6720)))  # 0.420 s
EOF
"$veil" extract --model "$tmp/model.safetensors" "$tmp/short.wav" "$tmp/corpus"/TRAIN/*/*/SA1.WAV \
    -o "$tmp/s.npy" 2> "$tmp/err"
need=$(grep -o "shorter than one patch ([0-9.]* s)" "$tmp/err" | grep -o "[0-9]\.[0-9]*")
[ -n "$need" ] || fail "no short-file warning: $(cat "$tmp/err")"
grep -q "shorter than one patch ($need s" "$src/docs/library.md" || fail "library.md's short-file length is not $need s"
if grep -q "ending in \`\.csv\`" "$src/docs/corpora.md"; then fail "corpora.md: a manifest need not end in .csv"; fi
printf 'path,speaker,gender\n' > "$tmp/manifest.txt"
for f in "$tmp"/corpus/TRAIN/*/*/*.WAV; do s=$(basename "$(dirname "$f")"); echo "$f,$s,${s:0:1}" >> "$tmp/manifest.txt"; done
"$veil" corpus info "$tmp/manifest.txt" > /dev/null || fail "a manifest not ending in .csv refused"
echo "shell_docs: ok"
