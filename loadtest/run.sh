#!/usr/bin/env bash
# loadtest/run.sh PROFILE — runs loadtest/profiles/PROFILE.yaml: starts a Redis, the tender sandbox
# and auctiond (the profile's auctiondProcesses, sharing one port) on free ports, runs
# auction-loadtest against them, stops them by PID. The report lands in
# loadtest/reports/PROFILE-<time>/ (summary.json, report.html, the services' logs).
# CONFIG=debug uses the debug build (make test does, to save a release build); WORKERS sets
# auctiond's bid workers (AUCTIOND_WORKERS, default 4).
set -euo pipefail
cd "$(dirname "$0")/.."
profile_name=${1:?usage: loadtest/run.sh PROFILE   (one of: $(ls loadtest/profiles | sed 's/\.yaml$//' | tr '\n' ' '))}
profile="loadtest/profiles/$profile_name.yaml"
[ -f "$profile" ] || { echo "no profile $profile (have: $(ls loadtest/profiles | tr '\n' ' '))" >&2; exit 2; }
config=${CONFIG:-release}
report="loadtest/reports/$profile_name-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$report"

# 10,000 connections need as many descriptors in each process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

swift build -c "$config" --product auctiond >/dev/null
swift build -c "$config" --product tender-sandbox >/dev/null
swift build -c "$config" --product auction-loadtest >/dev/null
bin=$(swift build -c "$config" --show-bin-path)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
redis_port=$(free_port); sandbox_port=$(free_port); service_port=$(free_port)
processes=$(sed -n 's/^auctiondProcesses: *\([0-9]*\).*/\1/p' "$profile"); processes=${processes:-1}

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

redis-server Config/redis.conf --port "$redis_port" --dir "$PWD/$report" >"$report/redis.log" 2>&1 &
pids+=($!); redis_pid=$!
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

"$bin/tender-sandbox" --listen "127.0.0.1:$sandbox_port" >"$report/sandbox.log" 2>&1 &
pids+=($!); sandbox_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$sandbox_port/api/2.5/tenders" >/dev/null 2>&1 && break; sleep 0.05; done

measured=(--process "redis=$redis_pid" --process "sandbox=$sandbox_pid")
for n in $(seq "$processes"); do
  AUCTIOND_LISTEN="127.0.0.1:$service_port" AUCTIOND_PUBLIC_URL="http://127.0.0.1:$service_port" \
  AUCTIOND_REDIS_URL="redis://127.0.0.1:$redis_port/0" AUCTIOND_API_URL="http://127.0.0.1:$sandbox_port/api/2.5" \
  AUCTIOND_FEED=on AUCTIOND_FEED_INTERVAL_MILLISECONDS=500 AUCTIOND_HASH_SECRETS=load-test-secret AUCTIOND_LOG_LEVEL=notice \
  AUCTIOND_LIMITS_MAX_CONNECTIONS=30000 AUCTIOND_LIMITS_MAX_CONNECTIONS_PER_IP=30000 AUCTIOND_WORKERS="${WORKERS:-4}" \
    "$bin/auctiond" serve >"$report/auctiond-$n.log" 2>&1 &
  pids+=($!)
  measured+=(--process "auctiond-$n=$!")
done
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$service_port/healthz" >/dev/null 2>&1 && break; sleep 0.05; done

echo "profile $profile_name: redis $redis_port, sandbox $sandbox_port, auctiond ×$processes on $service_port; report in $report"
status=0
"$bin/auction-loadtest" run --profile "$profile" --api "http://127.0.0.1:$sandbox_port/api/2.5" \
  --redis "redis://127.0.0.1:$redis_port/0" "${measured[@]}" --report "$report" || status=$?
echo "report: $report/report.html"
exit $status
