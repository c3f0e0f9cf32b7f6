#!/usr/bin/env bash
# All benchmarks, each against the same work in PyTorch/torchaudio on this machine,
# in the same run, printed as ratios. Usage: bench/run-all.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
"$here/mfcc.sh" "$build/veil"
"$here/train.sh" "$build/veil"
"$here/head.sh" "$build/veil"
