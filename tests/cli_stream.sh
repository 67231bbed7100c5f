#!/usr/bin/env bash
# predict for long runs: --list, --shard (disjoint, complete), --resume after a
# kill or a cut at any byte (the CSV of an uninterrupted run, header once), and
# summarize (by folder, plate, well; columns by name; unknowns; the plate map).
source "$(dirname "$0")/cli_common.bash"
M=$DATA/../../model/t47d-vs-mdamb231.safetensors
S=$DATA/screen
P=(predict --model "$M" --csv --threads 2 --no-tta) # one pass a tile: quick under the sanitizers

expect_rc 0 "$CLI" "${P[@]}" "$S"
cp "$TMP/out" "$TMP/full.csv"
[ "$(wc -l <"$TMP/full.csv")" = 17 ] || fail "rows of the screen fixture: $(wc -l <"$TMP/full.csv"), not 1 + 16"

# --list: a file of paths (folders too), or stdin; after the arguments'.
expect_rc 0 "$CLI" list "$S"
cp "$TMP/out" "$TMP/all"
sed 1d "$TMP/full.csv" | cut -d, -f1 | cmp -s - "$TMP/all" || fail "list is not predict's files in order"
expect_rc 0 "$CLI" "${P[@]}" --list "$TMP/all"
cmp -s "$TMP/out" "$TMP/full.csv" || fail "--list FILE differs from the folder"
head -3 "$TMP/all" >"$TMP/some"
"$CLI" "${P[@]}" --list - "$S/plate2" <"$TMP/some" >"$TMP/out" 2>"$TMP/err" || fail "--list -: $(cat "$TMP/err")"
(grep plate2 "$TMP/all"; cat "$TMP/some") | cmp -s - <(sed 1d "$TMP/out" | cut -d, -f1) ||
    fail "--list - after the arguments: $(cut -d, -f1 "$TMP/out" | tr '\n' ' ')"

# --shard I/N: disjoint, together complete, each as predict over its images.
for n in 1 3 4; do
    : >"$TMP/union"
    for i in $(seq 1 $n); do
        expect_rc 0 "$CLI" "${P[@]}" --shard "$i/$n" "$S"
        head -1 "$TMP/out" | cmp -s - <(head -1 "$TMP/full.csv") || fail "shard $i/$n's header"
        sed 1d "$TMP/out" >>"$TMP/union"
        sed 1d "$TMP/out" | cut -d, -f1 >"$TMP/share"
        expect_rc 0 "$CLI" list --shard "$i/$n" "$S"
        cmp -s "$TMP/out" "$TMP/share" || fail "list --shard $i/$n is not predict's share"
    done
    [ "$(cut -d, -f1 "$TMP/union" | sort | uniq -d)" = "" ] || fail "shards of $n overlap"
    sort "$TMP/union" | cmp -s - <(sed 1d "$TMP/full.csv" | sort) || fail "shards of $n are not the whole"
done
for i in 1 2 3; do "$CLI" list --shard "$i/3" "$S"; done | sort | cmp -s - <(sort "$TMP/all") ||
    fail "list --shard's shares are not the whole"
for bad in 0/3 4/3 1/0 x 1/3x; do expect_rc 2 "$CLI" list --shard "$bad" "$S"; done

# --resume: a CSV cut anywhere (a half row, or just its header, or nothing) is
# completed to the uninterrupted run's; a missing one is started.
size=$(wc -c <"$TMP/full.csv")
for cut in 0 20 $(head -1 "$TMP/full.csv" | wc -c) 150 $((size / 2)) $((size - 5)) $((size - 1)) "$size"; do
    head -c "$cut" "$TMP/full.csv" >"$TMP/part.csv"
    expect_rc 0 "$CLI" "${P[@]}" --resume "$TMP/part.csv" "$S"
    [ ! -s "$TMP/out" ] || fail "--resume wrote to stdout"
    cmp -s "$TMP/part.csv" "$TMP/full.csv" || fail "resumed after $cut bytes: $(diff "$TMP/part.csv" "$TMP/full.csv" | head -5)"
done
rm -f "$TMP/new.csv"
expect_rc 0 "$CLI" "${P[@]}" --resume "$TMP/new.csv" "$S"
cmp -s "$TMP/new.csv" "$TMP/full.csv" || fail "--resume of no file is not a whole run"
# Tile rows too: an image's rows cut short are redone.
expect_rc 0 "$CLI" "${P[@]}" --tiles "$S/plate2"
cp "$TMP/out" "$TMP/tiles.csv"
head -c $(($(wc -c <"$TMP/tiles.csv") / 2)) "$TMP/tiles.csv" >"$TMP/part.csv"
expect_rc 0 "$CLI" "${P[@]}" --tiles --resume "$TMP/part.csv" "$S/plate2"
cmp -s "$TMP/part.csv" "$TMP/tiles.csv" || fail "--tiles resumed"
# Another run's CSV is not resumed, nor touched; --resume wants --csv.
cp "$TMP/tiles.csv" "$TMP/other.csv"
expect_rc 1 "$CLI" "${P[@]}" --resume "$TMP/other.csv" "$S"
cmp -s "$TMP/other.csv" "$TMP/tiles.csv" || fail "a CSV of other columns was changed"
grep -q "not this run's" "$TMP/err" || fail "no reason given: $(cat "$TMP/err")"
expect_rc 2 "$CLI" predict --model "$M" --resume "$TMP/x.csv" "$S"

# A run killed (SIGKILL) once rows are out, then resumed: the uninterrupted CSV
# (with test-time averaging on one thread, so that the kill comes part way).
K=(predict --model "$M" --csv --threads 1 --tta)
expect_rc 0 "$CLI" "${K[@]}" "$S"
cp "$TMP/out" "$TMP/slow.csv"
"$CLI" "${K[@]}" "$S" >"$TMP/killed.csv" 2>/dev/null &
pid=$!
for _ in $(seq 400); do [ "$(wc -l <"$TMP/killed.csv")" -ge 3 ] && break; sleep 0.02; done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
rows=$(($(wc -l <"$TMP/killed.csv") - 1))
[ "$rows" -ge 2 ] || fail "rows are not written as images finish (2 expected before the kill: $rows)"
[ "$rows" -lt 16 ] || echo "note: the run finished before it was killed"
expect_rc 0 "$CLI" "${K[@]}" --resume "$TMP/killed.csv" "$S"
cmp -s "$TMP/killed.csv" "$TMP/slow.csv" || fail "killed after $rows rows and resumed: $(diff "$TMP/killed.csv" "$TMP/slow.csv" | head -4)"

# summarize: groups, counts, means; the columns found by name in any order, a
# known column's unknowns; a quoted file name; a tie goes to the higher mean.
cat >"$TMP/r.csv" <<'CSV'
tta,p_B,file,p_A,predicted_class,known
none,0.2,"p1/run_A01_1.png",0.8,A,1
none,0.6,"p1/run_A01_2.png",0.4,B,0
none,0.1,"p1/run,x_H12_1.png",0.9,A,true
none,0.7,p2/noname.png,0.3,B,no
CSV
expect_rc 0 "$CLI" summarize "$TMP/r.csv" --by well
printf '%s\n' "plate,well,images,majority_class,n_B,n_A,mean_p_B,mean_p_A,unknown" \
    "p1/run,A01,2,A,1,1,0.400000,0.600000,1" '"p1/run,x",H12,1,A,0,1,0.100000,0.900000,0' \
    "p2,,1,B,1,0,0.700000,0.300000,1" | cmp -s - "$TMP/out" || fail "summarize --by well: $(cat "$TMP/out")"
expect_rc 0 "$CLI" summarize "$TMP/r.csv" --by folder
grep -q "^p1,3,A,1,2,0.300000,0.700000,1$" "$TMP/out" || fail "summarize --by folder: $(cat "$TMP/out")"
expect_rc 0 "$CLI" summarize "$TMP/r.csv" --by plate --markdown
grep -q "^| p1/run | 2 | A | 1 | 1 | 0.400000 | 0.600000 | 1 |$" "$TMP/out" || fail "Markdown: $(cat "$TMP/out")"
expect_rc 0 "$CLI" summarize "$TMP/full.csv" --by well --report "$TMP/rep"
cmp -s "$TMP/out" "$TMP/rep/summary.csv" || fail "report's summary.csv is not stdout's"
xmllint --noout "$TMP/rep/plate-map.svg" || fail "plate-map.svg is not XML"
[ "$(grep -c '<title>' "$TMP/rep/plate-map.svg")" = 8 ] || fail "plate map: 8 wells with images"
grep -q '<title>C03: MDAMB231, 2 of 2 images\(, [0-9] unknown\)\?</title>' "$TMP/rep/plate-map.svg" || fail "well C03's text"
grep -q '>2 MDAMB231</text>' "$TMP/rep/plate-map.svg" || fail "the legend names class 2"
grep -q "^| tests/data\|^| .*plate1/VID1 | B03 | 2 | T47D | 2 | 0 |" "$TMP/rep/summary.md" || fail "summary.md: $(head -4 "$TMP/rep/summary.md")"
expect_rc 1 "$CLI" summarize "$TMP/tiles.csv"
expect_rc 2 "$CLI" summarize "$TMP/r.csv" --by row
finish
