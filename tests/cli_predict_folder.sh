#!/usr/bin/env bash
# predict given folders: their image files and those of their subfolders, sorted
# by path; other files skipped with a note; bad images named, exit 1.
source "$(dirname "$0")/cli_common.bash"
M=$TMP/m.safetensors
T=$DATA/train
I=$DATA/images
tiny_model "$M"

# The committed training folder: its six JPEGs, in path order, as if named one by one.
expect_rc 0 "$CLI" predict --model "$M" --csv "$T"
cp "$TMP/out" "$TMP/folder.csv"
expect_rc 0 "$CLI" predict --model "$M" --csv "$T"/MDAMB231/*.jpg "$T"/T47D/*.jpg
cmp -s "$TMP/folder.csv" "$TMP/out" || fail "a folder is not its images in path order: $(cat "$TMP/folder.csv")"
[ "$(wc -l <"$TMP/out")" = 7 ] || fail "rows of the training folder: $(wc -l <"$TMP/out"), not 1 + 6"

# A folder as a lab has one: images (any case of extension), notes, a hidden
# file, a subfolder, a link to a folder (not followed: it would loop).
F=$TMP/plate
mkdir -p "$F/sub/deeper" "$F/.thumbs"
cp "$I/cells.png" "$F/b.png"
cp "$I/cells.jpg" "$F/A.JPG"
cp "$I/cells.pgm" "$F/sub/c.pgm"
cp "$I/cells.gif" "$F/sub/deeper/d.gif"
cp "$I/cells.png" "$F/.hidden.png"
cp "$I/cells.png" "$F/.thumbs/e.png"
echo "plate 3, 10x" >"$F/notes.txt"
cp "$I/cells.png" "$F/cells.png.bak"
ln -s .. "$F/sub/up"
expect_rc 0 "$CLI" predict --model "$M" --csv "$F/"
cut -d, -f1 "$TMP/out" >"$TMP/files"
printf '%s\n' file "$F/A.JPG" "$F/b.png" "$F/sub/c.pgm" "$F/sub/deeper/d.gif" >"$TMP/want"
cmp -s "$TMP/files" "$TMP/want" || fail "files of the plate folder: $(tr '\n' ' ' <"$TMP/files")"
for skipped in notes.txt cells.png.bak sub/up; do
    grep -q "^cellsight: skipped $F/$skipped: " "$TMP/err" || fail "$skipped is not noted as skipped"
done
! grep -q "hidden\|thumbs" "$TMP/err" || fail "hidden entries are mentioned: $(cat "$TMP/err")"
[ "$(wc -l <"$TMP/err")" -le 4 ] || fail "more than the skipped files on stderr: $(cat "$TMP/err")"

# Folders and files together keep the order given; --tiles walks the same files.
expect_rc 0 "$CLI" predict --model "$M" --csv "$F/sub" "$I/cells.png"
[ "$(cut -d, -f1 "$TMP/out" | tr '\n' ' ')" = "file $F/sub/c.pgm $F/sub/deeper/d.gif $I/cells.png " ] ||
    fail "folder then file: $(cut -d, -f1 "$TMP/out" | tr '\n' ' ')"
expect_rc 0 "$CLI" predict --model "$M" --csv --tiles "$F/sub"
[ "$(cut -d, -f1 "$TMP/out" | sort -u | tr '\n' ' ')" = "$F/sub/c.pgm $F/sub/deeper/d.gif file " ] ||
    fail "--tiles of a folder: $(cut -d, -f1 "$TMP/out" | sort -u | tr '\n' ' ')"

# Images that do not decode are named, the others (a TIFF among them) classified,
# exit 1; so is an image format cellsight does not read (by its name, it was
# meant as an image).
cp "$I/truncated.jpg" "$F/sub/broken.jpg"
cp "$I/tiny.webp" "$F/scan.WEBP"
cp "$DATA/tiff/lzw.tif" "$F/well.TIFF"
expect_rc 1 "$CLI" predict --model "$M" --csv "$F"
[ "$(wc -l <"$TMP/out")" = 6 ] || fail "rows beside bad images: $(wc -l <"$TMP/out"), not 1 + 5"
grep -q "^$F/well.TIFF," "$TMP/out" || fail "the TIFF in the folder is not classified: $(cat "$TMP/out")"
grep -q "broken.jpg" "$TMP/err" && grep -q "scan.WEBP: a WebP" "$TMP/err" || fail "bad images not named: $(cat "$TMP/err")"

# A folder with nothing to classify is bad input; so is one that is not there.
mkdir "$TMP/empty" "$TMP/notes"
cp "$F/notes.txt" "$TMP/notes/"
expect_rc 1 "$CLI" predict --model "$M" --csv "$TMP/empty"
grep -q "$TMP/empty has no image files" "$TMP/err" || fail "empty folder: $(cat "$TMP/err")"
expect_rc 1 "$CLI" predict --model "$M" --csv "$TMP/notes" "$I/cells.png"
grep -q "$TMP/notes has no image files" "$TMP/err" || fail "folder of notes: $(cat "$TMP/err")"
[ "$(wc -l <"$TMP/out")" = 2 ] || fail "the image beside a folder of notes is not classified"
expect_rc 1 "$CLI" predict --model "$M" --csv "$TMP/nowhere/"
grep -q "nowhere" "$TMP/err" || fail "a missing folder is not named"
expect_rc 2 "$CLI" predict --model "$M"
finish
