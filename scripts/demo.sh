#!/usr/bin/env bash
# The main job on the embedded default: synthesize the default corpus (once; a no-op when
# it is complete), run the quick experiment on it (resumes if interrupted) and show where
# the results are. Usage: demo.sh VEIL_BINARY CORPUS_DIR OUT_DIR
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 VEIL_BINARY CORPUS_DIR OUT_DIR" >&2
  exit 2
fi
veil=$1; corpus=$2; out=$3
# synth prints the corpus summary (also when the corpus is already complete)
"$veil" corpus synth --out "$corpus"
# prints the summary table and the paths of the report and the figures at the end
"$veil" experiment --corpus "$corpus" --out "$out" --preset quick
