#!/usr/bin/env bash
# loadtest/run.sh PROFILE — runs loadtest/profiles/PROFILE.yaml: starts a Redis, the tender sandbox
# and auctiond (the profile's auctiondProcesses, sharing one port) on free ports, runs
# auction-loadtest against them, stops them by PID. The report lands in
# loadtest/reports/PROFILE-<time>/ (summary.json, report.html, the services' logs).
# CONFIG=debug uses the debug build (make test does, to save a release build); WORKERS sets
# auctiond's bid workers (AUCTIOND_WORKERS, default 4); LOG_LEVEL its log level (default notice;
# info logs every stage switch with its lag). TLS=1 makes a certificate and runs auctiond on https
# and wss (the links say https; the load generator takes the self-signed certificate, and reads
# auctiond's /metrics over https with curl). REDIS_CLUSTER=1 runs on a local Redis Cluster of 3
# primaries and 3 replicas instead of one Redis (docs/SCALING.md).
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

# Ports are chosen below the kernel's ephemeral range (32768…): a port taken from that range and
# let go can be taken again by any outgoing connection (an attack profile opens thousands) before
# the service binds it. `free_ports COUNT STRIDE LOW HIGH` prints the first of COUNT consecutive
# ports in LOW..<HIGH, each free on every address together with its partner STRIDE above (a cluster
# node's bus port). The services and a cluster draw from ranges of their own, so neither can pick
# a port the other has chosen but not yet bound.
free_ports() {
  python3 - "$@" <<'PY'
import random, socket, sys
count, stride, low, high = map(int, sys.argv[1:])
for _ in range(500):
    first = random.randrange(low, high - stride - count)
    ports = [first + n for n in range(count)]
    ports += [port + stride for port in ports] if stride else []
    held = []
    try:
        for port in ports:
            s = socket.socket(); s.bind(("0.0.0.0", port)); held.append(s)
        print(first); break
    except OSError:
        pass
    finally:
        for s in held: s.close()
else:
    sys.exit("no %d free consecutive ports in %d..<%d" % (count, low, high))
PY
}
service_ports=$(free_ports 3 0 20000 26000)
redis_port=$service_ports; sandbox_port=$((service_ports + 1)); service_port=$((service_ports + 2))
processes=$(sed -n 's/^auctiondProcesses: *\([0-9]*\).*/\1/p' "$profile"); processes=${processes:-1}

if [ "${TLS:-0}" = 1 ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$report/key.pem" -out "$report/cert.pem" -days 1 -subj /CN=127.0.0.1 2>/dev/null
  export AUCTIOND_TLS_CERTIFICATE=$PWD/$report/cert.pem AUCTIOND_TLS_PRIVATE_KEY=$PWD/$report/key.pem
fi

source loadtest/services.sh
source loadtest/chaos.sh
source loadtest/hosts.sh
hosts=$(grep -q '^hosts:' "$profile" && echo 1 || echo 0)
redis_options=(); sandbox_address=127.0.0.1
if [ "$hosts" = 1 ]; then
  hosts_check
  trap 'stop_services; hosts_teardown' EXIT INT TERM
  hosts_network
  # Redis and the sandbox answer the hosts over their links too (private to this machine).
  redis_options=(--bind "127.0.0.1 $(host_gateway 1) $(host_gateway 2)" --protected-mode no)
  sandbox_address=0.0.0.0
fi
# Each start is a function, so that the chaos driver starts a killed process again the same way.
start_redis_process() { start_redis "$redis_port" "$PWD/$report" "$report/redis.log" "${redis_options[@]}"; }
redis_url="redis://127.0.0.1:$redis_port/0"
if [ "${REDIS_CLUSTER:-0}" = 1 ]; then
  # A local Redis Cluster (3 primaries, 3 replicas) instead of one Redis: docs/SCALING.md.
  grep -q -e '^chaos:' -e '^hosts:' "$profile" && { echo "REDIS_CLUSTER=1 runs without chaos: and hosts: profiles" >&2; exit 2; }
  cluster_port=$(free_ports 6 100 26000 32000)
  start_redis_process() { start_redis_cluster "$cluster_port" "$PWD/$report" "$report/redis.log"; }
  redis_url="redis+cluster://$(seq -s, -f "127.0.0.1:%.0f" "$cluster_port" $((cluster_port + 5)))"
fi
# One secret for every process of the run: each must verify the links the others made.
hash_secret=$(random_secret)
start_auctiond_process() {
  AUCTIOND_HASH_SECRETS=$hash_secret AUCTIOND_LOG_LEVEL=${LOG_LEVEL:-notice} AUCTIOND_WORKERS="${WORKERS:-4}" \
  AUCTIOND_LIMITS_MAX_CONNECTIONS=30000 \
    start_auctiond "$bin/auctiond" "127.0.0.1:$service_port" "$redis_url" "http://127.0.0.1:$sandbox_port/api/2.5" "$report/auctiond-$1.log"
}
start_redis_process
chaos_remember redis "$last_pid"
measured=(--process "redis=$last_pid")
if [ "${REDIS_CLUSTER:-0}" = 1 ]; then
  measured=()
  for n in "${!cluster_pids[@]}"; do measured+=(--process "redis-$((n + 1))=${cluster_pids[n]}"); done
fi
start_sandbox "$bin/tender-sandbox" "$sandbox_address:$sandbox_port" "$report/sandbox.log"
chaos_remember sandbox "$last_pid"
measured+=(--process "sandbox=$last_pid")
if [ "$hosts" = 1 ]; then
  for n in 1 2; do
    start_auctiond_on_host "$n"
    measured+=(--process "auctiond-$n=$last_pid")
  done
  start_proxy
  measured+=(--process "haproxy=$last_pid")
else
  for n in $(seq "$processes"); do
    start_auctiond_process "$n"
    chaos_remember "auctiond-$n" "$last_pid"
    measured+=(--process "auctiond-$n=$last_pid")
  done
  # The first process answers /healthz for all of them: count the listeners, so that a process that
  # could not share the port fails the run instead of leaving the others to carry it.
  all_listening() { test "$(listeners "$service_port")" -ge "$processes"; }
  if ! wait_until all_listening; then
    echo "only $(listeners "$service_port") of $processes auctiond processes listen on $service_port; see $report/auctiond-*.log" >&2
    exit 1
  fi
fi

where="auctiond ×$processes on $service_port"
[ "$hosts" = 1 ] && where="2 auctiond hosts ($(host_address 1), $(host_address 2)) behind HAProxy on $service_port"
echo "profile $profile_name: ${redis_url%%/0}, sandbox $sandbox_port, $where${AUCTIOND_TLS_CERTIFICATE:+ (TLS)}; report in $report"
status=0
chaos=()
if grep -q '^chaos:' "$profile"; then
  chaos_start
  chaos=(--chaos-log "$report/chaos.log")
fi
[ "$hosts" = 1 ] && hosts_start
"$bin/auction-loadtest" run --profile "$profile" --api "http://127.0.0.1:$sandbox_port/api/2.5" \
  --redis "$redis_url" "${measured[@]}" "${chaos[@]}" --report "$report" || status=$?
chaos_finish
# A small run's auctions are each replayed from their record (the chain, AuctionCore, the prices
# the sandbox shows) and their audit documents verified on their own (docs/AUDIT.md).
auctions_run=$(sed -n 's/^auctions: *\([0-9]*\).*/\1/p' "$profile")
if [ "$hosts" = 0 ] && [ "${auctions_run:-0}" -le 50 ]; then
  replayed=0
  for id in $(redis-cli -c -p "${cluster_port:-$redis_port}" HKEYS auctions:status); do
    if AUCTIOND_REDIS_URL="$redis_url" AUCTIOND_API_URL="http://127.0.0.1:$sandbox_port/api/2.5" AUCTIOND_HASH_SECRETS=$hash_secret \
      "$bin/auctiond" replay "$id" >>"$report/replay.log" 2>&1 \
      && AUCTIOND_REDIS_URL="$redis_url" AUCTIOND_HASH_SECRETS=$hash_secret "$bin/auctiond" audit "$id" >"$report/audit-$id.yaml" 2>>"$report/replay.log" \
      && "$bin/auctiond" verify "$report/audit-$id.yaml" >>"$report/replay.log" 2>&1; then
      replayed=$((replayed + 1))
    else
      echo "auction $id does not replay or verify:" >&2; tail -3 "$report/replay.log" >&2; status=1
    fi
  done
  echo "replayed and verified $replayed auctions (log: $report/replay.log)"
  [ "$replayed" -gt 0 ] || { echo "no auction was found to replay" >&2; status=1; }
fi
chaos_stop
hosts_stop
echo "report: $report/report.html"
exit $status
