#!/usr/bin/python3
"""One fine-tune's figures for tools/bench_transfer, from its eval --json: a
tab-separated line of group, base, mode, budget, direction, seconds, tile
accuracy, AUC appended to ROWS, and a line a test image appended to LINES:
the same six fields, then the line, its training image, its test image and
that image's tile accuracy (recall) and tiles, so that transfer_table.py can
tell how far in time (or which well) a test image was from what trained.

    transfer_rows.py EVAL.json TRAIN_DIR ROWS LINES GROUP BASE MODE BUDGET DIRECTION SECONDS
"""
import json
import os
import sys

ev = json.load(open(sys.argv[1]))
train_dir, rows, lines = sys.argv[2:5]
context = sys.argv[5:11]
with open(rows, "a") as f:
    print("\t".join(context + [str(ev["tile_accuracy"]), str(ev.get("auc", "nan"))]), file=f)
with open(lines, "a") as f:
    for im in ev["per_image"]:
        line = im["class"]
        trained = sorted(os.listdir(os.path.join(train_dir, line)))
        recall = ev["per_class"][line]["recall"]  # one test image a line
        print("\t".join(context + [line, " ".join(trained), os.path.basename(im["file"]),
                                   str(recall), str(im["tiles"])]), file=f)
