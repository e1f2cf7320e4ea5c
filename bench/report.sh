#!/usr/bin/env bash
# valley report on a synthetic run of EVENTS events (default 10 million): wall time and peak
# memory, and peak memory again at a tenth of the events (it must not grow with events); then
# the HTML report of the largest run (issue 13: its page must not grow with events either).
# usage: bench/report.sh [BUILD_DIR] [EVENTS]
set -euo pipefail
build=${1:-build}
events=${2:-10000000}
work=$(mktemp -d "${TMPDIR:-/tmp}/valley-bench-report.XXXXXX")
trap 'rm -rf "$work"' EXIT
measure() { # DIR LABEL EVENTS [REPORT OPTIONS...]
  local dir=$1 label=$2 n=$3
  shift 3
  /usr/bin/time -f "%e %M" -o "$work/time" "$build/bin/valley" report "$@" "$dir" >"$work/out.txt"
  read -r secs kib <"$work/time"
  printf '%-28s %10s events  %6.2f s  %7.1f MiB peak RSS  %8s bytes of output\n' "$label" "$n" \
    "$secs" "$(echo "$kib / 1024" | bc -l)" "$(stat -c %s "$work/out.txt")"
}
for n in "$events" $((events / 10)); do
  "$build/bin/valley_bench_report_gen" "$work/run-$n" "$n" 4 64
  measure "$work/run-$n" "report, 4 procs, 64 sites" "$n"
  measure "$work/run-$n" "html, 4 procs, 64 sites" "$n" --format html
done
"$build/bin/valley_bench_report_gen" "$work/run-sites" $((events / 10)) 4 4096
measure "$work/run-sites" "report, 4 procs, 4096 sites" $((events / 10))
measure "$work/run-sites" "html, 4 procs, 4096 sites" $((events / 10)) --format html
"$build/bin/valley" report "$work/run-sites" | grep -m3 -E '^\s*[0-9]+\. ' || true
