# Sourced by run.sh for a profile with a `chaos:` section. chaos_start runs the chaos driver in the
# background: from the first auction's start on, at random pauses, it kill -9s a random auctiond
# process or redis-server and starts it again after `downSeconds` (Redis on the AOF in the report
# folder), `auctiondKills` and `redisKills` times in all, Redis kills spread evenly among the
# others. Each kill and restart is a line of $report/chaos.log (`<epoch µs> kill|up <name> <pid>`),
# which auction-loadtest reads to measure the recovery. The processes' current PIDs are kept in
# $report/pids/, so that chaos_stop can stop the restarted ones too.
#
# Needs from run.sh: $profile, $report, start_redis_process and start_auctiond_process N.

chaos_value() { # chaos_value KEY DEFAULT — a number under the profile's `chaos:` key
  local value
  value=$(sed -n '/^chaos:/,/^[^ #]/ s/^  '"$1"': *\([0-9.]*\).*/\1/p' "$profile" | head -1)
  echo "${value:-$2}"
}

chaos_note() { echo "$(date +%s%6N) $*" >>"$report/chaos.log"; }

chaos_remember() { mkdir -p "$report/pids"; echo "$2" >"$report/pids/$1"; }

chaos_drive() {
  local auctiond_kills redis_kills pause_min pause_max down start processes total redis_done=0 kill
  auctiond_kills=$(chaos_value auctiondKills 0); redis_kills=$(chaos_value redisKills 0)
  pause_min=$(chaos_value minimumPauseSeconds 1); pause_max=$(chaos_value maximumPauseSeconds 4)
  down=$(chaos_value downSeconds 0.5)
  start=$(sed -n 's/^startAfterSeconds: *\([0-9]*\).*/\1/p' "$profile"); start=${start:-20}
  processes=$(sed -n 's/^auctiondProcesses: *\([0-9]*\).*/\1/p' "$profile"); processes=${processes:-1}
  total=$((auctiond_kills + redis_kills))
  sleep "$start"
  for ((kill = 0; kill < total; kill++)); do
    sleep "$(awk -v a="$pause_min" -v b="$pause_max" -v r="$RANDOM" 'BEGIN { printf "%.3f", a + (b - a) * r / 32767 }')"
    [ -f "$report/chaos.finish" ] && break
    if (( (kill + 1) * redis_kills / total > redis_done )); then
      redis_done=$((redis_done + 1))
      chaos_kill redis "$down" start_redis_process
    else
      local n=$((RANDOM % processes + 1))
      chaos_kill "auctiond-$n" "$down" start_auctiond_process "$n"
    fi
  done
  chaos_note done
}

chaos_kill() { # chaos_kill NAME DOWN_SECONDS START_FUNCTION [ARGS]
  local name=$1 down=$2 pid
  shift 2
  pid=$(cat "$report/pids/$name")
  kill -KILL "$pid" 2>/dev/null || true
  # Reaps a process this driver started, so that the shell does not report it "Killed".
  wait "$pid" 2>/dev/null || true
  chaos_note kill "$name" "$pid"
  sleep "$down"
  "$@" >/dev/null 2>&1 || true
  chaos_remember "$name" "$last_pid"
  chaos_note up "$name" "$last_pid"
}

chaos_start() {
  : >"$report/chaos.log"
  chaos_drive &
  chaos_pid=$!
}

# Lets the driver end between two kills, so that every process is up again (for what runs after
# the load: the replay of every auction), and waits for it.
chaos_finish() {
  [ -n "${chaos_pid:-}" ] || return 0
  touch "$report/chaos.finish"
  wait "$chaos_pid" 2>/dev/null || true
}

# Ends the driver, then stops every process by its current PID: auctiond first, Redis last.
chaos_stop() {
  [ -n "${chaos_pid:-}" ] || return 0
  kill "$chaos_pid" 2>/dev/null || true
  wait "$chaos_pid" 2>/dev/null || true
  local file pid
  for file in "$report"/pids/auctiond-* "$report"/pids/sandbox "$report"/pids/redis; do
    [ -f "$file" ] || continue
    pid=$(cat "$file")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 300); do running "$pid" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
