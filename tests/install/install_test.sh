#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then the README's demo run from there with only the
# installed files (valley finds ../lib/libvalley.so by itself), and every man page rendered
# without a warning. usage: install_test.sh BUILD_DIR SOURCE_DIR DEMO_PROGRAM
set -uo pipefail
build=$1 src=$2 demo=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/valley-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
failed() { # MESSAGE
  echo "FAIL: $1" >&2
  fail=1
}

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  failed "cmake --install: $(tail -n 5 "$tmp/install.log")"

for f in bin/valley lib/libvalley.so share/doc/valley/valley.toml \
         share/doc/valley/export-jsonl.md share/doc/valley/export-perfetto.md \
         share/bash-completion/completions/valley \
         share/man/man1/valley.1 share/man/man1/valley-run.1 share/man/man1/valley-report.1 \
         share/man/man1/valley-dump.1 share/man/man1/valley-export.1 share/man/man7/libvalley.7; do
  [[ -f $prefix/$f ]] ||
    failed "not installed: $f"
done
cmp -s "$src/config/valley.toml" "$prefix/share/doc/valley/valley.toml" ||
  failed "share/doc/valley/valley.toml differs from config/valley.toml"

# The demo with the installed valley and nothing else: no VALLEY_SHIM, another working directory.
mkdir "$tmp/work"
(cd "$tmp/work" && env -u VALLEY_SHIM -u LD_PRELOAD "$prefix/bin/valley" run --dir run -- \
   "$demo" report.csv >/dev/null 2>"$tmp/run.err") ||
  failed "valley run of the demo: $(cat "$tmp/run.err")"
grep -q "^valley: traced [1-9][0-9]* process" "$tmp/run.err" ||
  failed "valley run traced nothing: $(cat "$tmp/run.err")"
(cd "$tmp/work" && env -u VALLEY_SHIM "$prefix/bin/valley" report --format json run \
   >"$tmp/report.json" 2>"$tmp/report.err") ||
  failed "valley report: $(cat "$tmp/report.err")"
for rule in small-reads small-writes write-gather; do
  grep -q "\"rule\": *\"$rule\"" "$tmp/report.json" ||
    failed "the installed valley's report has no $rule finding"
done
# It was the installed shim that was preloaded.
preload=$(cd "$tmp/work" && env -u VALLEY_SHIM "$prefix/bin/valley" run --dir run2 -- \
            sh -c 'printf %s "$LD_PRELOAD"' 2>/dev/null)
[[ $preload == "$(realpath "$prefix/lib/libvalley.so")" ]] ||
  failed "LD_PRELOAD was '$preload', not the installed lib/libvalley.so"

# Man pages: groff's strictest warnings, man-db's rendering, and man finding them by name.
for page in "$prefix"/share/man/man1/*.1 "$prefix"/share/man/man7/libvalley.7; do
  warnings=$(groff -ww -man -z "$page" 2>&1)
  [[ -z $warnings ]] ||
    failed "groff warns on $(basename "$page"): $warnings"
  warnings=$(MANWIDTH=80 man --warnings -P cat -l "$page" 2>&1 >/dev/null)
  [[ -z $warnings ]] ||
    failed "man -l warns on $(basename "$page"): $warnings"
done
for name in valley valley-run valley-report valley-dump valley-export libvalley; do
  [[ -n $(MANPATH="$prefix/share/man" man -w "$name" 2>/dev/null) ]] ||
    failed "man cannot find $name under the prefix"
done
# libvalley(7) documents every setting of include/valley/settings.def.
text=$(MANWIDTH=200 man -P cat -l "$prefix/share/man/man7/libvalley.7" 2>/dev/null)
for var in $(grep -o '"VALLEY_[A-Z_]*"' "$src/include/valley/settings.def" | tr -d '"'); do
  grep -Eq "^ *$var( |\$)" <<<"$text" ||
    failed "libvalley(7) has no entry for $var"
done
for key in $(grep -o '"\(advisor\|coalesce\)\.[a-z_]*"' "$src/include/valley/settings.def" | tr -d '"'); do
  grep -Eq "^ *${key#*.}( |\$)" <<<"$text" ||
    failed "libvalley(7) has no entry for $key"
done

[[ $fail -eq 0 ]] && echo "install test: ok"
exit $fail
