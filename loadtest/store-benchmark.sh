#!/usr/bin/env bash
# Measures the bid script (auction-store-benchmark) and, on the same Redis in the same run, a bare
# EVALSHA with redis-benchmark — the floor any script call sits on. Prints Markdown for
# docs/PERFORMANCE.md. Usage: loadtest/store-benchmark.sh [always|everysec|no]  (AOF fsync policy)
set -euo pipefail
cd "$(dirname "$0")/.."
fsync="${1:-always}"
threads="${THREADS:-8}"
bids="${BIDS:-20000}"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

swift build -c release --product auction-store-benchmark >/dev/null
redis-server Config/redis.conf --port "$port" --dir "$dir" --appendfsync "$fsync" --daemonize yes \
  --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" >/dev/null
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done

echo "### $(date -u +%Y-%m-%d), $(nproc) cores, redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), appendonly yes, appendfsync $fsync"
echo
.build/release/auction-store-benchmark --redis "redis://127.0.0.1:$port/0" --threads "$threads" --bids "$bids"
echo
sha=$(redis-cli -p "$port" script load "return 1")
echo "redis-benchmark, bare \`EVALSHA\` of \`return 1\` ($threads clients, 200000 calls):"
echo
echo '```'
redis-benchmark -p "$port" -c "$threads" -n 200000 --csv evalsha "$sha" 0
echo '```'
