# DNS static-zone benchmark: a zone of DNS_NAMES names (default 10,000), queries 80% existing / 15% NXDOMAIN /
# 5% NODATA, served in turn by meridian-dns, NSD, Knot DNS, gdnsd (one worker thread each, pinned to the server
# core) and the dns_echo ceiling; our dns_loadgen saturates each from the other core. Server CPU per query comes
# from /proc over the run. Then dnsperf at a fixed rate below every server's limit (-Q), and Meridian at 90% of its
# own maximum to check that nothing is lost there. Sourced by bench.sh.

DNS_NAMES=${DNS_NAMES:-10000}
DNSPERF_QPS=${DNSPERF_QPS:-30000}
DNS_CASE="static zone 10k names, saturating"

# loadgen_run PORT QUERYFILE SECONDS [extra dns_loadgen args]: prints the JSON result line.
loadgen_run() {
  local port=$1 qf=$2 secs=$3; shift 3
  taskset -c "$LOAD_CPU" "$BIN/dns_loadgen" -s 127.0.0.1 -p "$port" -d "$qf" -l "$secs" --json "$@" 2>>"$BENCH_TMP/loadgen.err"
}

# measure_dns GROUP CASE SERVER PORT PID QUERYFILE SECONDS [extra]: warm up while trying windows of 32, 128 and
# 512 outstanding queries for 1 s each (servers peak at different depths: too deep only queues in socket buffers),
# then run SECONDS saturating with the best window; records qps, latency, lost and server CPU per query.
measure_dns() {
  local group=$1 case=$2 server=$3 port=$4 pid=$5 qf=$6 secs=$7; shift 7
  local w best_w=128 best_q=0 q json
  for w in 32 128 512; do
    json=$(loadgen_run "$port" "$qf" 1 --window "$w" "$@" || true)
    q=$($PY get "$json" qps 0); q=${q%.*}
    if [ "$q" -gt "$best_q" ]; then best_q=$q; best_w=$w; fi
  done
  local c0 c1
  c0=$(pid_cpu "$pid")
  json=$(loadgen_run "$port" "$qf" "$secs" --window "$best_w" "$@" || true)
  c1=$(pid_cpu "$pid")
  local cpu answered per_q=""
  cpu=$(python3 -c "print(f'{$c1 - $c0:.3f}')")
  answered=$($PY get "$json" answered 0)
  [ "$answered" -gt 0 ] && per_q=$(python3 -c "print(f'{$cpu * 1e6 / $answered:.3f}')")
  record_json "$json" group="$group" case="$case" server="$server" cpu_s="$cpu" cpu_us_per_q="$per_q"
  log "  $server: $($PY summary "$json") (window $best_w), server cpu ${per_q:-?} us/query"
  LAST_QPS=$($PY get "$json" qps 0); LAST_QPS=${LAST_QPS%.*}
}

# dnsperf_fixed GROUP CASE SERVER PORT PID QUERYFILE SECONDS RATE
dnsperf_fixed() {
  local group=$1 case=$2 server=$3 port=$4 pid=$5 qf=$6 secs=$7 rate=$8
  local out="$BENCH_TMP/dnsperf.$server.out" c0 c1
  c0=$(pid_cpu "$pid")
  taskset -c "$LOAD_CPU" timeout $((secs + 10)) dnsperf -s 127.0.0.1 -p "$port" -d "$qf" -l "$secs" -Q "$rate" \
    -c 8 -T 1 -q 1000 >"$out" 2>&1 || true
  c1=$(pid_cpu "$pid")
  local json cpu per_q=""
  json=$($PY dnsperf "$out")
  cpu=$(python3 -c "print(f'{$c1 - $c0:.3f}')")
  local answered
  answered=$(( $($PY get "$json" sent 0) - $($PY get "$json" lost 0) ))
  [ "${answered:-0}" -gt 0 ] && per_q=$(python3 -c "print(f'{$cpu * 1e6 / $answered:.3f}')")
  record_json "$json" group="$group" case="$case" server="$server" cpu_s="$cpu" cpu_us_per_q="$per_q" target_qps="$rate"
  log "  $server dnsperf -Q $rate: $($PY summary "$json"), server cpu ${per_q:-?} us/query"
}

bench_dns() {
  local secs=$1 d="$BENCH_TMP/dns"
  mkdir -p "$d"
  log "dns: generating a zone of $DNS_NAMES names and 200,000 queries (80% exist / 15% NXDOMAIN / 5% NODATA)"
  python3 "$BENCH_LIB/gen_zone.py" --origin bench.test --names "$DNS_NAMES" --zone "$d/bench.test.zone" \
    --queries "$d/queries" --count 200000
  local kind port meridian_max=0 fixed_secs=$(( secs < 5 ? secs : 5 ))
  for kind in meridian nsd knot gdnsd echo; do
    port=$(free_port)
    log "dns: $kind on 127.0.0.1:$port (core $SERVER_CPU), load from core $LOAD_CPU for ${secs}s"
    SERVER_PID=
    if ! start_dns_server "$kind" "$d/$kind" "$port" bench.test "$d/bench.test.zone"; then
      skip_row dns "$DNS_CASE" "$kind" "did not start (see $d/$kind)"
      stop_all
      continue
    fi
    measure_dns dns "$DNS_CASE" "$kind" "$port" "$SERVER_PID" "$d/queries" "$secs"
    [ "$kind" = meridian ] && meridian_max=$LAST_QPS
    if [ "$kind" != echo ]; then
      dnsperf_fixed dns "dnsperf fixed rate" "$kind" "$port" "$SERVER_PID" "$d/queries" "$fixed_secs" "$DNSPERF_QPS"
    fi
    if [ "$kind" = meridian ] && [ "$meridian_max" -gt 0 ]; then
      local r90=$(( meridian_max * 9 / 10 ))
      log "dns: meridian at 90% of its maximum ($r90 q/s) for ${fixed_secs}s"
      local json
      json=$(loadgen_run "$port" "$d/queries" "$fixed_secs" -Q "$r90" --window 4096 || true)
      record_json "$json" group=dns case="90% of max rate" server=meridian
    fi
    stop_all
  done
}
