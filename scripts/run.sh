#!/usr/bin/env bash
# Sets up (installs missing packages, builds) and runs the main job on an embedded
# default data directory (./data). Idempotent.
#
# Until the HTTP server lands (issue 5), the main job is the CLI on the bundled
# workflows: validate them all, deploy them into ./data, and list what is deployed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
BIN=${BUILD_DIR:-build}/cli/bihuan
mapfile -t DEFS < <(find workflows -name '*.json' -not -path '*/schema/*' -not -path '*/calendars/*' | sort)
"$BIN" validate "${DEFS[@]}"
if "$BIN" deploy --help >/dev/null 2>&1; then
  "$BIN" deploy --data "${BIHUAN_DATA:-data}" "${DEFS[@]}"
fi
