#!/usr/bin/env bash
# Lints api/openapi.json with Redocly's OpenAPI linter (@redocly/cli from the npm
# registry, installed once into build/npm; Node.js from Debian if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.34.20
PREFIX=${BUILD_DIR:-build}/npm
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -x "$PREFIX/node_modules/.bin/redocly" ] || ! grep -q "\"version\": \"$VERSION\"" "$PREFIX/node_modules/@redocly/cli/package.json" 2>/dev/null; then
  mkdir -p "$PREFIX"
  npm install --no-audit --no-fund --loglevel=error --prefix "$PREFIX" "@redocly/cli@$VERSION" >/dev/null
fi
"$PREFIX/node_modules/.bin/redocly" lint --config api/redocly.yaml api/openapi.json
