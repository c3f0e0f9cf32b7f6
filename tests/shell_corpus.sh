#!/bin/bash
# veil corpus synth | info | features end to end on a tiny synthetic corpus.
# $1: the veil program, $2: a scratch folder.
set -u
VEIL=$1
DIR=$2
rm -rf "$DIR" && mkdir -p "$DIR" || exit 2
fail=0
check() { # check DESCRIPTION CONDITION...
    local what=$1
    shift
    if ! "$@"; then
        echo "FAILED: $what" >&2
        fail=1
    fi
}

"$VEIL" corpus synth --out "$DIR/c" --speakers 4 --female 2 --seconds 3 --seed 7 >"$DIR/synth.txt" 2>"$DIR/synth.err"
check "synth exits 0" test $? -eq 0
check "synth prints the summary" grep -q "4 (2 F / 2 M)" "$DIR/synth.txt"

"$VEIL" corpus info "$DIR/c" --json >"$DIR/info.json"
check "info --json exits 0" test $? -eq 0
check "info counts speakers" grep -q '"speakers":4,"female":2,"male":2' "$DIR/info.json"

"$VEIL" corpus features "$DIR/c" --threads 2 --json >"$DIR/f1.json" 2>/dev/null
check "features exits 0" test $? -eq 0
check "first run computes" grep -q '"from_cache":false' "$DIR/f1.json"
check "cache in the corpus folder" grep -q "\"cache\":\"$DIR/c/.veil-cache/" "$DIR/f1.json"
"$VEIL" corpus features "$DIR/c" --threads 1 --json >"$DIR/f2.json" 2>/dev/null
check "second run reads the cache" grep -q '"from_cache":true' "$DIR/f2.json"
p1=$(grep -o '"patches":[0-9]*' "$DIR/f1.json")
p2=$(grep -o '"patches":[0-9]*' "$DIR/f2.json")
check "same patch count ($p1 / $p2)" test -n "$p1" -a "$p1" = "$p2"

# errors: non-zero exit, message naming the path
mkdir -p "$DIR/empty"
"$VEIL" corpus info "$DIR/empty" >/dev/null 2>"$DIR/err.txt"
check "unknown layout fails" test $? -eq 1
check "unknown layout message" grep -q "$DIR/empty: unknown layout" "$DIR/err.txt"
"$VEIL" corpus features >/dev/null 2>&1
check "missing argument is a usage error" test $? -eq 2
"$VEIL" corpus info "$DIR/c" --bogus >/dev/null 2>&1
check "unknown option is a usage error" test $? -eq 2

exit $fail
