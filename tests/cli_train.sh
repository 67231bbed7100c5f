#!/usr/bin/env bash
# train, eval (--json, --report, --folds images) and finetune on the two-class fixture.
source "$(dirname "$0")/cli_common.bash"
M=$TMP/m.safetensors
T=$DATA/train
TINY=(--arch conv8,pool,conv8,gap,dense --tile 32 --threads 1)

# The same seed gives the same model, byte for byte.
expect_rc 0 "$CLI" train --data "$T" "${TINY[@]}" --epochs 2 --seed 7 --out "$M"
grep -q "^saved $M" "$TMP/out" || fail "train does not say where it saved"
grep -q "epoch 2/2 .*validation loss" "$TMP/err" || fail "no per-epoch figures: $(cat "$TMP/err")"
grep -q "about .* left" "$TMP/err" || fail "no time estimate"
expect_rc 0 "$CLI" train --data "$T" "${TINY[@]}" --epochs 2 --seed 7 --out "$TMP/again.safetensors"
cmp -s "$M" "$TMP/again.safetensors" || fail "the same seed gave another model"
expect_rc 0 "$CLI" info "$M"
grep -q "seed: 7" "$TMP/out" && grep -q "epochs: 2" "$TMP/out" || fail "the run is not in the metadata"

# A fixed threshold is kept; eval's --crop-bottom overrides the model's (384 x 192: 72 tiles an image).
expect_rc 0 "$CLI" train --data "$T" "${TINY[@]}" --epochs 1 --threshold 0.3 --out "$TMP/th.safetensors"
expect_rc 0 "$CLI" info "$TMP/th.safetensors"
grep -q "^threshold  *0.3$" "$TMP/out" || fail "--threshold 0.3 not kept"
expect_rc 0 "$CLI" eval --model "$TMP/th.safetensors" --data "$T" --crop-bottom 64 --json
json "$TMP/out" 'check(j.crop_bottom === 64 && j.threshold === 0.3, "crop and threshold");
  check(j.per_image.every(i => i.tiles <= 72), "tiles of the cropped images")'

# eval --json: one object with every key, figures in range, counts that add up.
expect_rc 0 "$CLI" eval --model "$M" --data "$T" --json
json "$TMP/out" '
  for (const k of ["tiles", "tile_accuracy", "tile_loss", "images", "image_accuracy", "auc",
                   "per_class", "confusion", "classes", "per_image"]) check(k in j, "no " + k);
  check(!("top5" in j), "top5 with two classes");
  check(j.classes.join() === "MDAMB231,T47D", "classes");
  check(j.images === 6 && j.per_image.length === 6, "images");
  for (const k of ["tile_accuracy", "image_accuracy", "auc"]) check(j[k] >= 0 && j[k] <= 1, k);
  check(j.tile_loss > 0, "loss");
  const conf = j.confusion.flat().reduce((a, b) => a + b);
  check(conf === j.tiles && j.tiles > 400 && j.tiles <= 576, "confusion sums to the tiles");
  j.classes.forEach((c, i) => {
    const f = j.per_class[c];
    for (const k of ["precision", "recall", "f1"]) check(f[k] >= 0 && f[k] <= 1, c + " " + k);
    check(f.tiles === j.confusion[i].reduce((a, b) => a + b), c + " tiles = its confusion row");
  });
  for (const im of j.per_image) {
    check(j.classes.includes(im.class) && im.file.startsWith(im.class + "/"), "image class");
    check(Math.abs(im.probs.MDAMB231 + im.probs.T47D - 1) < 1e-4, "image probabilities");
    check(typeof im.ood_score === "number" && typeof im.known === "boolean", "image open-set verdict");
  }
  check(j.unknown_images === j.per_image.filter(im => !im.known).length, "unknown_images counts known false");'

# Without --json: a readable summary; --report writes the four files, which parse.
expect_rc 0 "$CLI" eval --model "$M" --data "$T" --report "$TMP/report"
grep -q "^| T47D | " "$TMP/out" || fail "the readable summary has no class table"
for f in eval.json roc.svg confusion.svg per_class.md; do
    [ -s "$TMP/report/$f" ] || fail "--report did not write $f"
done
json "$TMP/report/eval.json" 'check(j.images === 6 && j.auc >= 0, "report JSON")'
for f in roc.svg confusion.svg; do
    xmllint --noout "$TMP/report/$f" || fail "$f is not XML"
    grep -q "<svg" "$TMP/report/$f" && grep -q "true" "$TMP/report/$f" || fail "$f lacks its axes"
done
grep -q "| MDAMB231 | " "$TMP/report/per_class.md" || fail "per_class.md"

# Cross-validation by image: three images a class, three folds, every image tested once.
expect_rc 0 "$CLI" eval --model "$M" --data "$T" --folds images --epochs 1 --json
json "$TMP/out" '
  check(j.folds.length === 3 && j.images === 6, "three folds of six images");
  check(j.folds.every(f => f.images === 2 && f.tile_accuracy >= 0), "per-fold figures");
  check(new Set(j.per_image.map(i => i.file)).size === 6, "each image once");
  check(j.per_image.every(i => i.fold >= 1 && i.fold <= 3), "fold of each image")'

# Six classes (one fixture image each): top-5 figures, a 6 x 6 confusion, the report.
i=0
for f in "$T"/*/*.jpg; do
    i=$((i + 1))
    mkdir -p "$TMP/six/c$i"
    cp "$f" "$TMP/six/c$i/"
done
expect_rc 0 "$CLI" train --data "$TMP/six" "${TINY[@]}" --epochs 1 --out "$TMP/six.safetensors"
expect_rc 0 "$CLI" eval --model "$TMP/six.safetensors" --data "$TMP/six" --json --report "$TMP/six-report"
json "$TMP/out" '
  check(j.classes.length === 6 && j.images === 6, "six classes");
  for (const k of ["top5", "image_top5", "auc_micro"]) check(j[k] >= 0 && j[k] <= 1, k);
  check(!("auc" in j), "a two-class auc with six classes");
  check(j.confusion.length === 6 && j.confusion.every(r => r.length === 6), "6 x 6 confusion")'
xmllint --noout "$TMP/six-report/roc.svg" "$TMP/six-report/confusion.svg" || fail "six-class SVG"

# The folds train as the model was trained: its recorded options come back.
expect_rc 0 "$CLI" train --data "$T" "${TINY[@]}" --epochs 1 --lr 0.002 --schedule cosine --lr-final 0.0001 \
    --dihedral --no-hflip --zoom 0.2 --blur 1.5 --gamma 0.3 --lowres 0.5 --lowres-share 0.4 --crops 5 --density-bands 2 --batch 16 --balance \
    --label-smoothing 0.1 --out "$TMP/opts.safetensors"
expect_rc 0 "$CLI" eval --model "$TMP/opts.safetensors" --data "$T" --folds images --json
grep -q "^paper: epochs 1, batch 16, 5 crops per image in 2 density bands, patience 0, lr 0.002 cosine to 0.0001, augment dihedral rotate 5 shift 0.1 zoom 0.2 blur 1.5 gamma 0.3 lowres 0.5 (on a share 0.4 of crops), balance on, label smoothing 0.1" \
    "$TMP/err" || fail "the folds do not train as the model was trained: $(grep ^paper "$TMP/err" | head -1)"

# A share of crops with no lowres to share, or a share of none, is refused.
expect_rc 2 "$CLI" train --data "$T" "${TINY[@]}" --lowres-share 0.5 --out "$TMP/x.safetensors"
grep -q "give --lowres too" "$TMP/err" || fail "--lowres-share alone: $(cat "$TMP/err")"
expect_rc 2 "$CLI" train --data "$T" "${TINY[@]}" --lowres 1 --lowres-share 0 --out "$TMP/x.safetensors"
# Density bands draw random crops: with each grid tile once, refused.
expect_rc 2 "$CLI" train --data "$T" "${TINY[@]}" --crops 0 --density-bands 3 --out "$TMP/x.safetensors"
grep -q "give --crops N too" "$TMP/err" || fail "--density-bands without crops: $(cat "$TMP/err")"
expect_rc 2 "$CLI" train --data "$T" "${TINY[@]}" --crops 5 --density-bands 11 --out "$TMP/x.safetensors"
# Smoothing every target to 1 / K leaves nothing to learn: refused.
expect_rc 2 "$CLI" train --data "$T" "${TINY[@]}" --label-smoothing 1 --out "$TMP/x.safetensors"
grep -q "label-smoothing" "$TMP/err" || fail "--label-smoothing 1: $(cat "$TMP/err")"

# Files that are not images by their name (cs_image_name, as predict of a
# folder): skipped with a one-line note, exit 0; hidden ones passed over.
mkdir -p "$TMP/data/other"
cp -r "$T/T47D" "$T/MDAMB231" "$TMP/data/"
echo "plate 3, 10x" >"$TMP/data/T47D/notes.txt"
cp "$DATA/images/garbage.jpg" "$TMP/data/MDAMB231/Thumbs.db"
cp "$DATA/images/garbage.jpg" "$TMP/data/MDAMB231/.DS_Store"
expect_rc 0 "$CLI" eval --model "$M" --data "$TMP/data" --json
json "$TMP/out" 'check(j.images === 6, "the images beside stray files evaluated")'
grep -qx "cellsight: skipped 2 files of $TMP/data that are not images (by their name): MDAMB231/Thumbs.db T47D/notes.txt" \
    "$TMP/err" || fail "stray files are not noted in one line: $(cat "$TMP/err")"
[ "$(grep -c "notes.txt\|Thumbs.db" "$TMP/err")" = 1 ] || fail "stray files named as bad: $(cat "$TMP/err")"
! grep -q DS_Store "$TMP/err" || fail "a hidden file is mentioned: $(cat "$TMP/err")"

# A folder with a bad file and a folder that is no class: listed, the rest used, exit 1.
cp "$DATA/images/garbage.jpg" "$TMP/data/T47D/"
expect_rc 1 "$CLI" train --data "$TMP/data" --classes T47D,MDAMB231 "${TINY[@]}" --epochs 1 \
    --out "$TMP/bad.safetensors"
grep -q "garbage.jpg" "$TMP/err" || fail "train does not name the bad file"
[ -s "$TMP/bad.safetensors" ] || fail "train did not save despite a skipped file"
expect_rc 1 "$CLI" eval --model "$M" --data "$TMP/data" --json
grep -q "garbage.jpg" "$TMP/err" && grep -q "other" "$TMP/err" || fail "eval: $(cat "$TMP/err")"
json "$TMP/out" 'check(j.images === 6, "the good images still evaluated")'
expect_rc 1 "$CLI" eval --model "$M" --data "$DATA/dataset"
expect_rc 1 "$CLI" train --data "$TMP/no-such-folder" --out "$TMP/x.safetensors"
expect_rc 1 "$CLI" train --data "$DATA/dataset" --classes A,C --out "$TMP/x.safetensors"

# finetune: head mode keeps the classes; other classes get a new output layer; full mode.
expect_rc 0 "$CLI" finetune --model "$M" --data "$T" --mode head --epochs 3 --threads 1 \
    --out "$TMP/head.safetensors"
expect_rc 0 "$CLI" info "$TMP/head.safetensors"
grep -q "mode: head" "$TMP/out" && grep -q "base_model: $M" "$TMP/out" || fail "head metadata"
cp "$M" "$TMP/base.safetensors"
expect_rc 2 "$CLI" finetune --model "$TMP/base.safetensors" --data "$T" --mode head \
    --out "$TMP/./base.safetensors"
cmp -s "$M" "$TMP/base.safetensors" || fail "finetune replaced its base model"
expect_rc 0 "$CLI" eval --model "$TMP/head.safetensors" --data "$T" --folds images --json --threads 1
json "$TMP/out" 'check(j.folds.length === 3, "three folds")'
grep -q "^head: " "$TMP/err" || fail "the folds of a fine-tuned model do not fine-tune its base"
expect_rc 0 "$CLI" finetune --model "$M" --data "$T" --classes T47D,MDAMB231 --mode head \
    --epochs 2 --threads 1 --out "$TMP/swapped.safetensors"
expect_rc 0 "$CLI" info "$TMP/swapped.safetensors"
grep -q "classes  *2: T47D, MDAMB231" "$TMP/out" || fail "new classes"
expect_rc 0 "$CLI" finetune --model "$M" --data "$T" --mode full --epochs 1 --crops 8 --threads 1 \
    --out "$TMP/full.safetensors"
expect_rc 0 "$CLI" predict --model "$TMP/full.safetensors" --csv "$T/T47D/T47D_F6_05d21h_x0_y0.jpg"

# Pooling over the cells only (fgap): trains, says so, fine-tunes in head mode
# (from the pooled features) and predicts as it evaluates.
expect_rc 0 "$CLI" train --data "$T" --arch conv8,pool,conv8,pool,conv8,fgap,dense --tile 32 --threads 1 \
    --epochs 2 --out "$TMP/fgap.safetensors"
expect_rc 0 "$CLI" info "$TMP/fgap.safetensors"
grep -q "global average pool over cells" "$TMP/out" || fail "info does not name fgap: $(cat "$TMP/out")"
expect_rc 0 "$CLI" finetune --model "$TMP/fgap.safetensors" --data "$T" --mode head --epochs 3 --threads 1 \
    --out "$TMP/fgap-head.safetensors"
expect_rc 0 "$CLI" eval --model "$TMP/fgap-head.safetensors" --data "$T" --json
json "$TMP/out" 'check(j.tile_accuracy >= 0 && j.tile_accuracy <= 1 && j.images === 6, "fgap eval")'
finish
