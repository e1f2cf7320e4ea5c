#!/usr/bin/env bash
# Recorder overhead: 10 million 1-byte write()s to /dev/null, bare against valley (and valley
# with counters only, and the cheapest interposer that times each call: timing_floor.c), in
# the same run as `strace -c` and `uftrace record` (fewer calls for those: they cost
# microseconds each); then the same rows with the kernel taken out (null_write.c). Medians of
# hyperfine runs; prints markdown tables.
# Usage: bench/run.sh [BUILD_DIR]   (needs hyperfine; strace and uftrace are used if present)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/bin
shim=$build/lib/libvalley.so
runs=${RUNS:-7}
[ "$runs" -ge 1 ] 2>/dev/null || { echo "bench: RUNS must be a number of rounds, 1 or more" >&2; exit 1; }
N=${N:-10000000}
N_SLOW=${N_SLOW:-200000}
command -v hyperfine > /dev/null || { echo "bench: hyperfine is needed (apt-get install hyperfine)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/valley-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# name | calls | command
cases=(
  "bare|$N|env $bin/valley_bench_write $N"
  "valley (counters + events)|$N|env LD_PRELOAD=$shim VALLEY_DIR=$work/run $bin/valley_bench_write $N"
  "valley (counters only, VALLEY_EVENTS=0)|$N|env LD_PRELOAD=$shim VALLEY_EVENTS=0 VALLEY_DIR=$work/run $bin/valley_bench_write $N"
)
floor=$(ls "$build"/bench/libvalley_bench_timing_floor.so "$build"/lib/libvalley_bench_timing_floor.so 2>/dev/null | head -1 || true)
[ -n "$floor" ] && cases+=("timing floor (2 rdtsc + the call, no logging)|$N|env LD_PRELOAD=$floor $bin/valley_bench_write $N")
command -v strace > /dev/null && cases+=("strace -c|$N_SLOW|strace -c -o $work/strace.out $bin/valley_bench_write $N_SLOW")
command -v uftrace > /dev/null && cases+=("uftrace record (-pg build)|$N_SLOW|uftrace record -d $work/uftrace.data $bin/valley_bench_write_pg $N_SLOW")

# rounds TAG COUNT CMD...: one warm-up round, then COUNT rounds of hyperfine running each command
# once, so the rows alternate and a slow phase of the VM (they last seconds to minutes here)
# hits every row alike instead of all runs of one row. Each round starts one row later in the
# list, so no row always follows the same one. Leaves $work/TAG.N.json and TAG.N.order.
rounds() {
  local tag=$1 count=$2
  shift 2
  local cmds=("$@") n=$# i k j
  for i in $(seq 0 "$count"); do
    local order=() rotated=()
    for k in $(seq 0 $((n - 1))); do
      j=$(((k + i) % n))
      order+=("$j")
      rotated+=("${cmds[$j]}")
    done
    echo "${order[*]}" > "$work/$tag.$i.order"
    hyperfine -N --runs 1 --prepare "rm -rf $work/run $work/uftrace.data" \
      --export-json "$work/$tag.$i.json" "${rotated[@]}" > "$work/hyperfine.log" 2>&1 || { cat "$work/hyperfine.log"; exit 1; }
  done
  rm -f "$work/$tag.0.json" "$work/$tag.0.order"
}
# medians TAG COUNT: for each command in the given order, "median min max" of its time over
# the rounds.
medians() {
  python3 - "$work" "$1" "$2" <<'PY'
import json, statistics, sys
work, tag, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = {}
for i in range(1, runs + 1):
    order = [int(x) for x in open(f"{work}/{tag}.{i}.order").read().split()]
    for cmd, r in zip(order, json.load(open(f"{work}/{tag}.{i}.json"))["results"]):
        times.setdefault(cmd, []).append(r["times"][0])
for cmd in sorted(times):
    t = times[cmd]
    print(statistics.median(t), min(t), max(t))
PY
}

args=()
for c in "${cases[@]}"; do args+=("${c##*|}"); done
rounds main "$runs" "${args[@]}"
medians main "$runs" > "$work/main.medians"

python3 - "$work/main.medians" "${cases[@]}" <<'PY'
import sys
rows = [[float(v) for v in line.split()] for line in open(sys.argv[1])]
cases = [c.split("|", 2) for c in sys.argv[2:]]
bare = rows[0][0] / int(cases[0][1]) * 1e9
print(f"| tool | calls | median wall time | ns per call (min–max) | ratio to bare |")
print(f"|---|---:|---:|---:|---:|")
for (name, calls, _), (m, lo, hi) in zip(cases, rows):
    per = lambda t: t / int(calls) * 1e9
    print(f"| {name} | {int(calls):,} | {m:.3f} s | {per(m):.1f} ({per(lo):.0f}–{per(hi):.0f}) | {per(m) / bare:.2f} |")
PY

# The same loop over null_write.c, a write() that skips the kernel for /dev/null: what is left
# of each row is the interposer's own cost with warm caches, which a machine with fast
# syscalls pays at least.
null=$(ls "$build"/bench/libvalley_bench_null_write.so "$build"/lib/libvalley_bench_null_write.so 2>/dev/null | head -1 || true)
if [ -n "$null" ]; then
  free=(
    "bare|env LD_PRELOAD=$null $bin/valley_bench_write $N"
    "valley (counters + events)|env LD_PRELOAD=\"$shim $null\" VALLEY_DIR=$work/run $bin/valley_bench_write $N"
    "valley (counters only, VALLEY_EVENTS=0)|env LD_PRELOAD=\"$shim $null\" VALLEY_EVENTS=0 VALLEY_DIR=$work/run $bin/valley_bench_write $N"
  )
  [ -n "$floor" ] && free+=("timing floor (2 rdtsc + the call, no logging)|env LD_PRELOAD=\"$floor $null\" $bin/valley_bench_write $N")
  args=()
  for c in "${free[@]}"; do args+=("${c#*|}"); done
  # These runs take under a second, and on the measuring VM some of valley's runs land in a
  # slower mode (about 1.5x) at random, with any build: three times the rounds.
  rounds free $((3 * runs)) "${args[@]}"
  medians free $((3 * runs)) > "$work/free.medians"
  echo
  echo "Without the kernel ($N calls over null_write.c, $((3 * runs)) rounds; own cost = ns per call above bare):"
  python3 - "$work/free.medians" "$N" "${free[@]}" <<'PY'
import sys
rows = [[float(v) / int(sys.argv[2]) * 1e9 for v in line.split()] for line in open(sys.argv[1])]
names = [c.split("|", 1)[0] for c in sys.argv[3:]]
bare = rows[0][0]
print("| tool | ns per call (min–max) | own cost ns | lower bound of the ratio where write() costs 200 ns |")
print("|---|---:|---:|---:|")
for name, (m, lo, hi) in zip(names, rows):
    print(f"| {name} | {m:.1f} ({lo:.1f}–{hi:.1f}) | {m - bare:.1f} | {(200 + m - bare) / 200:.2f} |")
PY
fi

echo
echo "Call-site cost (1000 distinct call sites; medians of $runs runs):"
# site KEY CMD...: the median of KEY's value over $runs runs of CMD valley_bench_site_cost.
site() {
  local key=$1
  shift
  for _ in $(seq "$runs"); do "$@" "$bin/valley_bench_site_cost"; rm -rf "$work/run"; done |
    awk -v k="$key" '$1 == k {print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
bare_first=$(site first_sight_ns env)
bare_known=$(site known_site_ns env)
v_first=$(site first_sight_ns env LD_PRELOAD="$shim" VALLEY_DIR="$work/run")
v_known=$(site known_site_ns env LD_PRELOAD="$shim" VALLEY_DIR="$work/run")
echo "| call | bare ns | valley ns | valley extra ns |"
echo "|---|---:|---:|---:|"
awk -v a="$bare_first" -v b="$v_first" 'BEGIN {printf "| first call at a new site (full stack capture) | %.0f | %.0f | %.0f |\n", a, b, b - a}'
awk -v a="$bare_known" -v b="$v_known" 'BEGIN {printf "| call at a known site | %.0f | %.0f | %.0f |\n", a, b, b - a}'
