#!/usr/bin/env python3
"""torchaudio's MFCC on the same audio and settings as `veil bench mfcc`, one thread.

Reads a 16 kHz mono 16-bit WAV (bench/mfcc.sh writes one with veil), times
torchaudio.transforms.MFCC (best of --repeat) and, given veil's frames
(`veil mfcc AUDIO -o frames.npy`), prints how far the two sets of coefficients are apart.

Settings matched to veil's defaults (docs/mfcc.md): n_fft 512, win_length 416, hop 208,
periodic Hamming window, center=False, power 2, 64 HTK mel bands on 0..8000 Hz without
normalisation, orthonormal DCT-II, 32 coefficients. Two differences remain:
  * log: torchaudio (log_mels=True) takes log(mel + 1e-6), veil log(max(mel, 1e-10));
    the same wherever mel power >> 1e-6 (everywhere in this signal, which has noise).
  * frame alignment: torch.stft puts the 416-sample window in the middle of each
    512-sample frame, so frame t covers samples t*hop+48 .. t*hop+463; veil's frame t
    covers t*hop .. t*hop+415. Padding 48 zeros on both sides makes them the same frames
    (zero padding inside the FFT only changes phases, not the power spectrum).
"""
import argparse
import json
import sys
import time
import wave

import numpy as np
import torch
import torchaudio


def read_wav16(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            sys.exit(f"{path}: expected mono 16-bit PCM WAV")
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return x, rate


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("audio", help="16 kHz mono 16-bit WAV")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--veil-frames", help="veil's frames of the same audio (.npy, N x 32)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(1)
    x, rate = read_wav16(a.audio)
    if rate != 16000:
        sys.exit(f"{a.audio}: {rate} Hz, expected 16000")
    n_fft, win, hop = 512, 416, 208
    pad = (n_fft - win) // 2
    mfcc = torchaudio.transforms.MFCC(
        sample_rate=rate, n_mfcc=32, dct_type=2, norm="ortho", log_mels=True,
        melkwargs=dict(n_fft=n_fft, win_length=win, hop_length=hop, n_mels=64, f_min=0.0,
                       f_max=8000.0, center=False, window_fn=torch.hamming_window, power=2.0,
                       mel_scale="htk", norm=None))
    xt = torch.from_numpy(np.pad(x, (pad, pad)))
    with torch.no_grad():
        y = mfcc(xt)  # warm-up
        best = float("inf")
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            y = mfcc(xt)
            best = min(best, time.perf_counter() - t0)
    frames = y.T.numpy()  # (n_frames, 32)
    secs = len(x) / rate
    # patches, as veil makes them: whole groups of 32 frames
    n_patches = frames.shape[0] // 32
    out = {"bench": "mfcc-torchaudio", "torch": torch.__version__, "torchaudio": torchaudio.__version__,
           "seconds": secs, "frames": int(frames.shape[0]), "patches": n_patches, "threads": 1,
           "repeat": a.repeat, "best_s": best, "x_realtime": secs / best}
    if a.veil_frames:
        # torchaudio's own mel spectrogram and DCT with veil's log rule, to separate the log
        # offset from any other difference
        with torch.no_grad():
            mel = mfcc.MelSpectrogram(xt)
            dct = torchaudio.functional.create_dct(32, 64, "ortho")
            same_log = (torch.log(torch.clamp(mel, min=1e-10)).T @ dct).numpy()
        v = np.load(a.veil_frames)
        if v.shape != frames.shape:
            sys.exit(f"frame shapes differ: veil {v.shape}, torchaudio {frames.shape}")
        diff = np.abs(v - frames)
        out["max_abs_diff"] = float(diff.max())
        out["max_rel_diff"] = float((diff.max(axis=1) / np.abs(frames).max(axis=1)).max())
        out["max_abs_diff_same_log"] = float(np.abs(v - same_log).max())
    if a.json:
        print(json.dumps(out))
    else:
        print(f"torchaudio {torchaudio.__version__} MFCC (one thread, {secs:.1f} s, best of {a.repeat}): "
              f"{best * 1e3:.2f} ms = {secs / best:.0f}x real time")
        if a.veil_frames:
            print(f"  veil vs torchaudio coefficients: max abs diff {out['max_abs_diff']:.3g}, "
                  f"max per-frame relative diff {out['max_rel_diff']:.3g}; with veil's log floor "
                  f"instead of +1e-6: max abs diff {out['max_abs_diff_same_log']:.3g}")


if __name__ == "__main__":
    main()
