# Invalidation benchmark (issue: "an invalidation of 100,000 objects by wildcard on a full cache completes in < 1 s
# without stalling hits: p99 of concurrent hits stays < 2x its normal value"). meridian-edge in front of the nginx
# origin is filled with INVALIDATION_OBJECTS small objects under /s/, then hits on another object are measured for
# N seconds alone and N seconds during which a POST /_meridian/invalidate of "/s/*" runs. Sourced by bench.sh.

INVALIDATION_OBJECTS=${INVALIDATION_OBJECTS:-100000}

bench_invalidation() {
  local secs=$1 d="$BENCH_TMP/invalidation" n=$INVALIDATION_OBJECTS
  mkdir -p "$d/site"
  echo ok >"$d/site/keep.html"
  local origin_port port token=bench-invalidation-token-0123456789
  echo "$token" >"$d/token"
  origin_port=$(free_port)
  start_origin "$d/origin" "$origin_port" "$d/site" || { skip_row invalidation "wildcard" meridian "origin did not start"; return 0; }
  local origin_pid=$ORIGIN_PID
  port=$(free_port)
  SERVER_PID=
  if ! EDGE_EXTRA_CONF="[invalidation]
token_file = \"$d/token\"" start_edge_server meridian "$d/edge" "$port" "$origin_port" "4GiB"; then
    skip_row invalidation "wildcard" meridian "did not start (see $d/edge)"
    stop_pid "$SERVER_PID"; stop_pid "$origin_pid"
    return 0
  fi
  local admin=$EDGE_ADMIN_PORT
  cat >"$d/fill.lua" <<'LUA'
local n = tonumber(os.getenv("OBJECTS"))
local i = 0
request = function()
  i = i + 1
  if i > n then i = 1 end
  return wrk.format("GET", "/s/" .. i)
end
LUA
  log "invalidation: filling the edge with $n objects"
  OBJECTS=$n taskset -c "$LOAD_CPU" wrk -t1 -c32 -d60s -s "$d/fill.lua" "http://127.0.0.1:$port/" >"$d/fill.out" 2>&1 &
  local wrk_pid=$!
  local objs=0 deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    objs=$(edge_metric "$admin" meridian_edge_cache_objects)
    [ "${objs:-0}" -ge "$n" ] && break
    sleep 0.5
  done
  kill "$wrk_pid" 2>/dev/null; wait "$wrk_pid" 2>/dev/null
  curl -s -o /dev/null "http://127.0.0.1:$port/keep.html"
  log "invalidation: $objs objects stored; hits on /keep.html alone for ${secs}s"
  wrk_case invalidation "cache hit p99, no invalidation running" meridian "http://127.0.0.1:$port/keep.html" "$secs" 16
  log "invalidation: hits again while /s/* is invalidated"
  local out="$d/during.wrk"
  taskset -c "$LOAD_CPU" wrk -t1 -c16 -d"${secs}s" --timeout 5s --latency "http://127.0.0.1:$port/keep.html" >"$out" 2>&1 &
  wrk_pid=$!
  # Beside wrk, one request at a time, timed each: the hits that ran while the scan did, against the second before
  # (wrk's p99 over the whole run mostly counts hits before and after a scan that lasts a fraction of a second).
  local probe_secs=$(( secs > 3 ? secs - 1 : 2 ))
  taskset -c "$LOAD_CPU" $PY probe "$port" /keep.html "$probe_secs" "$d/probe.txt" 2>"$d/probe.err" &
  local probe_pid=$!
  sleep 1.5
  local answer t0 t1 took
  t0=$(date +%s%N)
  answer=$(curl -s --max-time 60 -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    --data '{"paths": ["/s/*"]}' "http://127.0.0.1:$admin/_meridian/invalidate" || true)
  t1=$(date +%s%N)
  wait "$wrk_pid" 2>/dev/null
  if wait "$probe_pid" && [ -s "$d/probe.txt" ]; then
    local pj
    pj=$($PY window "$d/probe.txt" "$t0" "$t1")
    record_json "$pj" group=invalidation case="sequential hit latency during the invalidation (probe)" server=meridian
    log "  sequential hits during the scan vs the second before: $pj"
  fi
  took=$(( (t1 - t0) / 1000000 ))
  local json hit_objects
  json=$($PY wrk "$out")
  hit_objects=$(python3 -c "import json,sys; print(json.loads(sys.argv[1]).get('objects', 0))" "$answer" 2>/dev/null || echo 0)
  record_json "$json" group=invalidation case="cache hit p99, invalidation of /s/* running" server=meridian
  record group=invalidation case="invalidation of /s/* (wildcard) on a full cache" server=meridian \
    took_ms="$took" objects="$hit_objects" stored_before="$objs"
  log "  invalidated $hit_objects of $objs objects in ${took} ms (answer: $answer)"
  log "  hits during it: $($PY summary "$json")"
  stop_pid "$SERVER_PID"; stop_pid "$origin_pid"
}
