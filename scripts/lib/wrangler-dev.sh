# Starting and stopping `wrangler dev` headless, offline, on loopback: the
# one way scripts/test-edge.sh and scripts/bench-edge.sh run the Worker.
# Sourced; the caller defines $wrangler, $work, $http_port, $tcp_port,
# log() and die().

wrangler_pid=
wrangler_log=

# start_wrangler N [STATE_DIR] [CONFIG]: waits until both the HTTP port and
# the [[connect]] port answer (at most 120 s); the log is $wrangler_log.
start_wrangler() {
  local n=$1 state=${2:-$work/state} config=${3:-$work/wrangler.toml}
  wrangler_log=$work/wrangler.$n.log
  # Own session (setsid) so that wrangler, workerd and anything else it
  # spawns form one process group that stop_group can stop.
  WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false CLOUDFLARE_CF_FETCH_ENABLED=false \
  XDG_CONFIG_HOME=$work/xdg NO_COLOR=1 \
    setsid "$wrangler" dev --config "$config" --ip 127.0.0.1 --port "$http_port" \
      --inspector-port 0 --show-interactive-dev-session=false --persist-to "$state" \
      < /dev/null > "$wrangler_log" 2>&1 &
  wrangler_pid=$!
  local i
  for i in $(seq 1 240); do
    if grep -q "Ready on https\?://127.0.0.1:$http_port" "$wrangler_log" 2>/dev/null \
       && (exec 3<>"/dev/tcp/127.0.0.1/$tcp_port") 2>/dev/null; then
      log "wrangler dev #$n ready (pid $wrangler_pid): port $http_port (HTTP), $tcp_port (TCP)"
      return 0
    fi
    kill -0 "$wrangler_pid" 2>/dev/null || { tail -40 "$wrangler_log" >&2; die "wrangler dev #$n exited"; }
    sleep 0.5
  done
  tail -40 "$wrangler_log" >&2
  die "wrangler dev #$n not ready within 120 s"
}

# stop_group PID: TERM its process group, then KILL what is left.
stop_group() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_wrangler() { local p=$wrangler_pid; wrangler_pid=; stop_group "$p"; }
