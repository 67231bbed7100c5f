#!/usr/bin/env bash
# TIFF through predict: every fixture of tests/data/tiff (tools/make_tiff_fixtures)
# classifies as the same pixels as PNG, tile by tile, to 1e-4, with the shipped
# model, as do 16-bit PNGs and a PGM; pages (--page N, --all-pages and their row
# names); TIFFs in a folder.
source "$(dirname "$0")/cli_common.bash"
M=$(dirname "$0")/../model/t47d-vs-mdamb231.safetensors
X=$DATA/tiff

# same_tiles A.csv B.csv: the same tiles, flags and classes; probabilities to 1e-4
# (the columns before the pixel size: an OME file states one, the PNG none).
same_tiles() {
    paste -d, <(cut -d, -f2-9 "$1") <(cut -d, -f2-9 "$2") | awk -F, '
        { n = NF / 2; for (i = 1; i <= n; i++) {
            a = $i; b = $(i + n); d = a - b
            if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/) { if (d > 1e-4 || d < -1e-4) bad = 1 }
            else if (a != b) bad = 1 } }
        END { exit bad || NR < 3 }'
}

expect_rc 0 "$CLI" predict --model "$M" --csv --tiles --crop-bottom 0 "$X/cells.png"
cp "$TMP/out" "$TMP/png.csv"
for f in gray8 lzw deflate packbits tiled bigtiff gray16 gray12 gray12x16 float float_counts ome.ome \
         rgb8 rgb16 palette miniswhite pages; do
    expect_rc 0 "$CLI" predict --model "$M" --csv --tiles --crop-bottom 0 "$X/$f.tif"
    same_tiles "$TMP/png.csv" "$TMP/out" || fail "$f.tif: not the PNG's tiles: $(cat "$TMP/out")"
done
# 16-bit PNG and PGM: the TIFFs' intensity rule.
for f in gray16.png gray12.png rgb16.png gray12.pgm; do
    expect_rc 0 "$CLI" predict --model "$M" --csv --tiles --crop-bottom 0 "$X/$f"
    same_tiles "$TMP/png.csv" "$TMP/out" || fail "$f: not the 8-bit PNG's tiles: $(cat "$TMP/out")"
done

# Pages: the first by default; --page N; --all-pages, a row each named file#N.
expect_rc 0 "$CLI" predict --model "$M" --csv --crop-bottom 0 --no-tta --all-pages "$X/pages.tif" "$X/cells.png"
printf '%s\n' file "$X/pages.tif#1" "$X/pages.tif#2" "$X/pages.tif#3" "$X/cells.png" >"$TMP/want"
cut -d, -f1 "$TMP/out" | cmp -s - "$TMP/want" || fail "--all-pages rows: $(cut -d, -f1 "$TMP/out" | tr '\n' ' ')"
cp "$TMP/out" "$TMP/all.csv"
for n in 1 2 3; do
    expect_rc 0 "$CLI" predict --model "$M" --csv --crop-bottom 0 --no-tta --page $n "$X/pages.tif"
    [ "$(sed -n 2p "$TMP/out")" = "$(grep -F "pages.tif#$n," "$TMP/all.csv")" ] ||
        fail "--page $n: $(sed -n 2p "$TMP/out"), not the row of --all-pages"
done
[ "$(sed -n 2p "$TMP/all.csv" | cut -d, -f2-)" = "$(sed -n 5p "$TMP/all.csv" | cut -d, -f2-)" ] ||
    fail "page 1 is not the PNG's pixels: $(cat "$TMP/all.csv")"
[ "$(sed -n 3p "$TMP/all.csv" | cut -d, -f5)" != "$(sed -n 4p "$TMP/all.csv" | cut -d, -f5)" ] ||
    fail "pages 2 and 3 (mirrored, inverted) classify alike: $(cat "$TMP/all.csv")"
# --expect-csv: a page's row by its own name, else by its file's.
printf 'file,expected\npages.tif,T47D\npages.tif#2,MDAMB231\n' >"$TMP/pages-expect.csv"
expect_rc 0 "$CLI" predict --model "$M" --csv --crop-bottom 0 --no-tta --all-pages --expect-csv "$TMP/pages-expect.csv" \
    "$X/pages.tif" "$X/cells.png"
awk -F, 'NR > 1 { print $1 "," $(NF - 1) }' "$TMP/out" >"$TMP/got"
printf '%s\n' "$X/pages.tif#1,T47D" "$X/pages.tif#2,MDAMB231" "$X/pages.tif#3,T47D" "$X/cells.png," >"$TMP/want"
cmp -s "$TMP/got" "$TMP/want" || fail "--expect-csv of pages: $(tr '\n' ' ' <"$TMP/got")"
expect_rc 0 "$CLI" predict --model "$M" --csv --crop-bottom 0 --no-tta "$X/pages.tif"
[ "$(sed -n 2p "$TMP/out" | cut -d, -f1)" = "$X/pages.tif" ] || fail "without --page, a row named $(sed -n 2p "$TMP/out")"
expect_rc 1 "$CLI" predict --model "$M" --csv --page 4 "$X/pages.tif" "$X/gray8.tif"
grep -q "pages.tif: the TIFF has 3 pages, no page 4" "$TMP/err" || fail "--page 4: $(cat "$TMP/err")"
grep -q "gray8.tif: the TIFF has 1 page, no page 4" "$TMP/err" || fail "--page 4 of one page: $(cat "$TMP/err")"
expect_rc 2 "$CLI" predict --model "$M" --page 2 --all-pages "$X/pages.tif"
expect_rc 2 "$CLI" predict --model "$M" --page 0 "$X/pages.tif"

# A folder: .tif and .tiff files are images, in any case.
mkdir "$TMP/plate"
cp "$X/lzw.tif" "$TMP/plate/a.TIF"
cp "$X/deflate.tif" "$TMP/plate/b.tiff"
expect_rc 0 "$CLI" predict --model "$M" --csv --crop-bottom 0 --no-tta "$TMP/plate"
[ "$(wc -l <"$TMP/out")" = 3 ] || fail "the TIFFs of a folder: $(cat "$TMP/out") $(cat "$TMP/err")"
finish
