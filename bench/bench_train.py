#!/usr/bin/env python3
"""The same work as `veil bench train`, in PyTorch (Debian's python3-torch 1.13).

One Siamese training epoch on random data: 1040 pairs, batch 150 pairs (300 patches
through f per step), contrastive loss (margin 1), Adam lr 2e-4; then extraction
(eval forward, batch 256, 2048 patches). One untimed warm-up step first; best of
--repeat runs. bf16 runs under torch.autocast('cpu', dtype=torch.bfloat16).
Prints one JSON line like veil's --json.
"""
import json
import resource
import time

import bench_torch
import torch
import torch.nn as nn
import torch.nn.functional as F

FILTERS = [64, 128, 256, 512, 512]
KERNELS = [5, 3, 3, 2, 2]
PAIRS, BATCH_PAIRS, EXTRACT_BATCH, EXTRACT_PATCHES = 1040, 150, 256, 2048


class SamePad(nn.Module):
    """'same' padding: top/left (k-1)//2, bottom/right the rest (2x2 pads right/bottom)."""

    def __init__(self, k):
        super().__init__()
        lo = (k - 1) // 2
        self.pad = (lo, k - 1 - lo, lo, k - 1 - lo)

    def forward(self, x):
        return F.pad(x, self.pad)


def extractor(groups):
    layers, cin = [], 1
    for j in range(groups):
        f, k = FILTERS[j], KERNELS[j]
        layers.append(nn.BatchNorm2d(cin))
        for i in range(3):
            if k % 2:
                layers.append(nn.Conv2d(cin if i == 0 else f, f, k, padding=(k - 1) // 2))
            else:
                layers += [SamePad(k), nn.Conv2d(cin if i == 0 else f, f, k)]
            layers.append(nn.ReLU())
        layers.append(nn.MaxPool2d(2, 2))
        cin = f
    layers.append(nn.Flatten())
    return nn.Sequential(*layers)


def contrastive(z1, z2, y, margin=1.0):
    d = torch.sqrt(((z1 - z2) ** 2).sum(1) + 1e-12)
    return ((1 - y) * d ** 2 + y * torch.clamp(margin - d, min=0) ** 2).mean()


def main():
    a = bench_torch.options("--groups", int, 5, repeat=1)
    f = extractor(a.groups)
    opt = torch.optim.Adam(f.parameters(), lr=2e-4)
    x = torch.randn(2 * PAIRS, 1, 32, 32)
    bf16 = a.precision == "bf16"

    def step(s):
        b = min(BATCH_PAIRS, PAIRS - s * BATCH_PAIRS)
        idx = torch.arange(s * BATCH_PAIRS, s * BATCH_PAIRS + b)
        batch = torch.cat([x[2 * idx], x[2 * idx + 1]])
        y = (idx % 2).float()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            z = f(batch)
        z = z.float()
        loss = contrastive(z[:b], z[b:], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    f.train()
    step(0)  # warm-up
    steps = (PAIRS + BATCH_PAIRS - 1) // BATCH_PAIRS
    best_epoch = min(timed(lambda: [step(s) for s in range(steps)]) for _ in range(a.repeat))
    f.eval()

    def extract():
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for s in range(EXTRACT_PATCHES // EXTRACT_BATCH):
                f(x[s * EXTRACT_BATCH:(s + 1) * EXTRACT_BATCH]).float()

    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        f(x[:EXTRACT_BATCH])  # warm-up
    best_extract = min(timed(extract) for _ in range(a.repeat))
    print(json.dumps({
        "impl": "pytorch", "groups": a.groups, "precision": a.precision, "threads": a.threads,
        "epoch_s": round(best_epoch, 3),
        "extract_patches_per_s": round(EXTRACT_PATCHES / best_extract, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
