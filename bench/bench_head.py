#!/usr/bin/env python3
"""The same work as `veil bench head`, in PyTorch (Debian's python3-torch).

One attacker-head epoch on random data: Linear(D, 1024) -> ReLU -> Dropout(0.5) ->
Linear(1024, 20), 990 samples in batches of 90 (11 steps), cross-entropy, backward
(no input gradient), Adam lr 1e-3. One untimed warm-up epoch first; best of --repeat
epochs. bf16 runs under torch.autocast('cpu', dtype=torch.bfloat16) with fp32 weights
(as veil: bf16 GEMMs, fp32 master weights and Adam). Prints one JSON line like veil's
--json, with the peak RSS of the process (getrusage).
"""
import json
import resource
import time

import bench_torch
import torch
import torch.nn as nn
import torch.nn.functional as F

HIDDEN, CLASSES, SAMPLES, BATCH = 1024, 20, 990, 90


def main():
    a = bench_torch.options("--in-dim", int, 16384, repeat=3)
    head = nn.Sequential(nn.Linear(a.in_dim, HIDDEN), nn.ReLU(), nn.Dropout(0.5), nn.Linear(HIDDEN, CLASSES))
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    x = torch.randn(SAMPLES, a.in_dim)
    y = torch.randint(0, CLASSES, (SAMPLES,))
    bf16 = a.precision == "bf16"
    head.train()

    def epoch():
        total = 0.0
        for s in range(0, SAMPLES, BATCH):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = head(x[s:s + BATCH])
            loss = F.cross_entropy(logits.float(), y[s:s + BATCH])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
        return total

    epoch()  # warm-up
    best = float("inf")
    for _ in range(a.repeat):
        t = time.perf_counter()
        epoch()
        best = min(best, time.perf_counter() - t)
    steps = (SAMPLES + BATCH - 1) // BATCH
    print(json.dumps({
        "impl": "pytorch", "in_dim": a.in_dim, "precision": a.precision, "threads": a.threads,
        "epoch_s": round(best, 4), "step_ms": round(1e3 * best / steps, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
