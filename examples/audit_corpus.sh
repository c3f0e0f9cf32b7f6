#!/bin/sh
# The attacker battery on a model's features of a whole corpus (docs/audit.md):
# sh audit_corpus.sh MODEL.safetensors CORPUS OUT
set -e
model=$1 corpus=$2 out=$3; shift 3  # more arguments go to veil audit (--st 10, ...)
mkdir -p "$out"
veil extract --model "$model" --corpus "$corpus" -o "$out/feats.npy"    # + feats.index.csv
veil audit --features "$out/feats.npy" --labels "$out/feats.index.csv" --out "$out/audit" "$@"
