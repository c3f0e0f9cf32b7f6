#!/usr/bin/env python3
"""Compare experiment grids run with different --task on the same corpus and seed.

usage: scripts/compare-tasks.py OUT [OUT ...] > comparison.md

Each OUT is a `veil experiment` output directory (config.json, results.jsonl). One
Markdown table: per extractor (method, G, knob) and task, the task's test accuracy
against its chance (the majority share of the testing patches), what it keeps above
chance, the paper's attacker per patch, the strongest attacker per utterance (whole
held-out utterances) against the chance of an attacker who knows the task's class, and
the lowest same-gender verification EER. Means over the jobs (iterations) present;
"runs" says how many. docs/protocol.md, "Tasks", explains the chance levels.
"""
import json
import math
import os
import sys


def mean(xs):
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return sum(xs) / len(xs) if xs else None


def knob_of(line):
    settings = line.get("settings") or {}
    for key in ("adv_lambda", "vib_beta", "br_lambda", "bn_dim"):
        if key in settings:
            return "%s=%g" % (key, settings[key])
    return ""


def load(out):
    cfg_path, res_path = os.path.join(out, "config.json"), os.path.join(out, "results.jsonl")
    try:
        cfg = json.load(open(cfg_path))
    except (OSError, ValueError) as e:
        sys.exit("%s: %s" % (cfg_path, e))
    lines = []
    try:
        with open(res_path) as f:
            for n, text in enumerate(f, 1):
                if text.strip():
                    try:
                        lines.append(json.loads(text))
                    except ValueError:
                        sys.exit("%s:%d: not a JSON line" % (res_path, n))
    except OSError as e:
        sys.exit("%s: %s" % (res_path, e))
    return cfg.get("task", "gender"), cfg.get("protocol", {}).get("train_speakers", 20), lines


def summarise(lines):
    """(method, G, knob) -> dict of means over the jobs."""
    rows = {}
    for line in lines:
        key = (line["method"], line["groups"], knob_of(line))
        rows.setdefault(key, []).append(line)
    out = {}
    for key, jobs in rows.items():
        per_utt, same_gender = {}, {}
        for j in jobs:
            for name, a in (j.get("attackers") or {}).items():
                u = mean(a.get("acc_utt") or [])
                if u is not None and name not in ("paper-mlp", "paper-mlp-std"):
                    per_utt.setdefault(name, []).append(u)
                e = mean(a.get("eer") or []) if name == "verify-same-gender" else mean(a.get("eer_same_gender") or [])
                if e is not None:
                    same_gender.setdefault(name, []).append(e)
        strongest = max(((mean(v), k) for k, v in per_utt.items()), default=(None, ""))
        lowest_eer = min(((mean(v), k) for k, v in same_gender.items()), default=(None, ""))
        out[key] = {
            "runs": len(jobs),
            "test": mean([j.get("gender_test_acc") for j in jobs]),
            "majority": mean([j.get("gender_test_majority") for j in jobs]),
            "paper_mlp": mean([j.get("attack_acc_mean") for j in jobs]),
            "label_chance": mean([j.get("label_chance") for j in jobs]),
            "strongest": strongest,
            "eer": lowest_eer,
        }
    return out


def pct(x):
    return "–" if x is None else "%.1f" % (100 * x)


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0 if len(argv) >= 2 else 2
    grids = []
    for out in argv[1:]:
        task, st, lines = load(out)
        grids.append((task, st, summarise(lines)))
    keys = []
    for _, _, rows in grids:
        for key in sorted(rows, key=lambda k: (k[0] != "reference", k[0], k[1], k[2])):
            if key not in keys:
                keys.append(key)
    print("| extractor | task | runs | task test | task chance | above chance | paper-mlp per patch "
          "| strongest per utterance | chance 1/St; knowing the class | lowest same-gender EER |")
    print("|---|---|---:|---:|---:|---:|---:|---|---|---|")
    for key in keys:
        name = "%s G=%d%s" % (key[0], key[1], " " + key[2] if key[2] else "")
        for task, st, rows in grids:
            r = rows.get(key)
            if not r:
                continue
            above = None if r["test"] is None or r["majority"] is None else r["test"] - r["majority"]
            s, sname = r["strongest"]
            e, ename = r["eer"]
            knowing = r["label_chance"] if r["label_chance"] is not None else 2.0 / st
            print("| %s | %s | %d | %s | %s | %s | %s | %s | %.1f; %s | %s |" % (
                name, task, r["runs"], pct(r["test"]), pct(r["majority"]),
                "–" if above is None else "%+.1f" % (100 * above), pct(r["paper_mlp"]),
                "–" if s is None else "%s (%s)" % (pct(s), sname), 100.0 / st, pct(knowing),
                "–" if e is None else "%s (%s)" % (pct(e), ename)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
