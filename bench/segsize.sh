#!/usr/bin/env bash
# Run-directory size and per-image start cost (issue 13 §5), for one or more builds in the same
# session: disk (du -sk) and apparent size per traced image, the run directory `make -j2` of 25
# small C files leaves, and the wall time of /bin/true and of 50 /bin/true started by sh, bare
# and with libvalley.so preloaded (the valley command itself left out). Prints markdown tables.
# Usage: bench/segsize.sh [BUILD_DIR...]   (each holds bin/valley and lib/libvalley.so; default
# build/; needs hyperfine, make and cc)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || set -- "$root/build"
runs=${RUNS:-30}
for t in hyperfine make cc; do
  command -v $t > /dev/null || { echo "bench: $t is needed" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/valley-segsize.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 25 small C files, each writing a little, and a Makefile that builds and links them.
mkdir -p "$work/proj"
for i in $(seq 1 25); do
  printf '#include <stdio.h>\nint f%d(int x) { return x * %d + 1; }\n' "$i" "$i" > "$work/proj/f$i.c"
done
{
  printf 'int main(void) { int s = 0;\n'
  for i in $(seq 1 25); do printf 'extern int f%d(int); s += f%d(%d);\n' "$i" "$i" "$i"; done
  printf 'return s == 0; }\n'
} > "$work/proj/main.c"
{
  printf 'OBJS = main.o'
  for i in $(seq 1 25); do printf ' f%d.o' "$i"; done
  printf '\nprog: $(OBJS)\n\tcc -o $@ $(OBJS)\n%%.o: %%.c\n\tcc -O1 -c -o $@ $<\n'
  printf 'clean:\n\trm -f prog *.o\n'
} > "$work/proj/Makefile"

kib() { du -sk "$@" | cut -f1; }
akib() { du -sk --apparent-size "$@" | cut -f1; }
loop50='for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50; do /bin/true; done'

echo "| build | /bin/true: KiB on disk (apparent) | sh + 50 /bin/true: images, KiB on disk per image | make -j2, 25 files: images, MB on disk (apparent) |"
echo "|---|---:|---:|---:|"
for b in "$@"; do
  rm -rf "$work/r"*
  "$b/bin/valley" run --dir "$work/r1" -- /bin/true 2> /dev/null
  "$b/bin/valley" run --dir "$work/r2" -- sh -c "$loop50" 2> /dev/null
  make -s -C "$work/proj" clean
  "$b/bin/valley" run --dir "$work/r3" -- make -s -j2 -C "$work/proj" 2> /dev/null
  n2=$(ls "$work/r2" | grep -c '\.vseg$')
  n3=$(ls "$work/r3" | grep -c '\.vseg$')
  printf '| %s | %d (%d) | %d, %d | %d, %.1f (%.1f) |\n' "$(basename "$b")" \
    "$(kib "$work/r1")" "$(akib "$work/r1")" "$n2" $(($(kib "$work/r2") / n2)) \
    "$n3" "$(echo "$(kib "$work/r3") / 1024" | bc -l)" "$(echo "$(akib "$work/r3") / 1024" | bc -l)"
done

# Start cost: the shim preloaded directly, so the valley command's own start is not counted.
cmds=("/bin/true" "sh -c '$loop50'")
echo
echo "Wall time, mean ± σ of $runs runs (hyperfine -N); per image = (preloaded − bare) / images:"
echo "| build | /bin/true | sh + 50 /bin/true | per image (wall) | per image (user+sys CPU) |"
echo "|---|---:|---:|---:|---:|"
mean() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["mean"]*1e3, r["stddev"]*1e3, (r["user"]+r["system"])*1e3)' "$1"; }
for variant in bare "$@"; do
  env=()
  [ "$variant" = bare ] || env=(env LD_PRELOAD="$variant/lib/libvalley.so" VALLEY_DIR="$work/h")
  hyperfine -N -w 3 -r "$runs" --prepare "rm -rf $work/h" --export-json "$work/t1.json" \
    "${env[*]} /bin/true" > /dev/null 2>&1
  hyperfine -w 2 -r "$runs" --prepare "rm -rf $work/h" --export-json "$work/t2.json" \
    "${env[*]} sh -c '$loop50'" > /dev/null 2>&1
  read -r m1 s1 c1 < <(mean "$work/t1.json")
  read -r m2 s2 c2 < <(mean "$work/t2.json")
  if [ "$variant" = bare ]; then b2=$m2 bc2=$c2 name=bare; else name=$(basename "$variant"); fi
  per=$(echo "($m2 - $b2) / 51" | bc -l)
  cpu=$(echo "($c2 - $bc2) / 51" | bc -l)
  printf '| %s | %.2f ± %.2f ms | %.1f ± %.1f ms | %.2f ms | %.2f ms |\n' "$name" "$m1" "$s1" "$m2" "$s2" "$per" "$cpu"
done
