#!/usr/bin/env bash
# tests/cli_badinput.sh CLI DATA: the bad-input corpus through `cellsight`.
# Every bad image (DATA/images, DATA/bad) and bad model file (DATA/models/bad_*, DATA/bad)
# must meet `predict`, `info` and `eval` with exit code 1 and a short error on
# stderr that names the file: no crash, no hang, no sanitizer report. Files that are fine
# beside bad ones are still processed, and the bad ones are named.
# CLI may be any command that runs the CLI (stage_wasi_cli.sh passes the WASI one).
set -uo pipefail
cli=$1 data=$2
images=$data/images
good_model=$data/models/good_tiny.safetensors good_image=$images/cells.png

bad_images=(empty.png text.png truncated.jpg truncated.png garbage.jpg huge.png huge.jpg
            tiny.webp doc.pdf rle.bmp)
# TIFF bombs and damaged TIFFs (tools/make_tiff_fixtures), each with the words of its refusal.
declare -A bad_tiffs=([tiff_huge.tif]="over the limit" [tiff_strip.tif]="65535 on a side"
                      [tiff_loop.tif]="form a loop" [tiff_offsets.tif]="past the end of the file"
                      [tiff_lzw_bomb.tif]="decompression bomb" [tiff_jpeg.tif]="uses JPEG compression"
                      [tiff_truncated.tif]="damaged or truncated")
# Bits flipped in compressed data may still decode (JPEG has no checksum, and
# stb ignores PNG's): a result or an error, but never a crash.
damaged_images=(bitflip.jpg bitflip.png)
bad_models=("$data"/models/bad_*.safetensors "$data"/bad/*.safetensors)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# run ARGS...: runs the CLI with a time limit; sets rc, out, err.
run() {
  timeout 120 $cli "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$? out=$(cat "$tmp/out") err=$(cat "$tmp/err")
}

# crashed WHAT: fails if the last run crashed, hung or spoke of memory errors.
crashed() {
  if [ $rc -ge 124 ] || grep -qiE 'sanitizer|runtime error|RuntimeError|segmentation|abort|core dumped|unreachable|wasm trap' "$tmp/err"; then
    fail "$1: crashed or hung (exit $rc)"; sed 's/^/    /' "$tmp/err" | head -n 20
    return 0
  fi
  return 1
}

# expect_error FILE ARGS...: the run must fail with exit 1 and a short message naming FILE.
expect_error() {
  local file=$1; shift
  run "$@"
  crashed "$*" && return
  local before=$failures
  [ $rc -eq 1 ] || fail "$* (exit $rc): exit code $rc, not 1"
  grep -qF "$(basename "$file")" "$tmp/err" || fail "$* (exit $rc): stderr does not name $file"
  if [ "$(wc -l <"$tmp/err")" -gt 3 ] || [ "$(wc -c <"$tmp/err")" -gt 600 ]; then
    fail "$* (exit $rc): more than a short message on stderr"
  fi
  [ $failures -eq $before ] && echo "ok: $*: $(tail -n 1 "$tmp/err")"
}

for f in "${bad_images[@]}" "${damaged_images[@]}"; do [ -f "$images/$f" ] || fail "fixture $images/$f is missing"; done
[ ${#bad_models[@]} -ge 14 ] || fail "the bad model files are missing: ${bad_models[*]}"

# The model the bad ones are made from is valid, so each fails for its one defect.
run info "$good_model"
crashed "info good_tiny" || [ $rc -eq 0 ] || fail "info $good_model: exit $rc: $err"
run predict --model "$good_model" --csv "$good_image"
crashed "predict with good_tiny" || [ $rc -eq 0 ] || fail "predict with $good_model: exit $rc: $err"

# A data folder for eval: one good image per class of the model (a, b).
mkdir -p "$tmp/data/a" "$tmp/data/b"
cp "$good_image" "$tmp/data/a/a.png"
cp "$images/cells.jpg" "$tmp/data/b/b.jpg"

for file in "${bad_models[@]}"; do
  expect_error "$file" info "$file"
  expect_error "$file" predict --model "$file" "$good_image"
  expect_error "$file" eval --model "$file" --data "$tmp/data"
done
expect_error "$good_image" predict --model "$good_image" "$good_image"  # an image as the model
expect_error "$tmp/none.safetensors" info "$tmp/none.safetensors"

for f in "${bad_images[@]}"; do
  expect_error "$images/$f" predict --model "$good_model" --csv "$images/$f"
done
expect_error "$data/bad/ppm16.ppm" predict --model "$good_model" --csv "$data/bad/ppm16.ppm"
for f in "${!bad_tiffs[@]}"; do
  expect_error "$data/bad/$f" predict --model "$good_model" --csv "$data/bad/$f"
  grep -qF "${bad_tiffs[$f]}" "$tmp/err" || fail "predict $f: not \"${bad_tiffs[$f]}\": $err"
done

# Headers within the pixel limit that stb would start decoding by holding
# gigabytes (3.9 GB each before they were refused): refused from the header, and
# the whole run's peak memory (GNU time, installed by tools/setup) stays small.
for f in huge.gif huge_progressive.jpg; do
  expect_error "$data/bad/$f" predict --model "$good_model" --csv "$data/bad/$f"
  grep -q "would take [0-9]* MiB, over the limit of [0-9]* MiB" "$tmp/err" || fail "predict $f: $err"
  /usr/bin/time -f %M -o "$tmp/rss" timeout 120 $cli predict --model "$good_model" "$data/bad/$f" >/dev/null 2>&1
  rss=$(tail -n 1 "$tmp/rss")
  [ "$rss" -gt 0 ] 2>/dev/null && [ "$rss" -lt 300000 ] || fail "predict $f: peak memory ${rss:-?} KiB, not under 300 MiB"
done
expect_error "$tmp/none.png" predict --model "$good_model" "$tmp/none.png"
for f in "${damaged_images[@]}"; do
  run predict --model "$good_model" --csv "$images/$f"
  crashed "predict $f" && continue
  if [ $rc -le 1 ]; then echo "ok: predict $f: exit $rc"; else fail "predict $f: exit $rc"; fi
done

# Good and bad images together: a row for each good one, each bad one named,
# and exit code 1 (bad input) all the same.
check_mixed() { # check_mixed WHAT GOOD_ROWS BAD_FILE...
  local what=$1 rows=$2; shift 2
  crashed "$what" && return
  [ $rc -eq 1 ] || fail "$what: exit code $rc, not 1"
  local got; got=$(grep -c '^' "$tmp/out")
  [ "$got" -eq $((rows + 1)) ] || fail "$what: $got lines of CSV, wanted a header and $rows rows"
  for b in "$@"; do grep -qF "$b" "$tmp/err" || fail "$what: $b is not named on stderr"; done
  echo "ok: $what"
}
run predict --model "$good_model" --csv "$good_image" "$images/truncated.jpg" "$images/cells.jpg" "$images/doc.pdf"
check_mixed "predict of good and bad files" 2 truncated.jpg doc.pdf

cp "$images/truncated.png" "$images/text.png" "$tmp/data/a/"
cp "$images/huge.png" "$tmp/data/b/"
run eval --model "$good_model" --data "$tmp/data" --json
if ! crashed "eval of a folder with bad files"; then
  [ $rc -eq 1 ] || fail "eval of a folder with bad files: exit $rc, not 1: $err"
  grep -q '"images": *2' "$tmp/out" || fail "eval of a folder with bad files: not 2 images: $out"
  for b in truncated.png text.png huge.png; do
    grep -qF "$b" "$tmp/err" || fail "eval of a folder with bad files: $b is not named on stderr"
  done
  echo "ok: eval of a folder with bad files"
fi

echo "cli_badinput: $failures failures"
[ $failures -eq 0 ]
