#!/usr/bin/env bash
# Python-aware call sites (issue 14): N one-byte os.write()s to /dev/null from a Python loop,
# bare, under valley with Python call sites off (VALLEY_PYTHON=0: today's native-only site) and
# on (the default: each call reads the thread's Python frame). Rounds alternate the rows
# (hyperfine, one run each per round); prints the median, min and max wall time of each row
# and the per-call cost over bare. Goal (issue 14): on ≤ 15% over native-only.
# Usage: bench/python.sh [BUILD_DIR]   (needs hyperfine and python3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shim=$build/lib/libvalley.so
runs=${RUNS:-7}
N=${N:-2000000}
command -v hyperfine > /dev/null || { echo "bench: hyperfine is needed (apt-get install hyperfine)" >&2; exit 1; }
[ -f "$shim" ] || { echo "bench: no $shim (build first)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/valley-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
script=$root/bench/python_write_loop.py
py=${PYTHON:-/usr/bin/python3} # Debian's python3.11 (not a pyenv shim on PATH)

names=("bare" "valley, native-only sites (VALLEY_PYTHON=0)" "valley, Python-aware sites")
cmds=("env $py $script $N"
      "env LD_PRELOAD=$shim VALLEY_PYTHON=0 VALLEY_DIR=$work/run $py $script $N"
      "env LD_PRELOAD=$shim VALLEY_DIR=$work/run $py $script $N")
for i in $(seq 0 "$runs"); do
  order=() rotated=()
  for k in 0 1 2; do j=$(((k + i) % 3)); order+=("$j"); rotated+=("${cmds[$j]}"); done
  echo "${order[*]}" > "$work/r.$i.order"
  hyperfine -N --runs 1 --prepare "rm -rf $work/run" --export-json "$work/r.$i.json" \
    "${rotated[@]}" > "$work/hyperfine.log" 2>&1 || { cat "$work/hyperfine.log"; exit 1; }
done
python3 - "$work" "$runs" "$N" "${names[@]}" <<'PY'
import json, statistics, sys
work, runs, n, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
times = {k: [] for k in range(3)}
for i in range(1, runs + 1):  # round 0 is the warm-up
    order = [int(x) for x in open(f"{work}/r.{i}.order").read().split()]
    for pos, r in enumerate(json.load(open(f"{work}/r.{i}.json"))["results"]):
        times[order[pos]].append(r["mean"])
med = {k: statistics.median(v) for k, v in times.items()}
print(f"| {n} os.write(fd, b'x') to /dev/null | median s | min | max | ns/call over bare |")
print("|---|---:|---:|---:|---:|")
for k in range(3):
    over = (med[k] - med[0]) / n * 1e9
    print(f"| {names[k]} | {med[k]:.3f} | {min(times[k]):.3f} | {max(times[k]):.3f} | {over:.0f} |")
native, aware = med[1] - med[0], med[2] - med[0]
print(f"\nPython-aware over native-only: {(med[2] - med[1]) / med[1] * 100:+.1f}% of the loop's time, "
      f"valley's own cost {aware / n * 1e9:.0f} vs {native / n * 1e9:.0f} ns per call")
PY
