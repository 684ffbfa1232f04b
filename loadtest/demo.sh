#!/usr/bin/env bash
# `make demo`: a local Redis, the tender sandbox with its demo tenders (Config/sandbox), and auctiond
# following the sandbox's feed; simulated bidders bid one step per turn in every auction; at the end
# it prints what the tender API received. Stops everything by PID on exit. DEMO_HOLD=1 keeps the
# services running afterwards (Ctrl-C stops them).
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_DIR=${RUN_DIR:-run/demo}
REDIS_PORT=${REDIS_PORT:-6390}
SANDBOX=${SANDBOX_LISTEN:-127.0.0.1:6543}
LISTEN=${AUCTIOND_LISTEN:-127.0.0.1:8090}
API="http://$SANDBOX/api/2.5"
rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"

source loadtest/services.sh
start_redis "$REDIS_PORT" "$PWD/$RUN_DIR" "$RUN_DIR/redis.log"
# The demo tenders start 20 s after the sandbox does (their startDate is "now+20s").
start_sandbox .build/release/tender-sandbox "$SANDBOX" "$RUN_DIR/sandbox.log" --fixtures Config/sandbox --state "$RUN_DIR/sandbox"
AUCTIOND_HASH_SECRETS=$(random_secret) start_auctiond .build/release/auctiond "$LISTEN" "redis://127.0.0.1:$REDIS_PORT/0" "$API" "$RUN_DIR/auctiond.log"

echo "Redis:          redis://127.0.0.1:$REDIS_PORT   (log: $RUN_DIR/redis.log)"
echo "tender sandbox: $API   (log: $RUN_DIR/sandbox.log)"
echo "auctiond:       http://$LISTEN   (log: $RUN_DIR/auctiond.log)"
echo
for _ in $(seq 50); do [ "$(curl -s "http://$LISTEN/api/v1/auctions" | grep -o '"id"' | wc -l)" -ge 5 ] && break; sleep 0.2; done
echo "Auctions planned from the sandbox's feed (watch them live; state as JSON at /api/v1/auctions/<id>):"
python3 loadtest/demo_report.py auctions "http://$LISTEN"
echo "(The reporting tender in the sandbox gets no auction: a limited procedure.)"
echo
echo "Simulated bidders: one step better in each of their turns..."
lots=$(python3 -c 'import json; print(" ".join("tenders/5be924af98a445448a0a8a81b5f109db/" + l["id"] for l in json.load(open("Config/sandbox/tenders/two-lots.json"))["data"]["lots"]))')
auctions=(tenders/69620e7245b048d696d61d9b5061cee2 tenders/a1ea7000000000000000000000000001 auctions/0bbf22e936f24d158f6d695b84b2de2f $lots)
.build/release/auction-loadtest bidders --api "$API" $(printf -- '--auction %s ' "${auctions[@]}")
echo
for _ in $(seq 100); do
  [ "$(curl -s "$API/tenders?opt_fields=status" "$API/auctions?opt_fields=status" | grep -o 'active.qualification' | wc -l)" -ge 4 ] && break
  sleep 0.2
done
echo "What the tender API received:"
for path in $(printf '%s\n' "${auctions[@]}" | cut -d/ -f1,2 | uniq); do
  python3 loadtest/demo_report.py tender "$API" "${path%%/*}" "${path#*/}"
done
echo
echo "Results POSTed: $(curl -s "http://$SANDBOX/sandbox/requests" | grep -o '"method":"POST","path":"[^"]*","status":200' | wc -l) (one per auction)"

if [ -n "${DEMO_HOLD:-}" ]; then echo "Ctrl-C stops the services."; wait; fi
