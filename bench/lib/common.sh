# Shared by bench.sh and bench/loadtest: logging, ports, starting and stopping servers by PID, readiness waits.
# Sourced, not executed. Expects BENCH_TMP (scratch dir) and RESULTS (JSON lines file) to be set by the caller.

SERVER_CPU=${SERVER_CPU:-0}   # core the server under test is pinned to
LOAD_CPU=${LOAD_CPU:-1}       # core the load generator is pinned to
# python3 on PATH may be a version manager's shim: pyenv's is a bash script that forks a dozen processes, 3-5 s a call
# on a loaded 2-core machine, and a load test step calls Python a dozen times (about 50 s of overhead per 5 s step).
# The interpreter it resolves to is linked first on PATH once, for this script and everything it starts.
if [ -n "${BENCH_TMP:-}" ] && [ ! -e "$BENCH_TMP/bin/python3" ]; then
  _py=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))' 2>/dev/null || true)
  if [ -n "$_py" ] && [ -x "$_py" ]; then
    mkdir -p "$BENCH_TMP/bin" && ln -s "$_py" "$BENCH_TMP/bin/python3" && PATH="$BENCH_TMP/bin:$PATH" && export PATH
  fi
  unset _py
fi
PY="python3 ${BENCH_LIB:?}/benchpy.py"

declare -a BENCH_PIDS=()

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { printf '[bench %s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

free_port() { $PY free-port; }

# spawn NAME LOGFILE CMD...: starts CMD pinned to the server core, in the background; sets SPAWNED_PID.
spawn() {
  local name=$1 logf=$2; shift 2
  SPAWNED_AT=$(date +%s.%N) # load times count from here: a config check before it is not loading
  taskset -c "$SERVER_CPU" "$@" >"$logf" 2>&1 &
  SPAWNED_PID=$!
  BENCH_PIDS+=("$SPAWNED_PID")
  log "started $name (pid $SPAWNED_PID): $*"
}

# stop_pid PID: SIGTERM, wait up to 5 s, then SIGKILL. Only ever our own children, by PID.
stop_pid() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_all() {
  local p
  for p in "${BENCH_PIDS[@]}"; do stop_pid "$p"; done
  BENCH_PIDS=()
}

# wait_dns PORT NAME PID [SECONDS]: until the server answers an SOA query for NAME over UDP.
wait_dns() {
  local port=$1 name=$2 pid=$3 limit=${4:-60} t0=$SECONDS
  while [ $((SECONDS - t0)) -lt "$limit" ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    if dig +time=1 +tries=1 +norec -p "$port" @127.0.0.1 "$name" SOA 2>/dev/null | grep -q 'status: NOERROR'; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# wait_http PORT PID [PATH] [SECONDS]: until the server answers PATH with any HTTP status.
wait_http() {
  local port=$1 pid=$2 path=${3:-/} limit=${4:-30} t0=$SECONDS
  while [ $((SECONDS - t0)) -lt "$limit" ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port$path" && return 0
    sleep 0.1
  done
  return 1
}

# pid_cpu PID / pid_rss PID: CPU seconds and resident KiB of PID and its descendants.
pid_cpu() { $PY cpu "$1"; }
pid_rss() { $PY rss "$1"; }

# record KEY=VALUE...: appends one result row.
record() { $PY record "$RESULTS" "$@"; }
# record_json JSON KEY=VALUE...: appends a tool's JSON output plus extra keys.
record_json() { local j=$1; shift; $PY merge "$RESULTS" "$j" "$@"; }

# skip_row GROUP CASE SERVER WHY: records that a row could not be measured (shown in the table as n/a).
skip_row() { record group="$1" case="$2" server="$3" skipped="$4"; warn "$2 / $3 skipped: $4"; }
