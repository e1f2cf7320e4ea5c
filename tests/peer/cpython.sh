#!/usr/bin/env bash
# Peer check: CPython 3.11's own test suite bare and under libvalley.so, compared test by test.
# Usage: tests/peer/cpython.sh [--full] [--only MODULES] [--modes MODES] [--build DIR] [-j N] ...
# (--help lists every option; docs/peer-cpython.md explains the output.)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=/usr/bin/python3.11  # Debian's: the test suite package belongs to it, whatever PATH says

missing=()
for p in python3.11 libpython3.11-testsuite; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "cpython-peer: installing ${missing[*]}" >&2
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
command -v timeout >/dev/null || { echo "cpython-peer: timeout(1) is missing (coreutils)" >&2; exit 2; }
exec "$python" -I "$here/cpython.py" "$@"
