#!/usr/bin/env bash
# Shows that cpython.py catches what it is for: runs the canary module (tests/peer/canary), which
# fails, hangs, dies and flakes under valley's modes on purpose, and checks that the check exits 1
# and reports exactly those differences, each with the right verdict after its rerun.
# Needs /usr/bin/python3.11 and a build (libvalley.so); not the CPython test suite package.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/valley-peer-selftest.XXXXXX")
trap 'rm -rf "$out"' EXIT
status=0
/usr/bin/python3.11 -I "$here/cpython.py" --list "$here/canary/canary.list" \
  --testdir "$here/canary" --out "$out" -j2 "$@" > "$out/stdout" || status=$?
if [[ $status -ne 1 ]]; then
  cat "$out/stdout"
  echo "peer selftest: FAILED: the check exited $status, expected 1 (differences found)" >&2
  exit 1
fi
/usr/bin/python3.11 -I - "$out/results.json" <<'PY' || { cat "$out/stdout"; exit 1; }
import json, sys
r = json.load(open(sys.argv[1]))
t = "test_peer_canary.Canary."
o = "test_peer_canary.OrderDependent."
want = {
    ("record", "(outside any test)", "ok", "hang", "differs"),
    ("record", t + "test_b_fails_under_valley", "pass", "fail", "differs"),
    ("record", t + "test_g_subtest_fails_under_valley", "pass", "fail", "differs"),
    ("record", o + "test_e_order_flake", "pass", "fail", "flake"),
    ("record", "test_peer_canary.ClassContext.test_2_fails_after_classmate", "pass", "fail",
     "differs"),
    ("coalesce", t + "test_b_fails_under_valley", "pass", "fail", "differs"),
    ("coalesce", t + "test_d_dies_under_default_coalescer", "pass", "died", "differs"),
    ("coalesce", t + "test_g_subtest_fails_under_valley", "pass", "fail", "differs"),
    ("coalesce", o + "test_e_order_flake", "pass", "fail", "flake"),
    ("coalesce-all", t + "test_b_fails_under_valley", "pass", "fail", "differs"),
    ("coalesce-all", t + "test_c_hangs_under_all_kinds", "pass", "hang", "differs"),
    ("coalesce-all", t + "test_g_subtest_fails_under_valley", "pass", "fail", "differs"),
    ("coalesce-all", o + "test_e_order_flake", "pass", "fail", "flake"),
    ("coalesce-all", o + "test_h_order_hang", "pass", "hang", "flake"),
}
got = {(d["mode"], d["test"], d["bare"], d["valley"], d["verdict"]) for d in r["differences"]}
# A hang under valley alone gets three tries (bare once, then coalesce-all three times).
for d in r["differences"]:
    if d["test"].endswith("test_h_order_hang") and d["rerun"] != ["pass"] * 4:
        got.add(("test_h_order_hang reruns", str(d["rerun"]), "", "", ""))
# The runs went on past the hang and the death: the last test has an outcome in every mode.
for key, run in r["modules"].items():
    if run["outcomes"].get(t + "test_z_last") != "pass":
        got.add(("missing test_z_last", key, "", "", ""))
if got != want:
    for x in sorted(want - got):
        print("peer selftest: missing:", x, file=sys.stderr)
    for x in sorted(got - want):
        print("peer selftest: unexpected:", x, file=sys.stderr)
    sys.exit(1)
print(f"peer selftest: ok ({len(want)} differences found and classified as planted)")
PY
