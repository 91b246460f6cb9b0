# TLS benchmark: meridian-edge's HTTPS listener beside nginx's, started together and measured in interleaved rounds.
# Same certificate (one generated per run: ECDSA P-256 by default, TLS_KEY=rsa for RSA-2048), same TLS 1.2 ciphers
# (Mozilla "intermediate", Meridian's default, given to both) and OpenSSL's default TLS 1.3 suites and groups, one
# worker each, both as caches in front of the same origin (the edge group's nginx). Cases:
#   full TLS 1.3 handshakes      TLS_CLIENTS `openssl s_time -new` in parallel, one 1 KiB GET per connection
#   resumed TLS 1.3 handshakes   the same with `-reuse` (session tickets; the resumed share is counted)
#   keep-alive HTTPS hits        wrk -t1 -cTLS_CONNS, 1 KiB and 100 KiB
#   h2 hits                      h2load -c10 -m10 (1 KiB), when the edge negotiates h2 (ALPN); skipped otherwise
# Every case records the server's CPU per request (utime+stime from /proc, all its threads and children) and how busy
# the server's and the client's cores were. On 2 cores the client has one core, and a TLS client's share of a
# handshake (key share, ECDSA verify) costs more than the server's, so the clients, not the servers, can set the
# rate; then the target compares requests per server CPU second (1 / CPU per request), which is what one server core
# would do. Each row is the server's median round (TLS_ROUNDS, default 3) by rate. Sourced by bench.sh.

TLS_ROUNDS=${TLS_ROUNDS:-3}
TLS_KEY=${TLS_KEY:-ec}
TLS_CLIENTS=${TLS_CLIENTS:-4}
TLS_CONNS=${TLS_CONNS:-64}
TLS_SIZES=${TLS_SIZES:-"1KiB 100KiB"}
# TLS 1.2 ciphers for both servers: Mozilla "intermediate" (Meridian's default, shared/tls/tls_server_context.h).
TLS_CIPHERS=${TLS_CIPHERS:-"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"}
# Below this share of its core a server was not the limit: the verdict then uses its CPU per request.
TLS_SATURATED=${TLS_SATURATED:-0.90}

# tls_make_cert DIR: DIR/cert.pem and DIR/key.pem, self-signed for bench.test (the servers send it; s_time, wrk
# and h2load do not verify).
tls_make_cert() {
  local dir=$1 kind
  mkdir -p "$dir"
  case "$TLS_KEY" in
    rsa) kind=(-newkey rsa:2048) ;;
    *) kind=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
  esac
  openssl req -x509 "${kind[@]}" -nodes -sha256 -days 2 -subj "/CN=bench.test" \
    -addext "subjectAltName=DNS:bench.test" -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1
}

# tls_alpn PORT PROTO: the protocol the server selects when the client offers only PROTO ("" for none).
tls_alpn() {
  timeout 10 openssl s_client -connect "127.0.0.1:$1" -alpn "$2" </dev/null 2>/dev/null |
    sed -n 's/^ALPN protocol: //p' | head -1
}

# wait_https PORT PID: until the server answers a GET over TLS.
wait_https() {
  local port=$1 pid=$2 t0=$SECONDS
  while [ $((SECONDS - t0)) -lt 30 ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    curl -sk -o /dev/null --max-time 1 "https://127.0.0.1:$port/obj-1KiB.bin" && return 0
    sleep 0.1
  done
  return 1
}

# start_tls_meridian DIR HTTP_PORT TLS_PORT ORIGIN_PORT CERTDIR: one worker, HTTPS on TLS_PORT with ALPN h2 when
# the edge accepts it in its config, else http/1.1 only.
start_tls_meridian() {
  local dir=$1 port=$2 tport=$3 origin=$4 cdir=$5 alpn
  for alpn in '"h2", "http/1.1"' '"http/1.1"'; do
    EDGE_EXTRA_CONF="
[tls]
listen = \"127.0.0.1:$tport\"
alpn = [$alpn]
ciphers = \"$TLS_CIPHERS\"

[[tls.certificate]]
cert = \"$cdir/cert.pem\"
key = \"$cdir/key.pem\"
default = true
"
    SERVER_PID=
    if start_edge_meridian "$dir" "$port" "$origin" 2>"$dir.start.log"; then
      log "tls: meridian-edge with alpn [$alpn]"
      wait_https "$tport" "$SERVER_PID" || { warn "meridian-edge did not answer over TLS"; return 1; }
      return 0
    fi
    stop_pid "$SERVER_PID"
    log "tls: meridian-edge refused alpn [$alpn]: $(head -2 "$dir/check.log" | tr '\n' ' ')"
  done
  cat "$dir.start.log" >&2
  return 1
}

# start_tls_nginx DIR TLS_PORT ORIGIN_PORT CERTDIR: nginx proxy_cache (as in the edge group) on an HTTPS listener
# with h2, the same certificate and ciphers, a shared session cache and tickets.
start_tls_nginx() {
  local dir=$1 tport=$2 origin=$3 cdir=$4
  mkdir -p "$dir/cache"
  {
    nginx_common "$dir"
    cat <<CONF
http {
$(nginx_http_common "$dir")
    proxy_cache_path $dir/cache levels=1:2 keys_zone=bench:256m max_size=4g inactive=1d use_temp_path=off;
    upstream origin { server 127.0.0.1:$origin; keepalive 64; }
    ssl_certificate $cdir/cert.pem;
    ssl_certificate_key $cdir/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers $TLS_CIPHERS;
    ssl_prefer_server_ciphers on;
    ssl_session_cache shared:bench_tls:10m;
    ssl_session_timeout 1d;
    ssl_session_tickets on;
    http2_max_requests 10000000;
    server {
        listen 127.0.0.1:$tport ssl http2 backlog=8192;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache bench;
            proxy_cache_lock on;
            add_header X-Cache \$upstream_cache_status;
        }
    }
}
CONF
  } >"$dir/nginx.conf"
  if ! nginx -t -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/check.log" 2>&1; then
    warn "nginx (tls): nginx -t failed: $(tail -3 "$dir/check.log" | tr '\n' ' ')"
    return 1
  fi
  spawn nginx "$dir/server.log" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
  SERVER_PID=$SPAWNED_PID
  wait_https "$tport" "$SERVER_PID" || { warn "nginx did not answer over TLS: $(tail -3 "$dir/error.log")"; return 1; }
}

# tls_client ROWFILE SERVER PID KIND OUT CMD...: runs CMD (the client, already pinned to the load core), timing it
# with bash's `time` (the client's CPU seconds) and the server's CPU from /proc around it, and appends the round's
# row to ROWFILE (benchpy.py tlsrow: KIND wrk | h2load | stime, OUT its output file or folder).
tls_client() {
  local rowf=$1 server=$2 pid=$3 kind=$4 out=$5; shift 5
  local c0 c1 t0 t1 TIMEFORMAT='%U %S' client_cpu line
  c0=$(pid_cpu "$pid")
  t0=$(date +%s.%N)
  client_cpu=$( { time "$@"; } 2>&1 ) || true
  t1=$(date +%s.%N)
  c1=$(pid_cpu "$pid")
  set -- $client_cpu
  line=$($PY tlsrow "$rowf" "$kind" "$out" "$c0" "$c1" "$(awk -v u="${1:-0}" -v s="${2:-0}" 'BEGIN{print u + s}')" \
    "$t0" "$t1" server="$server")
  log "    $server $kind: $line"
}

to_file() { local f=$1; shift; "$@" >"$f" 2>&1; } # to_file FILE CMD...

# stime_clients DIR PORT SECS MODE: TLS_CLIENTS `openssl s_time` processes in parallel on the load core (one alone
# waits on the network half the time); each connection is a TLS 1.3 handshake and one GET of the 1 KiB object
# (HTTP/1.0: the server closes). MODE new = full handshakes, reuse = resumed with the first connection's ticket.
stime_clients() {
  local dir=$1 port=$2 secs=$3 mode=$4 i pids=()
  rm -rf "$dir"
  mkdir -p "$dir"
  for i in $(seq "$TLS_CLIENTS"); do
    taskset -c "$LOAD_CPU" timeout $((secs + 30)) openssl s_time -connect "127.0.0.1:$port" -tls1_3 "-$mode" \
      -time "$secs" -www /obj-1KiB.bin >"$dir/out.$i" 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || true; done
}

# tls_median CASE FILES_PREFIX KIND...: records each KIND's median round (by rate) with every round's rate.
tls_median() {
  local case=$1 prefix=$2 kind row; shift 2
  for kind in "$@"; do
    row=$($PY median "$prefix.$kind" "$TLS_ROUNDS")
    if [ -z "$row" ]; then
      skip_row tls "$case" "$kind" "no round measured"
      continue
    fi
    record_json "$row" group=tls case="$case" rounds="$TLS_ROUNDS"
  done
}

bench_tls() {
  local secs=$1 d="$BENCH_TMP/tls"
  mkdir -p "$d"
  local EDGE_SIZES="$TLS_SIZES"
  gen_site "$d/site"
  tls_make_cert "$d/cert" || { warn "tls: could not make a certificate"; return 1; }
  local origin_port
  origin_port=$(free_port)
  start_origin "$d/origin" "$origin_port" "$d/site" || { warn "tls: origin did not start"; return 1; }
  local origin_pid=$ORIGIN_PID
  declare -A port=() pid=()
  local kinds=() kind s
  port[meridian]=$(free_port)
  if start_tls_meridian "$d/meridian" "$(free_port)" "${port[meridian]}" "$origin_port" "$d/cert"; then
    pid[meridian]=$SERVER_PID
    kinds+=(meridian)
  else
    stop_pid "${SERVER_PID:-}"
  fi
  port[nginx]=$(free_port)
  if start_tls_nginx "$d/nginx" "${port[nginx]}" "$origin_port" "$d/cert"; then
    pid[nginx]=$SERVER_PID
    kinds+=(nginx)
  else
    stop_pid "${SERVER_PID:-}"
  fi
  local all_cases=("full TLS 1.3 handshakes (new connection + 1 KiB GET)" "resumed TLS 1.3 handshakes (session tickets)")
  for s in $TLS_SIZES; do all_cases+=("HTTPS cache hit $s keep-alive"); done
  all_cases+=("h2 cache hit 1KiB (h2load -c10 -m10)")
  for kind in meridian nginx; do
    if [ -z "${pid[$kind]:-}" ]; then
      for s in "${all_cases[@]}"; do skip_row tls "$s" "$kind" "did not start (see $d/$kind)"; done
    fi
  done
  [ ${#kinds[@]} -gt 0 ] || { stop_pid "$origin_pid"; return 1; }

  # Warm both caches (two fetches per object) and both TLS stacks.
  for kind in "${kinds[@]}"; do
    for s in $TLS_SIZES; do
      curl -sk -o /dev/null "https://127.0.0.1:${port[$kind]}/obj-$s.bin" || true
      curl -sk -o /dev/null "https://127.0.0.1:${port[$kind]}/obj-$s.bin" || true
    done
    taskset -c "$LOAD_CPU" wrk -t1 -c"$TLS_CONNS" -d1s "https://127.0.0.1:${port[$kind]}/obj-1KiB.bin" >/dev/null 2>&1 ||
      true
  done
  local h2_kinds=()
  declare -A h2_skip=()
  for kind in "${kinds[@]}"; do
    local a
    a=$(tls_alpn "${port[$kind]}" h2)
    if ! command -v h2load >/dev/null; then
      h2_skip[$kind]="h2load not installed (Debian nghttp2-client)"
    elif [ "$a" = h2 ]; then
      h2_kinds+=("$kind")
    else
      h2_skip[$kind]=$([ "$kind" = meridian ] && echo "skipped: edge has no h2 yet" || echo "no h2 (ALPN gave '${a:-none}')")
      log "tls: $kind: ${h2_skip[$kind]}"
    fi
  done
  log "tls: ${TLS_ROUNDS} rounds, ${secs}s per case and server (${kinds[*]}; h2: ${h2_kinds[*]:-none}), key $TLS_KEY," \
    "servers on core $SERVER_CPU, clients on core $LOAD_CPU"
  local rd="$d/rounds" r mode
  mkdir -p "$rd"
  for r in $(seq "$TLS_ROUNDS"); do
    log "  round $r of $TLS_ROUNDS"
    for mode in new reuse; do
      for kind in "${kinds[@]}"; do
        tls_client "$rd/$mode.$kind.$r" "$kind" "${pid[$kind]}" stime "$d/stime" \
          stime_clients "$d/stime" "${port[$kind]}" "$secs" "$mode"
      done
    done
    for s in $TLS_SIZES; do
      for kind in "${kinds[@]}"; do
        tls_client "$rd/ka$s.$kind.$r" "$kind" "${pid[$kind]}" wrk "$d/wrk.out" to_file "$d/wrk.out" \
          taskset -c "$LOAD_CPU" timeout $((secs + 30)) wrk -t1 -c"$TLS_CONNS" -d"${secs}s" --timeout 5s --latency \
          "https://127.0.0.1:${port[$kind]}/obj-$s.bin"
      done
    done
    for kind in "${h2_kinds[@]}"; do
      tls_client "$rd/h2.$kind.$r" "$kind" "${pid[$kind]}" h2load "$d/h2load.out" to_file "$d/h2load.out" \
        taskset -c "$LOAD_CPU" timeout $((secs + 30)) h2load -c 10 -m 10 -t 1 -D "$secs" \
        "https://127.0.0.1:${port[$kind]}/obj-1KiB.bin"
    done
  done
  tls_median "${all_cases[0]}" "$rd/new" "${kinds[@]}"
  tls_median "${all_cases[1]}" "$rd/reuse" "${kinds[@]}"
  for s in $TLS_SIZES; do tls_median "HTTPS cache hit $s keep-alive" "$rd/ka$s" "${kinds[@]}"; done
  [ ${#h2_kinds[@]} -gt 0 ] && tls_median "h2 cache hit 1KiB (h2load -c10 -m10)" "$rd/h2" "${h2_kinds[@]}"
  for kind in "${!h2_skip[@]}"; do
    record group=tls case="h2 cache hit 1KiB (h2load -c10 -m10)" server="$kind" skipped="${h2_skip[$kind]}"
  done
  for kind in "${kinds[@]}"; do stop_pid "${pid[$kind]}"; done
  stop_pid "$origin_pid"
}
