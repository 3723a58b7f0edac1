#!/usr/bin/env bash
# Runs the Python example against an installed Bihuan (no compiler needed):
#   examples/python/run.sh <prefix>     (e.g. cmake --install build --prefix /tmp/bihuan)
# The package is <prefix>/share/bihuan/python/bihuan; it finds <prefix>/lib*/libbihuan.so.1
# by itself, BIHUAN_LIBRARY names it here anyway.
set -euo pipefail
prefix=$(realpath "${1:?usage: run.sh <prefix>}")
here=$(cd "$(dirname "$0")" && pwd)
lib=$(find "$prefix" -name 'libbihuan.so.1' -print -quit)
[ -n "$lib" ] || { echo "run.sh: no libbihuan.so.1 under $prefix" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
BIHUAN_LIBRARY="$lib" PYTHONPATH="$prefix/share/bihuan/python${PYTHONPATH:+:$PYTHONPATH}" \
  PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 "$here/main.py" "$work/data"
