#!/usr/bin/env bash
# The failure test of Bihuan on PostgreSQL (issue 26; tests/cluster/cluster_test.py): a
# primary and a synchronous standby in temporary directories, a `bihuan serve` node on
# them, a load of starts, events and timers with idempotency keys, SIGKILL of the node,
# loss of the primary and promotion of the standby; ends with "N passed, M failed".
# ctest runs it in a quick setting (cluster.failover); this is the long one by default.
#   scripts/cluster-test.sh [--instances 200] [--bumps 10] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
[ -x "$BUILD_DIR/cli/bihuan" ] || { ./scripts/setup.sh && cmake --build "$BUILD_DIR" --target bihuan; }
if [ $# -eq 0 ]; then set -- --instances 200 --bumps 10; fi
exec python3 tests/cluster/cluster_test.py --bihuan "$BUILD_DIR/cli/bihuan" "$@"
