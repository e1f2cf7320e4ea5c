#!/usr/bin/env bash
# Coalescer benchmarks, same run, medians: (a) 1M one-byte write()s to a file: bare vs
# coalesced vs the same loop through a 64 KiB stdio buffer; (b) small send()s over a unix stream
# socket: throughput bare vs coalesced; (c) request/response ping-pong latency on vs off.
# Usage: bench/coalesce.sh [BUILD_DIR]   (needs hyperfine)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/bin
shim=$build/lib/libvalley.so
runs=${RUNS:-7}
work=$(mktemp -d "${TMPDIR:-/tmp}/valley-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
on=(env LD_PRELOAD="$shim" VALLEY_DIR="$work/run" VALLEY_COALESCE=1 VALLEY_COALESCE_KINDS=file,unix-stream)
trace=(env LD_PRELOAD="$shim" VALLEY_DIR="$work/run")

echo "(a) 1,000,000 one-byte write()s to a file (hyperfine medians of $runs runs)"
# Every row starts through env(1), so the ~2 ms its exec costs is in the baselines too.
hyperfine -N --warmup 1 --runs "$runs" --prepare "rm -rf $work/run" --export-json "$work/a.json" \
  "env $bin/valley_bench_file_writes $work/out 1000000" \
  "${trace[*]} $bin/valley_bench_file_writes $work/out 1000000" \
  "${on[*]} $bin/valley_bench_file_writes $work/out 1000000" \
  "env $bin/valley_bench_file_writes $work/out 1000000 stdio" > "$work/a.log" 2>&1 || { cat "$work/a.log"; exit 1; }
python3 - "$work/a.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
names = ["bare write()", "traced, coalescing off", "traced + coalesced (VALLEY_COALESCE=1)", "64 KiB stdio buffer (fwrite)"]
print("| loop | median | vs bare | vs stdio |")
print("|---|---:|---:|---:|")
for n, x in zip(names, r):
    print(f"| {n} | {x['median']*1000:.1f} ms | {r[0]['median']/x['median']:.1f}x faster | {x['median']/r[3]['median']:.2f}x |")
PY

median_of() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "(b) 1,000,000 send()s of 16 bytes over a unix stream socket (median of $runs runs)"
# The modes alternate run by run, so a slow phase of the machine hits them alike.
for _ in $(seq "$runs"); do
  "$bin/valley_bench_small_sends" 1000000 16 >> "$work/b.bare"
  rm -rf "$work/run"; "${on[@]}" "$bin/valley_bench_small_sends" 1000000 16 >> "$work/b.on"
done
bare_b=$(awk '{print $1}' "$work/b.bare" | median_of)
on_b=$(awk '{print $1}' "$work/b.on" | median_of)
echo "| mode | throughput | ratio |"
echo "|---|---:|---:|"
awk -v a="$bare_b" -v b="$on_b" 'BEGIN {printf "| bare | %.1f MB/s | 1.00 |\n| coalesced | %.1f MB/s | %.2f |\n", a, b, b / a}'

echo
echo "(c) request/response ping-pong, 32-byte messages, 20,000 round trips (median of $runs runs)"
for _ in $(seq "$runs"); do
  "$bin/valley_bench_ping_pong" 20000 >> "$work/c.bare"
  rm -rf "$work/run"; "${trace[@]}" "$bin/valley_bench_ping_pong" 20000 >> "$work/c.trace"
  rm -rf "$work/run"; "${on[@]}" "$bin/valley_bench_ping_pong" 20000 >> "$work/c.on"
done
bare_c=$(awk '{print $1}' "$work/c.bare" | median_of)
trace_c=$(awk '{print $1}' "$work/c.trace" | median_of)
on_c=$(awk '{print $1}' "$work/c.on" | median_of)
echo "| mode | median round trip | ratio to traced |"
echo "|---|---:|---:|"
awk -v a="$bare_c" -v t="$trace_c" -v b="$on_c" 'BEGIN {printf "| bare | %d ns | |\n| traced, coalescing off | %d ns | 1.00 |\n| traced + coalesced | %d ns | %.2f |\n", a, t, b, b / t}'
