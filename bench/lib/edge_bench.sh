# Edge benchmark: cache hits for 1 KiB / 10 KiB / 100 KiB / 1 MiB objects over 64 keep-alive connections and with a
# new connection per request (wrk -t1, pinned to the load core), for meridian-edge, nginx proxy_cache, Varnish and
# the nginx `return 200` ceiling; then the miss path through the local origin (unique keys: requests/s and latency
# with wrk, from an empty cache and on a full one; time to first byte of 1 KiB, 100 KiB and 1 MiB misses with
# http_ttfb). Sourced by bench.sh.

EDGE_SIZES=${EDGE_SIZES:-"1KiB 10KiB 100KiB 1MiB"}
EDGE_CLOSE_SIZES=${EDGE_CLOSE_SIZES:-"1KiB"}
EDGE_TTFB_SIZES=${EDGE_TTFB_SIZES:-"1KiB 100KiB 1MiB"}
EDGE_TTFB_RUNS=${EDGE_TTFB_RUNS:-101}
EDGE_TTFB_BLOCKS=${EDGE_TTFB_BLOCKS:-5} # the servers take turns, a block of runs each (edge_miss_ttfb)
EDGE_FULL_CACHE=${EDGE_FULL_CACHE:-64MiB}  # cache size of the full-cache miss row
EDGE_FULL_FILL_S=${EDGE_FULL_FILL_S:-4}    # seconds of misses that fill it first (about 4-8 times its size)
EDGE_CONNS=${EDGE_CONNS:-64}

size_bytes() {
  case "$1" in
    *KiB) echo $(( ${1%KiB} * 1024 )) ;;
    *MiB) echo $(( ${1%MiB} * 1024 * 1024 )) ;;
    *) echo "$1" ;;
  esac
}

gen_site() { # gen_site DIR: the objects the edge cases fetch
  local dir=$1 s
  mkdir -p "$dir"
  for s in $EDGE_SIZES; do head -c "$(size_bytes "$s")" /dev/urandom >"$dir/obj-$s.bin"; done
  echo '<!doctype html><title>bench</title>' >"$dir/index.html"
}

# wrk_case GROUP CASE SERVER URL SECONDS CONNS [wrk args...]: records rps, p50/p99, errors, and (when SERVER_PID is
# set) the server's CPU per request and how busy its core was, and how busy wrk's core was: a server core well below
# 100% while wrk's is near it means the one wrk thread was the limit, so the rates of such a case compare the
# client, not the servers.
wrk_case() {
  local group=$1 case=$2 server=$3 url=$4 secs=$5 conns=$6; shift 6
  local out="$BENCH_TMP/wrk.$$.out" c0="" c1=""
  [ -n "${SERVER_PID:-}" ] && c0=$(pid_cpu "$SERVER_PID")
  # bash's own `time` gives wrk's CPU seconds (user + sys): how busy the load core was.
  local TIMEFORMAT='%U %S' client_cpu
  client_cpu=$( { time taskset -c "$LOAD_CPU" timeout $((secs + 30)) wrk -t1 -c"$conns" -d"${secs}s" --timeout 5s \
    --latency "$@" "$url" >"$out" 2>&1; } 2>&1 ) || true
  [ -n "$c0" ] && c1=$(pid_cpu "$SERVER_PID")
  local json extra=()
  json=$($PY wrk "$out")
  if [ -n "$c1" ]; then
    local req
    req=$($PY get "$json" requests 0)
    extra+=(server_core_busy="$(python3 -c "print(f'{($c1 - $c0) / $secs:.2f}')")")
    set -- $client_cpu
    [ $# -eq 2 ] && extra+=(client_core_busy="$(python3 -c "print(f'{($1 + $2) / $secs:.2f}')")")
    [ "$req" -gt 0 ] && extra+=(cpu_us_per_req="$(python3 -c "print(f'{($c1 - $c0) * 1e6 / $req:.2f}')")")
  fi
  record_json "$json" group="$group" case="$case" server="$server" "${extra[@]}"
  log "  $server $case: $($PY summary "$json") ${extra[*]}"
}

# x_cache PORT PATH: the X-Cache header (or "-") of a GET.
x_cache() {
  curl -s -o /dev/null -D - --max-time 5 "http://127.0.0.1:$1$2" | tr -d '\r' | sed -n 's/^[Xx]-[Cc]ache: *//p' | head -1
}

bench_edge() {
  local secs=$1 d="$BENCH_TMP/edge" kind port s
  mkdir -p "$d"
  gen_site "$d/site"
  local origin_port
  origin_port=$(free_port)
  log "edge: origin nginx on 127.0.0.1:$origin_port (core $LOAD_CPU), site on tmpfs"
  start_origin "$d/origin" "$origin_port" "$d/site" || { warn "edge: origin did not start"; return 1; }
  local origin_pid=$ORIGIN_PID
  cat >"$d/miss.lua" <<'LUA'
-- Every request a new key: each one is a miss that goes to the origin.
local counter = 0
local prefix = os.getenv("MISS_PREFIX") or "x"
request = function()
  counter = counter + 1
  return wrk.format("GET", "/miss/" .. prefix .. "-" .. counter)
end
LUA
  for kind in meridian nginx varnish ceiling; do
    port=$(free_port)
    log "edge: $kind on 127.0.0.1:$port (core $SERVER_CPU), wrk -t1 -c$EDGE_CONNS from core $LOAD_CPU, ${secs}s per case"
    SERVER_PID=
    if ! start_edge_server "$kind" "$d/$kind" "$port" "$origin_port"; then
      for s in $EDGE_SIZES; do skip_row edge "cache hit $s keep-alive" "$kind" "did not start (see $d/$kind)"; done
      stop_pid "$SERVER_PID"
      continue
    fi
    local pid=$SERVER_PID
    if [ "$kind" = ceiling ]; then
      wrk_case edge "cache hit 1KiB keep-alive" ceiling "http://127.0.0.1:$port/" "$secs" "$EDGE_CONNS"
      wrk_case edge "cache hit 1KiB new connection per request" ceiling "http://127.0.0.1:$port/" "$secs" \
        "$EDGE_CONNS" -H "Connection: close"
      stop_pid "$pid"
      continue
    fi
    # Warm: two fetches per object (Varnish and nginx store on the first, some caches only count the second).
    for s in $EDGE_SIZES; do
      curl -s -o /dev/null "http://127.0.0.1:$port/obj-$s.bin" || true
      curl -s -o /dev/null "http://127.0.0.1:$port/obj-$s.bin" || true
    done
    log "  warm: X-Cache of obj-1KiB.bin is '$(x_cache "$port" /obj-1KiB.bin)'"
    taskset -c "$LOAD_CPU" wrk -t1 -c"$EDGE_CONNS" -d1s "http://127.0.0.1:$port/obj-1KiB.bin" >/dev/null 2>&1 || true
    for s in $EDGE_SIZES; do
      wrk_case edge "cache hit $s keep-alive" "$kind" "http://127.0.0.1:$port/obj-$s.bin" "$secs" "$EDGE_CONNS"
    done
    # Conditional hits (the viewer's If-None-Match names the stored ETag: 304) and range hits (206) of the 10 KiB
    # object, beside its plain hits above.
    if [ -f "$d/site/obj-10KiB.bin" ]; then
      local etag
      etag=$(curl -s -o /dev/null -D - "http://127.0.0.1:$port/obj-10KiB.bin" | tr -d '\r' |
        sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' | head -1)
      if [ -n "$etag" ]; then
        wrk_case edge "cache hit 10KiB conditional (If-None-Match, 304)" "$kind" \
          "http://127.0.0.1:$port/obj-10KiB.bin" "$secs" "$EDGE_CONNS" -H "If-None-Match: $etag"
      else
        skip_row edge "cache hit 10KiB conditional (If-None-Match, 304)" "$kind" "no ETag on the cached object"
      fi
      wrk_case edge "cache hit 10KiB range (bytes=0-1023, 206)" "$kind" "http://127.0.0.1:$port/obj-10KiB.bin" \
        "$secs" "$EDGE_CONNS" -H "Range: bytes=0-1023"
    fi
    for s in $EDGE_CLOSE_SIZES; do
      wrk_case edge "cache hit $s new connection per request" "$kind" "http://127.0.0.1:$port/obj-$s.bin" "$secs" \
        "$EDGE_CONNS" -H "Connection: close"
    done
    # Miss path: unique keys through to the origin, 16 connections.
    MISS_PREFIX="$kind-$RANDOM" wrk_case edge "miss path 10KiB (unique keys, 16 conns)" "$kind" \
      "http://127.0.0.1:$port/" "$secs" 16 -s "$d/miss.lua"
    stop_pid "$pid"
    edge_full_cache_misses "$kind" "$d" "$origin_port" "$secs"
  done
  # Varnish apart: in a run with all three resident on the server core, Meridian's and nginx's medians doubled.
  edge_miss_ttfb "$d" "$origin_port" meridian nginx
  edge_miss_ttfb "$d" "$origin_port" varnish
  stop_pid "$origin_pid"
}

# edge_miss_ttfb DIR ORIGIN_PORT: time to first byte of a miss (a fresh key each time: through to the origin, stored
# on the way), per size in EDGE_TTFB_SIZES: EDGE_TTFB_RUNS requests per server, one after another, median and p99
# (nearest rank) of the time to the first body byte, and the median download speed. The servers run at once and take
# turns in EDGE_TTFB_BLOCKS blocks (the first server of each block rotates), so that a stretch of this shared
# machine's noise (it comes in bursts of tens of milliseconds, as long as a whole series) falls on every server
# alike, not on whichever ran then. Each server first answers one miss per size unmeasured: its first request to the
# origin opens a connection, which no later miss does.
edge_miss_ttfb() {
  local d=$1 origin_port=$2 kind size b i
  shift 2
  local kinds=() ports=() pids=()
  for kind in "$@"; do
    local port
    port=$(free_port)
    SERVER_PID=
    if ! start_edge_server "$kind" "$d/$kind-ttfb" "$port" "$origin_port"; then
      for size in $EDGE_TTFB_SIZES; do
        skip_row edge "miss $size time to first byte ($EDGE_TTFB_RUNS runs)" "$kind" "did not start (see $d/$kind-ttfb)"
      done
      stop_pid "$SERVER_PID"
      continue
    fi
    kinds+=("$kind")
    ports+=("$port")
    pids+=("$SERVER_PID")
  done
  local n=${#kinds[@]} per_block=$(((EDGE_TTFB_RUNS + EDGE_TTFB_BLOCKS - 1) / EDGE_TTFB_BLOCKS))
  for size in $EDGE_TTFB_SIZES; do
    [ -f "$d/site/obj-$size.bin" ] || continue
    for ((i = 0; i < n; i++)); do
      : >"$d/ttfb-${kinds[$i]}-$size.txt"
      curl -s -o /dev/null "http://127.0.0.1:${ports[$i]}/missttfb/$size/warm-$RANDOM" || true
    done
    for ((b = 0; b < EDGE_TTFB_BLOCKS; b++)); do
      local left=$EDGE_TTFB_RUNS k j
      left=$((left - b * per_block))
      [ "$left" -gt "$per_block" ] && left=$per_block
      [ "$left" -le 0 ] && break
      for ((j = 0; j < n; j++)); do
        k=$(((b + j) % n))
        # http_ttfb, pinned to the load core as wrk is: a loop of curl processes spent several ms of CPU per sample
        # on fork, exec and loading libcurl, on either core, and so timed the scheduler as much as the server.
        taskset -c "$LOAD_CPU" "$BIN/http_ttfb" -p "${ports[$k]}" -n "$left" --timeout 10 \
          --prefix "/missttfb/$size/${kinds[$k]}-$b-$RANDOM-" >>"$d/ttfb-${kinds[$k]}-$size.txt" \
          2>>"$d/http_ttfb.err" || true
      done
    done
    for ((i = 0; i < n; i++)); do
      kind=${kinds[$i]}
      local row
      row=$(python3 - "$d/ttfb-$kind-$size.txt" <<'PYEOF'
import math, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 2]
if rows:
    t = sorted(r[0] for r in rows)
    v = sorted(r[1] for r in rows)
    rank = lambda xs, q: xs[max(0, math.ceil(q * len(xs)) - 1)]
    print(f"{rank(t, 0.5) * 1000:.3f} {rank(t, 0.99) * 1000:.3f} {rank(v, 0.5) * 8 / 1e6:.1f} {len(rows)}")
PYEOF
)
      if [ -n "$row" ]; then
        set -- $row
        record group=edge case="miss $size time to first byte ($EDGE_TTFB_RUNS runs)" server="$kind" \
          ttfb_ms="$1" ttfb_p99_ms="$2" mbps="$3" runs="$4"
        log "  $kind miss $size: TTFB median $1 ms, p99 $2 ms ($4 runs in $EDGE_TTFB_BLOCKS blocks)"
      fi
    done
  done
  for ((i = 0; i < n; i++)); do stop_pid "${pids[$i]}"; done
}

# edge_full_cache_misses KIND DIR ORIGIN_PORT SECONDS: the 10 KiB miss row again, on a server whose cache is full
# (EDGE_FULL_CACHE, filled by EDGE_FULL_FILL_S seconds of misses first), so that every stored object evicts older
# ones: the state an edge spends its life in. The row above starts from an empty cache, so its misses also pay for
# memory the server takes from the kernel for the first time (Meridian: 2 MiB huge pages since it sets glibc's
# malloc tunables, README "Performance"; nginx's store is tmpfs pages the kernel fills on write(2)), and on this VM a
# first touch of a 4 KiB page costs 8-20 us.
edge_full_cache_misses() {
  local kind=$1 d=$2 origin_port=$3 secs=$4 port
  local case="miss path 10KiB, full $EDGE_FULL_CACHE cache (evicting; unique keys, 16 conns)"
  port=$(free_port)
  SERVER_PID=
  if ! start_edge_server "$kind" "$d/$kind-full" "$port" "$origin_port" "$EDGE_FULL_CACHE"; then
    skip_row edge "$case" "$kind" "did not start (see $d/$kind-full)"
    stop_pid "$SERVER_PID"
    return 0
  fi
  local pid=$SERVER_PID
  MISS_PREFIX="$kind-fill-$RANDOM" taskset -c "$LOAD_CPU" timeout $((EDGE_FULL_FILL_S + 30)) wrk -t1 -c16 \
    -d"${EDGE_FULL_FILL_S}s" -s "$d/miss.lua" "http://127.0.0.1:$port/" >"$d/$kind-full/fill.out" 2>&1 || true
  log "  $kind full-cache fill: $(grep -E 'requests in' "$d/$kind-full/fill.out" | sed 's/^ *//')"
  MISS_PREFIX="$kind-full-$RANDOM" wrk_case edge "$case" "$kind" "http://127.0.0.1:$port/" "$secs" 16 -s "$d/miss.lua"
  stop_pid "$pid"
}
