#!/usr/bin/env bash
# The closed loop (issue 12): for each program, trace it, ask `valley report --emit-config` for
# a config, run it again with `valley run --config`, and compare what the report predicted with
# what the second run made. Prints one markdown row per program: syscalls of the sites the
# config lists before, the coalescer replay's prediction (`coalescer_syscalls_after`), measured
# after (their remaining syscalls plus the coalescer's flushes), the ratio measured/predicted, whether the output was byte-identical,
# and the median wall time (hyperfine) of the program bare and with the config.
# Usage: bench/loop.sh [BUILD_DIR] [CASE...]   (needs hyperfine, jq, perl, python3.11)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
shift || true
valley=$build/bin/valley
shim=$build/lib/libvalley.so
runs=${RUNS:-5}
for t in hyperfine jq perl /usr/bin/python3.11 dd; do
  command -v $t > /dev/null || { echo "bench: $t is needed" >&2; exit 1; }
done
[[ -x $valley && -f $shim ]] || { echo "bench: no valley build in $build" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/valley-loop.XXXXXX")
trap 'rm -rf "$work"' EXIT

# name | shell command; it runs in its own empty directory and must leave its output in ./out
cases=(
  "perl-file|perl -e 'open(my \$f, \">\", \"out\") or die; select \$f; \$|=1; print \"line \$_\\n\" for 1..100000'"
  "python-u-stdout|/usr/bin/python3.11 -u -c 'for i in range(100000): print(i)' > out"
  "perl-stdout|perl -e '\$|=1; print \"line \$_\\n\" for 1..100000' > out"
  "dd-bs1|dd if=/dev/zero of=out bs=1 count=200000 status=none"
  "python-logging|/usr/bin/python3.11 -c 'import logging; h = logging.FileHandler(\"out\"); l = logging.getLogger(\"x\"); l.addHandler(h); l.setLevel(logging.INFO); [l.info(\"record %d\", i) for i in range(30000)]'"
)

row() {
  local name=$1 d=$work/$1
  mkdir -p "$d/bare" "$d/traced" "$d/looped" "$d/h"
  printf '%s\n' "$2" > "$d/cmd.sh"
  (cd "$d/bare" && sh "$d/cmd.sh")
  (cd "$d/traced" && "$valley" run --dir "$d/A" -- sh "$d/cmd.sh" > /dev/null 2> "$d/run-a.log")
  "$valley" report "$d/A" --format json > "$d/a.json"
  "$valley" report "$d/A" --emit-config "$d/c.toml" > /dev/null
  (cd "$d/looped" && "$valley" run --config "$d/c.toml" --dir "$d/B" -- sh "$d/cmd.sh" > /dev/null 2> "$d/run-b.log")
  "$valley" report "$d/B" --format json > "$d/b.json"
  local same=no
  cmp -s "$d/bare/out" "$d/looped/out" && same=yes
  # The coalescible findings' sites: before and predicted after from A, measured after from B.
  local before predicted measured flushes
  local sel='.findings[] | select(.coalescible and .coalescer_note == "")'
  before=$(jq "[$sel | .syscalls_before] | add // 0" "$d/a.json")
  predicted=$(jq "[$sel | .coalescer_syscalls_after // .syscalls_after] | add // 0 | round" "$d/a.json")
  measured=$(jq --slurpfile a "$d/a.json" \
    '[$a[0].findings[] | select(.coalescible and .coalescer_note == "") | .site] as $keys
     | [.sites[] | select(.site as $s | $keys | index($s)) | .syscalls] | add // 0' "$d/b.json")
  flushes=$(jq '.flush_writes // 0' "$d/b.json")
  measured=$((measured + flushes))
  local ratio="-"
  [[ $predicted != 0 ]] && ratio=$(awk -v m="$measured" -v p="$predicted" 'BEGIN { printf "%.2f", m / p }')
  # Wall time: the program bare, and under `valley run --config` (recording included).
  local ms
  hyperfine --style none --runs "$runs" --warmup 1 --export-json "$d/wall.json" \
    --prepare "rm -rf $d/h $d/hr; mkdir -p $d/h" \
    "cd $d/h && sh $d/cmd.sh" \
    "cd $d/h && $valley run --config $d/c.toml --dir $d/hr -- sh $d/cmd.sh > /dev/null 2>&1" \
    > /dev/null 2>&1 &&
    ms=$(jq -r '[.results[].median * 1000 | round | tostring] | join(" ")' "$d/wall.json")
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$before" "$predicted" "$measured" \
    "$ratio" "$same" ${ms:-- -}
  # Findings the report left out of the config, and why: the reader's cue for a 0 row.
  jq -r '.findings[] | select(.coalescible and .coalescer_note != "") | "  (left out: \(.site_text): \(.coalescer_note))"' \
    "$d/a.json" >&2
}

echo "| program | syscalls before | predicted after | measured after | measured/predicted | same output | bare ms | with config ms |"
echo "|---|---|---|---|---|---|---|---|"
for c in "${cases[@]}"; do
  name=${c%%|*}
  if (($#)); then
    keep=no
    for want in "$@"; do [[ $want == "$name" ]] && keep=yes; done
    [[ $keep == yes ]] || continue
  fi
  row "$name" "${c#*|}"
done
