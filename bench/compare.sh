#!/usr/bin/env bash
# Two builds of libvalley.so side by side in one session: a baseline (another checkout's
# build, e.g. main's) against this build, on the recorder workloads (real write()s to
# /dev/null; the same without the kernel, over null_write.c; with cold caches, cold_write.c;
# 4M writes split over 2 and 8 threads) and the coalescer's file loop, next to the 64 KiB stdio
# loop and the cheapest timed, locked coalescing interposer (coalesce_floor.c). Rows alternate run by
# run, each round starting one row later, so a slow phase of the VM hits every row alike.
# Prints one markdown table: median ns per call (min-max over the rounds) and the ratio to bare.
# Usage: bench/compare.sh BASELINE_LIBVALLEY_SO [BUILD_DIR]   (env: RUNS, default 7)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
base=${1:?usage: bench/compare.sh BASELINE_LIBVALLEY_SO [BUILD_DIR]}
build=${2:-$root/build}
[ -f "$base" ] || { echo "bench: no baseline shim $base" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/valley-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 - "$base" "$build" "$work" "${RUNS:-7}" <<'PY'
import os, statistics, subprocess, sys, time
base, build, work, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
bin_, new = f"{build}/bin", f"{build}/lib/libvalley.so"
null = next(p for p in (f"{build}/lib/libvalley_bench_null_write.so", f"{build}/bench/libvalley_bench_null_write.so") if os.path.exists(p))
threads = f"{build}/tests/shim/victims/valley_victim_threads"
shims = [("bare", None), ("baseline", base), ("this build", new)]
def env(shim, extra=(), pre=None):
    e = dict(os.environ, VALLEY_DIR=f"{work}/run")
    libs = [x for x in (shim, pre) if x]
    if libs: e["LD_PRELOAD"] = " ".join(libs)
    for kv in extra: k, v = kv.split("=", 1); e[k] = v
    return e
# (workload, calls, argv, extra env, extra preload after the shim)
loads = [
    ("write() to /dev/null", 2_000_000, [f"{bin_}/valley_bench_write", "2000000"], (), None),
    ("kernel-free (null_write.c)", 10_000_000, [f"{bin_}/valley_bench_write", "10000000"], (), null),
    ("cold caches (cold_write.c)", 1_000_000, [f"{bin_}/valley_bench_cold_write", "1000000"], (), None),
    ("4M writes, 2 threads", 4_000_000, [threads, "2", "2000000"], (), None),
    ("4M writes, 8 threads", 4_000_000, [threads, "8", "500000"], (), None),
    ("4M writes, 8 threads, counters only (VALLEY_EVENTS=0)", 4_000_000, [threads, "8", "500000"], ("VALLEY_EVENTS=0",), None),
    ("1M writes to a file, coalesced (VALLEY_COALESCE=1)", 1_000_000, [f"{bin_}/valley_bench_file_writes", f"{work}/out", "1000000"], ("VALLEY_COALESCE=1",), None),
]
rows = []
for name, calls, argv, extra, pre in loads:
    for label, shim in shims:
        rows.append((name, label, calls, argv, env(shim, extra if shim else (), pre)))
rows.append(("1M writes to a file, coalesced (VALLEY_COALESCE=1)", "64 KiB stdio loop (no shim)", 1_000_000,
             [f"{bin_}/valley_bench_file_writes", f"{work}/out", "1000000", "stdio"], env(None)))
floor = f"{build}/lib/libvalley_bench_coalesce_floor.so"
if os.path.exists(floor):
    rows.append(("1M writes to a file, coalesced (VALLEY_COALESCE=1)", "coalescing floor (coalesce_floor.c)", 1_000_000,
                 [f"{bin_}/valley_bench_file_writes", f"{work}/out", "1000000"], env(floor)))
times = {i: [] for i in range(len(rows))}
for r in range(runs + 1):  # round 0 warms up
    order = [(k + r) % len(rows) for k in range(len(rows))]
    for i in order:
        subprocess.run(["rm", "-rf", f"{work}/run"])
        t = time.perf_counter()
        p = subprocess.run(rows[i][3], env=rows[i][4], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
        dt = time.perf_counter() - t
        if p.returncode != 0: sys.exit(f"bench: {rows[i][0]} / {rows[i][1]} failed: {p.stderr.decode()[:300]}")
        if r: times[i].append(dt)
print(f"Medians of {runs} alternating rounds; ns per call = wall time / calls (startup included).")
print("| workload | shim | ns per call (min–max) | ratio to bare |")
print("|---|---|---:|---:|")
bare = {}
for i, (name, label, calls, _, _) in enumerate(rows):
    m = statistics.median(times[i]) / calls * 1e9
    if label == "bare": bare[name] = m
    lo, hi = min(times[i]) / calls * 1e9, max(times[i]) / calls * 1e9
    ratio = f"{m / bare[name]:.3f}" if name in bare else "–"
    print(f"| {name} | {label} | {m:.1f} ({lo:.1f}–{hi:.1f}) | {ratio} |")
PY
