#!/usr/bin/env bash
# Installs what Bihuan needs to build and test on Debian 12, then configures and builds
# everything, or only the targets named as arguments (scripts/run.sh: the server and its
# plugins). Idempotent: packages already present are not reinstalled; an up-to-date build
# is a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake ninja-build pkg-config git
      libboost1.81-dev
      nlohmann-json3-dev liblmdb-dev lmdb-utils
      googletest libgtest-dev libgmock-dev libbenchmark-dev
      libkainjow-mustache-dev libvalijson-dev libcli11-dev
      libssl-dev libmagic-dev libjpeg62-turbo-dev libpng-dev libsqlite3-dev libspdlog-dev libjemalloc-dev libzstd-dev
      tzdata clang clang-format libclang-rt-14-dev
      python3-aiosmtpd openssl    # plugin tests: a real SMTP server; a test TLS certificate
      chromium chromium-driver python3-selenium fonts-noto-cjk  # the console's browser test
      libgraphviz-dev  # graph layout for the console (cgraph + gvc)
      postgresql-15 libpq-dev  # the PostgreSQL store (engine/src/pg); its tests run a real server
      lintian  # scripts/install-test.sh checks the .deb
      python3-pytest)  # the Python binding's tests (bindings/python)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE"
fi
if [ $# -gt 0 ]; then
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target "$@"
else
  cmake --build "$BUILD_DIR" -j "$(nproc)"
fi
