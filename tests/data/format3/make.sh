#!/usr/bin/env bash
# Makes the format-3 data directory that tests/runtime/access_index_test.cpp upgrades to
# format 4 (reader and unit indexes), with a Bihuan binary that writes storage format 3
# (commit bcd8a6d made the fixture; any build from format 3 until format 4):
#   tests/data/format3/make.sh /path/to/old/bihuan [DIR]
# DIR (default: this script's) holds case.json and receives data.mdb: tests/data/format4
# is made by this same recipe with a format-4 binary.
# Five instances of case.json (business keys c1..c5, data {"n": i}); c2 and c4 closed.
# Writes data.mdb (compacted) here.
set -euo pipefail
old=$1
here=$(cd "${2:-$(dirname "$0")}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
b() { "$old" "$@" -D "$work/d"; }
b deploy "$here/case.json" >/dev/null
for i in 1 2 3 4 5; do b start m.case --key "c$i" --data "{\"n\":$i}" >/dev/null; done
for i in 2 4; do b send --key "c$i" close --actor clerk-1 --role clerk >/dev/null; done
b verify >/dev/null
rm -rf "$here/data.mdb" "$work/copy"
b backup "$work/copy" >/dev/null
cp "$work/copy/data.mdb" "$here/data.mdb"
