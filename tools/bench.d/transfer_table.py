#!/usr/bin/python3
"""tools/bench_transfer's table: rows of group, base, mode, budget, direction,
seconds, tile accuracy, AUC (tab-separated) become one Markdown line per group,
mode and budget with the bases side by side (the mean of both directions), and
the headline: the mean head-mode tile accuracy over the pairs. With
--open-set, the rows are open_set_counts.py's instead: the unseen images and
the other lines' images each base's fine-tunes call unknown, summed over
directions and seeds. Given transfer_rows.py's lines too, a second table: the
tile accuracy on test images within a day of their line's training image, a
day or more from it, and from another well (by the names' well and time since
seeding, `LINE_WELL_1_DDdHHhMMm`), pooled over tiles.

    transfer_table.py rows.tsv [lines.tsv]
    transfer_table.py --open-set open-set.tsv
"""
import math
import sys
from collections import defaultdict

from time_apart import BUCKETS, apart

PAIRS = ["skbr3-bt474", "a549-pc3", "mcf10a-sum149pt", "hcc1395-kpl4"]


def mean(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return sum(xs) / len(xs) if xs else float("nan")


def fmt(x, digits=3):
    return "-" if math.isnan(x) else f"{x:.{digits}f}"


def table_head(title, keys, cells):
    """A titled Markdown table's first two lines: key columns, then one a base."""
    print()
    print(title)
    print()
    print("| " + " | ".join(keys + cells) + " |")
    print("|" + "---|" * (len(keys) + len(cells)))


def open_set_table(path):
    known = defaultdict(lambda: defaultdict(lambda: [0, 0]))  # (group, base) -> line -> [flagged, images]
    others = defaultdict(lambda: [0, 0])  # (group, base) -> [flagged, images]
    bases, groups = [], []
    for line in open(path):
        group, base, _, lines, flagged, images = line.rstrip("\n").split("\t")
        bases += [base] if base not in bases else []
        groups += [group] if group not in groups else []
        for cell in lines.split():
            name, counts = cell.rsplit(":", 1)
            f, n = counts.split("/")
            known[group, base][name][0] += int(f)
            known[group, base][name][1] += int(n)
        others[group, base][0] += int(flagged)
        others[group, base][1] += int(images)
    table_head("Open set, head mode, one image a line (directions and seeds summed): unseen images of the "
               "group's lines called unknown; other lines' images called unknown",
               ["group"], [f"{b}: unseen known flagged, others flagged" for b in bases])
    total = defaultdict(lambda: [0, 0, 0, 0])
    for g in groups:
        cells = []
        for b in bases:
            if (g, b) not in others:
                cells.append("not run")
                continue
            k = known[g, b]
            o = others[g, b]
            t = total[b]
            t[0] += sum(f for f, _ in k.values()); t[1] += sum(n for _, n in k.values())
            t[2] += o[0]; t[3] += o[1]
            cells.append(", ".join(f"{c} {f}/{n}" for c, (f, n) in sorted(k.items())) +
                         f"; {o[0]}/{o[1]} ({o[0] / o[1]:.0%})")
        print(f"| {g} | " + " | ".join(cells) + " |")
    print("| all | " + " | ".join(f"{total[b][0]}/{total[b][1]}; {total[b][2]}/{total[b][3]} "
                                   f"({total[b][2] / max(total[b][3], 1):.0%})" for b in bases) + " |")


def by_time_table(path):
    pooled = defaultdict(lambda: [0.0, 0, set()])  # (group, mode, budget, base, bucket) -> [right, tiles, images]
    bases, keys = [], []
    for line in open(path):
        group, base, mode, budget, _, _, cls, trained, tested, recall, tiles = line.rstrip("\n").split("\t")
        bases += [base] if base not in bases else []
        for g in (group, "all"):
            keys += [(g, mode, budget)] if (g, mode, budget) not in keys else []
            p = pooled[g, mode, budget, base, apart(trained.split(" "), tested)]
            p[0] += float(recall) * int(tiles)
            p[1] += int(tiles)
            p[2].add(tested)
    used = [b for b in BUCKETS if any(k[4] == b for k in pooled)]
    table_head("By the time between a test image and its line's training image (tile accuracy pooled over "
               "directions and seeds; the test images in brackets):",
               ["group", "mode", "budget"], [f"{b}: {', '.join(used)}" for b in bases])
    for group, mode, budget in sorted(keys, key=lambda k: k[0] == "all"):
        cells = []
        for b in bases:
            parts = []
            for u in used:
                right, n, imgs = pooled.get((group, mode, budget, b, u), (0, 0, set()))
                parts.append(f"{right / n:.3f} ({len(imgs)})" if n else "-")
            cells.append(", ".join(parts) if any(p != "-" for p in parts) else "not run")
        budget_words = "one image a line" if budget == "image" else f"{budget} tiles a line"
        print(f"| {group} | {mode} | {budget_words} | " + " | ".join(cells) + " |")


if sys.argv[1] == "--open-set":
    open_set_table(sys.argv[2])
    sys.exit(0)

runs = defaultdict(list)  # (group, mode, budget, base) -> [(seconds, accuracy, auc)]
bases, keys = [], []
for line in open(sys.argv[1]):
    group, base, mode, budget, _, seconds, acc, auc = line.rstrip("\n").split("\t")
    if base not in bases:
        bases.append(base)
    if (group, mode, budget) not in keys:
        keys.append((group, mode, budget))
    runs[group, mode, budget, base].append((float(seconds), float(acc), float(auc)))

print()
print("| group | mode | budget | " + " | ".join(f"{b}: accuracy, AUC, s" for b in bases) + " |")
print("|---|---|---|" + "---:|" * len(bases))
for group, mode, budget in keys:
    cells = []
    for b in bases:
        r = runs.get((group, mode, budget, b))
        cells.append("not run" if not r else
                     f"{fmt(mean([x[1] for x in r]))}, {fmt(mean([x[2] for x in r]))}, "
                     f"{fmt(mean([x[0] for x in r]), 1)}")
    budget_words = "one image a line" if budget == "image" else f"{budget} tiles a line"
    print(f"| {group} | {mode} | {budget_words} | " + " | ".join(cells) + " |")

print()
print("Headline: mean head-mode tile accuracy over the pairs (one image a line; the pairs each base ran):")
for b in bases:
    accs = [mean([x[1] for x in runs[g, "head", "image", b]]) for g in PAIRS if runs.get((g, "head", "image", b))]
    print(f"- {b}: {fmt(mean(accs))} over {len(accs)} pairs")
if len(sys.argv) > 2:
    by_time_table(sys.argv[2])
