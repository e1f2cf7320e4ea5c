#!/usr/bin/env bash
# valley report on real Debian programs: per program its findings (rank, rule, site, predicted
# wall-time saving) and, where a fix can be applied, the measured saving: the median wall time
# of RUNS runs of the program minus that of the fixed program, both bare (not traced); for the
# coalescer, both under `valley run`, the second with the config the report emitted.
# The judgement of each finding is in docs/advice.md.
# usage: bench/advice.sh [BUILD_DIR]   (RUNS=3, KEEP=DIR keeps each program's report there)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
valley=$build/bin/valley
runs=${RUNS:-3}
py=/usr/bin/python3.11
for tool in sqlite3 "$py" perl dd rsync gzip tar git curl make bash; do
  command -v "$tool" >/dev/null || { echo "bench/advice.sh: $tool is not installed" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/valley-advice.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
# Each program's own buffering as its users get it (python3 -u is one of the cases).
unset PYTHONUNBUFFERED

# ---- inputs ----
{ echo "CREATE TABLE IF NOT EXISTS t(a, b);"
  for i in $(seq 300); do echo "INSERT INTO t VALUES($i, 'row $i');"; done; } >rows.sql
{ echo "CREATE TABLE IF NOT EXISTS t(a, b);"; echo "BEGIN;"
  for i in $(seq 300); do echo "INSERT INTO t VALUES($i, 'row $i');"; done; echo "COMMIT;"; } >rows-tx.sql
head -c 300000 /dev/urandom >in.bin
seq 2000000 >big.txt
seq 20000 >lines.txt
mkdir -p src www
for i in $(seq 200); do head -c 10000 /dev/urandom >"src/f$i"; done
head -c 2000 /dev/urandom >www/f.bin
{ printf 'all:'; for i in $(seq 40); do printf ' t%d' "$i"; done; printf '\n'
  for i in $(seq 40); do printf 't%d:\n\techo %d > $@\n' "$i" "$i"; done; } >Makefile
port=$((20000 + RANDOM % 20000))
urls=$(for _ in $(seq 50); do printf 'http://127.0.0.1:%d/f.bin ' "$port"; done)
cat >http.sh <<EOF
$py -m http.server --protocol HTTP/1.1 --bind 127.0.0.1 --directory www $port >/dev/null 2>&1 &
srv=\$!
for _ in \$(seq 100); do curl -s -o /dev/null http://127.0.0.1:$port/ && break; sleep 0.05; done
curl -s $urls >/dev/null
kill \$srv; wait \$srv 2>/dev/null || true
EOF
# The same server with the fix in its source: TCP_NODELAY on the accepted sockets.
cat >server_nodelay.py <<EOF
import functools, http.server as h
class H(h.SimpleHTTPRequestHandler):
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
h.ThreadingHTTPServer(("127.0.0.1", $port), functools.partial(H, directory="www")).serve_forever()
EOF
sed "1s|.*|$py server_nodelay.py \&|" http.sh >http-nodelay.sh
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org GIT_COMMITTER_NAME=bench \
  GIT_COMMITTER_EMAIL=bench@example.org

# ---- programs: name # command # fix ("" none, "coalesce": the config the report emits) # what
cases=(
  "sqlite3-autocommit#rm -f db; sqlite3 db <rows.sql#rm -f db; sqlite3 db <rows-tx.sql#one transaction"
  "python3-u#$py -u -c 'for i in range(100000): print(i)' >py.out#$py -c 'for i in range(100000): print(i)' >py.out#without -u"
  "perl-autoflush#perl -e '\$|=1; print \"line \$_\\n\" for 1..100000' >pl.out#perl -e 'print \"line \$_\\n\" for 1..100000' >pl.out#without \$|=1"
  "dd-bs1#dd if=in.bin of=dd.out bs=1 status=none#dd if=in.bin of=dd.out bs=64K status=none#bs=64K"
  "http-keepalive#bash http.sh#bash http-nodelay.sh#TCP_NODELAY in the server"
  "http-keepalive-coalescer#bash http.sh#coalesce#valley run --config, emitted"
  "bash-while-read#seq 20000 | bash -c 'n=0; while read l; do n=\$((n+1)); done; echo \$n' >/dev/null##"
  "rsync#rm -rf rs; rsync -a src/ rs/##"
  "gzip#gzip -c big.txt >big.gz##"
  "tar#tar cf src.tar src##"
  "git-commit#rm -rf repo; git init -q repo && cp src/* repo/ && git -C repo add . && git -C repo commit -qm bench##"
  "cp-r#rm -rf cpdst; cp -r src cpdst##"
  "make-j2#rm -f t*; make -s -j2 >/dev/null##"
  "sort#sort -n big.txt >sorted.txt##"
)

median_time() { # MODE DIR-PREFIX COMMAND [CONFIG]: median wall seconds of RUNS runs, MODE
  local mode=$1 prefix=$2 cmd=$3 config=${4:-} i # bare, or traced (with CONFIG if given)
  for i in $(seq "$runs"); do
    [[ $mode == bare ]] || rm -rf "$prefix-$i"
    local start end
    start=$(date +%s.%N)
    if [[ $mode == bare ]]; then
      sh -c "$cmd" >/dev/null 2>&1
    elif [[ -n $config ]]; then
      "$valley" run --dir "$prefix-$i" --config "$config" -- sh -c "$cmd" >/dev/null 2>&1
    else
      "$valley" run --dir "$prefix-$i" -- sh -c "$cmd" >/dev/null 2>&1
    fi
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
  done | sort -n | awk '{ t[NR] = $1 } END { printf "%.3f\n", t[int((NR + 1) / 2)] }'
}

summarize() { # REPORT.json PROGRAM MEASURED: markdown rows
  "$py" - "$@" <<'EOF'
import json, sys
rep = json.load(open(sys.argv[1]))
prog, measured = sys.argv[2], sys.argv[3]
def t(ns):
    return f"{ns / 1e9:.3f} s" if ns >= 1e8 else f"{ns / 1e6:.1f} ms"
fs = rep["findings"]
if not fs:
    print(f"| {prog} | – | no finding | – | {measured} |")
for i, f in enumerate(fs[:4], 1):
    saved = t(f["saved_wall_ns"]) if f["promise"] else "none promised (note)"
    site = f["site_text"].replace("|", "\\|")
    print(f"| {prog} | {i} | {f['rule']} ({f['severity']}) at {site}: {f['summary']} | {saved} | {measured if i == 1 else ''} |")
gaps = [b for b in rep["blind_spots"] if "coverage" in b and "complete" not in b]
print(f"<!-- {prog}: {len(rep['processes'])} process(es), {len(fs)} finding(s), "
      f"{len(rep['blind_spots'])} blind-spot line(s) -->")
EOF
}

echo "| program | rank | finding | predicted saving | measured saving (fix) |"
echo "|---|---:|---|---:|---:|"
for c in "${cases[@]}"; do
  IFS='#' read -r name cmd fix what <<<"$c"
  "$valley" run --dir "$work/run-$name-1" -- sh -c "$cmd" >/dev/null 2>&1
  "$valley" report --format json "$work/run-$name-1" >"$work/$name.json"
  measured="–"
  if [[ -n $fix ]]; then
    if [[ $fix == coalesce ]]; then
      "$valley" report --emit-config "$work/$name.toml" "$work/run-$name-1" >/dev/null
      before=$(median_time traced "$work/again-$name" "$cmd")
      after=$(median_time traced "$work/fix-$name" "$cmd" "$work/$name.toml")
    else
      before=$(median_time bare "" "$cmd")
      after=$(median_time bare "" "$fix")
    fi
    measured=$(printf '%.3f s (%s: %.3f → %.3f s)' "$(echo "$before - $after" | bc -l)" "$what" "$before" "$after")
  fi
  summarize "$work/$name.json" "$name" "$measured"
  if [[ -n ${KEEP:-} ]]; then
    mkdir -p "$KEEP"
    "$valley" report "$work/run-$name-1" >"$KEEP/$name.txt" 2>&1 || true
    cp "$work/$name.json" "$KEEP/"
  fi
  rm -rf "$work"/run-"$name"-* "$work"/again-"$name"-* "$work"/fix-"$name"-*
done
