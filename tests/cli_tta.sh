#!/usr/bin/env bash
# --tta / --no-tta on predict and eval: the 8-symmetry averaging on or off
# whatever the model's metadata says, giving what the same weights give with
# that metadata.
source "$(dirname "$0")/cli_common.bash"
T=$DATA/train
IMAGES=("$T/T47D/T47D_F6_05d21h_x0_y0.jpg" "$T/MDAMB231/MDAMB231_G7_04d00h_x0_y0.jpg")
ON=$TMP/on.safetensors OFF=$TMP/off.safetensors

# A tiny model recorded with tta, and the same weights recorded without.
"$CLI" train --data "$T" --arch conv8,pool,conv8,gap,dense --tile 32 --epochs 2 --threads 1 --tta \
    --out "$ON" >/dev/null 2>&1 || fail "training a tiny model with --tta"
node -e '
  const fs = require("fs");
  const b = fs.readFileSync(process.argv[1]);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n));
  if (header.__metadata__.tta !== "dihedral8") throw new Error("train --tta recorded tta " + header.__metadata__.tta);
  header.__metadata__.tta = "none";
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(process.argv[2], Buffer.concat([len, Buffer.from(json), b.subarray(8 + n)]));
' "$ON" "$OFF" || fail "rewriting the metadata"
expect_rc 0 "$CLI" info "$ON"
grep -q "^tta  *dihedral8" "$TMP/out" || fail "info: $(grep tta "$TMP/out")"

# predict: CSV of the two images under each model and flag.
# The CSV without the columns that name the model file (ON and OFF differ there).
same_model() {
    awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "model" || $i == "model_hash") drop[i] = 1 }
                      { line = ""; for (i = 1; i <= NF; i++) if (!drop[i]) line = line (line == "" ? "" : ",") $i; print line }' "$1"
}
csv() { # NAME MODEL [FLAG]
    expect_rc 0 "$CLI" predict --model "$2" --csv "${@:3}" "${IMAGES[@]}"
    same_model "$TMP/out" >"$TMP/$1.csv"
}
csv on "$ON"
csv on_tta "$ON" --tta
csv on_notta "$ON" --no-tta
csv off "$OFF"
csv off_tta "$OFF" --tta
csv off_notta "$OFF" --no-tta
[ "$(wc -l <"$TMP/on.csv")" = 3 ] || fail "rows: $(cat "$TMP/on.csv")"
for f in on_tta off_tta; do cmp -s "$TMP/on.csv" "$TMP/$f.csv" || fail "$f.csv differs from the model's own tta"; done
for f in on_notta off_notta; do cmp -s "$TMP/off.csv" "$TMP/$f.csv" || fail "$f.csv differs from no tta"; done
! cmp -s "$TMP/on.csv" "$TMP/off.csv" || fail "averaging the 8 symmetries changed nothing: $(cat "$TMP/on.csv")"
# The tta column says which was used, as the page's CSVs and the model file name it.
tta_column() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "tta") c = i } { print $c }' "$1" | sort -u | tr '\n' ' '; }
[ "$(tta_column "$TMP/on.csv")" = "dihedral8 tta " ] || fail "tta column with averaging: $(tta_column "$TMP/on.csv")"
[ "$(tta_column "$TMP/off.csv")" = "none tta " ] || fail "tta column without: $(tta_column "$TMP/off.csv")"

# The same per tile.
expect_rc 0 "$CLI" predict --model "$ON" --csv --tiles --no-tta "${IMAGES[0]}"
same_model "$TMP/out" >"$TMP/tiles_notta.csv"
expect_rc 0 "$CLI" predict --model "$OFF" --csv --tiles "${IMAGES[0]}"
same_model "$TMP/out" | cmp -s - "$TMP/tiles_notta.csv" || fail "--tiles --no-tta differs from no tta"
[ "$(tta_column "$TMP/out")" = "none tta " ] || fail "tile tta column: $(tta_column "$TMP/out")"
expect_rc 0 "$CLI" predict --model "$OFF" --csv --tiles --tta "${IMAGES[0]}"
[ "$(tta_column "$TMP/out")" = "dihedral8 tta " ] || fail "tile tta column with --tta: $(tta_column "$TMP/out")"

# eval: --no-tta / --tta without --folds, reported in its JSON, figures as the other model's.
expect_rc 0 "$CLI" eval --model "$ON" --data "$T" --json --no-tta
cp "$TMP/out" "$TMP/eval_notta.json"
expect_rc 0 "$CLI" eval --model "$OFF" --data "$T" --json
cp "$TMP/out" "$TMP/eval_off.json"
expect_rc 0 "$CLI" eval --model "$OFF" --data "$T" --json --tta
cp "$TMP/out" "$TMP/eval_tta.json"
node -e '
  const fs = require("fs");
  const [a, b, c] = process.argv.slice(1).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
  const figures = (j) => JSON.stringify({ ...j, model: undefined, tta: undefined });
  if (a.tta !== false || b.tta !== false || c.tta !== true) throw new Error(`tta: ${a.tta} ${b.tta} ${c.tta}`);
  if (figures(a) !== figures(b)) throw new Error("eval --no-tta differs from a model without tta");
  if (figures(a) === figures(c)) throw new Error("eval --tta changed nothing");
' "$TMP/eval_notta.json" "$TMP/eval_off.json" "$TMP/eval_tta.json" || fail "eval --tta/--no-tta"

# Other training options still need --folds; --tta takes no value.
expect_rc 2 "$CLI" eval --model "$ON" --data "$T" --epochs 2
expect_rc 2 "$CLI" predict --model "$ON" --tta=off "${IMAGES[0]}"
expect_rc 0 "$CLI" predict --help
grep -q -- "--no-tta" "$TMP/out" || fail "predict --help does not mention --no-tta"
finish
