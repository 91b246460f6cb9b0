#!/usr/bin/env bash
# Issue 2: both daemons start on conf/demo (ports overridden), curl gets index.html byte for byte, dig gets
# www.demo.test A 127.0.0.1 with AA set, geo.demo.test is steered by client subnet to the nearer of the two demo
# edges (127.0.0.1, 127.0.0.2) and away from one that stops answering its health check, and SIGTERM stops all with
# exit 0.
set -uo pipefail
SRC=${MERIDIAN_SRC:?}; EDGE=${MERIDIAN_EDGE:?}; DNS=${MERIDIAN_DNS:?}
TMP=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$TMP"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

# N distinct free ports at once: sockets are held until all are picked (separate picks can get the same port back,
# and the daemons now refuse to share one).
free_ports() { python3 -c 'import socket,sys; s=[socket.socket() for _ in range(int(sys.argv[1]))]; [x.bind(("127.0.0.1",0)) for x in s]; print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"; }
wait_tcp() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }

read -r EP EA DP DA EP2 EA2 ETP ETP2 < <(free_ports 8)
export EDGE_LISTEN=127.0.0.1:$EP EDGE_ADMIN_LISTEN=127.0.0.1:$EA DNS_LISTEN=127.0.0.1:$DP DNS_ADMIN_LISTEN=127.0.0.1:$DA
export EDGE_TLS_LISTEN=127.0.0.1:$ETP
export EDGE_PORT=$EP EDGE2_PORT=$EP2 # the DNS health checks of the two edges

"$DNS" --check --config "$SRC/conf/demo/dns.toml" || fail "dns --check"
"$EDGE" --check --config "$SRC/conf/demo/edge.toml" || fail "edge --check"

"$DNS" --config "$SRC/conf/demo/dns.toml" >"$TMP/dns.log" 2>&1 & dns_pid=$!; pids+=($dns_pid)
"$EDGE" --config "$SRC/conf/demo/edge.toml" >"$TMP/edge.log" 2>&1 & edge_pid=$!; pids+=($edge_pid)
EDGE_LISTEN=127.0.0.2:$EP2 EDGE_ADMIN_LISTEN=127.0.0.2:$EA2 EDGE_TLS_LISTEN=127.0.0.2:$ETP2 "$EDGE" --config "$SRC/conf/demo/edge.toml" \
  >"$TMP/edge2.log" 2>&1 & edge2_pid=$!; pids+=($edge2_pid)
wait_tcp "$EP" || fail "edge did not listen on $EP"
wait_tcp "$DP" || fail "dns did not listen on $DP (tcp)"

# The edge serves index.html byte for byte (miss, then hit).
curl -sf --max-time 5 -o "$TMP/index1" "http://127.0.0.1:$EP/" || fail "curl /"
cmp "$TMP/index1" "$SRC/conf/demo/site/index.html" || fail "index.html differs (miss)"
curl -sf --max-time 5 -D "$TMP/h2" -o "$TMP/index2" "http://127.0.0.1:$EP/" || fail "curl / again"
cmp "$TMP/index2" "$SRC/conf/demo/site/index.html" || fail "index.html differs (hit)"
grep -qi '^x-cache: hit from meridian' "$TMP/h2" || fail "second request was not a hit: $(cat "$TMP/h2")"
# And over HTTPS (the demo's test-only certificate, verified for its name).
curl -sf --max-time 5 --cacert "$SRC/conf/examples/tls/www.example.test.crt" \
  --resolve "www.example.test:$ETP:127.0.0.1" -o "$TMP/index-tls" "https://www.example.test:$ETP/" || fail "curl https"
cmp "$TMP/index-tls" "$SRC/conf/demo/site/index.html" || fail "index.html differs over HTTPS"

# The DNS answers www.demo.test A 127.0.0.1 with AA set, over UDP and TCP.
out=$(dig @127.0.0.1 -p "$DP" www.demo.test A +norec +time=2 +tries=1) || fail "dig"
echo "$out" | grep -q 'flags: qr aa' || fail "AA not set: $out"
echo "$out" | grep -Eq '^www\.demo\.test\.\s+60\s+IN\s+A\s+127\.0\.0\.1' || fail "no A 127.0.0.1: $out"
[ "$(dig @127.0.0.1 -p "$DP" www.demo.test A +tcp +short +time=2 +tries=1)" = 127.0.0.1 ] || fail "dig +tcp"

# Geo steering: a Frankfurt subnet gets the eu edge, an Ashburn subnet the us edge (10.x prefixes of the example
# database); when the us edge stops answering (SIGSTOP), its health checks fail and Ashburn gets eu, then us again.
geo() { dig @127.0.0.1 -p "$DP" geo.demo.test A +subnet="$1" +short +time=2 +tries=1; }
wait_geo() { for _ in $(seq 100); do [ "$(geo "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
wait_geo 10.1.0.0/24 127.0.0.1 || fail "Frankfurt client: got '$(geo 10.1.0.0/24)', want 127.0.0.1"
wait_geo 10.3.0.0/24 127.0.0.2 || fail "Ashburn client: got '$(geo 10.3.0.0/24)', want 127.0.0.2"
curl -sf --max-time 5 -o "$TMP/index3" "http://127.0.0.2:$EP2/" || fail "curl the us edge"
cmp "$TMP/index3" "$SRC/conf/demo/site/index.html" || fail "index.html differs (us edge)"
kill -STOP "$edge2_pid"
wait_geo 10.3.0.0/24 127.0.0.1 || fail "Ashburn client with the us edge stopped: got '$(geo 10.3.0.0/24)', want 127.0.0.1"
kill -CONT "$edge2_pid"
wait_geo 10.3.0.0/24 127.0.0.2 || fail "Ashburn client after the us edge is back: got '$(geo 10.3.0.0/24)'"

# Metrics on both admin listeners.
em=$(curl -sf --max-time 5 "http://127.0.0.1:$EA/_meridian/metrics") || fail "edge metrics"
grep -q '^meridian_' <<<"$em" || fail "edge metrics: no meridian_ series"
dm=$(curl -sf --max-time 5 "http://127.0.0.1:$DA/_meridian/metrics") || fail "dns metrics"
grep -q '^meridian_' <<<"$dm" || fail "dns metrics: no meridian_ series"

# SIGTERM stops all with exit 0.
kill -TERM "$edge_pid" "$edge2_pid" "$dns_pid"
for _ in $(seq 100); do
  kill -0 "$edge_pid" 2>/dev/null || kill -0 "$edge2_pid" 2>/dev/null || kill -0 "$dns_pid" 2>/dev/null || break
  sleep 0.1
done
for p in "$edge_pid" "$edge2_pid" "$dns_pid"; do kill -0 "$p" 2>/dev/null && fail "PID $p still running 10 s after SIGTERM"; done
wait "$edge_pid"; erc=$?
wait "$edge2_pid"; e2rc=$?
wait "$dns_pid"; drc=$?
pids=()
[ $erc = 0 ] || fail "edge exited $erc after SIGTERM"
[ $e2rc = 0 ] || fail "second edge exited $e2rc after SIGTERM"
[ $drc = 0 ] || fail "dns exited $drc after SIGTERM"
# conf/demo/run-demo.sh (what ./run demo runs) ends on Ctrl-C: SIGINT to its whole process group, as a terminal
# sends it. All three daemons stop cleanly, and the script says so and exits 0.
BUILD=${MERIDIAN_BIN:?}/..
cat >"$TMP/ctrlc.py" <<'PY'
import os, signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_DFL)  # as in a terminal: a shell started by ctest may have it ignored
out = open(sys.argv[2], "w")
p = subprocess.Popen(["bash", sys.argv[1] + "/conf/demo/run-demo.sh", sys.argv[3]], stdout=out, stderr=subprocess.STDOUT,
                     start_new_session=True)
deadline = time.time() + 60
while time.time() < deadline and "Ctrl-C stops all three" not in open(sys.argv[2]).read():
    if p.poll() is not None: sys.exit("run-demo.sh exited early: %s" % p.returncode)
    time.sleep(0.2)
time.sleep(1)
os.killpg(p.pid, signal.SIGINT)
try:
    sys.exit(p.wait(timeout=30))
except subprocess.TimeoutExpired:
    os.killpg(p.pid, signal.SIGKILL)
    sys.exit("run-demo.sh still running 30 s after Ctrl-C")
PY
read -r EP EA DP DA EP2 EA2 ETP ETP2 < <(free_ports 8)
EDGE_LISTEN=127.0.0.1:$EP EDGE_ADMIN_LISTEN=127.0.0.1:$EA DNS_LISTEN=127.0.0.1:$DP DNS_ADMIN_LISTEN=127.0.0.1:$DA \
  EDGE_TLS_LISTEN=127.0.0.1:$ETP EDGE_PORT=$EP EDGE2_PORT=$EP2 EDGE2_LISTEN=127.0.0.2:$EP2 EDGE2_ADMIN_LISTEN=127.0.0.2:$EA2 \
  EDGE2_TLS_LISTEN=127.0.0.2:$ETP2 python3 "$TMP/ctrlc.py" "$SRC" "$TMP/run-demo.log" "$BUILD"
rc=$?
[ $rc = 0 ] || fail "run-demo.sh exited $rc on Ctrl-C: $(tail -5 "$TMP/run-demo.log")"
grep -q 'run-demo: all stopped cleanly' "$TMP/run-demo.log" || fail "no clean stop: $(tail -5 "$TMP/run-demo.log")"
grep -q 'unexpectedly' "$TMP/run-demo.log" && fail "Ctrl-C reported as unexpected: $(tail -5 "$TMP/run-demo.log")"
echo "PASS: demo serves index.html byte for byte, www.demo.test A 127.0.0.1 (aa), geo steering by subnet and health, clean SIGTERM, run-demo.sh ends cleanly on Ctrl-C"
