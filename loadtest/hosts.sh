# Sourced by run.sh for a profile with a `hosts:` section: two auctiond "hosts", each in a network
# namespace of its own joined to this one by a veth pair, behind HAProxy (Config/haproxy.cfg) on
# 127.0.0.1; Redis and the tender sandbox stay here and listen on the veths' addresses too. From
# the first auction's start + `cutAfterSeconds`, host 1 is cut off (its link set down, as a
# machine whose network fails): its clients must reconnect through the proxy to host 2, and
# host 2's clock must take over host 1's auctions. Needs root, iproute2 and haproxy. Each step is
# a line of $report/hosts.log.
#
# Needs from run.sh: $profile, $report, $bin, $redis_port, $sandbox_port, $service_port, $hash_secret.

hosts_value() { # hosts_value KEY DEFAULT — a number under the profile's `hosts:` key
  local value
  value=$(sed -n '/^hosts:/,/^[^ #]/ s/^  '"$1"': *\([0-9.]*\).*/\1/p' "$profile" | head -1)
  echo "${value:-$2}"
}

hosts_note() { echo "$(date +%s%6N) $*" >>"$report/hosts.log"; }

# Names unique to this run, so that runs side by side do not meet (interface names ≤ 15 bytes).
hosts_tag=$(printf '%04x' $((RANDOM % 65536)))
hosts_subnet=$((RANDOM % 200 + 20))
host_namespace() { echo "auction-$hosts_tag-$1"; }
host_link() { echo "ah$1-$hosts_tag"; }
host_gateway() { echo "10.$hosts_subnet.$1.1"; } # this side of host N's link
host_address() { echo "10.$hosts_subnet.$1.2"; } # host N

hosts_check() {
  local missing=""
  [ "$(id -u)" = 0 ] || missing="$missing root"
  command -v ip >/dev/null || missing="$missing iproute2"
  command -v haproxy >/dev/null || missing="$missing haproxy"
  if [ -n "$missing" ]; then echo "the hosts profile needs:$missing (make test-deps installs the packages)" >&2; exit 2; fi
}

hosts_network() {
  local n namespace link
  for n in 1 2; do
    namespace=$(host_namespace "$n"); link=$(host_link "$n")
    ip netns add "$namespace"
    ip link add "$link" type veth peer name eth0 netns "$namespace"
    ip addr add "$(host_gateway "$n")/24" dev "$link"
    ip link set "$link" up
    ip netns exec "$namespace" ip addr add "$(host_address "$n")/24" dev eth0
    ip netns exec "$namespace" ip link set eth0 up
    ip netns exec "$namespace" ip link set lo up
  done
  hosts_note network "$(host_address 1)" "$(host_address 2)"
}

hosts_teardown() {
  local n
  for n in 1 2; do ip netns delete "$(host_namespace "$n")" 2>/dev/null || true; done
}

# start_auctiond_on_host N — auctiond in host N's namespace, reaching Redis and the sandbox over its
# link, its links naming the proxy. Behind the proxy every client has the proxy's address: the
# per-address limits are off, as docs/SECURITY.md says to set them there.
start_auctiond_on_host() {
  local n=$1 gateway
  gateway=$(host_gateway "$n")
  AUCTIOND_HASH_SECRETS=$hash_secret AUCTIOND_LOG_LEVEL=${LOG_LEVEL:-notice} AUCTIOND_WORKERS="${WORKERS:-4}" \
    AUCTIOND_LIMITS_MAX_CONNECTIONS=30000 AUCTIOND_LIMITS_MAX_CONNECTIONS_PER_IP=30000 AUCTIOND_LIMITS_REQUESTS_PER_IP_PER_SECOND=0 \
    AUCTIOND_LISTEN="$(host_address "$n"):$service_port" AUCTIOND_PUBLIC_URL="http://127.0.0.1:$service_port" \
    AUCTIOND_REDIS_URL="redis://$gateway:$redis_port/0" AUCTIOND_API_URL="http://$gateway:$sandbox_port/api/2.5" \
    AUCTIOND_FEED=on AUCTIOND_FEED_INTERVAL_MILLISECONDS=500 \
    ip netns exec "$(host_namespace "$n")" "$bin/auctiond" serve >>"$report/auctiond-$n.log" 2>&1 &
  last_pid=$!; service_pids+=("$last_pid")
  wait_until curl -fs "http://$(host_address "$n"):$service_port/healthz"
}

start_proxy() {
  AUCTION_PROXY_LISTEN="127.0.0.1:$service_port" AUCTIOND_HOST1="$(host_address 1):$service_port" \
    AUCTIOND_HOST2="$(host_address 2):$service_port" haproxy -db -f Config/haproxy.cfg >>"$report/haproxy.log" 2>&1 &
  last_pid=$!; service_pids+=("$last_pid")
  wait_until curl -fs "http://127.0.0.1:$service_port/healthz"
}

# Cuts host 1 off `cutAfterSeconds` after the first auction's start, then waits for the proxy to
# see it gone.
hosts_drive() {
  local start cut
  start=$(sed -n 's/^startAfterSeconds: *\([0-9]*\).*/\1/p' "$profile"); start=${start:-20}
  cut=$(hosts_value cutAfterSeconds 5)
  sleep "$(awk -v a="$start" -v b="$cut" 'BEGIN { print a + b }')"
  ip link set "$(host_link 1)" down
  hosts_note cut host-1
}

hosts_start() {
  : >"$report/hosts.log"
  hosts_drive &
  hosts_pid=$!
}

hosts_stop() {
  [ -n "${hosts_pid:-}" ] || return 0
  kill "$hosts_pid" 2>/dev/null || true
  wait "$hosts_pid" 2>/dev/null || true
}
