#!/usr/bin/env bash
# ood_score knn_penultimate through the CLI: train and calibrate make it (a bank
# of training tiles in tensor ood.bank), info says so, predict fills ood_score
# and known, a fine-tune keeps it, and the file stays plain safetensors; the
# same for knn_class_penultimate (and its tensor ood.bank_class), trust_penultimate
# and image_class_penultimate (a bank row a training image).
source "$(dirname "$0")/cli_common.bash"
T=$DATA/train
K=$TMP/knn.safetensors
ARCH=conv8,pool,conv8,gap,dense6,dense

expect_rc 0 "$CLI" train --data "$T" --arch $ARCH --tile 32 --epochs 2 --threads 1 \
    --ood-score knn_penultimate --out "$K"
expect_rc 0 "$CLI" info "$K"
grep -q "^ood_score  *knn_penultimate (distance to the k-th nearest, k = 10, of [0-9]* training tiles' 6 penultimate features), unknown above [0-9.e+-]*$" "$TMP/out" ||
    fail "info does not describe the kNN score: $(grep ood "$TMP/out")"
grep -q "^  ood_score: knn_penultimate$" "$TMP/out" && grep -q "^  ood_k: 10$" "$TMP/out" &&
    grep -q "^  ood_bank_tiles: [0-9]*$" "$TMP/out" || fail "train records no bank: $(grep ood "$TMP/out")"
th=$(sed -n 's/^  ood_threshold: //p' "$TMP/out")

# predict: every row scored, known by the threshold.
expect_rc 0 "$CLI" predict --model "$K" --csv "$T"
python3 - "$TMP/out" "$th" <<'PY' || fail "predict's ood_score and known: $(head -3 "$TMP/out")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
th = float(sys.argv[2])
assert len(rows) >= 4
for r in rows:
    s = float(r["ood_score"])
    assert 0 <= s <= 2, r  # distances between unit vectors
    assert r["known"] == ("yes" if s <= th else "no"), r
PY

# The file as any safetensors reader sees it: ood.bank F32 [n, 6], offsets
# that tile the data section, n as the metadata says (standard library only).
python3 - "$K" <<'PY' || fail "ood.bank is not a plain safetensors tensor"
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
head = json.loads(data[8:8 + n])
meta = head.pop("__metadata__")
bank = head["ood.bank"]
assert bank["dtype"] == "F32" and bank["shape"] == [int(meta["ood_bank_tiles"]), 6], bank
spans = sorted(t["data_offsets"] for t in head.values())
assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:])), spans
assert spans[-1][1] == len(data) - 8 - n
b0, b1 = bank["data_offsets"]
assert b1 - b0 == 4 * 6 * bank["shape"][0]
PY

# calibrate switches a model to it and back; the network's tensors stay as they are.
M=$TMP/m.safetensors
tiny_model "$M"
expect_rc 0 "$CLI" calibrate --model "$M" --data "$T" --ood-score knn_penultimate --out "$TMP/cal.safetensors"
expect_rc 0 "$CLI" info "$TMP/cal.safetensors"
grep -q "^  ood_score: knn_penultimate$" "$TMP/out" || fail "calibrate --ood-score knn_penultimate: $(grep ood "$TMP/out")"
expect_rc 0 "$CLI" predict --model "$TMP/cal.safetensors" --csv "$T"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ood_score") c = i; next }
  !c || $c == "" { bad = 1 } END { exit bad || !c }' "$TMP/out" || fail "calibrated: empty ood_score"
expect_rc 0 "$CLI" calibrate --model "$TMP/cal.safetensors" --data "$T" --ood-score msp --out "$TMP/back.safetensors"
expect_rc 0 "$CLI" info "$TMP/back.safetensors"
grep -q "^  ood_score: msp$" "$TMP/out" && ! grep -q "^  ood_k:\|^  ood_bank_tiles:" "$TMP/out" ||
    fail "calibrate --ood-score msp left the bank's keys: $(grep ood "$TMP/out")"
# From the bank to the penultimate features' Mahalanobis statistics: no bank, a score per image.
expect_rc 0 "$CLI" calibrate --model "$TMP/cal.safetensors" --data "$T" --ood-score mahalanobis_penultimate \
    --out "$TMP/mp.safetensors"
expect_rc 0 "$CLI" info "$TMP/mp.safetensors"
grep -q "^ood_score *mahalanobis_penultimate (to the nearest of 2 class means of [0-9]* penultimate features)" "$TMP/out" &&
    ! grep -q "^  ood_bank_tiles:" "$TMP/out" || fail "calibrate --ood-score mahalanobis_penultimate: $(grep ood "$TMP/out")"
expect_rc 0 "$CLI" predict --model "$TMP/mp.safetensors" --csv "$T"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ood_score") c = i; next }
  !c || $c == "" { bad = 1 } END { exit bad || !c }' "$TMP/out" || fail "mahalanobis_penultimate: empty ood_score"

# knn_class_penultimate: the bank and its classes (ood.bank_class F32 [n], each 0 or 1), the
# score of the class an image is called, predict filling every row.
expect_rc 0 "$CLI" calibrate --model "$TMP/cal.safetensors" --data "$T" --ood-score knn_class_penultimate \
    --out "$TMP/kc.safetensors"
expect_rc 0 "$CLI" info "$TMP/kc.safetensors"
grep -q "^ood_score *knn_class_penultimate (distance to the k-th nearest, k = 10, of the image's class's of [0-9]* training tiles' [0-9]* penultimate features)" "$TMP/out" ||
    fail "calibrate --ood-score knn_class_penultimate: $(grep ood "$TMP/out")"
python3 - "$TMP/kc.safetensors" <<'PY' || fail "ood.bank_class is not a plain safetensors tensor of classes"
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
head = json.loads(data[8:8 + n])
meta = head.pop("__metadata__")
cls, bank = head["ood.bank_class"], head["ood.bank"]
assert cls["dtype"] == "F32" and cls["shape"] == [bank["shape"][0]] == [int(meta["ood_bank_tiles"])], cls
a, b = cls["data_offsets"]
values = struct.unpack("<%df" % cls["shape"][0], data[8 + n + a:8 + n + b])
assert set(values) == {0.0, 1.0} and list(values) == sorted(values), values  # grouped by class
PY
expect_rc 0 "$CLI" predict --model "$TMP/kc.safetensors" --csv "$T"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ood_score") c = i; next }
  !c || $c == "" { bad = 1 } END { exit bad || !c }' "$TMP/out" || fail "knn_class_penultimate: empty ood_score"

# trust_penultimate: the same bank and classes, the score a ratio, named in full by --help.
expect_rc 0 "$CLI" calibrate --model "$TMP/kc.safetensors" --data "$T" --ood-score trust_penultimate \
    --out "$TMP/tr.safetensors"
expect_rc 0 "$CLI" info "$TMP/tr.safetensors"
grep -q "^ood_score *trust_penultimate (distance to the k-th nearest, k = 10, of the image's class's of [0-9]* training tiles' [0-9]* penultimate features, over the nearest other class's)" "$TMP/out" ||
    fail "calibrate --ood-score trust_penultimate: $(grep ood "$TMP/out")"
expect_rc 0 "$CLI" predict --model "$TMP/tr.safetensors" --csv "$T"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ood_score") c = i; next }
  !c || $c == "" || $c < 0 { bad = 1 } END { exit bad || !c }' "$TMP/out" || fail "trust_penultimate: empty ood_score"

# image_class_penultimate: a bank row a training image (ood_bank_images, no ood_k), each image
# scored by its mean features; a fine-tune of it keeps it, from its own images; and back to trust,
# whose ood_k is the default again.
expect_rc 0 "$CLI" calibrate --model "$TMP/tr.safetensors" --data "$T" --ood-score image_class_penultimate \
    --out "$TMP/im.safetensors"
expect_rc 0 "$CLI" info "$TMP/im.safetensors"
n_images=$(sed -n 's/^  ood_bank_images: \([0-9]*\)$/\1/p' "$TMP/out")
[ -n "$n_images" ] && [ "$n_images" -ge 2 ] &&
    grep -q "^ood_score *image_class_penultimate (the image's mean [0-9]* penultimate features' distance to the nearest of the image's class's of $n_images training images'), unknown above" "$TMP/out" &&
    ! grep -q "^  ood_k:\|^  ood_bank_tiles:" "$TMP/out" ||
    fail "calibrate --ood-score image_class_penultimate: $(grep ood "$TMP/out")"
# with thresholds for images of fewer tiles than its validation images (from 1 tile up)
grep -q "^  ood_thresholds_by_tiles: 1:[0-9.]*,.*$" "$TMP/out" &&
    grep -q "^ood_score .*, unknown above [0-9.]* (images of fewer than [0-9]* tiles: higher, [0-9.]* at 1)$" "$TMP/out" ||
    fail "image_class_penultimate: thresholds by tiles: $(grep ood "$TMP/out")"
expect_rc 0 "$CLI" predict --model "$TMP/im.safetensors" --csv "$T"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ood_score") c = i; next }
  !c || $c == "" || $c < 0 || $c > 2 { bad = 1 } END { exit bad || !c }' "$TMP/out" || fail "image_class_penultimate: ood_score"
expect_rc 0 "$CLI" finetune --model "$TMP/im.safetensors" --data "$T" --mode head --epochs 1 --threads 1 \
    --out "$TMP/imft.safetensors"
expect_rc 0 "$CLI" info "$TMP/imft.safetensors"
grep -q "^  ood_score: image_class_penultimate$" "$TMP/out" && grep -q "^  ood_bank_images: [0-9]*$" "$TMP/out" &&
    grep -q "^  ood_thresholds_by_tiles: 1:" "$TMP/out" ||
    fail "the fine-tune lost image_class_penultimate: $(grep ood "$TMP/out")"
expect_rc 0 "$CLI" calibrate --model "$TMP/im.safetensors" --data "$T" --ood-score trust_penultimate \
    --out "$TMP/tr2.safetensors"
expect_rc 0 "$CLI" info "$TMP/tr2.safetensors"
grep -q "^  ood_k: 10$" "$TMP/out" && grep -q "^  ood_bank_tiles: [0-9]*$" "$TMP/out" && ! grep -q "^  ood_bank_images:" "$TMP/out" &&
    ! grep -q "ood_thresholds_by_tiles\|fewer than" "$TMP/out" ||
    fail "back to trust_penultimate: $(grep ood "$TMP/out")"

expect_rc 0 "$CLI" calibrate --help
grep -q -- "--ood-score mahalanobis|msp|knn_penultimate|mahalanobis_penultimate|knn_class_penultimate|trust_penultimate|image_class_penultimate$" "$TMP/out" ||
    fail "--help cuts the choices short: $(grep -- --ood-score "$TMP/out")"

# A fine-tune of a knn_penultimate model keeps its score, with a bank of its own.
expect_rc 0 "$CLI" finetune --model "$K" --data "$T" --mode head --epochs 1 --threads 1 --out "$TMP/ft.safetensors"
expect_rc 0 "$CLI" info "$TMP/ft.safetensors"
grep -q "^  ood_score: knn_penultimate$" "$TMP/out" && grep -q "^  ood_bank_tiles: [0-9]*$" "$TMP/out" ||
    fail "the fine-tune lost knn_penultimate: $(grep ood "$TMP/out")"
expect_rc 2 "$CLI" train --data "$T" --ood-score knn --out "$TMP/z.safetensors"
finish
