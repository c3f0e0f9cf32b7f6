"""A labels file for `veil audit` from `veil extract`'s index, for files that are not a
corpus veil reads (docs/audit.md, "Features from veil extract"): here the speaker is the
file's folder and the gender its first letter, as in TIMIT's .../DR1/FAKS0/SA1.WAV.

    python3 labels_from_index.py feats.index.csv labels.csv
"""
import csv, os, sys

index_path, labels_path = sys.argv[1], sys.argv[2]
with open(index_path, newline="") as f:
    rows = list(csv.DictReader(f))
with open(labels_path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["speaker", "gender", "utterance", "file"])
    for r in rows:                         # one labels row per feature row, in order
        spk = os.path.basename(os.path.dirname(r["file"]))
        utt = os.path.splitext(os.path.basename(r["file"]))[0]
        w.writerow([spk, spk[0], utt, r["file"]])
