#!/usr/bin/env bash
# Builds this example against an installed Bihuan and runs it (scripts/install-test.sh).
#   examples/embed/run.sh PREFIX
set -euo pipefail
prefix=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S "$here" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/bihuan-embed-example" "$work/data" | tee "$work/out.jsonl"
grep -q '"verified":true' "$work/out.jsonl"
# The same against the static library.
cmake -S "$here" -B "$work/static" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  -DBIHUAN_EXAMPLE_STATIC=ON >/dev/null
cmake --build "$work/static" >/dev/null
"$work/static/bihuan-embed-example" "$work/static-data" | tail -1 | grep -q '"verified":true'
! ldd "$work/static/bihuan-embed-example" | grep -q libbihuan_engine
