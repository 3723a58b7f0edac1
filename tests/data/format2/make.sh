#!/usr/bin/env bash
# Makes the format-2 data directory that tests/runtime/outbox_index_test.cpp migrates, with a
# Bihuan binary that writes storage format 2 (commit 4a89fa9 made the fixture; any build after c2c6970 and before storage format 3):
#   tests/data/format2/make.sh /path/to/old/bihuan
# Four instances of notify.json each write three messages: one for "waiting" (no plugin:
# never attempted), one for "retrying" (a refused connection, retried in up to an hour)
# and one for "dead" (one attempt, then a dead letter; the newest message is one of them).
# Writes data.mdb (compacted) and expected.json (the old binary's `bihuan outbox`) here.
set -euo pipefail
old=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
b() { "$old" "$@" -D "$work/d"; }
b deploy "$here/notify.json" >/dev/null
for i in 1 2 3 4; do b start m.notify --data "{\"n\":$i}" >/dev/null; done
# Exits 1: the retrying messages wait for their backoff.
b dispatch --config "$here/dispatch.json" --once --max-wait-ms 0 >/dev/null 2>&1 || true
b verify >/dev/null
rm -rf "$here/data.mdb" "$work/copy"
b backup "$work/copy" >/dev/null
cp "$work/copy/data.mdb" "$here/data.mdb"
b outbox --limit 1000 --format json > "$here/expected.json"
