#!/usr/bin/env bash
# Builds the C example against an installed Bihuan and runs it:
#   examples/c/run.sh <prefix>     (e.g. cmake --install build --prefix /tmp/bihuan)
set -euo pipefail
prefix=$(realpath "${1:?usage: run.sh <prefix>}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S "$here" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
cmake --build "$work/build"
# The same program through pkg-config (bihuan-c.pc), as a Makefile would build it.
PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/$(gcc -dumpmachine)/pkgconfig" \
  sh -c 'cc -std=c99 -Wall -Wextra -o "$1" "$2" $(pkg-config --cflags --libs bihuan-c)' \
  sh "$work/pkg-config-example" "$here/main.c"
mkdir -p "$work/data"
# The installed library is found through the executable's RUNPATH (CMake sets it for an
# imported target); LD_LIBRARY_PATH covers a prefix outside the system's search path anyway.
LD_LIBRARY_PATH="$prefix/lib:$prefix/lib/$(gcc -dumpmachine 2>/dev/null || echo x):${LD_LIBRARY_PATH:-}" \
  "$work/build/bihuan-c-example" "$work/data"
