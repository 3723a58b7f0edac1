# Sourced by scripts/bench-http.sh and scripts/bench-http-growth.sh (not run by itself).
# bench_serve DIR: starts a real `bihuan serve` ($BIN) with its config and durable data in
# DIR, on 127.0.0.1:$PORT, bench/http/workflows deployed, no plugins, no rate limit, 4,096
# connections, THREADS (2) workers and one token $TOKEN (actor "bench", role "clerk");
# sets SERVER to its pid and returns once /readyz answers, or exits 1 with its log.
bench_serve() {
  mkdir -p "$1"
  ! curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "port $PORT is in use (set PORT)" >&2; exit 1; }
  cat > "$1/config.json" <<JSON
{"dataDir": "$1/data", "workflowDirs": ["$PWD/bench/http/workflows"], "plugins": {},
 "server": {"listen": "127.0.0.1:$PORT", "threads": ${THREADS:-2},
            "limits": {"ratePerSecond": 0, "connections": 4096},
            "tokens": [{"name": "bench", "sha256": "$("$BIN" token-hash "$TOKEN")", "actor": "bench", "roles": ["clerk"]}]}}
JSON
  "$BIN" serve --config "$1/config.json" 2> "$1/server.log" &
  SERVER=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return; sleep 0.1; done
  echo "the server did not become ready on port $PORT; its log:" >&2; cat "$1/server.log" >&2; exit 1
}
