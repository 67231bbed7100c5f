#!/usr/bin/env bash
# tests/stage_cv_pool.sh: tools/cv_pool.py pools two folds' eval.json as
# `eval --folds images` would: images right overall, per class, and by how far
# apart a class's two images are (well and time from AZGCB-style names; no
# such table when the names do not say), with the open-set verdicts' flags
# when the folds have them.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# fold FILE "image class predicted [known]"...: an eval.json of three classes,
# 10 tiles an image; known (true or false) as eval gives it for a model with an
# open-set threshold.
fold() {
    local out=$1
    shift
    /usr/bin/python3 - "$out" "$@" <<'PY'
import json, sys
classes = ["A", "B", "C"]
out, rows = sys.argv[1], [r.split() for r in sys.argv[2:]]
conf = [[0] * 3 for _ in classes]
images = []
for file, c, p, *known in rows:
    conf[classes.index(c)][classes.index(p)] += 10
    probs = {k: 0.8 if k == p else 0.1 for k in classes}
    images.append({"file": file, "class": c, "predicted_class": p, "confidence": 0.8, "tiles": 10, "probs": probs})
    if known:
        images[-1]["known"] = known[0] == "true"
right = sum(r[1] == r[2] for r in rows)
json.dump({"classes": classes, "confusion": conf, "per_image": images, "tiles": 10 * len(rows),
           "tile_accuracy": right / len(rows), "images": len(rows)}, open(out, "w"))
PY
}
fold "$tmp/1.json" "A/A_G7_1_00d00h00m.jpg A A" "B/B_G4_1_00d00h00m.jpg B C" "C/X_F5_1_01d00h55m.jpg C C"
fold "$tmp/2.json" "A/A_G7_1_00d04h00m.jpg A A" "B/B_G4_1_03d00h00m.jpg B B" "C/X_G2_1_02d00h55m.jpg C A"
tools/cv_pool.py "$tmp/1.json" "$tmp/2.json" >"$tmp/cv.md"
grep -q "^60 non-background tiles, accuracy 0.6667. 6 images, 4 right (accuracy 0.6667)\.$" "$tmp/cv.md" ||
    fail "pooled figures: $(head -1 "$tmp/cv.md")"
grep -q "^| B | 20 | 0.5000 | 1 / 2 |$" "$tmp/cv.md" || fail "class B's row"
grep -q "^| the same well, at most a day apart | 1 | 2 / 2 | A 2/2 |$" "$tmp/cv.md" || fail "images 4 hours apart"
grep -q "^| the same well, more than a day apart | 1 | 1 / 2 | B 1/2 |$" "$tmp/cv.md" || fail "images 3 days apart"
grep -q "^| two wells | 1 | 1 / 2 | C 1/2 |$" "$tmp/cv.md" || fail "images of two wells"

# With verdicts: how many each bucket flags unknown, and of them the ones classified right.
fold "$tmp/1.json" "A/A_G7_1_00d00h00m.jpg A A true" "B/B_G4_1_00d00h00m.jpg B C false" "C/X_F5_1_01d00h55m.jpg C C false"
fold "$tmp/2.json" "A/A_G7_1_00d04h00m.jpg A A true" "B/B_G4_1_03d00h00m.jpg B B false" "C/X_G2_1_02d00h55m.jpg C A true"
tools/cv_pool.py "$tmp/1.json" "$tmp/2.json" >"$tmp/cv.md"
grep -q "^| the two images | classes | images right | flagged unknown (right ones) | per class |$" "$tmp/cv.md" ||
    fail "no flagged column: $(grep "the two images" "$tmp/cv.md")"
grep -q "^| the same well, at most a day apart | 1 | 2 / 2 | 0 (0) | A 2/2 |$" "$tmp/cv.md" || fail "flags within a day"
grep -q "^| the same well, more than a day apart | 1 | 1 / 2 | 2 (1) | B 1/2 |$" "$tmp/cv.md" || fail "flags days apart"
grep -q "^| two wells | 1 | 1 / 2 | 1 (1) | C 1/2 |$" "$tmp/cv.md" || fail "flags of two wells"

fold "$tmp/1.json" "A/a.jpg A A" "B/b.jpg B C" "C/c.jpg C C"
fold "$tmp/2.json" "A/a2.jpg A A" "B/b2.jpg B B" "C/c2.jpg C A"
tools/cv_pool.py "$tmp/1.json" "$tmp/2.json" >"$tmp/cv.md"
grep -q "4 right" "$tmp/cv.md" || fail "pooled figures without well and time"
! grep -q "how far apart" "$tmp/cv.md" || fail "a table by well and time from names that do not give them"
echo "cv_pool: ok"
