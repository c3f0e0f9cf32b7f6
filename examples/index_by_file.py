"""`veil extract`'s array and index in numpy: each file's patches (docs/library.md).

    python3 index_by_file.py feat.npy        # reads feat.npy and feat.index.csv
"""
import csv, sys
import numpy as np

npy = sys.argv[1] if len(sys.argv) > 1 else "feat.npy"
z = np.load(npy)                             # P x dim float32
with open(npy[:-len(".npy")] + ".index.csv", newline="") as f:
    index = list(csv.DictReader(f))          # row, file, patch, start_seconds
assert len(index) == len(z)
by_file = {}
for r in index:
    by_file.setdefault(r["file"], []).append(int(r["row"]))
z_of = {name: z[rows] for name, rows in by_file.items()}   # each file's patches, in order
for name, zf in z_of.items():
    print(f"{name}: {zf.shape[0]} patches x {zf.shape[1]}")
