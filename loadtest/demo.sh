#!/usr/bin/env bash
# `make demo`: starts a local Redis and auctiond, shows that they answer, and keeps them running
# until Ctrl-C (or DEMO_SECONDS seconds). Stops both by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_DIR=${RUN_DIR:-run/demo}
REDIS_PORT=${REDIS_PORT:-6390}
LISTEN=${AUCTIOND_LISTEN:-127.0.0.1:8090}
mkdir -p "$RUN_DIR"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

redis-server Config/redis.conf --port "$REDIS_PORT" --dir "$PWD/$RUN_DIR" >"$RUN_DIR/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

AUCTIOND_LISTEN=$LISTEN AUCTIOND_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
  .build/release/auctiond serve >"$RUN_DIR/auctiond.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fs "http://$LISTEN/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

echo "Redis:     redis://127.0.0.1:$REDIS_PORT (logs in $RUN_DIR/redis.log)"
echo "auctiond:  http://$LISTEN (logs in $RUN_DIR/auctiond.log)"
echo "health:    $(curl -s "http://$LISTEN/healthz")"
echo "time:      $(curl -s "http://$LISTEN/api/v1/time")"
echo
echo "auctions:  $(curl -s "http://$LISTEN/api/v1/auctions")"
echo
echo "Not there yet: the tender sandbox, planning auctions from it, simulated bidders and the web"
echo "page arrive with issues 6-8; this demo then runs a whole accelerated auction and prints the"
echo "results the tender API received. The live service (WebSocket /ws/{auctionId}) is running."

if [ -n "${DEMO_SECONDS:-}" ]; then sleep "$DEMO_SECONDS"; else echo "Ctrl-C stops it."; wait; fi
