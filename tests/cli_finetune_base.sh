#!/bin/bash
# finetune's base: --model optional, the base from CELLSIGHT_BASE (a committed
# role=base model), else the source tree's model/base.safetensors, else a usage
# error; metadata role written by train --role and shown by info.
. "$(dirname "$0")/cli_common.bash"
T=$DATA/train
BASE=$DATA/base/tiny_base.safetensors
TREE_BASE=$(cd "$(dirname "$0")/.." && pwd)/model/base.safetensors
tune() { "$CLI" finetune --data "$T" --mode head --epochs 2 --threads 1 "$@"; }

# The fixture is a base; info says so.
expect_rc 0 "$CLI" info "$BASE"
grep -q "^role  *base" "$TMP/out" || fail "info does not show role base: $(head -3 "$TMP/out")"
grep -q "^  role: base$" "$TMP/out" || fail "metadata role base not listed"

# Without --model: the base CELLSIGHT_BASE names, said on stderr; the new model is
# a classifier that names its base.
CELLSIGHT_BASE=$BASE expect_rc 0 tune --out "$TMP/a.safetensors"
grep -q "^starting from $BASE$" "$TMP/err" || fail "the base is not said: $(head -c 300 "$TMP/err")"
expect_rc 0 "$CLI" info "$TMP/a.safetensors"
grep -q "^  base_model: $BASE$" "$TMP/out" || fail "the fine-tune does not name its base"
grep -q "^role  *classifier" "$TMP/out" || fail "a fine-tune of a base is not a classifier"
grep -q "^  role: classifier$" "$TMP/out" || fail "the fine-tune kept role base in its metadata"

# --model wins over CELLSIGHT_BASE.
tiny_model "$TMP/plain.safetensors"
CELLSIGHT_BASE=$BASE expect_rc 0 tune --model "$TMP/plain.safetensors" --out "$TMP/b.safetensors"
grep -q "^starting from $TMP/plain.safetensors$" "$TMP/err" || fail "--model is not the base"
expect_rc 0 "$CLI" info "$TMP/plain.safetensors"
grep -q "^role  *classifier" "$TMP/out" || fail "a model trained without --role is not a classifier"
! grep -q "^  role:" "$TMP/out" || fail "train without --role wrote metadata role"

# A base named but missing: the file is named, exit 1, no model.
CELLSIGHT_BASE=$TMP/none.safetensors expect_rc 1 tune --out "$TMP/c.safetensors"
grep -q "none.safetensors" "$TMP/err" || fail "the missing base is not named"
[ ! -e "$TMP/c.safetensors" ] || fail "a missing base wrote a model"

# No CELLSIGHT_BASE: the source tree's base if it has one, else a usage error.
if [ -e "$TREE_BASE" ]; then
    env -u CELLSIGHT_BASE "$CLI" finetune --data "$T" --mode head --epochs 1 --threads 1 \
        --out "$TMP/d.safetensors" >/dev/null 2>"$TMP/err" || fail "finetune from the tree's base"
    grep -q "^starting from $TREE_BASE$" "$TMP/err" || fail "the tree's base is not the default"
else
    CELLSIGHT_BASE= expect_rc 2 tune --out "$TMP/d.safetensors"
    grep -q "give --model" "$TMP/err" || fail "no advice to give --model: $(cat "$TMP/err")"
fi

# train --role: base or classifier, nothing else.
expect_rc 2 "$CLI" train --data "$T" --role basis --out "$TMP/e.safetensors"
grep -q "role" "$TMP/err" || fail "a bad --role is not named"
finish
