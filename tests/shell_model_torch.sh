#!/bin/bash
# A model saved by veil, loaded into an equivalent PyTorch module with the pure-Python
# reader of docs/network.md, gives the same extractor and head outputs.
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
"$py" - "$out" <<'PY'
import json, struct, sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import warnings
warnings.filterwarnings("ignore", message="Using padding=.same.")

def read_veil_model(path):
    """tensors (name -> torch.Tensor) and metadata of a veil .safetensors file"""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__")
    tensors = {}
    for name, t in header.items():
        assert t["dtype"] == "F32"
        b, e = t["data_offsets"]
        a = np.frombuffer(data[b:e], dtype="<f4").reshape(t["shape"])
        tensors[name] = torch.from_numpy(a.copy())
    return tensors, meta

class Group(nn.Module):
    def __init__(self, cin, filters, kernel, convs):
        super().__init__()
        self.bn = nn.BatchNorm2d(cin)
        self.convs = convs
        for j in range(convs):
            # 'same' in PyTorch pads an even kernel right/bottom only, as veil does
            setattr(self, f"conv{j + 1}",
                    nn.Conv2d(cin if j == 0 else filters, filters, kernel, padding="same"))
    def forward(self, x):
        x = self.bn(x)
        for j in range(self.convs):
            x = F.relu(getattr(self, f"conv{j + 1}")(x))
        return F.max_pool2d(x, 2)

class Extractor(nn.Module):
    def __init__(self, arch):
        super().__init__()
        self.groups = arch["groups"]
        cin = 1
        for j in range(self.groups):
            f, k = arch["filters"][j], arch["kernels"][j]
            setattr(self, f"g{j + 1}", Group(cin, f, k, arch["convs_per_group"]))
            cin = f
    def forward(self, x):
        for j in range(self.groups):
            x = getattr(self, f"g{j + 1}")(x)
        return x.flatten(1)

class Head(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.fc1 = nn.Linear(h["in_dim"], h["hidden"])
        self.fc2 = nn.Linear(h["hidden"], h["classes"])
        self.dropout = nn.Dropout(h["dropout"])
    def forward(self, z):
        return self.fc2(self.dropout(F.relu(self.fc1(z))))

def load_into(module, tensors, prefix):
    sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    missing, unexpected = module.load_state_dict(sd, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)

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
print("ok")
PY
