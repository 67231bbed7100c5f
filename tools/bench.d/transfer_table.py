#!/usr/bin/python3
"""tools/bench_transfer's table: rows of group, base, mode, budget, direction,
seconds, tile accuracy, AUC (tab-separated) become one Markdown line per group,
mode and budget with the bases side by side (the mean of both directions), and
the headline: the mean head-mode tile accuracy over the pairs.

    transfer_table.py rows.tsv
"""
import math
import sys
from collections import defaultdict

PAIRS = ["skbr3-bt474", "a549-pc3", "mcf10a-sum149pt", "hcc1395-kpl4"]


def mean(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return sum(xs) / len(xs) if xs else float("nan")


def fmt(x, digits=3):
    return "-" if math.isnan(x) else f"{x:.{digits}f}"


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
