#!/usr/bin/env bash
# tests/stage_wasi_cli.sh: the WASI CLI (build/wasi/cellsight.wasm under node's
# WASI, tools/wasi-run.mjs) against the native CLI: `predict --csv`, `predict
# --tiles` and `eval --json` on the same fixture images and model must print the
# same text, probabilities within 1e-4 (the TIFF fixtures too); then
# tests/cli_tiff.sh, the bad-input corpus and the folder walk of `predict` through it.
set -euo pipefail
cd "$(dirname "$0")/.."

for preset in native wasi; do
  cmake --preset $preset >/dev/null
  cmake --build --preset $preset -j2 --target cellsight
done
native=build/native/cellsight
wasi=build/wasi/cellsight-wasi
printf '#!/bin/sh\nexec node "%s" "%s" "$@"\n' "$PWD/tools/wasi-run.mjs" "$PWD/build/wasi/cellsight.wasm" >$wasi
chmod +x $wasi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The paper's network (two classes) and a pooled one (three), both from PyTorch.
paper=tests/data/models/good_pytorch.safetensors
pooled=tests/data/models/good_pytorch_k3.safetensors
images=(tests/data/images/cells.png tests/data/images/cells.pgm tests/data/train/*/*.jpg)
mkdir -p "$tmp/data/class0" "$tmp/data/class1"
cp tests/data/train/T47D/*.jpg "$tmp/data/class0/"
cp tests/data/train/MDAMB231/*.jpg "$tmp/data/class1/"

# same NAME ARGS...: both CLIs, same arguments, same output.
same() {
  local name=$1; shift
  $native "$@" >"$tmp/$name.native"
  $wasi "$@" >"$tmp/$name.wasi"
  echo -n "$name: "
  node tests/close_enough.mjs "$tmp/$name.native" "$tmp/$name.wasi" 1e-4
}
same predict predict --model $paper --csv "${images[@]}"
same predict_k3 predict --model $pooled --csv "${images[@]}"
same tiles predict --model $paper --csv --tiles "${images[@]}"
same eval eval --model $paper --data "$tmp/data" --json
# TIFF (libtiff in both): every kind of fixture, every page.
same tiff predict --model $paper --csv --tiles --crop-bottom 0 --all-pages tests/data/tiff/*.tif

bash tests/cli_tiff.sh $wasi tests/data

bash tests/cli_predict_folder.sh $wasi tests/data
bash tests/cli_badinput.sh $wasi tests/data
