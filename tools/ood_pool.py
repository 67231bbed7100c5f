#!/usr/bin/python3
"""Pools the leave-lines-out folds of tools/train_models ood_lines: each fold's
ood_candidates report (model/reports/ood/foldK.md) gives, per candidate score,
the ROC AUC of its unknown images (the lines its model never saw) against its
known ones (the validation bands of the 24 lines it trained on), the unknown
images flagged at the threshold 5% of the known ones exceed, and the known
images classified right that the threshold flags. Prints, in Markdown, per
candidate: each fold's AUC, their mean, and the flagged counts summed over the
folds; then the candidates by mean AUC.

    tools/ood_pool.py model/reports/ood/fold1.md model/reports/ood/fold2.md ...
"""
import re
import sys

ROW = re.compile(r"^\| (\w+) \| ([\d.]+) \| (\d+) / (\d+) \| (\d+) / (\d+) \|$")
RIGHT = re.compile(r"^known images classified right: (\d+) / (\d+)$")

folds = []  # per fold: {candidate: (auc, flagged, unknown, lost, right)}, (right, known)
for path in sys.argv[1:]:
    scores, right = {}, None
    for line in open(path):
        line = line.strip()
        if m := RIGHT.match(line):
            right = (int(m[1]), int(m[2]))
        elif m := ROW.match(line):
            scores[m[1]] = (float(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]))
    if not scores or right is None:
        sys.exit(f"{path}: not an ood_candidates report")
    folds.append((path, scores, right))

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
