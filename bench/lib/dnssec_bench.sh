# DNSSEC benchmark (issue 12): the static bench zone signed online by meridian-dns (compact denial, and an NSEC
# chain signed at load: `denial = "nsec"`), against the same zone unsigned
# (our own unsigned rate) and Knot DNS serving it pre-signed by ldns-signzone with the same keys (NSEC chain), all
# saturated with DO=1 queries in alternating rounds. Two query mixes: "positive" (existing names and NODATA, what
# every server answers from stored signatures) and the dns group's mix (15% NXDOMAIN at random names, each a name
# never seen before, which an online signer must sign as it answers). Then the time meridian-dns takes to re-render
# and re-sign every steered answer after one edge changes health, from its log. Sourced by bench.sh.

bench_dnssec() {
  local secs=$1 d="$BENCH_TMP/dnssec"
  mkdir -p "$d/keys"
  log "dnssec: a zone of $DNS_NAMES names, keys from meridian-dns keygen, the same zone pre-signed by ldns-signzone"
  python3 "$BENCH_LIB/gen_zone.py" --origin bench.test --names "$DNS_NAMES" --zone "$d/bench.test.zone" \
    --queries "$d/queries" --count 200000
  grep -v '^nx' "$d/queries" >"$d/queries.positive"
  "$MERIDIAN_DNS" keygen --dir "$d/keys" bench.test >"$d/keygen.log" 2>&1 || { warn "keygen failed"; return 0; }
  local ksk zsk f
  for f in "$d"/keys/*.key; do
    if grep -q key-signing "$f"; then ksk=${f%.key}; else zsk=${f%.key}; fi
  done
  # Knot serves what ldns-signzone signed with our keys (NSEC, the classic chain): no signing per query.
  (cd "$d" && ldns-signzone -f "$d/bench.test.zone.signed" -o bench.test. "$d/bench.test.zone" "$ksk" "$zsk") \
    >"$d/signzone.log" 2>&1 || { warn "ldns-signzone failed: $(tail -2 "$d/signzone.log")"; }
  printf '[zone.dnssec]\nksk = "%s"\nzsk = "%s"\n' "$ksk" "$zsk" >"$d/dnssec.append"
  printf '[zone.dnssec]\nksk = "%s"\nzsk = "%s"\ndenial = "nsec"\n' "$ksk" "$zsk" >"$d/nsec.append"

  local port kind up=()
  DNS_PORT=() DNS_PID=()
  for kind in meridian meridian_signed meridian_nsec knot_signed; do
    port=$(free_port)
    SERVER_PID=
    local ok=0
    case $kind in
      meridian) start_dns_server meridian "$d/$kind" "$port" bench.test "$d/bench.test.zone" && ok=1 ;;
      meridian_signed) GEO_CONF_APPEND="$d/dnssec.append" \
        start_dns_server meridian "$d/$kind" "$port" bench.test "$d/bench.test.zone" && ok=1 ;;
      meridian_nsec) GEO_CONF_APPEND="$d/nsec.append" \
        start_dns_server meridian "$d/$kind" "$port" bench.test "$d/bench.test.zone" && ok=1 ;;
      knot_signed) [ -s "$d/bench.test.zone.signed" ] &&
        start_dns_server knot "$d/$kind" "$port" bench.test "$d/bench.test.zone.signed" && ok=1 ;;
    esac
    if [ $ok = 0 ]; then
      skip_row dnssec "signed zone" "$kind" "did not start (see $d/$kind)"
      continue
    fi
    log "dnssec: $kind on 127.0.0.1:$port (core $SERVER_CPU)"
    DNS_PORT[$kind]=$port
    DNS_PID[$kind]=$SERVER_PID
    up+=("$kind")
  done
  measure_rounds dnssec "DO=1, existing names and NODATA" "$d/queries.positive" "$secs" "${up[@]}" -- --do
  measure_rounds dnssec "DO=1, 15% NXDOMAIN at new random names" "$d/queries" "$secs" "${up[@]}" -- --do
  stop_all
  bench_dnssec_instructions "$d"
  bench_dnssec_resign
}

# Instructions per answer under callgrind: what the rates above measure, without the noise of a shared machine (the
# same binary, zone and queries count the same instructions whatever else runs). User space only: the kernel's
# share (larger datagrams when signed) is in the rates, not here. Each server answers the same N queries at a fixed
# rate after its counters are zeroed, so loading and signing the zone are not counted.
bench_dnssec_instructions() {
  local d=$1 n=${DNSSEC_CALLGRIND_QUERIES:-10000} kind mix port pid file
  command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
    { skip_row dnssec "instructions per answer (callgrind)" meridian "valgrind not installed"; return 0; }
  for mix in positive all; do
    file="$d/queries.positive"
    [ $mix = all ] && file="$d/queries"
    for kind in meridian meridian_signed meridian_nsec; do
      port=$(free_port)
      sed -e "s|^listen = .*|listen = \"127.0.0.1:$port\"|" "$d/$kind/dns.toml" >"$d/$kind/callgrind.toml"
      spawn "meridian-dns under callgrind" "$d/$kind/callgrind.log" valgrind --tool=callgrind \
        --callgrind-out-file="$d/$kind/callgrind.out" "$MERIDIAN_DNS" --config "$d/$kind/callgrind.toml"
      pid=$SPAWNED_PID
      if ! wait_dns "$port" bench.test "$pid" 300; then
        skip_row dnssec "instructions per answer (callgrind), $mix" "$kind" "did not start under valgrind"
        stop_pid "$pid"
        continue
      fi
      callgrind_control -z "$pid" >/dev/null 2>&1
      loadgen_run "$port" "$file" $((n / 1000)) -Q 1000 --do >"$d/$kind/callgrind.$mix.json" || true
      callgrind_control -d "$pid" >/dev/null 2>&1
      stop_pid "$pid"
      local ir answered
      ir=$(callgrind_annotate "$d/$kind/callgrind.out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
      answered=$($PY get "$(tail -1 "$d/$kind/callgrind.$mix.json")" answered "")
      rm -f "$d/$kind/callgrind.out"*
      if [ -z "$ir" ] || [ -z "$answered" ] || [ "$answered" = 0 ]; then
        skip_row dnssec "instructions per answer (callgrind), $mix" "$kind" "no count"
        continue
      fi
      record group=dnssec case="instructions per answer (callgrind), $mix" server="$kind" \
        instructions="$ir" answered="$answered" ir_per_answer="$((ir / answered))"
      log "  $kind, $mix: $((ir / answered)) instructions per answer ($answered answers)"
    done
  done
}

# The example's steered answers re-signed after a health change: meridian-dns logs each re-render's duration.
bench_dnssec_resign() {
  local d="$BENCH_TMP/dnssec/resign" port health_port
  mkdir -p "$d"
  port=$(free_port)
  health_port=$(free_port)
  python3 - "$health_port" 30 >"$d/listener.log" 2>&1 <<'PYEOF' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); time.sleep(float(sys.argv[2]))
PYEOF
  local listener=$!
  sed -e "s|^listen = .*|listen = \"127.0.0.1:$port\"|" -e 's|"keys/|"'"$ROOT"'/conf/examples/keys/|' \
    -e 's|"zones/|"'"$ROOT"'/conf/examples/zones/|' -e 's|"geo/|"'"$d"'/|' \
    "$ROOT/conf/examples/dns-dnssec.toml" >"$d/dns.toml"
  perl "$ROOT/conf/examples/geo/make_cities_mmdb.pl" "$d/cities.mmdb" >/dev/null
  # One edge gets a health check on our listener; stopping the listener makes it fail.
  python3 - "$d/dns.toml" "$health_port" <<'PYEOF'
import re, sys
p, port = sys.argv[1], sys.argv[2]
s = open(p).read()
s = s.replace('name = "eu"\n', 'name = "eu"\nhealth = { type = "tcp", address = "127.0.0.1", port = %s, interval = "200ms", timeout = "200ms", failure_threshold = 1, success_threshold = 1 }\n' % port, 1)
s = s.replace('level = "info"', 'level = "debug"')
open(p, "w").write(s)
PYEOF
  spawn meridian-dns "$d/server.log" "$MERIDIAN_DNS" --config "$d/dns.toml"
  local pid=$SPAWNED_PID
  wait_dns "$port" example.test "$pid" 60 || { warn "resign bench: meridian-dns did not start"; kill "$listener"; return 0; }
  sleep 1
  kill "$listener" 2>/dev/null
  local i
  for i in $(seq 50); do grep -q '"edge unhealthy"\|msg="edge unhealthy"' "$d/server.log" && break; sleep 0.2; done
  sleep 0.5
  local ms
  ms=$(grep 'steered answers rendered' "$d/server.log" | tail -1 | grep -o 'ms=[0-9.]*' | cut -d= -f2)
  local variants
  variants=$(grep 'steered answers rendered' "$d/server.log" | tail -1 | grep -o 'signed=[0-9]*' | cut -d= -f2)
  record group=dnssec case="re-sign all steered answers after a health change (example config)" server=meridian \
    render_ms="${ms:-}" signatures="${variants:-}"
  log "  re-render and re-sign after a health change: ${ms:-?} ms for ${variants:-?} signatures"
  stop_pid "$pid"
}
