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

# Servers under test, started before measuring: DNS_PORT[kind], DNS_PID[kind].
declare -A DNS_PORT=() DNS_PID=()
DNS_ROUNDS=${DNS_ROUNDS:-3}

# best_window PORT QUERYFILE [extra]: tries windows of 32, 128 and 512 outstanding queries for 1 s each (servers
# peak at different depths: too deep only queues in socket buffers) and prints the best; doubles as the warm-up.
best_window() {
  local port=$1 qf=$2; shift 2
  local w best_w=128 best_q=0 q json
  for w in 32 128 512; do
    json=$(loadgen_run "$port" "$qf" 1 --window "$w" "$@" || true)
    q=$($PY get "$json" qps 0); q=${q%.*}
    if [ "$q" -gt "$best_q" ]; then best_q=$q; best_w=$w; fi
  done
  echo "$best_w"
}

# measure_rounds GROUP CASE QUERYFILE SECONDS KIND... [-- extra dns_loadgen args]: every KIND is running already
# (DNS_PORT/DNS_PID). DNS_ROUNDS rounds; in each, every server is saturated for SECONDS in turn, so a slow patch of a
# shared machine falls on all of them alike instead of on whichever ran then. Each server's row is its median round
# by q/s, with every round's q/s in `rounds_qps`, and its CPU per query from /proc over that round.
# Sets LAST_QPS_<kind> (the median).
measure_rounds() {
  local group=$1 case=$2 qf=$3 secs=$4; shift 4
  local kinds=() extra=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do kinds+=("$1"); shift; done
  [ "${1:-}" = "--" ] && { shift; extra=("$@"); }
  [ ${#kinds[@]} -gt 0 ] || return 0
  log "$group: ${DNS_ROUNDS} rounds of ${secs}s per server (${kinds[*]}), load from core $LOAD_CPU"
  local kind r json c0 c1 cpu answered per_q dir="$BENCH_TMP/rounds.$group"
  declare -A win=()
  mkdir -p "$dir"
  # DNS_FIXED_WINDOW: every server at that window instead of its best (a comparison of CPU per query at one load).
  for kind in "${kinds[@]}"; do
    win[$kind]=${DNS_FIXED_WINDOW:-$(best_window "${DNS_PORT[$kind]}" "$qf" "${extra[@]}")}
  done
  for r in $(seq "$DNS_ROUNDS"); do
    for kind in "${kinds[@]}"; do
      c0=$(pid_cpu "${DNS_PID[$kind]}")
      json=$(loadgen_run "${DNS_PORT[$kind]}" "$qf" "$secs" --window "${win[$kind]}" "${extra[@]}" || true)
      c1=$(pid_cpu "${DNS_PID[$kind]}")
      cpu=$(python3 -c "print(f'{$c1 - $c0:.3f}')")
      answered=$($PY get "$json" answered 0)
      per_q=""
      [ "$answered" -gt 0 ] && per_q=$(python3 -c "print(f'{$cpu * 1e6 / $answered:.3f}')")
      printf '%s\n' "$json" >"$dir/$kind.$r.json"
      printf '%s %s\n' "$cpu" "$per_q" >"$dir/$kind.$r.cpu"
      log "  round $r $kind: $($PY summary "$json") (window ${win[$kind]}), server cpu ${per_q:-?} us/query"
    done
  done
  for kind in "${kinds[@]}"; do
    local pick
    pick=$(python3 - "$dir" "$kind" "$DNS_ROUNDS" <<'PYEOF'
import json, sys
d, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rounds = []
for r in range(1, n + 1):
    try:
        j = json.loads(open(f"{d}/{kind}.{r}.json").read() or "{}")
    except (OSError, json.JSONDecodeError):
        j = {}
    rounds.append((float(j.get("qps", 0) or 0), r))
rounds.sort()
print(rounds[len(rounds) // 2][1], ",".join(f"{q:.0f}" for q, _ in sorted(rounds, key=lambda x: x[1])))
PYEOF
)
    r=${pick%% *}
    local all=${pick#* }
    json=$(cat "$dir/$kind.$r.json")
    read -r cpu per_q <"$dir/$kind.$r.cpu"
    record_json "$json" group="$group" case="$case" server="$kind" cpu_s="$cpu" cpu_us_per_q="$per_q" \
      rounds_qps="$all" window="${win[$kind]}"
    log "  $kind: median of $DNS_ROUNDS rounds $($PY summary "$json") (rounds $all q/s)"
    local q=$($PY get "$json" qps 0)
    printf -v "LAST_QPS_$kind" '%s' "${q%.*}"
  done
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
  local kind port up=() fixed_secs=$(( secs < 5 ? secs : 5 ))
  DNS_PORT=() DNS_PID=()
  # Every server at once, each on its own port, all pinned to the server core: an idle one costs nothing, and the
  # rounds below can alternate between them.
  for kind in meridian nsd knot gdnsd echo; do
    port=$(free_port)
    log "dns: $kind on 127.0.0.1:$port (core $SERVER_CPU)"
    SERVER_PID=
    if ! start_dns_server "$kind" "$d/$kind" "$port" bench.test "$d/bench.test.zone"; then
      skip_row dns "$DNS_CASE" "$kind" "did not start (see $d/$kind)"
      continue
    fi
    DNS_PORT[$kind]=$port
    DNS_PID[$kind]=$SERVER_PID
    up+=("$kind")
  done
  measure_rounds dns "$DNS_CASE" "$d/queries" "$secs" "${up[@]}"
  for kind in "${up[@]}"; do
    [ "$kind" = echo ] && continue
    dnsperf_fixed dns "dnsperf fixed rate" "$kind" "${DNS_PORT[$kind]}" "${DNS_PID[$kind]}" "$d/queries" \
      "$fixed_secs" "$DNSPERF_QPS"
  done
  local meridian_max=${LAST_QPS_meridian:-0}
  if [ -n "${DNS_PORT[meridian]:-}" ] && [ "$meridian_max" -gt 0 ]; then
    local r90=$(( meridian_max * 9 / 10 ))
    log "dns: meridian at 90% of its maximum ($r90 q/s) for ${fixed_secs}s"
    local json
    json=$(loadgen_run "${DNS_PORT[meridian]}" "$d/queries" "$fixed_secs" -Q "$r90" --window 4096 || true)
    record_json "$json" group=dns case="90% of max rate" server=meridian
  fi
  stop_all
}
