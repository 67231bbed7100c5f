#!/usr/bin/python3
"""Pools the folds of an image-level cross-validation run fold by fold (as
tools/train_models does, in parallel): each fold's `cellsight eval --report`
eval.json of its model on its own held-out images and, for two classes, its
`cellsight predict --tiles --csv` (for the pooled ROC AUC). Prints, in Markdown,
what `cellsight eval --folds images` reports: tile accuracy over non-background
tiles, ROC AUC (two classes: pooled tiles), image accuracy (an image's class from
the mean of its tiles, each fold with its own model's threshold), image top-5,
per-class tile recall and images right, the confusion matrix and every image.
When every class has two images named as the AZGCB images are (well and time
since seeding: `<line>_<well>_1_<DD>d<HH>h<MM>m`), also the images right by
how far apart a class's two images are: the same well within a day, the same
well days apart, or two wells; and, when the models have an open-set verdict
(eval.json's per-image `known`), how many of them each bucket flags as none of
the model's classes.

    tools/cv_pool.py fold1/eval.json fold2/eval.json [fold1_tiles.csv fold2_tiles.csv]
"""
import csv
import json
import re
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
        rank_sum += (i + 1 + j) / 2 * sum(p for _, p in pairs[i:j])  # tie block's mean rank
        i = j
    return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg)


def well_and_hours(name):
    m = re.search(r"_([A-Z]+\d+)_\d+_(\d+)d(\d+)h(\d+)m\.[^/]*$", name)
    return (m.group(1), int(m.group(2)) * 24 + int(m.group(3)) + int(m.group(4)) / 60) if m else None


def print_by_gap(images):
    """Images right by how far apart a class's two images are (None if the
    names do not say)."""
    by_class = defaultdict(list)
    for _, im in images:
        by_class[im["class"]].append(im)
    groups = {"the same well, at most a day apart": [], "the same well, more than a day apart": [],
              "two wells": []}
    for c, ims in sorted(by_class.items()):
        when = [well_and_hours(im["file"]) for im in ims]
        if len(ims) != 2 or None in when:
            return
        (w1, t1), (w2, t2) = when
        group = "two wells" if w1 != w2 else \
            f"the same well, {'at most' if abs(t1 - t2) <= 24 else 'more than'} a day apart"
        groups[group].append((c, [(im["predicted_class"] == c, im.get("known")) for im in ims]))
    verdicts = all(k is not None for lines in groups.values() for _, ims in lines for _, k in ims)
    print("\nImages right by how far apart a class's two images are (each is tested by a model"
          " trained on the other):\n\n| the two images | classes | images right | "
          + ("flagged unknown (right ones) | " if verdicts else "") + "per class |\n|---|---:|---:|"
          + ("---:|" if verdicts else "") + "---|")
    for group, lines in groups.items():
        if lines:
            ims = [im for _, two in lines for im in two]
            flagged = f"{sum(not k for _, k in ims)} ({sum(r and not k for r, k in ims)}) | " if verdicts else ""
            print(f"| {group} | {len(lines)} | {sum(r for r, _ in ims)} / {len(ims)} | {flagged}"
                  + ", ".join(f"{c} {sum(r for r, _ in two)}/2" for c, two in lines) + " |")


def main():
    evals = [a for a in sys.argv[1:] if a.endswith(".json")]
    tiles = [a for a in sys.argv[1:] if a.endswith(".csv")]
    folds = [json.load(open(p)) for p in evals]
    classes = folds[0]["classes"]
    K = len(classes)
    conf = [[sum(f["confusion"][i][j] for f in folds) for j in range(K)] for i in range(K)]
    ntiles = sum(map(sum, conf))
    images = [(k + 1, im) for k, f in enumerate(folds) for im in f["per_image"]]
    right = sum(im["predicted_class"] == im["class"] for _, im in images)
    top5 = sum(im["class"] in sorted(im["probs"], key=lambda c: -im["probs"][c])[:5] for _, im in images)
    print(f"{ntiles} non-background tiles, accuracy {sum(conf[c][c] for c in range(K)) / ntiles:.4f}", end="")
    if K == 2 and tiles:
        scores, positive = [], []
        for path in tiles:
            with open(path, newline="") as f:
                for row in csv.DictReader(f):
                    if row["background"] == "0":
                        scores.append(float(row["p_" + classes[1]]))
                        positive.append(row["file"].replace("\\", "/").split("/")[-2] == classes[1])
        print(f", ROC AUC {auc(scores, positive):.4f}", end="")
    print(f". {len(images)} images, {right} right (accuracy {right / len(images):.4f})", end="")
    if K > 5:
        print(f", {top5} in the top 5", end="")
    print(".")
    print("\nPer fold:\n\n| fold | tiles | tile accuracy | " + ("ROC AUC | " if K == 2 else "") +
          "images | images right |\n|---:|---:|---:|" + ("---:|" if K == 2 else "") + "---:|---:|")
    for k, f in enumerate(folds):
        r = sum(im["predicted_class"] == im["class"] for im in f["per_image"])
        a = f" {f['auc']:.4f} |" if K == 2 else ""
        print(f"| {k + 1} | {f['tiles']} | {f['tile_accuracy']:.4f} |{a} {f['images']} | {r} |")
    print("\n| class | tiles | recall (tiles) | images right |\n|---|---:|---:|---:|")
    for c in range(K):
        n = sum(conf[c])
        ok = sum(im["class"] == classes[c] and im["predicted_class"] == classes[c] for _, im in images)
        of = sum(im["class"] == classes[c] for _, im in images)
        print(f"| {classes[c]} | {n} | {conf[c][c] / n if n else float('nan'):.4f} | {ok} / {of} |")
    print_by_gap(images)
    print("\nTiles by true class (rows) and predicted class (columns):\n\n| | " + " | ".join(classes) + " |")
    print("|---|" + "---:|" * K)
    for c in range(K):
        print(f"| {classes[c]} | " + " | ".join(str(x) for x in conf[c]) + " |")
    print("\n| fold | image | class | predicted | confidence | tiles |\n|---:|---|---|---|---:|---:|")
    for k, im in images:
        print(f"| {k} | {im['file']} | {im['class']} | {im['predicted_class']} | {im['confidence']:.4f} | {im['tiles']} |")


if __name__ == "__main__":
    main()
