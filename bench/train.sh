#!/bin/sh
# Training and extraction speed of veil against the same network in PyTorch, same
# machine, same run: G = 1..5, fp32 and bf16 (bf16 only where the CPU has it).
# usage: bench/train.sh [path/to/veil] [threads] [groups...]
# Prints a table; ratios > 1 mean veil is faster. Run it on an idle machine.
set -eu
VEIL=${1:-build/veil}
THREADS=${2:-2}
shift 2 2>/dev/null || shift $#
GROUPS_LIST=${*:-1 2 3 4 5}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/compare.sh"
compare train --groups "$GROUPS_LIST"

$PY "$HERE/table.py" train "$OUT"
