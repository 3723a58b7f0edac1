#!/usr/bin/env bash
# Sets up (installs missing packages, builds) and runs the main job: the HTTP/JSON API
# server with the food-safety package on the seeded demo city (bihuan serve --demo): on
# the first start it simulates the scheme up to 15 May 2023 into ./data/demo, then serves
# on 127.0.0.1:8080 with the engine clock running on from that moment, and prints tokens
# for the office administrator and a cadre and a regulator station with waiting tasks
# (kept in ./data/demo/demo-tokens.json). Idempotent: later starts reuse the data.
# Extra arguments go to `bihuan serve` (e.g. --listen 127.0.0.1:9090). Ctrl-C stops it.
# Without the demo: build/cli/bihuan serve (embedded default, see docs/operations.md).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh bihuan bihuan_plugins  # what serving needs: no tests, no benchmarks
BIN=${BUILD_DIR:-build}/cli/bihuan
exec "$BIN" serve --demo --data-dir "${BIHUAN_DATA:-data/demo}" "$@"
