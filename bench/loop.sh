#!/usr/bin/env bash
# The closed loop (issue 12): for each program, trace it, ask `valley report --emit-config` for
# a config, run it again with `valley run --config`, and compare what the report predicted with
# what the second run made. Prints one markdown row per program: syscalls of the sites the
# config lists, before; the coalescer replay's prediction (`coalescer_syscalls_after`); measured
# after (those sites' remaining syscalls plus the coalescer's flushes); the ratio; whether the
# output was byte-identical to a bare run; and the median wall time (hyperfine) of the program
# bare and under `valley run --config` (recording included). Sites the report left out of the
# config are listed under the row with the report's reason.
#
# Usage: bench/loop.sh [--check] [BUILD_DIR] [CASE...]
#   --check  no timing; exit 1 unless every output is byte-identical and every measured count
#            is within 10% (or 3 syscalls) of the prediction (the ctest
#            Loop.EmittedConfigDeliversThePrediction runs this). The age bound is then 1 s, in
#            the report's replay and so in the config it emits: a loaded CI machine stretches a
#            program's pauses, and flushes by age would then depend on the scheduler, not on
#            the flush rules this check is about.
# Needs jq, perl, curl, Debian's python3.11, and hyperfine unless --check.
set -euo pipefail
check=0
if [[ ${1:-} == --check ]]; then
  check=1
  shift
fi
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
shift || true
valley=$build/bin/valley
shim=$build/lib/libvalley.so
runs=${RUNS:-5}
need=(jq perl /usr/bin/python3.11 dd curl)
((check)) || need+=(hyperfine)
for t in "${need[@]}"; do
  command -v "$t" > /dev/null || { echo "loop: $t is needed" >&2; exit 2; }
done
[[ -x $valley && -f $shim ]] || { echo "loop: no valley build in $build" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/valley-loop.XXXXXX")
trap 'rm -rf "$work"' EXIT
report_opts=()
if ((check)); then
  printf '[advisor]\nmax_age_ms = 1000\n' > "$work/advisor.toml"
  report_opts=(--config "$work/advisor.toml")
fi
bin=$build/bin

# name | shell command; it runs in its own empty directory and must leave its output in ./out
cases=(
  "perl-file|perl -e 'open(my \$f, \">\", \"out\") or die; select \$f; \$|=1; print \"line \$_\\n\" for 1..100000'"
  "python-u-stdout|/usr/bin/python3.11 -u -c 'for i in range(100000): print(i)' > out"
  "perl-stdout|perl -e '\$|=1; print \"line \$_\\n\" for 1..100000' > out"
  "dd-bs1|dd if=/dev/zero of=out bs=1 count=200000 status=none"
  "python-logging|/usr/bin/python3.11 -c 'import logging; h = logging.FileHandler(\"out\"); l = logging.getLogger(\"x\"); l.addHandler(h); l.setLevel(logging.INFO); [l.info(\"record %d\", i) for i in range(30000)]'"
  # Python's http.server (HTTP/1.1 keep-alive) answering 50 requests of curl on one connection:
  # its header and body sends stall on Nagle's algorithm. The port is picked per run.
  "http-keepalive|mkdir -p www && head -c 2000 /dev/zero > www/f.bin && port=\$((20000 + \$\$ % 20000)) && (/usr/bin/python3.11 -m http.server --protocol HTTP/1.1 --bind 127.0.0.1 --directory www \$port > /dev/null 2>&1 & echo \$! > srv.pid) && for i in \$(seq 100); do curl -s -o /dev/null http://127.0.0.1:\$port/ && break; sleep 0.05; done && curl -s \$(for i in \$(seq 50); do printf 'http://127.0.0.1:%d/f.bin ' \$port; done) > got && kill \$(cat srv.pid); wc -c < got > out"
  # The Nagle-stall client (header and body sent apart, then a wait for the answer); it prints
  # its own timing, so its output is only that it finished.
  "nagle-client|$bin/valley_report_victim_nagle 30 > /dev/null && echo done > out"
  # The project's coalescible victims.
  "victim-small-writes|$bin/valley_report_victim_small_writes out"
  "victim-stdout-lines|$bin/valley_report_victim_stdout_lines out"
  "demo|$bin/valley_demo out > /dev/null"
)

failures=0
row() {
  local name=$1 d=$work/$1
  mkdir -p "$d/bare" "$d/traced" "$d/looped" "$d/h"
  printf '%s\n' "$2" > "$d/cmd.sh"
  (cd "$d/bare" && sh "$d/cmd.sh")
  (cd "$d/traced" && "$valley" run --dir "$d/A" -- sh "$d/cmd.sh" > /dev/null 2> "$d/run-a.log")
  "$valley" report "$d/A" "${report_opts[@]}" --format json > "$d/a.json"
  "$valley" report "$d/A" "${report_opts[@]}" --emit-config "$d/c.toml" > /dev/null
  (cd "$d/looped" && "$valley" run --config "$d/c.toml" --dir "$d/B" -- sh "$d/cmd.sh" > /dev/null 2> "$d/run-b.log")
  "$valley" report "$d/B" "${report_opts[@]}" --format json > "$d/b.json"
  local same=no
  cmp -s "$d/bare/out" "$d/looped/out" && same=yes
  # The findings the config acts on: before and predicted after from A, measured after from B.
  local sel='.findings[] | select(.coalescible and .coalescer_note == "")'
  local before predicted measured flushes
  before=$(jq "[$sel | .syscalls_before] | add // 0" "$d/a.json")
  predicted=$(jq "[$sel | .coalescer_syscalls_after // .syscalls_after] | add // 0 | round" "$d/a.json")
  measured=$(jq --slurpfile a "$d/a.json" \
    '[$a[0].findings[] | select(.coalescible and .coalescer_note == "") | .site] as $keys
     | [.sites[] | select(.site as $s | $keys | index($s)) | .syscalls] | add // 0' "$d/b.json")
  flushes=$(jq '.flush_writes // 0' "$d/b.json")
  measured=$((measured + flushes))
  local ratio="-"
  [[ $predicted != 0 ]] && ratio=$(awk -v m="$measured" -v p="$predicted" 'BEGIN { printf "%.2f", m / p }')
  local ms="- -"
  if ((!check)); then
    hyperfine --style none --runs "$runs" --warmup 1 --export-json "$d/wall.json" \
      --prepare "rm -rf $d/h $d/hr; mkdir -p $d/h" \
      "cd $d/h && sh $d/cmd.sh" \
      "cd $d/h && $valley run --config $d/c.toml --dir $d/hr -- sh $d/cmd.sh > /dev/null 2>&1" \
      > /dev/null 2>&1 &&
      ms=$(jq -r '[.results[].median * 1000 | round | tostring] | join(" ")' "$d/wall.json")
  fi
  # shellcheck disable=SC2086 # ms is two words
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$before" "$predicted" "$measured" \
    "$ratio" "$same" $ms
  jq -r '.findings[] | select(.coalescible and .coalescer_note != "")
         | "  (left out: \(.site_text): \(.coalescer_note))"' "$d/a.json"
  if ((check)); then
    local bad=""
    [[ $same == yes ]] || bad="the output differs from a bare run"
    if [[ -z $bad && $before != 0 ]]; then
      local diff=$((measured > predicted ? measured - predicted : predicted - measured))
      ((diff * 10 <= predicted || diff <= 3)) ||
        bad="measured $measured syscalls, predicted $predicted (more than 10% apart)"
    fi
    if [[ -n $bad ]]; then
      echo "loop: $name: $bad (config: $(tr '\n' ' ' < "$d/c.toml"))" >&2
      failures=$((failures + 1))
    fi
  fi
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
((failures == 0)) || { echo "loop: $failures program(s) did not get what the report predicted" >&2; exit 1; }
