#!/usr/bin/env bash
# Pixel size through predict and eval: the cells crop at twice the magnification,
# its size stated each way a file can, classifies exactly as the crop (um_per_px
# 0.6215, scale 0.5); --no-rescale, --um-per-px, the 5% tolerance; bad values.
source "$(dirname "$0")/cli_common.bash"
M=$(dirname "$0")/../model/t47d-vs-mdamb231.safetensors
X=$DATA/tiff
P=(predict --model "$M" --csv --tiles --crop-bottom 0)

# column NAME FILE: the column of that header name, without the header.
column() { awk -F, -v n="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next } { print $c }' "$2"; }

expect_rc 0 "$CLI" "${P[@]}" "$X/cells.png"
cut -d, -f4-9 "$TMP/out" >"$TMP/png"
[ "$(column um_per_px "$TMP/out" | sort -u)" = "" ] || fail "cells.png states no pixel size: $(cat "$TMP/out")"
[ "$(column scale "$TMP/out" | sort -u)" = 1 ] || fail "cells.png is not resampled: $(cat "$TMP/out")"
for f in um_cm.tif um_inch.tif um_imagej.tif um_ome_nm.ome.tif um_phys.png; do
    expect_rc 0 "$CLI" "${P[@]}" "$X/$f"
    cut -d, -f4-9 "$TMP/out" | cmp -s - "$TMP/png" && [ "$(column x "$TMP/out" | tr "\n" " ")" = "0 256 " ] ||
        fail "$f: not the crop's tiles: $(cat "$TMP/out")"
    [ "$(column um_per_px "$TMP/out" | sort -u)" = 0.6215 ] || fail "$f: pixel size $(column um_per_px "$TMP/out")"
    [ "$(column scale "$TMP/out" | sort -u)" = 0.5 ] || fail "$f: scale $(column scale "$TMP/out")"
done
expect_rc 0 "$CLI" "${P[@]}" "$X/um_aniso.tif"
[ "$(column um_per_px "$TMP/out" | sort -u),$(column scale "$TMP/out" | sort -u)" = 0.6215x1.243,0.5x1 ] ||
    fail "anisotropic pixels: $(cat "$TMP/out")"

# --no-rescale: the image at its own scale, 8 tiles; its size still reported.
expect_rc 0 "$CLI" "${P[@]}" --no-rescale "$X/um_cm.tif"
[ "$(column scale "$TMP/out" | sort -u)" = 1 ] && [ "$(column x "$TMP/out" | wc -l)" = 8 ] &&
    [ "$(column um_per_px "$TMP/out" | sort -u)" = 0.6215 ] || fail "--no-rescale: $(cat "$TMP/out")"

# --um-per-px: for files that state none; within 5% of the model's, no resampling.
expect_rc 0 "$CLI" predict --model "$M" --csv --crop-bottom 0 --um-per-px 2.486 "$X/cells.png" "$X/um_cm.tif"
[ "$(column um_per_px "$TMP/out" | tr '\n' ' ')" = "2.486 0.6215 " ] &&
    [ "$(column scale "$TMP/out" | tr '\n' ' ')" = "2 0.5 " ] && [ "$(column tiles "$TMP/out" | head -1)" -ge 4 ] ||
    fail "--um-per-px 2.486: $(cat "$TMP/out")"
expect_rc 0 "$CLI" "${P[@]}" --um-per-px 1.29 "$X/cells.png"
cut -d, -f4-9 "$TMP/out" | cmp -s - "$TMP/png" && [ "$(column scale "$TMP/out" | sort -u)" = 1 ] ||
    fail "--um-per-px 1.29 (within 5%): $(cat "$TMP/out")"
# The table says "-" where the size is not known.
expect_rc 0 "$CLI" predict --model "$M" --crop-bottom 0 "$X/cells.png"
grep -q 'cells.png .* -  *1  *t47d-vs-mdamb231.safetensors  *[0-9a-f]\{12\}  *0  *[0-9.]*  *yes *$' "$TMP/out" || fail "table without a pixel size: $(cat "$TMP/out")"

# Bad values are usage errors; eval takes the flags too.
expect_rc 2 "$CLI" predict --model "$M" --um-per-px 500 "$X/cells.png"
grep -q "um-per-px wants a number from 0.02 to 20" "$TMP/err" || fail "--um-per-px 500: $(cat "$TMP/err")"
expect_rc 2 "$CLI" predict --model "$M" --um-per-px abc "$X/cells.png"
expect_rc 2 "$CLI" eval --model "$M" --data "$DATA/train" --folds images --no-rescale
expect_rc 0 "$CLI" eval --model "$M" --data "$DATA/train" --json --um-per-px 0.6215 --crop-bottom 0
expect_rc 0 "$CLI" eval --model "$M" --data "$DATA/train" --json --um-per-px 0.6215 --crop-bottom 0 --no-rescale
exit $((failures > 0))
