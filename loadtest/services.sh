# Sourced by demo.sh and run.sh: starts Redis, the tender sandbox and auctiond in the background,
# waits until each answers, and stops them all by PID when the script exits. After each start,
# $last_pid is the process's PID.

service_pids=()
stop_services() {
  # In reverse order, each gone before the next is told: auctiond before Redis, since a service
  # whose Redis is gone spends its stop retrying it. One still running after 30 s is killed.
  local pid started
  for ((i = ${#service_pids[@]} - 1; i >= 0; i--)); do
    pid=${service_pids[i]}
    kill "$pid" 2>/dev/null || continue
    started=$SECONDS
    while running "$pid" && ((SECONDS - started < 30)); do sleep 0.1; done
    if running "$pid"; then echo "process $pid did not stop in 30 s: killed" >&2; kill -KILL "$pid" 2>/dev/null; fi
    wait "$pid" 2>/dev/null || true
    if ((SECONDS - started > 2)); then echo "process $pid took $((SECONDS - started)) s to stop" >&2; fi
  done
  service_pids=()
}

# Whether a child process still runs (a zombie, waiting to be reaped, does not).
running() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) && [[ -n $state && $state != Z ]]
}
trap stop_services EXIT INT TERM

# Tries a command for up to 10 s until it succeeds.
wait_until() {
  for _ in $(seq 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "gave up waiting for: $*" >&2
  return 1
}

# How many sockets listen on TCP port $1 (from /proc, so that no tool beyond the shell is needed).
listeners() {
  local hex
  hex=$(printf ':%04X' "$1")
  awk -v port="$hex" 'substr($2, length($2) - 4) == port && $4 == "0A"' /proc/net/tcp /proc/net/tcp6 2>/dev/null | wc -l
}

# start_redis PORT DIRECTORY LOG [more redis-server options]
start_redis() {
  local port=$1 directory=$2 log=$3
  shift 3
  redis-server Config/redis.conf --port "$port" --dir "$directory" "$@" >>"$log" 2>&1 &
  last_pid=$!; service_pids+=("$last_pid")
  wait_until redis-cli -p "$port" ping
}

# start_sandbox BINARY HOST:PORT LOG [more tender-sandbox options]
start_sandbox() {
  local binary=$1 listen=$2 log=$3
  shift 3
  "$binary" --listen "$listen" "$@" >"$log" 2>&1 &
  last_pid=$!; service_pids+=("$last_pid")
  wait_until curl -fs "http://$listen/api/2.5/tenders"
}

# A participation secret for this run alone: auctiond refuses publicly known ones.
random_secret() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# start_redis_cluster FIRST_PORT DIRECTORY LOG — a Redis Cluster of 3 primaries and 3 replicas on
# ports FIRST_PORT… (and FIRST_PORT+100… for the cluster bus), each with Config/redis.conf's
# settings (AOF, appendfsync always); $last_pid is the first node's, $cluster_pids all of them.
start_redis_cluster() {
  local first=$1 directory=$2 log=$3 n port nodes=()
  cluster_pids=()
  for n in 0 1 2 3 4 5; do
    port=$((first + n))
    mkdir -p "$directory/node-$port"
    redis-server Config/redis.conf --port "$port" --dir "$directory/node-$port" --cluster-enabled yes \
      --cluster-config-file nodes.conf --cluster-port $((port + 100)) --cluster-node-timeout 2000 \
      --repl-diskless-sync-delay 0 >>"$log" 2>&1 &
    cluster_pids+=("$!"); service_pids+=("$!")
    nodes+=("127.0.0.1:$port")
    wait_until redis-cli -p "$port" ping
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >>"$log" 2>&1
  cluster_ok() { for n in 0 1 2 3 4 5; do redis-cli -p $((first + n)) cluster info | grep -q 'cluster_state:ok' || return 1; done; }
  wait_until cluster_ok
  last_pid=${cluster_pids[0]}
}

# start_auctiond BINARY HOST:PORT REDIS_URL API_URL LOG — following the sandbox's feed; any other
# AUCTIOND_* variables come from the caller's environment.
# With AUCTIOND_TLS_CERTIFICATE and AUCTIOND_TLS_PRIVATE_KEY in the environment the port speaks
# https and wss, and the links say so.
start_auctiond() {
  local binary=$1 listen=$2 redis_url=$3 api=$4 log=$5 scheme=http
  [ -n "${AUCTIOND_TLS_CERTIFICATE:-}" ] && scheme=https
  AUCTIOND_LISTEN=$listen AUCTIOND_PUBLIC_URL="$scheme://$listen" AUCTIOND_REDIS_URL="$redis_url" \
    AUCTIOND_API_URL=$api AUCTIOND_FEED=on AUCTIOND_FEED_INTERVAL_MILLISECONDS=${AUCTIOND_FEED_INTERVAL_MILLISECONDS:-500} \
    "$binary" serve >>"$log" 2>&1 &
  last_pid=$!; service_pids+=("$last_pid")
  wait_until curl -fsk "$scheme://$listen/healthz"
}
