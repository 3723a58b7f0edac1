#!/usr/bin/env bash
# The install, as a user gets it (docs/embedding.md, docs/operations.md):
#  1. `cmake --install` of the build into a temporary prefix;
#  2. the installed bihuan finds its plugins, workflows and calendars with no flags;
#  3. every example in examples/*/ builds outside the tree against that prefix, and runs:
#     examples/<x>/run.sh PREFIX when the example has one (it builds and runs itself),
#     else a CMake configure + build with CMAKE_PREFIX_PATH=PREFIX;
#  4. the Debian package (cpack -G DEB) is built and checked with lintian (errors fail;
#     the warnings left are explained in docs/operations.md).
# scripts/test.sh runs it after ctest. Prints how long it took.
#   scripts/install-test.sh            (BUILD_DIR=build by default)
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
BUILD_DIR=${BUILD_DIR:-build}
build=$(realpath "$BUILD_DIR")
work=$(mktemp -d /tmp/bihuan-install-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

# What the install holds (quick when test.sh's build made it already).
cmake --build "$build" -j "$(nproc)" --target bihuan bihuan_plugins bihuan_engine_shared \
  bihuan_api_shared bihuan_changelog
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for f in bin/bihuan lib/libbihuan_engine.so lib/libbihuan_engine.a lib/libbihuan_server.so \
  lib/libbihuan_server.a include/bihuan/engine.hpp include/bihuan/node.hpp \
  include/bihuan/plugin/sdk.hpp lib/cmake/Bihuan/BihuanConfig.cmake lib/pkgconfig/bihuan.pc \
  lib/bihuan/plugins/notify.log.so share/bihuan/workflows/calendars/cn-mainland.json \
  share/bihuan/workflows/schema/definition.schema.json; do
  [ -e "$prefix/$f" ] || { echo "install-test: $f is not installed" >&2; exit 1; }
done
echo "install-test: installed into $prefix ($(du -sh "$prefix" | cut -f1))"

# The installed bihuan, run from elsewhere: bundled workflows, calendars and plugins found.
serve_failed() {
  echo "install-test: the installed bihuan: $1" >&2
  cat "$work/serve.log" >&2 2>/dev/null || true
  exit 1
}
cd "$work"
"$prefix/bin/bihuan" validate "$prefix/share/bihuan/workflows/examples/leave-request.json" \
  >"$work/serve.log" 2>&1 || serve_failed "validate failed"
"$prefix/bin/bihuan" serve --data-dir "$work/serve-data" --listen 127.0.0.1:0 2>"$work/serve.log" &
pid=$!
for _ in $(seq 1 300); do
  grep -q '"msg":"listening"' "$work/serve.log" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" || serve_failed "serve exited with $?"
grep -q '"msg":"stopped cleanly"' "$work/serve.log" || serve_failed "serve did not stop cleanly"
# (food-safety/scheduler.json needs the master-data source the embedded default lacks,
# in a build tree too: it is the one that fails.)
grep '"msg":"workflows deployed"' "$work/serve.log" | grep -Eq '"deployed":[1-9]' ||
  serve_failed "serve did not deploy its bundled workflows"
grep '"msg":"workflows deployed"' "$work/serve.log" | grep -q "$prefix/share/bihuan/workflows" ||
  serve_failed "serve did not find the installed workflows"
grep '"msg":"plugins loaded"' "$work/serve.log" | grep -q '"notify-log"' ||
  serve_failed "serve did not load the bundled notify.log"
cd - >/dev/null
echo "install-test: the installed bihuan serves with its bundled workflows and plugins"

# pkg-config: the embedding example compiled with its flags alone.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046
g++ examples/embed/embed.cpp $(pkg-config --cflags --libs bihuan) -Wl,-rpath,"$prefix/lib" \
  -o "$work/embed-pkg-config"
"$work/embed-pkg-config" "$work/pkg-config-data" | tail -1 | grep -q '"verified":true'
pkg-config --exists bihuan-server
echo "install-test: pkg-config bihuan builds and runs the embedding example"

# The examples, outside the tree.
for dir in examples/*/; do
  name=$(basename "$dir")
  t0=$(date +%s)
  if [ -x "$dir/run.sh" ]; then
    "$dir/run.sh" "$prefix" >"$work/example-$name.log" 2>&1 ||
      { echo "install-test: examples/$name/run.sh failed:" >&2; cat "$work/example-$name.log" >&2; exit 1; }
  elif [ -f "$dir/CMakeLists.txt" ]; then
    { cmake -S "$dir" -B "$work/example-$name" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_BUILD_TYPE=Release && cmake --build "$work/example-$name"; } \
      >"$work/example-$name.log" 2>&1 ||
      { echo "install-test: examples/$name does not build against the install:" >&2; cat "$work/example-$name.log" >&2; exit 1; }
  else
    continue
  fi
  echo "install-test: examples/$name OK ($(( $(date +%s) - t0 )) s)"
done

# The Debian package, checked by lintian.
if [ "${BIHUAN_DEB:-1}" != 0 ]; then
  (cd "$build" && cpack -G DEB -B "$work/deb" >"$work/cpack.log" 2>&1) ||
    { cat "$work/cpack.log" >&2; exit 1; }
  deb=$(ls "$work"/deb/*.deb)
  echo "install-test: $(basename "$deb") ($(du -h "$deb" | cut -f1))"
  lintian --fail-on error "$deb" | tee "$work/lintian.log"
  echo "install-test: lintian: $(grep -c '^E:' "$work/lintian.log" || true) errors, $(grep -c '^W:' "$work/lintian.log" || true) warnings"
fi
echo "install-test: done in $(( $(date +%s) - started )) s"
