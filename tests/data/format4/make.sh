#!/usr/bin/env bash
# Makes the format-4 data directory that tests/runtime/retention_test.cpp upgrades to
# format 5 (archived instances' last records), with a Bihuan binary that writes format 4
# (commit 0d14913 made the fixture; any build of format 4):
#   tests/data/format4/make.sh /path/to/old/bihuan
# Five instances of case.json (business keys c1..c5, data {"n": i}); c2 and c4 closed:
# the recipe of tests/data/format3/make.sh, writing data.mdb here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../format3/make.sh" "$1" "$here"
