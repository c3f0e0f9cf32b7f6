#!/usr/bin/env bash
# The main job on the embedded default: synthesize the default corpus (once), then
# run the quick experiment on it and show where the results are.
set -euo pipefail
veil=$1; corpus=$2; out=$3
if [ ! -f "$corpus/synth.json" ]; then
  "$veil" corpus synth --out "$corpus"
fi
"$veil" corpus info "$corpus"
"$veil" corpus features "$corpus"
