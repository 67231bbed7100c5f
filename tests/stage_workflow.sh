#!/usr/bin/env bash
# tests/stage_workflow.sh: the Snakemake workflow (workflow/Snakefile), run as
# its contract says on the committed screen fixture (16 images, 4 shards): its
# merged CSV is one `cellsight predict --csv` over the folder, byte for byte;
# summary.csv is `cellsight summarize --by well`'s and the plate map is SVG; a
# second run does nothing; an image changed reruns its own shard only; a
# shard's job killed with a partial CSV resumes it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cmake --preset native >/dev/null
cmake --build --preset native -j2 --target cellsight >/dev/null
export PATH="$repo/build/native:$PATH"
command -v snakemake >/dev/null || { echo "no snakemake: run tools/setup --test" >&2; exit 1; }

tmp=$(mktemp -d)
[ -z "${KEEP:-}" ] || echo "keeping $tmp"
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
model=$repo/model/t47d-vs-mdamb231.safetensors
cp -r tests/data/screen "$tmp/screen"
cd "$tmp"
run() { # run [KEY=VALUE...]: the contract's command, its output in $tmp/log
    snakemake --snakefile "$repo/workflow/Snakefile" --cores 2 \
        --config images=screen out=out model="$model" shards=4 "$@" >"$tmp/log" 2>&1 ||
        fail "snakemake: $(tail -30 "$tmp/log")"
}
jobs_of() { grep -c "^rule $1:" "$tmp/log" || true; }

run
cellsight predict --model "$model" --csv screen >want.csv 2>/dev/null
[ "$(wc -l <want.csv)" = 17 ] || fail "predict's rows: $(wc -l <want.csv)"
cmp -s out/predictions.csv want.csv || fail "merged CSV differs: $(diff out/predictions.csv want.csv | head -6)"
[ "$(jobs_of predict_shard)" = 4 ] || fail "4 shard jobs expected: $(jobs_of predict_shard)"
for i in 1 2 3 4; do [ "$(wc -l <"out/shards/$i-of-4.csv")" -ge 2 ] || echo "note: shard $i has no rows"; done
cellsight summarize want.csv --by well >want-summary.csv
cmp -s out/summary.csv want-summary.csv || fail "summary.csv is not summarize --by well's"
xmllint --noout out/plate-map.svg || fail "plate-map.svg is not XML"
grep -q "<title>B03: T47D, 2 of 2 images\(, [0-9] unknown\)\?</title>" out/plate-map.svg || fail "plate map's well B03"

# Up to date: nothing runs. An image changed: its shard, the merge and the summary.
run
grep -q "Nothing to be done" "$tmp/log" || fail "a second run did something: $(grep '^rule' "$tmp/log")"
cp screen/plate2/P2_B02_f2.jpg screen/plate1/VID1_B3_1_00d00h00m.jpg
run
[ "$(jobs_of predict_shard)" = 1 ] || fail "one image changed reran $(jobs_of predict_shard) shards"
cellsight predict --model "$model" --csv screen >want.csv 2>/dev/null
cmp -s out/predictions.csv want.csv || fail "merged CSV after a change: $(diff out/predictions.csv want.csv | head -6)"

# A run killed in a shard's job: its partial CSV (two rows and a half; the
# largest shard's) is resumed: one image kept, the last whole one redone.
i=$(for k in 1 2 3 4; do echo "$(wc -l <out/shards/$k-of-4.csv) $k"; done | sort -n | tail -1 | cut -d' ' -f2)
shard=out/shards/$i-of-4.csv
head -c $(($(head -3 $shard | wc -c) + 25)) $shard >$shard.partial
cp $shard "$tmp/whole.csv"
rm $shard out/predictions.csv out/summary.* out/plate-map.svg
run
cmp -s $shard "$tmp/whole.csv" || fail "shard $i resumed: $(diff $shard "$tmp/whole.csv" | head -4)"
grep -q "partial: 1 images done" out/logs/shard-$i-of-4.log || fail "shard $i did not resume: $(cat out/logs/shard-$i-of-4.log)"
cmp -s out/predictions.csv want.csv || fail "merged CSV after a resumed shard"

# Other shard counts and config keys: still one predict's CSV (tta off here).
run shards=3 tta=off out=out3 threads=1
cellsight predict --model "$model" --csv --no-tta screen >want3.csv 2>/dev/null
cmp -s out3/predictions.csv want3.csv || fail "3 shards, tta off: $(diff out3/predictions.csv want3.csv | head -4)"
# A folder named as a spreadsheet formula: its rows' file cells get a ' (the
# CSV rule, cs_csv_field); the merge still knows them as the folder's images.
mkdir "=plate"
cp screen/plate1/* "=plate/"
run images==plate out=outf shards=2
cellsight predict --model "$model" --csv "=plate" >wantf.csv 2>/dev/null
grep -q "^'=plate/" wantf.csv || fail "a file cell that starts a formula: $(sed -n 2p wantf.csv)"
cmp -s outf/predictions.csv wantf.csv || fail "=plate: $(diff outf/predictions.csv wantf.csv | head -4)"
echo "workflow: ok"
