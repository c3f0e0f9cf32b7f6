"""The table of bench/train.sh and bench/head.sh (usage: table.py train|head FILE): FILE
has one line per run, "VALUE PRECISION VEIL_JSON TORCH_JSON" (bench/compare.sh)."""
import json
import sys


def runs(path):
    dec = json.JSONDecoder()
    for line in open(path):
        x, p, rest = line.split(" ", 2)
        v, i = dec.raw_decode(rest)
        t, _ = dec.raw_decode(rest[i:].strip())
        yield x, p, v, t


def train_row(g, p, v, t):
    return (f"| {g} | {p} | {v['epoch_s']:.2f} | {t['epoch_s']:.2f} | {t['epoch_s']/v['epoch_s']:.2f}x "
            f"| {v['extract_patches_per_s']:.0f} | {t['extract_patches_per_s']:.0f} "
            f"| {v['extract_patches_per_s']/t['extract_patches_per_s']:.2f}x "
            f"| {v['peak_rss_mib']:.0f} | {t['peak_rss_mib']:.0f} |")


def head_row(d, p, v, t):
    return (f"| {d} | {p} | {v['step_ms']:.1f} | {t['step_ms']:.1f} | {t['step_ms']/v['step_ms']:.2f}x "
            f"| {v['bound_ms']:.1f} ({v['gemm_gflops']:.0f}, {v['stream_gbs']:.1f}) | {100*v['of_bound']:.0f} % "
            f"| {v['peak_rss_mib']:.0f} | {t['peak_rss_mib']:.0f} |")


TABLES = {
    "train": (["G", "prec", "veil epoch s", "torch epoch s", "ratio", "veil extr/s", "torch extr/s", "ratio",
               "veil RSS MiB", "torch RSS MiB"], train_row),
    "head": (["D", "prec", "veil step ms", "torch step ms", "ratio", "bound ms (GEMM GFLOP/s, stream GB/s)",
              "veil at % of bound", "veil RSS MiB", "torch RSS MiB"], head_row),
}

columns, row = TABLES[sys.argv[1]]
print("| " + " | ".join(columns) + " |")
print("|" + "---|" * len(columns))
for run in runs(sys.argv[2]):
    print(row(*run))
