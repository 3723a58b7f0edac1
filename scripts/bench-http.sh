#!/usr/bin/env bash
# HTTP API benchmark with wrk (Debian): a real `bihuan serve` on loopback, durable storage.
#   scripts/bench-http.sh [SECONDS] [CONNECTIONS]   (defaults 10 s, 64 connections)
# Prints wrk's summaries for: durable starts, events to distinct instances, GET instance.
# Figures and how to read them: docs/PERFORMANCE.md ("HTTP API").
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
BIN=${BUILD_DIR:-build}/cli/bihuan
SECS=${1:-10}
CONNS=${2:-64}
WORK=$(mktemp -d /tmp/bihuan-bench-http.XXXXXX)
export TOKEN=bench-token IDS_DIR=$WORK
PORT=${PORT:-18181}
SERVER=
trap '[ -z "$SERVER" ] || { kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; }; rm -rf "$WORK"' EXIT
source scripts/bench-server.sh
bench_serve "$WORK"
URL=http://127.0.0.1:$PORT
TICK=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }   # server user+system ticks
# run NAME SCRIPT CONNS: wrk's summary plus the server's CPU time per request.
run() {
  local before after out reqs
  before=$(cpu)
  out=$(wrk -t"$(( $3 < 2 ? 1 : 2 ))" -c"$3" -d"${SECS}s" --latency -s "bench/http/$2" "$URL")
  after=$(cpu)
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "== $1, $3 connections, ${SECS}s"
  echo "$out" | grep -E 'Requests/sec|Latency  |50%|90%|99%|Non-2xx|Socket errors'
  awk -v t="$((after - before))" -v r="$reqs" -v hz="$TICK" 'BEGIN {printf "   server CPU per request: %.1f us\n", t / hz / r * 1e6}'
}
run "durable starts (POST /v1/instances)" start.lua "$CONNS"
echo "   instances: $(cat "$WORK"/ids-*.txt | wc -l)"
run "events to distinct instances (POST /v1/instances/{id}/events)" event.lua "$CONNS"
run "GET /v1/instances/{id}" get.lua "$CONNS"
if [ -n "${SWEEP:-}" ]; then
  for c in 1 16 64 256 1024; do run "GET /v1/instances/{id}" get.lua "$c"; done
  for c in 1 16 64 256 1024; do run "events to distinct instances" event.lua "$c"; done
fi
curl -s "$URL/metrics" | grep -E '^bihuan_(group_commit_batch_size|step_latency_seconds)_(sum|count)|^bihuan_commits_total'
