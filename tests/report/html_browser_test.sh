#!/usr/bin/env bash
# `valley report --format html` in a real browser: traces the demo, writes report.html, renders
# it with headless Chromium and checks that the page's sections and plots are in the DOM, that
# its script ran, and that the page logged nothing to the console (an uncaught exception or a
# console.error both show up there). The page and a screenshot stay in OUT_DIR as artifacts.
# A missing chromium fails the test: CI installs it (.ci/setup).
# usage: html_browser_test.sh VALLEY SHIM DEMO OUT_DIR
set -euo pipefail
valley=$1 shim=$2 demo=$3 out=$4

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
command -v chromium >/dev/null || fail "chromium is not installed (apt-get install chromium; .ci/setup lists it)"

rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/valley-html-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

VALLEY_SHIM=$shim timeout 60 "$valley" run --dir "$work/run" -- "$demo" "$work/out.csv" >/dev/null
timeout 60 "$valley" report --format html -o "$out/report.html" "$work/run"
[[ -s $out/report.html ]] || fail "no report.html"
# The page is self-contained: nothing it would fetch.
if grep -Eqi '(src|href)="(https?:)?//' "$out/report.html"; then
  fail "report.html refers to the network"
fi

# The plots are in the page as written, before any script runs (they work without JavaScript).
static=$(grep -o '<svg class="chart"' "$out/report.html" | wc -l)
((static >= 8)) || fail "report.html holds $static histograms before any script ran, expected 8"
grep -q 'class="bar-hl" d="M' "$out/report.html" || fail "no highlighted calls in report.html"

# Chromium wants a writable home and profile; keep both out of the user's.
export HOME=$work/home
mkdir -p "$HOME"
browser=(chromium --headless=new --no-sandbox --disable-gpu --no-first-run
         --user-data-dir="$work/profile" --enable-logging=stderr --v=0)
page="file://$(cd "$out" && pwd)/report.html"
timeout 90 "${browser[@]}" --dump-dom "$page" >"$out/dom.html" 2>"$out/chromium-dom.log" ||
  fail "chromium --dump-dom failed: $(tail -n 5 "$out/chromium-dom.log")"
timeout 90 "${browser[@]}" --window-size=1100,2400 --screenshot="$out/report.png" "$page" \
  >/dev/null 2>"$out/chromium-screenshot.log" ||
  fail "chromium --screenshot failed: $(tail -n 5 "$out/chromium-screenshot.log")"
[[ -s $out/report.png ]] || fail "no screenshot"

# Console messages: the page logs nothing when it works.
if grep -h 'CONSOLE' "$out/chromium-dom.log" "$out/chromium-screenshot.log"; then
  fail "the page wrote to the console (above)"
fi

dom=$out/dom.html
expect() { # expect COUNT_AT_LEAST PATTERN WHAT
  local n
  n=$(grep -o -- "$2" "$dom" | wc -l)
  ((n >= $1)) || fail "$3: expected at least $1 of '$2' in the DOM, found $n"
}
# The script ran to its end (it marks the root element last).
expect 1 'data-scripts="ran"' "the page's script"
for id in findings timeline coverage blind-spots; do
  expect 1 "<section id=\"$id\"" "section $id"
done
# The demo has four findings (report.c's small writes twice, small reads, write-gather), each
# with a size histogram, a gap histogram and its calls on the run's timeline.
expect 4 '<details class="finding' "findings"
expect 8 '<svg class="chart"' "size and gap histograms"
expect 4 'aria-label="timeline of the finding' "per-finding timelines"
expect 2 'aria-label="timeline of pid' "per-process timelines"
expect 1 'class="bar-hl" d="M' "highlighted calls in a timeline"
expect 1 'emit_row at report.c:28' "the demo's first finding"
# The zoom buttons are shown only by the script: visible in the rendered DOM.
if grep -q 'class="zoom nojs-hide"' "$dom"; then fail "the script did not show the zoom buttons"; fi
size=$(stat -c %s "$out/report.html")
echo "ok: report.html $size bytes, screenshot $(stat -c %s "$out/report.png") bytes in $out"
