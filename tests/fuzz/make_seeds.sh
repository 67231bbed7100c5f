#!/usr/bin/env bash
# tests/fuzz/make_seeds.sh: writes the committed seed corpora of the fuzz targets
# (run once from anywhere; needs ImageMagick). Seeds are small, valid inputs of
# every kind the parsers know, so that fuzzing starts deep in each format.
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

# Models: safetensors files written as tests/data/bad/make_models.py writes them.
python3 - <<'EOF'
import sys
sys.path.insert(0, "../data/bad")
from make_models import META, SHAPES, model

pooled = {"conv1.weight": [4, 1, 3, 3], "conv1.bias": [4], "conv2.weight": [4, 4, 3, 3],
          "conv2.bias": [4], "fc1.weight": [8, 4], "fc1.bias": [8], "fc2.weight": [3, 8],
          "fc2.bias": [3]}
seeds = {
    "two_classes.safetensors": model(),
    "tensors_only.safetensors": model(meta={}),
    "three_classes.safetensors": model(pooled, {"arch": "conv4,pool,conv4,gap,dense8,drop0.5,dense",
                                                "classes": "T47D,MDAMB231,MCF10A", "tile": "32",
                                                "crop_bottom": "8", "threshold": "0.5",
                                                "notes": "caf\u00e9 \"quoted\"\n"}),
    "other_dtypes.safetensors": model(dtype={"conv1.bias": "U32", "fc1.bias": "I32"}),
}
for target in ("fuzz_model_read", "fuzz_st_parse"):
    for name, data in seeds.items():
        open(f"corpus/{target}/{name}", "wb").write(data)
EOF
du -sh $corpus/*
