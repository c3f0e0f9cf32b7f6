"""What bench_train.py and bench_head.py share: the options of both (as `veil bench
train|head` takes them) and torch set up by them."""
import argparse

import torch


def options(name, value_type, default, repeat):
    """Parse --NAME (the benchmark's own size), --precision, --threads and --repeat
    (default repeat); torch runs on --threads threads from seed 1."""
    ap = argparse.ArgumentParser()
    ap.add_argument(name, type=value_type, default=default)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=repeat)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    return a
