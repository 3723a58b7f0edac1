#!/usr/bin/env bash
# Builds this example against an installed Bihuan and runs it (scripts/install-test.sh).
#   examples/host-server/run.sh PREFIX
set -euo pipefail
prefix=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S "$here" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
# The installed plugins: an application's own binary is not beside them.
BIHUAN_PLUGIN_PATH="$prefix/lib/bihuan/plugins" "$work/build/bihuan-host-example" "$work/data" \
  2>"$work/log.jsonl" | tee "$work/out.jsonl"
grep -q '"healthz":200' "$work/out.jsonl"
grep -q '"msg":"stopped cleanly"' "$work/log.jsonl"
