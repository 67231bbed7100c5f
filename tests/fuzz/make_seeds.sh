#!/usr/bin/env bash
# tests/fuzz/make_seeds.sh: writes the committed seed corpora of the fuzz targets
# (run once from anywhere; needs ImageMagick and python3: tools/setup --fixtures). Seeds are small, valid inputs of
# every kind the parsers know, so that fuzzing starts deep in each format;
# tests/stage_fuzz.sh adds the fixtures of tests/data as further seeds.
set -euo pipefail
cd "$(dirname "$0")"
corpus=corpus
rm -rf $corpus && mkdir -p $corpus/fuzz_image $corpus/fuzz_model_read $corpus/fuzz_st_parse

# Images: crops of the cells fixture (tests/data/images) in each format and flavour stb reads.
src=../data/images/cells.png
img() { # img NAME CROP CONVERT-OPTIONS...
  local name=$1 crop=$2; shift 2
  convert $src -crop "$crop" +repage "$@" $corpus/fuzz_image/$name
}
img gray.jpg 260x140+0+0 -quality 85
img rgb420.jpg 136x136+20+10 -type TrueColor -sampling-factor 2x2 -quality 80
img progressive.jpg 136x136+40+30 -interlace JPEG -quality 70
img gray.png 200x140+10+10
img rgba.png 136x136+0+50 -type TrueColorAlpha
img gray16.png 136x136+0+50 -depth 16
img palette.png 136x136+50+0 -colors 16 -type Palette
img interlaced.png 136x136+50+0 -interlace PNG
img small.png 100x60+10+0
img palette.bmp 136x136+0+0 -colors 16 -type Palette
img rgb.bmp 64x48+0+0 -type TrueColor
img gray.pgm 136x136+10+0
img ascii.pgm 48x48+10+0 -compress none
img rgb.ppm 64x48+0+0 -type TrueColor
img rle.tga 136x136+10+0 -compress RLE
img gray.gif 136x136+10+0

# Models: what tests/data/models (also a seed folder of these targets) lacks.
python3 - <<'EOF'
import math
import struct
import sys

sys.path.insert(0, "../data/bad")
from make_bad import read, write

header, data = read("../data/models/good_tiny.safetensors")
meta = header.pop("__metadata__")


def pooled_net():  # conv4,pool,conv4,gap,dense8,drop0.5,dense: 3 classes, 16 x 16 tiles, TTA
    shapes = {"conv1.weight": [4, 1, 3, 3], "conv1.bias": [4], "conv2.weight": [4, 4, 3, 3],
              "conv2.bias": [4], "fc1.weight": [8, 4], "fc1.bias": [8], "fc2.weight": [3, 8],
              "fc2.bias": [3]}
    h = {"__metadata__": {"arch": "conv4,pool,conv4,gap,dense8,drop0.5,dense", "classes": "x,y,z",
                          "tile": "16", "crop_bottom": "4", "tta": "1"}}
    blob = b""
    for name, shape in shapes.items():
        n = math.prod(shape)
        raw = struct.pack(f"<{n}f", *(math.sin(len(blob) + 1.3 * i) / 2 for i in range(n)))
        h[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    return h, blob


seeds = {
    "tensors_only": (header, data),
    "other_dtypes": ({**header, "conv1.bias": {**header["conv1.bias"], "dtype": "I32"},
                      "fc1.bias": {**header["fc1.bias"], "dtype": "U32"}}, data),
    "escapes": ({"__metadata__": {**meta, "threshold": "0.25", "notes": "caf\u00e9 \"quoted\"\n\t/"},
                 **header}, data),
    "pooled_three_classes": pooled_net(),
}
for target in ("fuzz_model_read", "fuzz_st_parse"):
    for name, (h, blob) in seeds.items():
        write(f"corpus/{target}/{name}.safetensors", h, blob)
EOF
du -sh $corpus/*
