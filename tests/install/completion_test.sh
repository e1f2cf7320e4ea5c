#!/usr/bin/env bash
# The bash completion: sourced into a plain bash (no bash-completion package needed), its
# candidates for a few command lines. usage: completion_test.sh COMPLETION_FILE
set -uo pipefail
file=$1
fail=0
# Prints the candidates for the words given, the last one being completed, one per line, sorted.
candidates() {
  bash --norc --noprofile -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _valley valley "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf "%s\n" "${COMPREPLY[@]}" | sort' completion "$file" "$@"
}
expect() { # EXPECTED WORDS...: candidates, space-separated
  local want=$1; shift
  local got
  got=$(candidates "$@" | tr '\n' ' ' | sed 's/ $//')
  if [[ $got != "$want" ]]; then
    echo "FAIL: ${*}<TAB>: got '$got', expected '$want'" >&2
    fail=1
  fi
}
expect "--help --version dump export help report run" valley ""
expect "export" valley ex
expect "dump" valley d
expect "--format --from" valley export --f
expect "jsonl perfetto" valley export --format ""
expect "perfetto" valley export --format p
expect "--events" valley dump --ev
expect "all" valley dump --events a
expect "--coalesce --config" valley run --co
expect "html json text" valley report --format ""
expect "--output" valley report --ou
expect "--command --compare --config" valley report --co
expect "calls saving time" valley report --sort ""
expect "--min-saving" valley report --mi
expect "calls time" valley dump --sort ""
expect "--pid" valley dump --p
expect "--site --sort" valley dump --s
expect "--command" valley export --com
expect "report" valley help rep
# Run directories: directories only.
dir=$(mktemp -d "${TMPDIR:-/tmp}/valley-completion.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/valley.app.1" "$dir/valley.app.2"
touch "$dir/valley.notes"
expect "$dir/valley.app.1 $dir/valley.app.2" valley report "$dir/valley."
# After `valley run --`, the command is completed from the PATH.
[[ $(candidates valley run -- bas) == *bash* ]] || { echo "FAIL: valley run -- bas<TAB> has no bash" >&2; fail=1; }
[[ $fail -eq 0 ]] && echo "completion test: ok"
exit $fail
