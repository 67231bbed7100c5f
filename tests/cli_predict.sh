#!/usr/bin/env bash
# predict, info, usage errors and bad files.
source "$(dirname "$0")/cli_common.bash"
M=$TMP/m.safetensors
T=$DATA/train
tiny_model "$M"

# CSV: the header, one row per image, confidence = p of the predicted class, probabilities sum to 1,
# then the tta column: the averaging used (the tiny model has none), and the pixel size
# (the JPEGs state none, the model has none: not resampled).
expect_rc 0 "$CLI" predict --model "$M" --csv "$T"/T47D/*.jpg "$T"/MDAMB231/*.jpg
[ "$(head -1 "$TMP/out")" = "file,predicted_class,confidence,tiles,p_MDAMB231,p_T47D,tta,um_per_px,scale,model,model_hash,crop_bottom,ood_score,known" ] ||
    fail "CSV header: $(head -1 "$TMP/out")"
[ "$(wc -l <"$TMP/out")" = 7 ] || fail "CSV rows: $(wc -l <"$TMP/out"), not 1 + 6"
# What made the rows: the model file's name, the first 12 digits of its sha256sum, the crop.
hash=$(sha256sum "$M" | cut -c1-12)
[ "$(cut -d, -f10-12 "$TMP/out" | sort -u | head -1)" = "m.safetensors,$hash,0" ] ||
    fail "model,model_hash,crop_bottom: $(cut -d, -f10-12 "$TMP/out" | sort -u | tr '\n' ' '), not m.safetensors,$hash,0"
expect_rc 0 "$CLI" predict --model "$M" --csv --crop-bottom 40 "$T/T47D/T47D_F6_05d21h_x0_y0.jpg"
[ "$(tail -1 "$TMP/out" | cut -d, -f10-12)" = "m.safetensors,$hash,40" ] || fail "--crop-bottom 40: $(cat "$TMP/out")"
awk -F, 'NR == 1 { for (i = 5; i <= NF; i++) col[substr($i, 3)] = i; next }
         { s = $5 + $6; if (s < 0.9999 || s > 1.0001 || $3 != $(col[$2]) || $4 < 1 || $4 > 96 || $7 != "none" || $8 != "" || $9 != 1) bad = 1 }
         END { exit bad }' "$TMP/out" || fail "CSV rows are not consistent: $(cat "$TMP/out")"

# --tiles: one row per grid tile; the fixtures are 384 x 256, the tiles 32: 12 x 8.
expect_rc 0 "$CLI" predict --model "$M" --csv --tiles "$T/T47D/T47D_F6_05d21h_x0_y0.jpg"
[ "$(head -1 "$TMP/out")" = "file,x,y,background,predicted_class,confidence,p_MDAMB231,p_T47D,tta,um_per_px,scale,model,model_hash,crop_bottom,ood_score,known" ] ||
    fail "tile CSV header: $(head -1 "$TMP/out")"
[ "$(wc -l <"$TMP/out")" = 97 ] || fail "tile rows: $(wc -l <"$TMP/out"), not 1 + 96"
awk -F, 'NR > 1 { if ($2 % 32 || $3 % 32 || $2 > 352 || $3 > 224 || $9 != "none") bad = 1; seen[$2 "," $3]++ }
         END { exit bad || length(seen) != 96 }' "$TMP/out" || fail "tile positions"

# The readable table: a header line and a line per image.
expect_rc 0 "$CLI" predict --model "$M" "$T/T47D/T47D_F6_05d21h_x0_y0.jpg"
[ "$(wc -l <"$TMP/out")" = 2 ] && grep -q "^file  *predicted_class" "$TMP/out" || fail "table"

# A bad image among good ones: named on stderr, the others still classified, exit 1.
expect_rc 1 "$CLI" predict --model "$M" --csv "$T/T47D/T47D_F6_05d21h_x0_y0.jpg" \
    "$DATA/images/garbage.jpg" "$DATA/images/no-such-file.png" "$T/MDAMB231/MDAMB231_G7_04d00h_x0_y0.jpg"
[ "$(wc -l <"$TMP/out")" = 3 ] || fail "rows next to bad images: $(wc -l <"$TMP/out")"
grep -q "garbage.jpg" "$TMP/err" && grep -q "no-such-file.png" "$TMP/err" || fail "bad images not named"

# info: what the file holds.
expect_rc 0 "$CLI" info "$M"
for want in "arch  *conv8,pool,conv8,gap,dense" "classes  *2: MDAMB231, T47D" "tile  *32" \
    "crop_bottom  *0" "threshold  *0.5" "parameters  *673" "MACs per tile" "conv2 .* 584 parameters" \
    "protocol: paper" "val_loss: "; do
    grep -q "$want" "$TMP/out" || fail "info lacks '$want'"
done

# Bad model files: one clear line, exit 1, no crash; the control file loads.
expect_rc 0 "$CLI" info "$DATA/models/good_tiny.safetensors"
for f in "$DATA"/models/bad_*.safetensors "$DATA"/bad/*.safetensors; do
    expect_rc 1 "$CLI" info "$f"
    grep -q "^cellsight: " "$TMP/err" || fail "no message for $f"
    expect_rc 1 "$CLI" predict --model "$f" "$T/T47D/T47D_F6_05d21h_x0_y0.jpg"
done
expect_rc 1 "$CLI" info "$DATA/images/cells.png"

# Usage errors exit 2 with a message; --help exits 0.
expect_rc 2 "$CLI"
expect_rc 2 "$CLI" frobnicate
expect_rc 2 "$CLI" predict "$T/T47D/T47D_F6_05d21h_x0_y0.jpg"
expect_rc 2 "$CLI" predict --model "$M"
expect_rc 2 "$CLI" predict --model "$M" --bogus "$T/T47D/T47D_F6_05d21h_x0_y0.jpg"
expect_rc 2 "$CLI" predict --model "$M" --threads many "$T/T47D/T47D_F6_05d21h_x0_y0.jpg"
expect_rc 2 "$CLI" predict --model "$M" --crop-bottom -5 "$T/T47D/T47D_F6_05d21h_x0_y0.jpg"
grep -q "crop-bottom" "$TMP/err" || fail "the usage error does not name the option"
expect_rc 2 "$CLI" predict --model
expect_rc 2 "$CLI" info
expect_rc 2 "$CLI" info "$M" "$M"
expect_rc 2 "$CLI" eval --model "$M" --data "$T" --epochs 3
expect_rc 2 "$CLI" eval --model "$M" --data "$T" --folds tiles
expect_rc 2 "$CLI" train --data "$T" --out "$TMP/x.safetensors" --val-folds 1
expect_rc 2 "$CLI" train --data "$T" --out "$TMP/x.safetensors" --arch conv8,wobble,dense
expect_rc 2 "$CLI" train --data "$T" --out "$TMP/x.safetensors" --classes A,,B
expect_rc 2 "$CLI" train --data "$T" --out "$TMP/x.safetensors" --protocol fast
expect_rc 2 "$CLI" train --data "$T"
expect_rc 2 "$CLI" finetune --model "$M" --data "$T" --out "$TMP/x.safetensors"
expect_rc 2 "$CLI" finetune --model "$M" --data "$T" --out "$TMP/x.safetensors" --mode half
[ ! -e "$TMP/x.safetensors" ] || fail "a usage error wrote a model"
for cmd in train eval predict info finetune; do
    expect_rc 0 "$CLI" "$cmd" --help
    grep -q "^usage: cellsight $cmd" "$TMP/out" || fail "$cmd --help"
done
expect_rc 0 "$CLI" --help
finish
