# DNS over TCP (issue 15, item 5). Sourced by bench.sh; uses dns_bench.sh's measure_rounds.
#  - The 10k-name zone and 80/15/5 query mix of the dns group, served by meridian-dns, NSD, Knot DNS and gdnsd at
#    once (one worker each, pinned to the server core, TCP limits raised so no server turns connections away),
#    saturated by dns_loadgen over TCP from the other core, DNS_ROUNDS rounds alternating between the servers:
#      * reused connections: DNSTCP_CONNS (8) connections held open, the window of outstanding queries pipelined
#        over them (best of 32/128/512 in flight per server, as the UDP group picks its window);
#      * one query per connection: connect, one query, its answer, close (the client closes first); the window is
#        the number of connections open at once; from DNSTCP_SOURCES (16) loopback addresses so TIME_WAIT does not
#        run the client out of ports.
#    Each row records the server's CPU per query and the client core's busy share (client_core_busy): near 1.0
#    the client set the rate, and the row says so in the targets.
#  - One query per connection again with DNSTCP_CPU_WINDOW (64) connections open at once for every server: the CPU
#    per query target compares this row. Each server's best window differs (measured: meridian 512, gdnsd 32) and a
#    deeper window costs every server more per query (meridian 33-35 us at 32 against 38 at 512, gdnsd 33-34
#    against 36), so CPU per query from the rate rows compared the windows as much as the servers.
#  - AXFR of a DNSTCP_AXFR_RECORDS (1,000,000) record zone from meridian-dns and from NSD: DNSTCP_AXFR_ROUNDS (3)
#    transfers each by dns_loadgen --axfr (it walks every record, so it stops at the closing SOA); the median time,
#    and the server's peak resident memory during the transfers: its peak-RSS counter (VmHWM, summed over its
#    processes) is reset before each transfer (/proc/PID/clear_refs "5") and read after, so the zone load's own peak
#    does not count; rss_before_kib is the resident memory just before; cpu_s_per_transfer is the server's CPU
#    seconds over the rounds / rounds (on a busy machine the wall time is partly the other load's, the CPU is not).

DNSTCP_CONNS=${DNSTCP_CONNS:-8}
DNSTCP_SOURCES=${DNSTCP_SOURCES:-16}
DNSTCP_AXFR_RECORDS=${DNSTCP_AXFR_RECORDS:-1000000}
DNSTCP_AXFR_ROUNDS=${DNSTCP_AXFR_ROUNDS:-3}
DNSTCP_REUSE_CASE="TCP reused connections (pipelined), 10k names"
DNSTCP_NEW_CASE="TCP one query per connection, 10k names"
DNSTCP_CPU_WINDOW=${DNSTCP_CPU_WINDOW:-64}
DNSTCP_NEW_CPU_CASE="TCP one query per connection, $DNSTCP_CPU_WINDOW open at once (CPU per query)"

# tree_pids PID: PID and its descendants, one a line.
tree_pids() {
  python3 - "$1" <<'PYEOF'
import os, sys
kids = {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            s = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        kids.setdefault(int(s[s.rindex(")") + 2:].split()[1]), []).append(int(d))
todo, out = [int(sys.argv[1])], []
while todo:
    p = todo.pop()
    out.append(p)
    todo.extend(kids.get(p, []))
print("\n".join(map(str, out)))
PYEOF
}

# status_sum PID FIELD: FIELD (VmHWM, VmRSS) of /proc/*/status in KiB, summed over PID and its descendants.
status_sum() {
  local p total=0 v
  for p in $(tree_pids "$1"); do
    v=$(awk -v f="$2:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# reset_hwm PID: restarts the peak-RSS counter of PID and its descendants (Linux >= 4.0).
reset_hwm() {
  local p
  for p in $(tree_pids "$1"); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || return 1; done
}

# axfr_case KIND DIR ZONEFILE: starts KIND on the zone, DNSTCP_AXFR_ROUNDS transfers, one row.
axfr_case() {
  local kind=$1 dir=$2 zone=$3 case=$4 port r json
  port=$(free_port)
  SERVER_PID=
  if ! start_dns_server "$kind" "$dir/$kind" "$port" bench.test "$zone"; then
    skip_row dnstcp "$case" "$kind" "did not start (see $dir/$kind)"
    stop_all
    return 0
  fi
  local pid=$SERVER_PID rss_before peak=0 hwm_ok=1 c0 c1 samples=() sampler
  sleep 1 # a just-loaded server may still be freeing the load's scratch
  rss_before=$(status_sum "$pid" VmRSS)
  c0=$(pid_cpu "$pid")
  for r in $(seq "$DNSTCP_AXFR_ROUNDS"); do
    reset_hwm "$pid" || hwm_ok=0
    # VmRSS sampled every 50 ms as well: the figure where clear_refs is not allowed.
    ( m=0; while kill -0 "$pid" 2>/dev/null; do v=$(status_sum "$pid" VmRSS); [ "$v" -gt "$m" ] && m=$v
        echo "$m" >"$dir/$kind.sampled"; sleep 0.05; done ) &
    sampler=$!
    json=$(taskset -c "$LOAD_CPU" "$BIN/dns_loadgen" -s 127.0.0.1 -p "$port" --axfr bench.test --timeout 30 --json \
      2>>"$BENCH_TMP/loadgen.err" || true)
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
    local hwm sampled
    hwm=$(status_sum "$pid" VmHWM)
    sampled=$(cat "$dir/$kind.sampled" 2>/dev/null || echo 0)
    [ "$hwm_ok" = 1 ] || hwm=$sampled
    [ "$hwm" -gt "$peak" ] && peak=$hwm
    printf '%s\n' "$json" >"$dir/$kind.axfr.$r.json"
    log "  $kind AXFR round $r: $(python3 -c "import json,sys; j=json.loads(sys.argv[1] or '{}'); print(j.get('axfr_s'), 's,', j.get('records'), 'records,', j.get('messages'), 'messages, complete', j.get('complete'), ', client core busy', j.get('client_core_busy'))" "$json"), server peak RSS ${hwm} KiB (sampled ${sampled})"
  done
  c1=$(pid_cpu "$pid")
  local pick
  pick=$(python3 - "$dir" "$kind" "$DNSTCP_AXFR_ROUNDS" <<'PYEOF'
import json, sys
d, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rounds = []
for r in range(1, n + 1):
    try:
        j = json.loads(open(f"{d}/{kind}.axfr.{r}.json").read() or "{}")
    except (OSError, json.JSONDecodeError):
        j = {}
    if j.get("complete"):
        rounds.append((j["axfr_s"], r))
rounds.sort()
print(rounds[len(rounds) // 2][1] if rounds else 0, ",".join(f"{t:.3f}" for t, _ in rounds) or "-", len(rounds))
PYEOF
)
  read -r r all complete <<<"$pick"
  if [ "$r" = 0 ]; then
    skip_row dnstcp "$case" "$kind" "no transfer completed (see $dir/$kind.axfr.*.json)"
  else
    json=$(cat "$dir/$kind.axfr.$r.json")
    record_json "$json" group=dnstcp case="$case" server="$kind" rss_kib="$peak" rss_before_kib="$rss_before" \
      rss_growth_kib="$((peak - rss_before))" rounds_s="$all" complete_rounds="$complete" \
      cpu_s_per_transfer="$(python3 -c "print(f'{($c1 - $c0) / $DNSTCP_AXFR_ROUNDS:.3f}')")"
    log "  $kind AXFR: median $(python3 -c "import json,sys; print(json.loads(sys.argv[1])['axfr_s'])" "$json") s (rounds $all s), peak RSS $peak KiB (before $rss_before KiB)"
  fi
  stop_all
}

bench_dnstcp() {
  local secs=$1 d="$BENCH_TMP/dnstcp" kind port up=()
  mkdir -p "$d"
  log "dnstcp: generating a zone of $DNS_NAMES names and 200,000 queries (80% exist / 15% NXDOMAIN / 5% NODATA)"
  python3 "$BENCH_LIB/gen_zone.py" --origin bench.test --names "$DNS_NAMES" --zone "$d/bench.test.zone" \
    --queries "$d/queries" --count 200000
  # Limits raised on every server so that none turns the client's connections away (512 at once at most), and
  # transfers allowed from loopback.
  cat >"$d/meridian-tcp.toml" <<'CONF'

[limits]
max_tcp_connections = 4096
max_tcp_connections_per_address = 0

[axfr]
allow = ["127.0.0.0/8"]
CONF
  local MERIDIAN_CONF_APPEND="$d/meridian-tcp.toml" NSD_TCP_COUNT=4096
  local NSD_ZONE_EXTRA="    provide-xfr: 127.0.0.0/8 NOKEY"
  local KNOT_SERVER_EXTRA="    tcp-max-clients: 4096"
  local GDNSD_OPTIONS_EXTRA="  tcp_clients_per_thread => 4096"
  DNS_PORT=() DNS_PID=()
  for kind in meridian nsd knot gdnsd; do
    port=$(free_port)
    log "dnstcp: $kind on 127.0.0.1:$port (core $SERVER_CPU)"
    SERVER_PID=
    if ! start_dns_server "$kind" "$d/$kind" "$port" bench.test "$d/bench.test.zone"; then
      skip_row dnstcp "$DNSTCP_REUSE_CASE" "$kind" "did not start (see $d/$kind)"
      skip_row dnstcp "$DNSTCP_NEW_CASE" "$kind" "did not start (see $d/$kind)"
      continue
    fi
    DNS_PORT[$kind]=$port
    DNS_PID[$kind]=$SERVER_PID
    up+=("$kind")
  done
  measure_rounds dnstcp "$DNSTCP_REUSE_CASE" "$d/queries" "$secs" "${up[@]}" -- --tcp --sockets "$DNSTCP_CONNS"
  measure_rounds dnstcp "$DNSTCP_NEW_CASE" "$d/queries" "$secs" "${up[@]}" -- --tcp-per-query \
    --sources "$DNSTCP_SOURCES"
  DNS_FIXED_WINDOW=$DNSTCP_CPU_WINDOW measure_rounds dnstcp "$DNSTCP_NEW_CPU_CASE" "$d/queries" "$secs" "${up[@]}" \
    -- --tcp-per-query --sources "$DNSTCP_SOURCES"
  stop_all

  local label
  label=$(human_count "$DNSTCP_AXFR_RECORDS")
  log "dnstcp: AXFR, generating a zone of $label records"
  python3 "$BENCH_LIB/gen_zone.py" --origin bench.test --records "$DNSTCP_AXFR_RECORDS" --zone "$d/axfr.zone"
  for kind in meridian nsd; do
    axfr_case "$kind" "$d" "$d/axfr.zone" "AXFR of a $label-record zone"
  done
}
