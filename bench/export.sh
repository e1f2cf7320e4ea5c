#!/usr/bin/env bash
# valley export on a synthetic run of EVENTS events (default 10 million, written by
# valley_bench_report_gen): wall time, peak memory (/usr/bin/time -v) and output size, and peak
# memory again at a tenth of the events and with 64 times the call sites (memory must grow with
# call sites, not with events). The output goes to a file beside the run, as a user's would.
# usage: bench/export.sh [BUILD_DIR] [EVENTS]
set -euo pipefail
build=${1:-build}
events=${2:-10000000}
work=$(mktemp -d "${TMPDIR:-/tmp}/valley-bench-export.XXXXXX")
trap 'rm -rf "$work"' EXIT
measure() { # RUN_DIR LABEL EVENTS EXPORT-ARGS...
  local dir=$1 label=$2 n=$3
  shift 3
  /usr/bin/time -v -o "$work/time" "$build/bin/valley" export "$@" -o "$work/out" "$dir" 2>/dev/null
  local secs kib
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$work/time")
  kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
  printf '| %s | %s | %.2f s | %.1f MiB | %.0f MB |\n' "$label" "$n" "$secs" \
    "$(echo "$kib / 1024" | bc -l)" "$(echo "$(stat -c %s "$work/out") / 1000000" | bc -l)"
  rm -f "$work/out"
}
echo "| export | events | wall time | peak RSS | output |"
echo "|---|---:|---:|---:|---:|"
for n in "$events" $((events / 10)); do
  "$build/bin/valley_bench_report_gen" "$work/run-$n" "$n" 4 64
  measure "$work/run-$n" "perfetto, 4 procs, 64 sites" "$n" --format perfetto
  measure "$work/run-$n" "jsonl --events, 4 procs, 64 sites" "$n" --format jsonl --events
  measure "$work/run-$n" "jsonl (no events), 4 procs, 64 sites" "$n" --format jsonl
  rm -rf "$work/run-$n"
done
"$build/bin/valley_bench_report_gen" "$work/run-sites" $((events / 10)) 4 4096
measure "$work/run-sites" "perfetto, 4 procs, 4096 sites" $((events / 10)) --format perfetto
