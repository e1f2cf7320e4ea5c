#!/usr/bin/env bash
# Events dropped at 8 threads x 1M one-byte writes to /dev/null with the default buffers
# (tests/shim/victims/threads.c), from the run's own counters: prints the calls recorded, the
# events stored and the events dropped. Usage: bench/dropped.sh [BUILD_DIR] [THREADS] [CALLS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
threads=${2:-8}
calls=${3:-1000000}
work=$(mktemp -d "${TMPDIR:-/tmp}/valley-dropped.XXXXXX")
trap 'rm -rf "$work"' EXIT
LD_PRELOAD="$build/lib/libvalley.so" VALLEY_DIR="$work/run" \
  "$build/tests/shim/victims/valley_victim_threads" "$threads" "$calls" >/dev/null
"$build/bin/valley" dump --json --no-events "$work/run" | python3 -c '
import json, sys
p = json.load(sys.stdin)["processes"][0]
writes = sum(r["calls"] for r in p["counters"] if r.get("op") == "write")
total, dropped = p["events_total"], p["events_dropped"]
print(f"threads={sys.argv[1]} calls_per_thread={sys.argv[2]} writes_counted={writes} "
      f"events_total={total} events_dropped={dropped}")
' "$threads" "$calls"
