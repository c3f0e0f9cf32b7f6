"""Features of your own PyTorch extractor on veil's MFCC patches, for `veil audit`
(docs/audit.md, "Features from PyTorch").

    veil corpus features DIR -o patches.npy           # n x 32 x 32, and patches.index.csv
    python3 audit_torch.py patches.npy feats.npy       # here: a veil model's extractor
    veil audit --features feats.npy --labels patches.index.csv --out audit/

patches.index.csv has one row per patch with its speaker, gender and utterance: the
labels of feats.npy, row for row, since the features keep the patches' order.
"""
import sys
import numpy as np, torch
from veil_torch import load_veil_model

patches_path, feats_path = sys.argv[1], sys.argv[2]
model_path = sys.argv[3] if len(sys.argv) > 3 else "model.safetensors"
extractor, _, _ = load_veil_model(model_path)         # your model: any module taking n x 1 x 32 x 32
patches = np.load(patches_path)                        # n x 32 x 32 float32 (frames x coefficients)
x = torch.from_numpy(patches).unsqueeze(1)             # n x 1 x 32 x 32: one input channel
with torch.no_grad():
    z = torch.cat([extractor(b) for b in x.split(256)])  # in batches: a corpus is large
np.save(feats_path, z.reshape(len(x), -1).numpy().astype(np.float32))   # rows x features, '<f4'
