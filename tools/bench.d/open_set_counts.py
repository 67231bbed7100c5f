#!/usr/bin/python3
"""One fine-tune's open-set verdicts for tools/bench_transfer --open-set: of the
group's unseen images (eval --json's per_image) and of the other lines' images
(predict --csv), how many it calls unknown; a tab-separated line of group,
base, direction, the unseen images' line (each "LINE:flagged/images"), other
lines' flagged, other lines' images.

    open_set_counts.py EVAL.json OTHERS.csv GROUP BASE DIRECTION
"""
import csv
import json
import sys
from collections import defaultdict

ev = json.load(open(sys.argv[1]))
known = defaultdict(lambda: [0, 0])  # line -> [flagged, images]
for im in ev["per_image"]:
    known[im["class"]][0] += im["known"] is False
    known[im["class"]][1] += 1
rows = list(csv.DictReader(open(sys.argv[2])))
flagged = sum(r["known"] == "no" for r in rows)
print("\t".join(sys.argv[3:6] + [" ".join(f"{c}:{f}/{n}" for c, (f, n) in sorted(known.items())),
                                 str(flagged), str(len(rows))]))
