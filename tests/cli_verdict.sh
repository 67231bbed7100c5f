#!/usr/bin/env bash
# Images of none of the model's lines, and verdicts: predict's ood_score and
# known columns against the model's threshold, --expect and --expect-csv.
source "$(dirname "$0")/cli_common.bash"
M=$TMP/m.safetensors
T=$DATA/train
tiny_model "$M"
IMAGES=("$T"/T47D/*.jpg "$T"/MDAMB231/*.jpg)

# The model with its metadata ood_threshold set to $2 (python3, standard library).
with_threshold() {
    python3 - "$M" "$1" "$2" <<'PY'
import json, struct, sys
src, dst, th = sys.argv[1:]
data = open(src, "rb").read()
n = struct.unpack("<Q", data[:8])[0]
head = json.loads(data[8:8 + n])
head["__metadata__"]["ood_threshold"] = th
h = json.dumps(head).encode()
h += b" " * (-len(h) % 8)
offset = 8 + n
open(dst, "wb").write(struct.pack("<Q", len(h)) + h + data[offset:])
PY
}

# Every row: known is yes when ood_score <= the threshold; verdict by the rule.
check_rows() { # check_rows CSV THRESHOLD EXPECTED|"" (empty: from the CSV's expected column)
    python3 - "$@" <<'PY' || fail "rows of $1: $(head -c 800 "$1")"
import csv, sys
path, th, want = sys.argv[1], sys.argv[2], sys.argv[3]
rows = list(csv.DictReader(open(path)))
assert rows, "no rows"
for r in rows:
    s = r["ood_score"]
    if th == "none":
        assert r["known"] == "", r
    else:
        assert r["known"] == ("yes" if float(s) <= float(th) else "no"), r
    exp = want or r["expected"]
    assert r["expected"] == exp, r
    if not exp:
        assert r["verdict"] == "", r
    elif r["known"] == "no":
        assert r["verdict"] == "unknown", r
    else:
        assert r["verdict"] == ("consistent" if r["predicted_class"] == exp else "inconsistent"), r
print(len(rows), "rows", sorted(set(r["verdict"] for r in rows)))
PY
}

expect_rc 0 "$CLI" info "$M"
TH=$(sed -n 's/^  ood_threshold: //p' "$TMP/out")
[ -n "$TH" ] || fail "the model has no ood_threshold"

# No --expect: ood_score and known at the end, no expected or verdict.
expect_rc 0 "$CLI" predict --model "$M" --csv "${IMAGES[@]}"
head -1 "$TMP/out" | grep -q ',crop_bottom,ood_score,known$' || fail "header: $(head -1 "$TMP/out")"
cp "$TMP/out" "$TMP/plain.csv"
python3 - "$TMP/plain.csv" <<'PY' || fail "ood_score and known"
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    assert float(r["ood_score"]) >= 0 and r["known"] in ("yes", "no"), r
PY

# --expect T47D: the model's own threshold, 0 (every image unknown), none (no verdict of that kind).
expect_rc 0 "$CLI" predict --model "$M" --csv --expect T47D "${IMAGES[@]}"
head -1 "$TMP/out" | grep -q ',ood_score,known,expected,verdict$' || fail "header: $(head -1 "$TMP/out")"
cp "$TMP/out" "$TMP/own.csv"
check_rows "$TMP/own.csv" "$TH" T47D
with_threshold "$TMP/zero.safetensors" 0
expect_rc 0 "$CLI" predict --model "$TMP/zero.safetensors" --csv --expect T47D "${IMAGES[@]}"
cp "$TMP/out" "$TMP/zero.csv"
check_rows "$TMP/zero.csv" 0 T47D
[ "$(grep -c ',no,T47D,unknown$' "$TMP/zero.csv")" = "${#IMAGES[@]}" ] || fail "every image unknown at 0"
with_threshold "$TMP/none.safetensors" none
expect_rc 0 "$CLI" predict --model "$TMP/none.safetensors" --csv --expect T47D "${IMAGES[@]}"
cp "$TMP/out" "$TMP/none.csv"
check_rows "$TMP/none.csv" none T47D
# A PyTorch-made model has no statistics: empty ood_score and known.
expect_rc 0 "$CLI" predict --model "$DATA/models/good_pytorch.safetensors" --csv --expect class1 \
    "$DATA"/models/pytorch/good_pytorch_tile*.pgm
python3 - "$TMP/out" <<'PY' || fail "a model without statistics: $(cat "$TMP/out")"
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    assert r["ood_score"] == "" and r["known"] == "" and r["verdict"] in ("consistent", "inconsistent"), r
PY

# --expect-csv: by path or base name; images it does not name get neither column.
t47d=("$T"/T47D/*.jpg)
{ echo "expected,file"; echo "MDAMB231,$(basename "${t47d[0]}")"; echo "T47D,${t47d[1]}"; } > "$TMP/expect.csv"
expect_rc 0 "$CLI" predict --model "$M" --csv --expect-csv "$TMP/expect.csv" "${IMAGES[@]}"
cp "$TMP/out" "$TMP/bycsv.csv"
check_rows "$TMP/bycsv.csv" "$TH" ""
python3 - "$TMP/bycsv.csv" "${t47d[0]}" "${t47d[1]}" <<'PY' || fail "--expect-csv rows: $(cat "$TMP/bycsv.csv")"
import csv, sys
rows = {r["file"]: r for r in csv.DictReader(open(sys.argv[1]))}
assert rows[sys.argv[2]]["expected"] == "MDAMB231" and rows[sys.argv[3]]["expected"] == "T47D"
assert sum(r["expected"] == "" for r in rows.values()) == len(rows) - 2
assert {r["verdict"] for r in rows.values() if r["expected"]} == {"consistent", "inconsistent"}, "both verdicts"
PY
# The same lines as a spreadsheet saves them (a byte-order mark, CRLF, quotes,
# no line break at the end, a blank row): the same columns.
printf '\xef\xbb\xbf"expected","file"\r\n"MDAMB231","%s"\r\n\r\nT47D,"%s"' \
    "$(basename "${t47d[0]}")" "${t47d[1]}" > "$TMP/excel.csv"
expect_rc 0 "$CLI" predict --model "$M" --csv --expect-csv "$TMP/excel.csv" "${IMAGES[@]}"
cmp -s "$TMP/out" "$TMP/bycsv.csv" || fail "a spreadsheet's CSV: $(diff "$TMP/out" "$TMP/bycsv.csv" | head)"
# --tiles: each tile's score, the image's known.
expect_rc 0 "$CLI" predict --model "$M" --csv --tiles --expect T47D "${t47d[0]}"
head -1 "$TMP/out" | grep -q ',ood_score,known,expected,verdict$' || fail "tiles header"

# Refusals.
echo "file,line" > "$TMP/bad.csv"
expect_rc 1 "$CLI" predict --model "$M" --csv --expect-csv "$TMP/bad.csv" "${t47d[0]}"
grep -q "needs the columns file and expected" "$TMP/err" || fail "no reason: $(cat "$TMP/err")"
{ echo "file,expected"; echo "a.jpg,T47D"; echo "b.jpg"; } > "$TMP/short.csv"
expect_rc 1 "$CLI" predict --model "$M" --csv --expect-csv "$TMP/short.csv" "${t47d[0]}"
grep -q "short.csv: row 3 is not a whole row of file and expected" "$TMP/err" || fail "no row: $(cat "$TMP/err")"
expect_rc 1 "$CLI" predict --model "$M" --csv --expect-csv "$TMP/missing.csv" "${t47d[0]}"
expect_rc 2 "$CLI" predict --model "$M" --csv --expect T47D --expect-csv "$TMP/expect.csv" "${t47d[0]}"
finish
