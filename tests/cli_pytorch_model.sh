#!/usr/bin/env bash
# predict with models that PyTorch made and saved (tools/check_torch_interop.py):
# PyTorch's probabilities for each one-tile image, within 1e-4.
source "$(dirname "$0")/cli_common.bash"
P=$DATA/models/pytorch

for name in good_pytorch good_pytorch_k3; do
    want=$P/${name}_probs.csv
    expect_rc 0 "$CLI" predict --model "$DATA/models/$name.safetensors" --csv "$P/${name}"_tile*.pgm
    # Columns p_* by name in both files; rows by the image's file name.
    awk -F, 'FNR == 1 { for (i = 1; i <= NF; i++) col[FILENAME, $i] = i; names = $0; next }
             FILENAME == ARGV[1] { for (i = 2; i <= NF; i++) want[$1, i] = $i; wanted++; next }
             { n = split($1, path, "/"); file = path[n]; got++
               split(names, head, ",")
               for (i = 1; i <= NF; i++) if (head[i] ~ /^p_/) {
                   d = $i - want[file, col[ARGV[1], head[i]]]
                   if (d > 1e-4 || d < -1e-4 || want[file, col[ARGV[1], head[i]]] == "") bad = 1 } }
             END { exit bad || got != wanted }' "$want" "$TMP/out" ||
        fail "$name: cellsight's probabilities are not PyTorch's: $(cat "$TMP/out")"
done
finish
