#!/usr/bin/python3
"""tools/ood_small_images' crops and counts.

    small_crops.py IMAGES OUT       square crops of 256, 384, 512 and 768 pixels,
                                    three a size and image (seeded), above the
                                    96-row overlay strip: OUT/SIZE/LINE/NAME_K.png
    small_crops.py --count DATA OUT...  a Markdown table of each OUT's SIZE.csv
                                    and whole.csv (predict --csv), pooled: images
                                    called unknown, by size and by how far each
                                    was from its line's other image in DATA
"""
import csv
import os
import random
import re
import sys

from time_apart import BUCKETS, apart

SIZES = (256, 384, 512, 768)
OVERLAY = 96


def crops(images, out):
    from PIL import Image
    rng = random.Random(1)
    for line in sorted(os.listdir(images)):
        for name in sorted(os.listdir(os.path.join(images, line))):
            im = Image.open(os.path.join(images, line, name)).convert("L")
            w, h = im.size[0], im.size[1] - OVERLAY
            for size in SIZES:
                for k in range(3):
                    x, y = rng.randrange(0, w - size + 1), rng.randrange(0, h - size + 1)
                    d = os.path.join(out, str(size), line)
                    os.makedirs(d, exist_ok=True)
                    im.crop((x, y, x + size, y + size)).save(os.path.join(d, f"{os.path.splitext(name)[0]}_{k}.png"))


def bucket(path, data):
    """How an image (or a crop of it) stands to its line's other image in data."""
    line = os.path.basename(os.path.dirname(path))
    stem = re.sub(r"_\d$", "", os.path.splitext(os.path.basename(path))[0])
    folder = os.path.join(data, line)
    others = [f for f in os.listdir(folder) if os.path.splitext(f)[0] != stem] if os.path.isdir(folder) else []
    return apart(others, stem)


def count(data, outs):
    rows = []
    for label, f in [(f"{s} px", f"{s}.csv") for s in SIZES] + [("whole images", "whole.csv")]:
        flagged = n = tiles = 0
        by = {b: [0, 0] for b in BUCKETS}
        for r in (r for out in outs for r in csv.DictReader(open(os.path.join(out, f)))):
            unknown = r["known"] == "no"
            n += 1
            flagged += unknown
            tiles += int(r["tiles"])
            b = by[bucket(r["file"], data)]
            b[0] += unknown
            b[1] += 1
        rows.append((label, tiles / max(n, 1), flagged, n, by))
    used = [b for b in BUCKETS if any(r[4][b][1] for r in rows)]
    print()
    print("| images | voting tiles (mean) | called unknown | " + " | ".join(used) + " |")
    print("|---|---:|---:|" + "---:|" * len(used))
    for label, t, f, n, by in rows:
        print(f"| {label} | {t:.1f} | {f} / {n} ({f / max(n, 1):.0%}) | " +
              " | ".join(f"{by[b][0]} / {by[b][1]}" for b in used) + " |")


if sys.argv[1] == "--count":
    count(sys.argv[2], sys.argv[3:])
else:
    crops(sys.argv[1], sys.argv[2])
