#!/usr/bin/env bash
# Sets up (installs missing Debian packages, configures, builds) and runs every test.
# Idempotent; quick when already built. CI runs exactly this (via .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
BUILD_DIR=$BUILD_DIR ./scripts/lint-openapi.sh
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" --timeout 600
