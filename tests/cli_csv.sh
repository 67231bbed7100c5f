#!/usr/bin/env bash
# CSV injection (issue 19): files and classes named as spreadsheet formulas give
# cells no spreadsheet runs, by the library's one rule (cs_csv_field, OWASP's
# guidance: a ' before a text cell that starts with = + - @, tab or CR), while
# numbers stay numbers; --resume and summarize read the names back as they were.
source "$(dirname "$0")/cli_common.bash"
M=$TMP/m.safetensors
H=$TMP/hostile
mkdir -p "$H" "$TMP/data"
# Classes named as formulas, from their folders' names.
cp -r "$DATA/train/T47D" "$TMP/data/=T47D"
cp -r "$DATA/train/MDAMB231" "$TMP/data/-MDAMB231"
"$CLI" train --data "$TMP/data" --arch conv8,pool,conv8,gap,dense --tile 32 --epochs 2 \
    --threads 1 --out "$M" >/dev/null 2>&1 || fail "training a model of classes =T47D, -MDAMB231"
NAMES=("=1+1.jpg" "+cmd.jpg" "@SUM(1).jpg" "-2+3.jpg" "plain.jpg")
for name in "${NAMES[@]}"; do cp "$DATA/images/cells.jpg" "$H/$name"; done

# cells.py CSV: every row's cells as Python's csv module reads them (quotes
# undone, as a spreadsheet does), checked: no text cell a formula, numbers as numbers.
check_cells() {
    python3 - "$1" "$2" <<'PY' || fail "$2 CSV: $(head -c 600 "$1")"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
header, body = rows[0], rows[1:]
bad = [c for row in rows for c in row if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
assert not bad, f"cells a spreadsheet runs: {bad}"
files = [r[header.index("file")] for r in body]
want = {"'=1+1.jpg", "'+cmd.jpg", "'@SUM(1).jpg", "'-2+3.jpg", "plain.jpg"}
assert set(files) == want, files
assert {r[header.index("predicted_class")] for r in body} <= {"'=T47D", "'-MDAMB231"}
assert "p_=T47D" in header and "p_-MDAMB231" in header, header
for r in body:  # the numbers read as numbers
    float(r[header.index("confidence")]); float(r[header.index("p_=T47D")])
PY
}
# The files by their own names, as a lab's folder gives them to a shell.
cd "$H" || exit 1
expect_rc 0 "$CLI" predict --model "$M" --csv -- "${NAMES[@]}"
cp "$TMP/out" "$TMP/images.csv"
check_cells "$TMP/images.csv" images
expect_rc 0 "$CLI" predict --model "$M" --csv --tiles -- "${NAMES[@]}"
check_cells "$TMP/out" tiles

# --resume knows the images of its rows by their names, ' or not: only the last
# image's rows are redone.
head -n 4 "$TMP/images.csv" >"$TMP/part.csv"
expect_rc 0 "$CLI" predict --model "$M" --csv --resume "$TMP/part.csv" -- "${NAMES[@]}"
grep -q "2 images done, 3 to go" "$TMP/err" || fail "--resume: $(cat "$TMP/err")"
cmp -s "$TMP/part.csv" "$TMP/images.csv" || fail "--resume: $(diff "$TMP/part.csv" "$TMP/images.csv")"

# summarize reads the classes back as they were named: every image counted.
expect_rc 0 "$CLI" summarize "$TMP/images.csv"
python3 - "$TMP/out" <<'PY' || fail "summarize: $(cat "$TMP/out")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) == 1 and rows[0]["images"] == "5", rows
assert rows[0]["majority_class"] in ("'=T47D", "'-MDAMB231"), rows
assert int(rows[0]["n_=T47D"]) + int(rows[0]["n_-MDAMB231"]) == 5, rows
PY
finish
