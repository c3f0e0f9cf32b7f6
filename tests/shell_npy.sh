#!/usr/bin/env bash
# veil mfcc: exit codes and messages, and numpy.load reads the .npy files it writes.
# $1 = the veil binary, $2 = a scratch directory
set -u
. "$(dirname "$0")/lib.sh" "$@"
failed=0
check() { # description, then a command that must succeed
    local what=$1; shift
    if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failed=1; fi
}

# errors that need no fixtures
"$veil" mfcc "$tmp/missing.wav" -o "$tmp/out.npy" 2>"$tmp/err"; rc=$?
check "missing file exits 1" test $rc -eq 1
check "missing file is named" grep -q "missing.wav" "$tmp/err"
check "no output left after a failure" test ! -e "$tmp/out.npy"
"$veil" mfcc 2>/dev/null; rc=$?
check "no arguments exits 2" test $rc -eq 2
"$veil" mfcc "$tmp/x.wav" -o "$tmp/out.npy" --bogus 2>/dev/null; rc=$?
check "unknown option exits 2" test $rc -eq 2
"$veil" mfcc "$tmp/x.wav" -o "$tmp/out.npy" --n-mfcc 80 2>"$tmp/err"; rc=$?
check "n_mfcc > n_mels exits 2" test $rc -eq 2
check "n_mfcc > n_mels is named" grep -q "n_mfcc" "$tmp/err"
check "--help exits 0" "$veil" mfcc --help >/dev/null

# a 0.5 s WAV (one patch) with the standard library alone
python3 - "$tmp/half.wav" <<'PYEOF'
import math, struct, sys, wave
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
    w.writeframes(b"".join(struct.pack("<h", int(9000 * math.sin(2 * math.pi * 440 * i / 16000))) for i in range(8000)))
PYEOF
# one patch is "1 patch"
"$veil" mfcc -v "$tmp/half.wav" -o "$tmp/half.npy" --patches 2>"$tmp/err"
check "one patch, singular" grep -q ": 1 patch x 32 x 32 from" "$tmp/err"
# -o - writes to standard output and never a file named '-' (run where one would land)
(cd "$tmp" && "$veil" mfcc -q half.wav -o - --patches > stdout.npy)
check "-o - wrote the .npy to standard output" cmp -s "$tmp/stdout.npy" "$tmp/half.npy"
(cd "$tmp" && "$veil" mfcc -q half.wav -o - > /dev/null)
check "-o - left no file named '-'" test ! -e "$tmp/-"

PY=""
for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c "import numpy" 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
    echo "skipped: the numpy part (no python3 with numpy)"
    exit $failed
fi

# fixtures: 1 s and 0.3 s of 16 kHz 16-bit mono WAV
"$PY" - "$tmp" <<'PYEOF'
import sys, wave
import numpy as np
d = sys.argv[1]
def write(name, secs):
    t = np.arange(int(secs * 16000)) / 16000
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * np.random.default_rng(1).standard_normal(t.size)
    with wave.open(f"{d}/{name}", "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
        w.writeframes((x * 32767).astype("<i2").tobytes())
write("one_second.wav", 1.0)
write("short.wav", 0.3)
PYEOF

# numpy reads a pipe through io.BytesIO (np.load needs a seekable file), as docs/library.md shows
(cd "$tmp" && "$veil" mfcc -q one_second.wav -o - --patches | "$PY" -c \
    'import io, sys, numpy as np; a = np.load(io.BytesIO(sys.stdin.buffer.read())); assert a.shape == (2, 32, 32), a.shape')
check "-o - piped into numpy" test $? -eq 0

check "frames" "$veil" mfcc -q "$tmp/one_second.wav" -o "$tmp/frames.npy"
check "patches" "$veil" mfcc -q "$tmp/one_second.wav" -o "$tmp/patches.npy" --patches
check "numpy reads both" "$PY" - "$tmp" <<'PYEOF'
import sys
import numpy as np
d = sys.argv[1]
f = np.load(f"{d}/frames.npy")
p = np.load(f"{d}/patches.npy")
assert f.dtype == np.float32 and p.dtype == np.float32, (f.dtype, p.dtype)
assert f.shape == (1 + (16000 - 416) // 208, 32), f.shape   # 75 frames
assert p.shape == (2, 32, 32), p.shape                       # 75 // 32 patches
assert np.isfinite(f).all()
assert np.array_equal(p, f[:64].reshape(2, 32, 32)), "patches are not the frames grouped"
# frame 10 recomputed with numpy from the WAV's samples (the paper's defaults)
import wave
with wave.open(f"{d}/one_second.wav") as w:
    x = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0
win = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(416) / 416)
pw = np.abs(np.fft.rfft(x[10 * 208:10 * 208 + 416] * win, 512)) ** 2
mel = lambda f: 2595 * np.log10(1 + f / 700)
pts = 700 * (10 ** (np.linspace(0, mel(8000), 66) / 2595) - 1)
hz = np.arange(257) * 16000 / 512
fb = np.array([np.clip(np.minimum((hz - pts[j]) / (pts[j + 1] - pts[j]),
                                  (pts[j + 2] - hz) / (pts[j + 2] - pts[j + 1])), 0, None) for j in range(64)])
lm = np.log(np.maximum(fb @ pw, 1e-10))
k = np.arange(32)[:, None]
dct = np.cos(np.pi * k * (2 * np.arange(64) + 1) / 128) * np.where(k == 0, np.sqrt(1 / 64), np.sqrt(2 / 64))
ref = dct @ lm
err = np.abs(f[10] - ref).max() / np.abs(ref).max()
assert err < 1e-4, (err, f[10], ref)
PYEOF
"$veil" mfcc "$tmp/short.wav" -o "$tmp/short.npy" --patches 2>"$tmp/err"; rc=$?
check "audio shorter than a patch exits 1" test $rc -eq 1
check "... and says so, naming the file" grep -q "short.wav: audio is 0.300 s long, shorter than one patch" "$tmp/err"
check "short audio still gives frames" "$veil" mfcc -q "$tmp/short.wav" -o "$tmp/short.npy"
exit $failed
