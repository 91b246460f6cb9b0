# Scaling curves. Sourced by bench.sh.
#  - DNS zone size: SCALE_ZONE_RECORDS (1k 10k 100k 1M records), meridian-dns beside NSD: load time (start until
#    the first answer), resident memory after load, and queries/s on the 80/15/5 mix. The 1M point doubles as the
#    issue's "1,000,000-record zone: load time <= 2x NSD, RSS <= 1.5x NSD" case.
#  - Cache size: SCALE_CACHE_OBJECTS (1k 10k 100k 1M) objects of 100 bytes, meridian-edge beside nginx proxy_cache:
#    memory per cached object (growth of RSS, plus for nginx its cache files on tmpfs, / objects) and hit requests/s over all of them. Warming is bounded by
#    SCALE_WARM_MAX seconds; if the miss path is slower than that allows, the point reports how many objects it holds.
#  - Cache bookkeeping (issue #3 of meridian-edge: <= 256 bytes per object beyond key, headers and body, shown with
#    1,000,000 small objects): build/bin/cache_memory fills an ObjectCache through the edge's own miss path with
#    CACHE_MEM_OBJECTS (1M) objects of 1 B..1 KiB and reports (RSS growth - key - headers - body) / objects. Then the
#    same figure on the running meridian-edge: CACHE_MEM_HTTP_OBJECTS (1M) distinct keys fetched over
#    CACHE_MEM_HTTP_CONNS (256) connections from an nginx `return 200` origin, bounded by CACHE_MEM_HTTP_MAX seconds
#    (180; 0 skips it); key + header + body bytes come from /_meridian/metrics (cache bytes minus the fixed per-object
#    charge), so the row reports what it reached.

SCALE_ZONE_RECORDS=${SCALE_ZONE_RECORDS:-"1000 10000 100000 1000000"}
SCALE_CACHE_OBJECTS=${SCALE_CACHE_OBJECTS:-"1000 10000 100000 1000000"}
SCALE_WARM_MAX=${SCALE_WARM_MAX:-25}
CACHE_MEM_OBJECTS=${CACHE_MEM_OBJECTS:-1000000}
CACHE_MEM_HTTP_OBJECTS=${CACHE_MEM_HTTP_OBJECTS:-1000000}
CACHE_MEM_HTTP_CONNS=${CACHE_MEM_HTTP_CONNS:-256}
CACHE_MEM_HTTP_MAX=${CACHE_MEM_HTTP_MAX:-180}

human_count() {
  case "$1" in
    *000000) echo "${1%000000}M" ;;
    *000) echo "${1%000}k" ;;
    *) echo "$1" ;;
  esac
}

scale_zone() {
  local secs=$1 d="$BENCH_TMP/scale-zone" n kind port t0 t1
  local qsecs=$(( secs < 3 ? secs : 3 ))
  mkdir -p "$d"
  for n in $SCALE_ZONE_RECORDS; do
    local label
    label=$(human_count "$n")
    log "scale: zone of $label records"
    python3 "$BENCH_LIB/gen_zone.py" --origin bench.test --records "$n" --zone "$d/zone-$n" --queries "$d/q-$n" \
      --count 100000
    for kind in meridian nsd; do
      port=$(free_port)
      SERVER_PID=
      t0=$(date +%s.%N)
      if ! start_dns_server "$kind" "$d/$kind-$n" "$port" bench.test "$d/zone-$n"; then
        skip_row scale "zone load $label records" "$kind" "did not start (see $d/$kind-$n)"
        stop_all
        continue
      fi
      t1=$(date +%s.%N)
      # From the server's own start (spawn): meridian-dns --check runs before it and is not part of loading.
      t0=${SPAWNED_AT:-$t0}
      local load rss json
      load=$(python3 -c "print(round($t1 - $t0, 3))")
      rss=$(pid_rss "$SERVER_PID")
      json=$(loadgen_run "$port" "$d/q-$n" "$qsecs" --window 128 || true)
      record_json "$json" group=scale case="zone load $label records" server="$kind" load_s="$load" rss_kib="$rss" \
        records="$n"
      log "  $kind: loaded in ${load}s, RSS ${rss} KiB, $($PY get "$json" qps 0) q/s"
      stop_all
    done
  done
}

scale_cache() {
  local secs=$1 d="$BENCH_TMP/scale-cache" n kind port
  local hsecs=$(( secs < 3 ? secs : 3 ))
  mkdir -p "$d/site"
  echo ok >"$d/site/index.html"
  local origin_port
  origin_port=$(free_port)
  start_origin "$d/origin" "$origin_port" "$d/site" || { warn "scale: origin did not start"; return 1; }
  local origin_pid=$ORIGIN_PID
  cat >"$d/warm.lua" <<'LUA'
-- Fetches /s/1 .. /s/N in order, then starts over: after N requests every object is cached.
local n = tonumber(os.getenv("OBJECTS"))
local i = 0
request = function()
  i = i + 1
  if i > n then i = 1 end
  return wrk.format("GET", "/s/" .. i)
end
LUA
  cat >"$d/hit.lua" <<'LUA'
-- Uniformly random objects among the N cached ones; counts responses whose X-Cache says it was a hit.
local n = tonumber(os.getenv("OBJECTS"))
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) math.randomseed(42); hits = 0; total = 0 end
request = function() return wrk.format("GET", "/s/" .. math.random(n)) end
function response(status, headers, body)
  total = total + 1
  local x = headers["X-Cache"] or headers["x-cache"] or ""
  if x:sub(1, 3):lower() == "hit" then hits = hits + 1 end
end
function done(summary, latency, requests)
  local h, t = 0, 0
  for _, th in ipairs(threads) do h = h + th:get("hits"); t = t + th:get("total") end
  io.write(string.format("HITS %d %d\n", h, t))
end
LUA
  for n in $SCALE_CACHE_OBJECTS; do
    local label
    label=$(human_count "$n")
    for kind in meridian nginx; do
      port=$(free_port)
      SERVER_PID=
      if ! start_edge_server "$kind" "$d/$kind-$n" "$port" "$origin_port" "8GiB"; then
        skip_row scale "cache $label objects, hits" "$kind" "did not start (see $d/$kind-$n)"
        stop_pid "$SERVER_PID"
        continue
      fi
      local pid=$SERVER_PID rss0 rss1 warm_out="$d/warm-$kind-$n.out" warm_s
      rss0=$(pid_rss "$pid")
      # Enough time for the whole set at a pessimistic 1,000 misses/s, bounded.
      warm_s=$(( n / 1000 + 2 )); [ "$warm_s" -gt "$SCALE_WARM_MAX" ] && warm_s=$SCALE_WARM_MAX
      log "scale: cache $label objects on $kind: warming (up to ${warm_s}s)"
      PREFIX=/s/ OBJECTS=$n taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"${warm_s}s" -s "$d/warm.lua" "http://127.0.0.1:$port/" \
        >"$warm_out" 2>&1 || true
      local warmed
      warmed=$($PY get "$($PY wrk "$warm_out")" requests 0)
      [ "$warmed" -gt "$n" ] && warmed=$n
      rss1=$(pid_rss "$pid")
      # nginx keeps its cache in files (on tmpfs here): that memory is not in its RSS, so add it.
      if [ "$kind" = nginx ]; then rss1=$(( rss1 + $(du -sk "$d/$kind-$n/cache" | cut -f1) )); fi
      local per_obj=""
      [ "$warmed" -gt 0 ] && per_obj=$(( (rss1 - rss0) * 1024 / warmed ))
      local out="$d/hit-$kind-$n.out"
      OBJECTS=$warmed taskset -c "$LOAD_CPU" wrk -t1 -c64 -d"${hsecs}s" --latency -s "$d/hit.lua" \
        "http://127.0.0.1:$port/" >"$out" 2>&1 || true
      local json hit_ratio
      json=$($PY wrk "$out")
      hit_ratio=$(awk '/^HITS/ { if ($3 > 0) printf "%.4f", $2 / $3 }' "$out")
      record_json "$json" group=scale case="cache $label objects, hits" server="$kind" objects="$warmed" \
        rss_kib="$rss1" bytes_per_object="$per_obj" hit_ratio="$hit_ratio"
      log "  $kind: $warmed objects cached, RSS $rss0 -> $rss1 KiB (${per_obj:-?} B/object), $($PY get "$json" rps 0) hits/s, hit ratio ${hit_ratio:-?}"
      stop_pid "$pid"
    done
  done
  stop_pid "$origin_pid"
}

# edge_metric PORT NAME: one value from the edge's /_meridian/metrics ("" when it does not answer).
edge_metric() {
  curl -s --max-time 5 "http://127.0.0.1:$1/_meridian/metrics" | awk -v m="$2" '$1 == m { printf "%d", $2; exit }'
}

cache_memory() {
  local d="$BENCH_TMP/cache-memory" label case_name json
  mkdir -p "$d"
  label=$(human_count "$CACHE_MEM_OBJECTS")
  case_name="cache bookkeeping per object ($label objects)"
  if [ ! -x "$BIN/cache_memory" ]; then
    skip_row edge "$case_name" meridian "$BIN/cache_memory not built (cmake --build $BUILD --target cache_memory)"
  else
    log "edge: cache bookkeeping, $label objects through the miss path in-process (cache_memory)"
    if json=$(taskset -c "$SERVER_CPU" "$BIN/cache_memory" --objects "$CACHE_MEM_OBJECTS" --json 2>"$d/tool.err"); then
      record_json "$json" group=edge case="$case_name" server=meridian rss_kib="$(( $($PY get "$json" rss_delta 0) / 1024 ))"
      log "  $($PY get "$json" stored) objects: $($PY get "$json" bytes_per_object) B/object of bookkeeping" \
        "(after malloc_trim $($PY get "$json" bytes_per_object_trimmed), struct estimate $($PY get "$json" estimate_per_object))"
    else
      skip_row edge "$case_name" meridian "cache_memory failed: $(tail -2 "$d/tool.err" | tr '\n' ' ')"
    fi
  fi

  [ "$CACHE_MEM_HTTP_MAX" -gt 0 ] || return 0
  local n=$CACHE_MEM_HTTP_OBJECTS hcase
  hcase="cache bookkeeping per object, running edge ($(human_count "$n") over HTTP)"
  mkdir -p "$d/site"
  echo ok >"$d/site/index.html"
  local origin_port port
  origin_port=$(free_port)
  start_origin "$d/origin" "$origin_port" "$d/site" || { skip_row edge "$hcase" meridian "origin did not start"; return 0; }
  local origin_pid=$ORIGIN_PID
  port=$(free_port)
  SERVER_PID=
  if ! start_edge_server meridian "$d/edge" "$port" "$origin_port" "16GiB"; then
    skip_row edge "$hcase" meridian "did not start (see $d/edge)"
    stop_pid "$SERVER_PID"; stop_pid "$origin_pid"
    return 0
  fi
  local pid=$SERVER_PID admin=$EDGE_ADMIN_PORT
  cat >"$d/fill.lua" <<'LUA'
-- Every request a new key PREFIX1 .. PREFIXN (the origin answers /s/* with 100 bytes); then PREFIX1 again (hits).
local n = tonumber(os.getenv("OBJECTS"))
local prefix = os.getenv("PREFIX")
local i = 0
request = function()
  i = i + 1
  if i > n then i = 1 end
  return wrk.format("GET", prefix .. i)
end
LUA
  # The baseline is taken once every per-connection cost exists (client connections and their buffers, the pool of
  # origin connections, the allocator's arenas): 2 s of misses on other keys with as many connections. Those
  # objects are in objs0/bytes0, so only what the fill adds is counted.
  PREFIX=/s/warm- OBJECTS=1000000000 taskset -c "$LOAD_CPU" wrk -t1 -c"$CACHE_MEM_HTTP_CONNS" -d2s -s "$d/fill.lua" \
    "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
  local rss0 bytes0 objs0 t0 t1
  rss0=$(pid_rss "$pid")
  bytes0=$(edge_metric "$admin" meridian_edge_cache_bytes)
  objs0=$(edge_metric "$admin" meridian_edge_cache_objects)
  log "edge: filling the running edge with up to $n objects over HTTP (${CACHE_MEM_HTTP_CONNS} connections, up to ${CACHE_MEM_HTTP_MAX}s)"
  t0=$(date +%s.%N)
  PREFIX=/s/ OBJECTS=$n taskset -c "$LOAD_CPU" wrk -t1 -c"$CACHE_MEM_HTTP_CONNS" -d"${CACHE_MEM_HTTP_MAX}s" -s "$d/fill.lua" \
    "http://127.0.0.1:$port/" >"$d/fill.out" 2>&1 || true
  t1=$(date +%s.%N)
  local rss1 bytes1 objs1 fixed json per_obj
  rss1=$(pid_rss "$pid")
  bytes1=$(edge_metric "$admin" meridian_edge_cache_bytes)
  objs1=$(edge_metric "$admin" meridian_edge_cache_objects)
  # The fixed part of each object's charge (struct + body chunk header), from the same build's cache_memory.
  fixed=$($PY get "$("$BIN/cache_memory" --objects 1 --json 2>/dev/null || true)" charge_fixed_per_object "")
  if [ -n "$fixed" ] && [ -n "$objs1" ] && [ "$objs1" -gt "${objs0:-0}" ]; then
    local added=$(( objs1 - ${objs0:-0} )) payload
    # cache bytes = per object (fixed struct + chunk header charge) + key + header block + body
    payload=$(( bytes1 - ${bytes0:-0} - added * fixed ))
    per_obj=$(python3 -c "print(round(($rss1 - $rss0) * 1024 / $added - $payload / $added, 1))")
    record_json "$($PY wrk "$d/fill.out")" group=edge case="$hcase" server=meridian objects="$added" \
      rss_kib="$(( rss1 - rss0 ))" bytes_per_object="$per_obj" payload_bytes="$payload" cache_bytes="$bytes1" \
      fill_s="$(python3 -c "print(round($t1 - $t0, 1))")"
    log "  $added objects cached in $(python3 -c "print(round($t1 - $t0, 1))")s, RSS $rss0 -> $rss1 KiB," \
      "key+headers+body $payload B: $per_obj B/object of bookkeeping"
  else
    skip_row edge "$hcase" meridian "no objects cached or cache_memory missing (metrics: ${objs1:-no answer})"
  fi
  stop_pid "$pid"
  stop_pid "$origin_pid"
}

bench_scale() {
  local secs=$1
  scale_zone "$secs"
  scale_cache "$secs"
  cache_memory
}
