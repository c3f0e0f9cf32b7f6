#!/bin/sh
# Attacker-head training speed of veil against the same MLP in PyTorch, same machine, same
# run: one epoch (990 samples, batch 90) of D -> 1024 -> 20 at D = 16384, 4096 and 1024 (the
# features of G = 1, 2-3 and 4-5), fp32 and bf16 (bf16 only where the CPU has it).
# usage: bench/head.sh [path/to/veil] [threads] [dims...]
# Prints a table; ratios > 1 mean veil is faster. The first line per D also gives what
# this machine allows for one step (veil bench head --bound, method in docs/network.md)
# and how close veil gets. PyTorch gets the BLAS that libblas.so.3 points to: install an
# optimised one (libopenblas0-pthread) first, Debian's reference BLAS makes it ~8x slower.
# Report the load printed before and after with the numbers: on a shared machine they move.
set -eu
VEIL=${1:-build/veil}
THREADS=${2:-2}
shift 2 2>/dev/null || shift $#
DIMS=${*:-16384 4096 1024}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/compare.sh"
compare head --in-dim "$DIMS" --bound

$PY "$HERE/table.py" head "$OUT"
