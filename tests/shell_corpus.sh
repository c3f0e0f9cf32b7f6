#!/bin/bash
# veil corpus synth | info | features end to end on a tiny synthetic corpus.
# $1: the veil program, $2: a scratch folder.
set -u
. "$(dirname "$0")/lib.sh" "$@"
failed=0
check() { # check DESCRIPTION CONDITION...
    local what=$1
    shift
    if ! "$@"; then
        echo "FAILED: $what" >&2
        failed=1
    fi
}

"$veil" corpus synth --out "$tmp/c" --speakers 4 --female 2 --seconds 3 --seed 7 >"$tmp/synth.txt" 2>"$tmp/synth.err"
check "synth exits 0" test $? -eq 0
check "synth prints the summary" grep -q "4 (2 F / 2 M)" "$tmp/synth.txt"

"$veil" corpus info "$tmp/c" --json >"$tmp/info.json"
check "info --json exits 0" test $? -eq 0
check "info counts speakers" grep -q '"speakers":4,"female":2,"male":2' "$tmp/info.json"
# a synthetic corpus's speakers carry their espeak-ng voice as the label "accent" (issue 20),
# each speaker's base_voice of synth.json
python3 - "$tmp/info.json" "$tmp/c/synth.json" <<'PY'
import json, sys
info, synth = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert "accent" in info["label_names"], info["label_names"]
want = {s["id"]: s["base_voice"] for s in synth["speakers"]}
got = {s["id"]: s["labels"]["accent"] for s in info["speaker_list"]}
assert got == want, (got, want)
PY
check "info: accent from synth.json" test $? -eq 0
"$veil" corpus info "$tmp/c" | grep -q "^  accent " 
check "info lists the accents with their counts" test $? -eq 0
# a malformed synth.json: refused, naming it
cp -r "$tmp/c" "$tmp/bad"
echo '{"format": "something else"}' > "$tmp/bad/synth.json"
"$veil" corpus info "$tmp/bad" >/dev/null 2>"$tmp/bad.txt"
check "malformed synth.json fails" test $? -eq 1
check "malformed synth.json message" grep -q "$tmp/bad/synth.json: not a veil synthetic corpus" "$tmp/bad.txt"

"$veil" corpus features "$tmp/c" --threads 2 --json >"$tmp/f1.json" 2>/dev/null
check "features exits 0" test $? -eq 0
check "first run computes" grep -q '"from_cache":false' "$tmp/f1.json"
check "cache in the corpus folder" grep -q "\"cache\":\"$tmp/c/.veil-cache/" "$tmp/f1.json"
"$veil" corpus features "$tmp/c" --threads 1 --json >"$tmp/f2.json" 2>/dev/null
check "second run reads the cache" grep -q '"from_cache":true' "$tmp/f2.json"
p1=$(grep -o '"patches":[0-9]*' "$tmp/f1.json")
p2=$(grep -o '"patches":[0-9]*' "$tmp/f2.json")
check "same patch count ($p1 / $p2)" test -n "$p1" -a "$p1" = "$p2"

# errors: non-zero exit, message naming the path
mkdir -p "$tmp/empty"
"$veil" corpus info "$tmp/empty" >/dev/null 2>"$tmp/err.txt"
check "unknown layout fails" test $? -eq 1
check "unknown layout message" grep -q "$tmp/empty: unknown layout" "$tmp/err.txt"
"$veil" corpus features >/dev/null 2>&1
check "missing argument is a usage error" test $? -eq 2
"$veil" corpus info "$tmp/c" --bogus >/dev/null 2>&1
check "unknown option is a usage error" test $? -eq 2

exit $failed
