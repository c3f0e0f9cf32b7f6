"""Load a veil model (.safetensors) into PyTorch with numpy alone (docs/network.md).

    from veil_torch import load_veil_model
    f, g, classes = load_veil_model("model.safetensors")   # g is None without a head
"""
import json, struct
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

def read_veil_model(path):
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
        for j in range(convs):  # 'same' pads an even kernel right/bottom, as veil does
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
        self.groups, cin = arch["groups"], 1
        for j in range(self.groups):
            f, k = arch["filters"][j], arch["kernels"][j]
            setattr(self, f"g{j + 1}", Group(cin, f, k, arch["convs_per_group"]))
            cin = f
        if arch.get("out_dim"):               # the bottleneck: a linear layer after the map
            side = arch["in_h"] >> self.groups, arch["in_w"] >> self.groups
            self.out = nn.Linear(cin * side[0] * side[1], arch["out_dim"])
    def forward(self, x):                     # x: n x 1 x 32 x 32 MFCC patches
        for j in range(self.groups):
            x = getattr(self, f"g{j + 1}")(x)
        x = x.flatten(1)
        return self.out(x) if hasattr(self, "out") else x

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

def load_veil_model(path):
    """f (the extractor), g (the gender head, or None) in evaluation mode, and the class names"""
    tensors, meta = read_veil_model(path)
    arch = json.loads(meta["architecture"])
    f = Extractor(arch); load_into(f, tensors, "f.")
    g = None
    if "head" in arch:
        g = Head(arch["head"]); load_into(g, tensors, "head.")
        g.eval()
    f.eval()
    return f, g, json.loads(meta["classes"])
