#!/usr/bin/env bash
# How fast can the stdout cases of bench/loop.sh get at all? For perl `$|=1` and `python3 -u`
# printing 100,000 lines into a file, hyperfine times in one session: the program bare; the
# program buffering its own output (perl without `$|=1`, python3 without -u), the fix a
# programmer would make; the program with every write() free (null_write.c preloaded, output
# to /dev/null: no kernel at all, what no coalescer can beat); and `valley run --config` with
# the config `valley report --emit-config` gives for it. Prints one markdown table, medians in
# ms and the ratio to bare.
# Usage: bench/ceiling.sh [BUILD_DIR]   (env: RUNS, default 10). Needs hyperfine, jq, perl,
# /usr/bin/python3.11.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
valley=$build/bin/valley
null=$build/lib/libvalley_bench_null_write.so
runs=${RUNS:-10}
for t in hyperfine jq perl /usr/bin/python3.11; do
  command -v "$t" > /dev/null || { echo "ceiling: $t is needed" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/valley-ceiling.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
py=(env -u PYTHONUNBUFFERED /usr/bin/python3.11)
# Per case: its name, the unbuffered program, the same program buffering its own output.
names=(perl-stdout python-u-stdout)
slows=("perl -e '\$|=1; print \"line \$_\\n\" for 1..100000'"
  "${py[*]} -u -c 'for i in range(100000): print(i)'")
fasts=("perl -e 'print \"line \$_\\n\" for 1..100000'"
  "${py[*]} -c 'for i in range(100000): print(i)'")
echo "| program | bare ms | own buffering ms | free write() ms | valley --config ms | ratios to bare (own, free, valley) |"
echo "|---|---:|---:|---:|---:|---|"
for i in "${!names[@]}"; do
  name=${names[i]}
  printf '%s > out\n' "${slows[i]}" > "$name.slow.sh"
  printf '%s > out\n' "${fasts[i]}" > "$name.fast.sh"
  printf 'LD_PRELOAD=%s %s > /dev/null\n' "$null" "${slows[i]}" > "$name.free.sh"
  "$valley" run --dir "$work/$name.trace" -- sh "$name.slow.sh" > /dev/null 2>&1
  "$valley" report "$work/$name.trace" --emit-config "$work/$name.toml" > /dev/null
  hyperfine -N --style none --runs "$runs" --warmup 2 --export-json "$work/$name.json" \
    --prepare "rm -rf $work/h" "sh $name.slow.sh" "sh $name.fast.sh" "sh $name.free.sh" \
    "$valley run --config $work/$name.toml --dir $work/h -- sh $name.slow.sh" > /dev/null
  jq -r --arg n "$name" '[.results[].median * 1000] as $m
    | "| \($n) | \($m[0] | round) | \($m[1] | round) | \($m[2] | round) | \($m[3] | round) | "
      + ([$m[1], $m[2], $m[3]] | map($m[0] / . * 100 | round / 100 | tostring + "×") | join(", "))
      + " |"' "$work/$name.json"
done
