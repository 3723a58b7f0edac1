#!/usr/bin/env bash
# Sets up the peer that bench_rectification --variant xstate-sqlite-full runs: XState and
# better-sqlite3 (both MIT) from the npm registry at the versions package-lock.json pins,
# and better-sqlite3's native module built from its source (with its bundled SQLite)
# against this machine's Node.js headers: no prebuilt binary is fetched. Idempotent; a
# benchmark tool, not part of the build or of the tests.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update && apt-get install -y nodejs npm
fi
[ -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ] && exit 0
npm ci --ignore-scripts --no-audit --no-fund
gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
if [ ! -f "$gyp" ]; then
  command -v node-gyp >/dev/null || apt-get install -y node-gyp
  gyp="$(command -v node-gyp)"
fi
[ -f /usr/include/node/node.h ] || apt-get install -y libnode-dev
(cd node_modules/better-sqlite3 && node "$gyp" rebuild --release --nodedir=/usr)
