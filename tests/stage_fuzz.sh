#!/usr/bin/env bash
# tests/stage_fuzz.sh: builds the libFuzzer targets of tests/fuzz/ in build/fuzz,
# replays every committed regression input, then fuzzes each target for
# FUZZ_SECONDS (default 60) from its seed corpus. Fails on any finding; a
# crashing input is left in build/fuzz/findings/<target>/ to be committed to
# tests/fuzz/regressions/<target>/ with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=build/fuzz

cmake -S tests/fuzz -B $build -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build $build -j2

# Inputs no larger than the seeds need, memory far below the machine's, and a
# per-input time limit that only a hang exceeds.
declare -A max_len=([fuzz_model_read]=16384 [fuzz_st_parse]=8192 [fuzz_image]=65536 [fuzz_tiff]=16384)
# Seeds: each target's own, and the test fixtures of its kind.
declare -A fixtures=([fuzz_model_read]=tests/data/models [fuzz_st_parse]=tests/data/models
                     [fuzz_image]=tests/data/images [fuzz_tiff]=tests/data/bad)
status=0
for target in fuzz_model_read fuzz_st_parse fuzz_image fuzz_tiff; do
  regressions=(tests/fuzz/regressions/$target/*)
  if [ -e "${regressions[0]}" ]; then
    echo "== $target: replaying ${#regressions[@]} regression inputs"
    $build/$target -rss_limit_mb=2048 "${regressions[@]}" >$build/$target.replay.log 2>&1 ||
      { tail -n 40 $build/$target.replay.log; status=1; continue; }
  fi

  echo "== $target: fuzzing for $seconds s"
  work=$build/corpus/$target findings=$build/findings/$target
  mkdir -p "$work" "$findings"
  if ! $build/$target -max_total_time="$seconds" -max_len="${max_len[$target]}" \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$findings/" "$work" tests/fuzz/corpus/$target "${fixtures[$target]}" >$build/$target.log 2>&1; then
    tail -n 60 $build/$target.log
    echo "== $target FOUND A BUG: the input is in $findings/" >&2
    status=1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' $build/$target.log | tr '\n' ' '; echo
done
exit $status
