#!/bin/bash
# A model saved by veil, loaded into an equivalent PyTorch module with the pure-Python
# reader of docs/network.md (examples/veil_torch.py), gives the same extractor and head outputs.
# $1: the veil binary (test_model sits beside it), $2: scratch directory.
set -euo pipefail
build=$(dirname "$1")
out=$2
py=""
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import torch, numpy' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ]; then echo "skipped: no python3 with torch and numpy"; exit 0; fi
if [ ! -x "$build/test_model" ]; then echo "test_model not built in $build" >&2; exit 1; fi
rm -rf "$out" && mkdir -p "$out"
"$build/test_model" --export "$out"
"$py" - "$out" "$(cd "$(dirname "$0")/../examples" && pwd)" <<'PY'
import json, struct, sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import warnings
warnings.filterwarnings("ignore", message="Using padding=.same.")

sys.path.insert(0, sys.argv[2])  # examples/: the loader docs/network.md shows
from veil_torch import read_veil_model, Extractor, Head, load_into, load_veil_model

out = sys.argv[1]
tensors, meta = read_veil_model(f"{out}/model.safetensors")
arch = json.loads(meta["architecture"])
assert meta["format"] == "veil" and json.loads(meta["classes"]) == ["female", 'male "quoted"']
f, g = Extractor(arch), Head(arch["head"])
load_into(f, tensors, "f.")
load_into(g, tensors, "head.")
f.eval(); g.eval()
x = torch.from_numpy(np.load(f"{out}/x.npy"))
with torch.no_grad():
    z = f(x)
    logits = g(z)
for name, got in (("z", z), ("logits", logits)):
    want = torch.from_numpy(np.load(f"{out}/{name}.npy"))
    err = (got - want).abs().max().item() / max(want.abs().max().item(), 1e-6)
    print(f"{name}: max relative difference veil vs torch {err:.2e}")
    assert err < 1e-5, name
# the one-call loader of the docs gives the same modules
f2, g2, classes = load_veil_model(f"{out}/model.safetensors")
with torch.no_grad():
    assert torch.equal(f2(x), z) and torch.equal(g2(f2(x)), logits) and classes == ["female", 'male "quoted"']
print("ok")
PY
