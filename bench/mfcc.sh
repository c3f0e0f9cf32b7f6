#!/usr/bin/env bash
# veil's MFCC front end vs torchaudio on the same signal, one thread each, same run.
# usage: bench/mfcc.sh [VEIL_BINARY] [SECONDS] [ROUNDS]
#   VEIL_BINARY defaults to build/veil; SECONDS of synthetic audio (default 60);
#   ROUNDS: the whole comparison is repeated and the best of each side reported (default 3).
set -euo pipefail
VEIL=${1:-build/veil}
SECONDS_AUDIO=${2:-60}
ROUNDS=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=""
for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null && "$p" -c "import torch, torchaudio, numpy" 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "mfcc.sh: needs python3 with torch, torchaudio and numpy (Debian: python3-torchaudio)"; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# One signal for both: veil writes its synthetic signal as 16-bit WAV; both read that file.
"$VEIL" bench mfcc --seconds "$SECONDS_AUDIO" --repeat 1 --save-signal "$TMP/signal.wav" >/dev/null
"$VEIL" mfcc -q "$TMP/signal.wav" -o "$TMP/veil_frames.npy"

best_veil=0; best_torch=0
for r in $(seq "$ROUNDS"); do
    OMP_NUM_THREADS=1 "$VEIL" bench mfcc --audio "$TMP/signal.wav" --repeat 5 --json >"$TMP/veil.json"
    OMP_NUM_THREADS=1 "$PY" "$HERE/bench_mfcc.py" "$TMP/signal.wav" --repeat 5 --json \
        --veil-frames "$TMP/veil_frames.npy" >"$TMP/torch.json"
    read -r v t d <<<"$("$PY" -c '
import json, sys
v = json.load(open(sys.argv[1])); t = json.load(open(sys.argv[2]))
print(round(v["x_realtime"]), round(t["x_realtime"]), "%.3g" % t["max_abs_diff"])' "$TMP/veil.json" "$TMP/torch.json")"
    echo "round $r: veil ${v}x real time, torchaudio ${t}x real time, max |veil - torchaudio| = $d"
    best_veil=$("$PY" -c "print(max($best_veil, $v))")
    best_torch=$("$PY" -c "print(max($best_torch, $t))")
done
"$PY" - "$TMP/torch.json" "$best_veil" "$best_torch" <<'PYEOF'
import json, sys
t = json.load(open(sys.argv[1])); bv = float(sys.argv[2]); bt = float(sys.argv[3])
print(f"MFCC + patches, {t['seconds']:.0f} s of 16 kHz audio, one thread, best of the rounds:")
print(f"  veil        {bv:9.0f}x real time")
print(f"  torchaudio  {bt:9.0f}x real time  (torch {t['torch']}, torchaudio {t['torchaudio']})")
print(f"  ratio       {bv / bt:9.2f}x")
print(f"  coefficients: max abs diff {t['max_abs_diff']:.3g} (per-frame relative {t['max_rel_diff']:.3g}),")
print(f"  {t['max_abs_diff_same_log']:.3g} once torchaudio's log(mel + 1e-6) is replaced by veil's log(max(mel, 1e-10))")
PYEOF
