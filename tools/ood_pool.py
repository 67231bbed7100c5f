#!/usr/bin/python3
"""Pools the leave-lines-out folds of tools/train_models ood_lines: each fold's
ood_candidates report (model/reports/ood/foldK.md) gives, per candidate score,
the ROC AUC of its unknown images (the lines its model never saw) against its
known ones (the validation bands of the 24 lines it trained on), the unknown
images flagged at the threshold 5% of the known ones exceed, and the known
images classified right that the threshold flags. Prints, in Markdown, per
candidate: each fold's AUC, their mean, and the flagged counts summed over the
folds; then the candidates by mean AUC; then pairs of the four best, fused: on
each fold, each score standardized by the mean and deviation of the known
images' and the two summed (what a fused score could be fitted on: the known
images only), scored the same way.

    tools/ood_pool.py model/reports/ood/fold1.md model/reports/ood/fold2.md ...
"""
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
from cv_pool import auc  # noqa: E402

ROW = re.compile(r"^\| (\w+) \| ([\d.]+) \| (\d+) / (\d+) \| (\d+) / (\d+) \|$")
RIGHT = re.compile(r"^known images classified right: (\d+) / (\d+)$")

folds = []  # per fold: {candidate: (auc, flagged, unknown, lost, right)}, (right, known)
images = []  # per fold: the per-image table's rows, {column: text}
for path in sys.argv[1:]:
    scores, right, head, rows = {}, None, None, []
    for line in open(path):
        line = line.strip()
        cells = [c.strip() for c in line.strip("|").split("|")]
        if m := RIGHT.match(line):
            right = (int(m[1]), int(m[2]))
        elif m := ROW.match(line):
            scores[m[1]] = (float(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]))
        elif cells[0] == "image":
            head = cells
        elif head and line.startswith("| ") and len(cells) == len(head):
            rows.append(dict(zip(head, cells)))
    if not scores or right is None:
        sys.exit(f"{path}: not an ood_candidates report")
    folds.append((path, scores, right))
    images.append(rows)

names = list(folds[0][1])
print(f"{len(folds)} folds: " + ", ".join(p for p, _, _ in folds))
right = sum(r[0] for _, _, r in folds), sum(r[1] for _, _, r in folds)
print(f"\nknown images (validation bands) classified right: {right[0]} / {right[1]}\n")
print("| score | " + " | ".join(f"fold {k + 1} AUC" for k in range(len(folds))) +
      " | mean AUC | unknown flagged | known right, flagged |")
print("|---|" + "---:|" * (len(folds) + 3))
mean = {}
for n in names:
    rows = [s[n] for _, s, _ in folds]
    mean[n] = sum(r[0] for r in rows) / len(rows)
    flagged, unknown = sum(r[1] for r in rows), sum(r[2] for r in rows)
    lost, kright = sum(r[3] for r in rows), sum(r[4] for r in rows)
    print(f"| {n} | " + " | ".join(f"{r[0]:.3f}" for r in rows) +
          f" | {mean[n]:.3f} | {flagged} / {unknown} ({flagged / unknown:.0%}) | {lost} / {kright} |")
print("\nby mean AUC: " + ", ".join(f"{n} {mean[n]:.3f}" for n in sorted(names, key=lambda n: -mean[n])))


def fused(rows, a, b):
    """Scores a and b, each standardized on the known images, summed: (known, unknown, right)."""
    z = {}
    for n in (a, b):
        k = [float(r[n]) for r in rows if r["set"] == "known"]
        mu = sum(k) / len(k)
        sd = (sum((x - mu) ** 2 for x in k) / len(k)) ** 0.5
        z[n] = [(float(r[n]) - mu) / sd for r in rows]
    s = [x + y for x, y in zip(z[a], z[b])]
    known = [v for v, r in zip(s, rows) if r["set"] == "known"]
    unknown = [v for v, r in zip(s, rows) if r["set"] == "unknown"]
    right = [v for v, r in zip(s, rows) if r["set"] == "known" and r["line"] == r["predicted"]]
    return known, unknown, right


best = sorted(names, key=lambda n: -mean[n])[:4]
print("\npairs of the four best, standardized on the known images and summed:\n")
print("| scores | " + " | ".join(f"fold {k + 1} AUC" for k in range(len(folds))) +
      " | mean AUC | unknown flagged | known right, flagged |")
print("|---|" + "---:|" * (len(folds) + 3))
for i, a in enumerate(best):
    for b in best[i + 1:]:
        aucs, flagged, unknown, lost, kright = [], 0, 0, 0, 0
        for rows in images:
            known, unk, right = fused(rows, a, b)
            # The threshold 5% of the known images exceed, interpolated as ood_candidates sets it.
            th = statistics.quantiles(known, n=20, method="inclusive")[-1]
            aucs.append(auc(known + unk, [False] * len(known) + [True] * len(unk)))
            flagged += sum(u > th for u in unk)
            unknown += len(unk)
            lost += sum(r > th for r in right)
            kright += len(right)
        print(f"| {a} + {b} | " + " | ".join(f"{x:.3f}" for x in aucs) +
              f" | {sum(aucs) / len(aucs):.3f} | {flagged} / {unknown} ({flagged / unknown:.0%}) | {lost} / {kright} |")
