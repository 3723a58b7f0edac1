#!/usr/bin/env bash
# Sets up (installs missing packages, builds) and runs the main job: the HTTP/JSON API
# server on the embedded default (data in ./data, the bundled workflows/ deployed, the
# bundled plugins loaded, 127.0.0.1:8080, an administrator token printed in the first log
# lines and kept in ./data/dev-admin-token). Idempotent; extra arguments go to
# `bihuan serve` (e.g. --listen 127.0.0.1:9090, --config FILE). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
BIN=${BUILD_DIR:-build}/cli/bihuan
exec "$BIN" serve --data-dir "${BIHUAN_DATA:-data}" "$@"
