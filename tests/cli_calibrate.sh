#!/usr/bin/env bash
# Calibration: train records a temperature, eval reports the calibration error
# with and without it (and a reliability diagram), calibrate fits one anew.
source "$(dirname "$0")/cli_common.bash"
M=$TMP/m.safetensors
T=$DATA/train
tiny_model "$M"

expect_rc 0 "$CLI" info "$M"
grep -q "^temperature  *[0-9.]*$" "$TMP/out" && grep -q "^  temperature: [0-9.]*$" "$TMP/out" || fail "train records no temperature: $(cat "$TMP/out")"
grep -q "^  val_ece: [0-9.]*$" "$TMP/out" && grep -q "^  val_ece_uncalibrated: [0-9.]*$" "$TMP/out" ||
    fail "train records no calibration error"

grep -q "^  ood_score: mahalanobis$" "$TMP/out" && grep -q "^  ood_threshold: [0-9.e+]*$" "$TMP/out" ||
    fail "train records no out-of-distribution statistics"

expect_rc 0 "$CLI" eval --model "$M" --data "$T" --json --report "$TMP/report"
json "$TMP/out" '
  for (const k of ["temperature", "ece", "ece_uncalibrated"]) check(k in j, "no " + k);
  check(j.ece >= 0 && j.ece <= 1 && j.ece_uncalibrated >= 0 && j.ece_uncalibrated <= 1, "ece in range");
  check(j.temperature >= 0.05 && j.temperature <= 20, "temperature in range")'
grep -q "Reliability of [0-9]* tiles: ECE" "$TMP/report/reliability.svg" || fail "no reliability diagram"
grep -q "calibration error (ECE)" "$TMP/report/per_class.md" || fail "no ECE in the Markdown report"

# calibrate on the model's own validation images, then on every image.
expect_rc 0 "$CLI" calibrate --model "$M" --data "$T" --out "$TMP/cal.safetensors"
grep -q "^temperature [0-9.]*: expected calibration error of the tiles [0-9.]*, was [0-9.]*$" "$TMP/err" ||
    fail "calibrate does not say what it did: $(cat "$TMP/err")"
after=$(sed -n 's/.*of the tiles \([0-9.]*\), was.*/\1/p' "$TMP/err")
expect_rc 0 "$CLI" calibrate --model "$M" --data "$T" --images all --out "$TMP/all.safetensors"
fitted=$(sed -n 's/^temperature \([0-9.]*\):.*/\1/p' "$TMP/err")
after_all=$(sed -n 's/.*of the tiles \([0-9.]*\), was.*/\1/p' "$TMP/err")
# eval of every image with the model calibrated on them: the error calibrate printed.
expect_rc 0 "$CLI" eval --model "$TMP/all.safetensors" --data "$T" --json
json "$TMP/out" "check(Math.abs(j.ece - $after_all) < 1e-4, 'ece ' + j.ece + ' is not $after_all');
  check(Math.abs(j.temperature - $fitted) < 1e-4 * $fitted, 'temperature')"
[ -n "$after" ] || fail "no error after calibrating on the validation images"

# --ood-score msp: the model says so, scores are 1 - a top probability, and
# --ood-score mahalanobis brings the statistics back.
expect_rc 0 "$CLI" calibrate --model "$M" --data "$T" --ood-score msp --out "$TMP/msp.safetensors"
expect_rc 0 "$CLI" info "$TMP/msp.safetensors"
grep -q "ood_score.*msp" "$TMP/out" || fail "info does not say ood_score msp"
expect_rc 0 "$CLI" predict --model "$TMP/msp.safetensors" --csv "$T"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ood_score") c = i; next }
  !c || $c < 0 || $c > 0.5 { bad = 1 } END { exit bad || !c }' "$TMP/out" ||
    fail "msp scores outside [0, 0.5] (two classes): $(head -3 "$TMP/out")"
expect_rc 0 "$CLI" calibrate --model "$TMP/msp.safetensors" --data "$T" --ood-score mahalanobis --out "$TMP/maha.safetensors"
expect_rc 0 "$CLI" info "$TMP/maha.safetensors"
grep -q "ood_score.*mahalanobis" "$TMP/out" || fail "info does not say ood_score mahalanobis"
expect_rc 2 "$CLI" calibrate --model "$M" --data "$T" --ood-score energy --out "$TMP/z.safetensors"

# Refusals: a model that records no validation split, and --out over the model.
expect_rc 0 "$CLI" train --data "$T" --arch conv8,gap,dense --tile 32 --epochs 1 --val-folds 0 \
    --threads 1 --out "$TMP/noval.safetensors"
expect_rc 1 "$CLI" calibrate --model "$TMP/noval.safetensors" --data "$T" --out "$TMP/x.safetensors"
grep -q "records no validation split" "$TMP/err" || fail "no reason: $(cat "$TMP/err")"
[ ! -e "$TMP/x.safetensors" ] || fail "a refused calibration wrote a model"
expect_rc 2 "$CLI" calibrate --model "$M" --data "$T" --out "$M"
expect_rc 2 "$CLI" calibrate --model "$M" --data "$T" --images some --out "$TMP/y.safetensors"
finish
