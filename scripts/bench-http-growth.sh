#!/usr/bin/env bash
# Open-loop HTTP latency benchmark (Debian): a real `bihuan serve` on loopback, durable LMDB
# under /var/tmp, driven by bench/bench_http_load (open loop: latency from each request's due
# time, so queueing counts; the first second of each run is skipped as warm-up).
#   [RATE=10000] [SECS=10] [CONNS=64] [GROWTH_MAX=1000000] [BUILD_DIR=build] scripts/bench-http-growth.sh
# a. Fixed rate, fresh server: durable starts, events to the instances they created, GETs,
#    each at RATE req/s for SECS s on CONNS connections; one summary line each.
# b. Growth, fresh server: populate (closed loop) to 10,000, 100,000 and 1,000,000 instances
#    (GROWTH_MAX stops earlier; the last level is capped at it); at each level GET and event
#    latency at RATE over the whole population. Table: latency, achieved rates, server CPU per
#    request, server RSS (VmRSS) and data.mdb size.
# Server CPU per request: user + system ticks of the server from /proc/<pid>/stat during a
# run, divided by the answers it gave (as scripts/bench-http.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }
BIN=${BUILD_DIR:-build}/cli/bihuan
LOAD=${BUILD_DIR:-build}/bench/bench_http_load
for b in "$BIN" "$LOAD"; do
  [ -x "$b" ] || { echo "missing $b: cmake --build ${BUILD_DIR:-build} --target bihuan bench_http_load" >&2; exit 1; }
done
RATE=${RATE:-10000}
SECS=${SECS:-10}
CONNS=${CONNS:-64}
GROWTH_MAX=${GROWTH_MAX:-1000000}
PORT=${PORT:-18182}
TOKEN=bench-token
WORK=$(mktemp -d /var/tmp/bihuan-bench-growth.XXXXXX)   # not /tmp: it may be tmpfs
SERVER=
stop() { [ -z "$SERVER" ] || { kill -TERM "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true; SERVER=; }; }
trap 'stop; rm -rf "$WORK"' EXIT
TICK=$(getconf CLK_TCK)

source scripts/bench-server.sh
cpu() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }   # server user+system ticks
# load ARGS...: one bench_http_load run; sets J (its JSON line) and CPU (server us per answer).
load() {
  local before after
  before=$(cpu)
  J=$("$LOAD" --port "$PORT" --token "$TOKEN" --connections "$CONNS" --json "$@")
  after=$(cpu)
  CPU=$(awk -v t="$((after - before))" -v r="$(jq .completed <<< "$J")" -v hz="$TICK" \
        'BEGIN {printf "%.1f", r ? t / hz / r * 1e6 : 0}')
}
# rate ARGS...: load at RATE for SECS.
rate() { load --rate "$RATE" --seconds "$SECS" "$@"; }
# errs: the last run's errors as status:count,... (io: transport errors), or "none".
errs() {
  jq -r '[.errors | to_entries[] | "\(.key):\(.value)"]
         + (if .unfinished + .unsent > 0 then ["unfinished:\(.unfinished)", "unsent:\(.unsent)"] else [] end)
         | if length == 0 then "none" else join(",") end' <<< "$J"
}
summary() {
  printf '%-7s %8s req/s  p50 %7s  p90 %7s  p99 %7s  p99.9 %7s  max %8s ms' \
    "$1" $(jq -r '[.achievedRate, .p50Ms, .p90Ms, .p99Ms, .p999Ms, .maxMs] | @tsv' <<< "$J")
  printf '  errors %s  server CPU/req %s us  (client late p99 %s ms)\n' "$(errs)" "$CPU" "$(jq .clientLateP99Ms <<< "$J")"
}

echo "== a. fixed rate: $RATE req/s for ${SECS}s each, $CONNS connections" \
     "(open loop; latency from the due time; first 1 s skipped)"
bench_serve "$WORK/a"
rate --mode start --out "$WORK/a/ids.txt"; summary starts
rate --mode event --ids "$WORK/a/ids.txt"; summary events
rate --mode get --ids "$WORK/a/ids.txt"; summary GET
stop

echo "== b. growth: GET and events at $RATE req/s for ${SECS}s over all instances," \
     "$CONNS connections (fresh server)"
bench_serve "$WORK/b"
ROWS=() have=0
for level in 10000 100000 1000000; do
  (( level < GROWTH_MAX )) || level=$GROWTH_MAX
  load --mode populate --n $((level - have)) --out "$WORK/b/ids.txt"
  have=$level
  echo "   populated to $have instances: $(jq .achievedRate <<< "$J") starts/s closed loop," \
       "errors $(errs), server CPU/req $CPU us"
  rate --mode get --ids "$WORK/b/ids.txt"
  get=$(jq -r '"\(.p50Ms) / \(.p99Ms)"' <<< "$J") get_rate=$(jq .achievedRate <<< "$J") get_cpu=$CPU get_err=$(errs)
  rate --mode event --ids "$WORK/b/ids.txt"
  ev=$(jq -r '"\(.p50Ms) / \(.p99Ms)"' <<< "$J") ev_rate=$(jq .achievedRate <<< "$J") ev_cpu=$CPU ev_err=$(errs)
  rss=$(awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$SERVER/status")
  mdb=$(stat -c %s "$WORK/b/data/data.mdb" | awk '{printf "%.0f", $1 / 1048576}')
  ROWS+=("$(printf '| %9s | %15s | %15s | %8s / %8s | %5s / %5s | %s / %s | %6s | %8s |' "$have" "$get" "$ev" \
           "$get_rate" "$ev_rate" "$get_cpu" "$ev_cpu" "$get_err" "$ev_err" "$rss" "$mdb")")
  (( have < GROWTH_MAX )) || break
done
echo "| instances | GET p50/p99 ms | event p50/p99 ms | achieved GET / event req/s" \
     "| CPU/req us GET / event | errors GET / event | RSS MB | data.mdb MB |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
