#!/usr/bin/env bash
# Builds the valley.toml fuzz targets with clang (libFuzzer, ASan+UBSan) and runs each for
# SECONDS (default 60), seeded with the shared corpus, the shipped config and the regression
# inputs. Exit status non-zero if a target found a crash or a disagreement; the input is left
# as <build>/<target>-crash-*.
#   tests/config/fuzz/run.sh [SECONDS]   (CONFIG_FUZZ_BUILD_DIR: build directory; FUZZ_CXX: clang++)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
seconds=${1:-60}
build=${CONFIG_FUZZ_BUILD_DIR:-$root/build-config-fuzz}
cxx=${FUZZ_CXX:-clang++-14}
cmake -S "$here" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
cmake --build "$build" -j2 >/dev/null
status=0
for target in fuzz_shim_config fuzz_advisor_config; do
  work="$build/corpus-$target"
  mkdir -p "$work"
  echo "== $target: $seconds s"
  rc=0
  nice -n 10 "$build/$target" -max_total_time="$seconds" -max_len=8192 -timeout=10 -print_final_stats=1 \
    -dict="$here/toml.dict" -artifact_prefix="$build/$target-" \
    "$work" "$root/tests/config/corpus" "$here/regressions" "$root/config" >"$build/$target.log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+ +DONE|INFO: seed corpus|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|the readers disagree|shim:|advisor:|SUMMARY|Test unit written)' \
    "$build/$target.log" || true
  [[ $rc -eq 0 ]] || status=1
done
exit $status
