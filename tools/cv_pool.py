#!/usr/bin/python3
"""Pools the folds of an image-level cross-validation run fold by fold (as
tools/train_models does, in parallel): each fold's `cellsight predict --tiles
--csv` of its model on its own held-out images. Prints, in Markdown, the figures
`cellsight eval --folds images` reports: tile accuracy over non-background tiles,
ROC AUC (two classes), image accuracy (an image's class from the mean of its
tiles; two classes: the fold model's threshold), image top-5, per-class recall and
the confusion matrix.

    tools/cv_pool.py CLASSES THRESHOLD1,THRESHOLD2,... fold1_tiles.csv fold2_tiles.csv ...

CLASSES: comma-separated, in the models' order; THRESHOLDs: each fold model's
(ignored for more than two classes)."""
import csv
import sys
from collections import defaultdict


def auc(scores, positive):
    """ROC AUC with ties counted half (Mann-Whitney)."""
    pairs = sorted(zip(scores, positive))
    npos = sum(positive)
    nneg = len(positive) - npos
    if not npos or not nneg:
        return float("nan")
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mid = (i + 1 + j) / 2  # mean rank of the tie block
        rank_sum += mid * sum(p for _, p in pairs[i:j])
        i = j
    return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg)


def main():
    classes = sys.argv[1].split(",")
    thresholds = [float(t) for t in sys.argv[2].split(",")]
    K = len(classes)
    tiles = []  # (true, predicted, probs)
    images = defaultdict(lambda: {"probs": [0.0] * K, "n": 0})
    for fold, path in enumerate(sys.argv[3:]):
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                if row["background"] == "1":
                    continue
                true = row["file"].replace("\\", "/").split("/")[-2]
                probs = [float(row["p_" + c]) for c in classes]
                tiles.append((classes.index(true), classes.index(row["predicted_class"]), probs))
                im = images[(fold, row["file"])]
                im["true"] = classes.index(true)
                im["n"] += 1
                im["probs"] = [a + b for a, b in zip(im["probs"], probs)]
    conf = [[0] * K for _ in range(K)]
    for t, p, _ in tiles:
        conf[t][p] += 1
    tile_acc = sum(conf[c][c] for c in range(K)) / len(tiles)
    right = top5 = 0
    rows = []
    for (fold, name), im in sorted(images.items()):
        mean = [p / im["n"] for p in im["probs"]]
        if K == 2:
            pred = 1 if mean[1] >= thresholds[fold] else 0
        else:
            pred = max(range(K), key=lambda c: mean[c])
        order = sorted(range(K), key=lambda c: -mean[c])
        right += pred == im["true"]
        top5 += im["true"] in order[:5]
        rows.append((fold + 1, name.split("/")[-1], classes[im["true"]], classes[pred], mean[pred], im["n"]))
    print(f"{len(tiles)} non-background tiles, accuracy {tile_acc:.4f}", end="")
    if K == 2:
        print(f", ROC AUC {auc([p[1] for _, _, p in tiles], [t == 1 for t, _, _ in tiles]):.4f}", end="")
    print(f". {len(images)} images, {right} right (accuracy {right / len(images):.4f})", end="")
    if K > 5:
        print(f", {top5} in the top 5", end="")
    print(".\n\n| class | tiles | recall (tiles) |\n|---|---|---|")
    for c in range(K):
        n = sum(conf[c])
        print(f"| {classes[c]} | {n} | {conf[c][c] / n if n else float('nan'):.4f} |")
    if K <= 10:
        print("\nConfusion (rows: true class; tiles):\n\n| true \\ predicted | " + " | ".join(classes) + " |")
        print("|---|" + "---|" * K)
        for c in range(K):
            print(f"| {classes[c]} | " + " | ".join(str(x) for x in conf[c]) + " |")
    print("\n| fold | image | true | predicted | confidence | tiles |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.4f} | {r[5]} |")


if __name__ == "__main__":
    main()
