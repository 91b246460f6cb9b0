#!/bin/bash
# ctest: PROCESSORS 2 COST 40
# Multi-PoP end to end (issue 5): a small CDN on one machine. Network namespaces joined by one bridge:
#   origin (meridian-edge serving conf/demo/site as a bucket, caching off), edges eu/us/ap (meridian-edge caching
#   from the origin), dns (meridian-dns steering www.cdn.test by geoproximity with health checks), and clients on
#   three subnets that a CIDR collection file places in Paris, New York and Tokyo.
# Each client resolves www through meridian-dns, gets its nearest edge, fetches the site (Miss, then Hit).
# SIGTERM on eu (drain_delay longer than the health-check window) moves the eu client to the next edge with zero
# failed requests; SIGKILL on us moves the us client within the health-check window, and nothing fails after it.
# Skipped (77) only when network namespaces cannot be created.
set -u
SRC=${MERIDIAN_SRC:-$(pwd)}
EDGE=${MERIDIAN_EDGE:-}
DNS=${MERIDIAN_DNS:-}
[ -x "$EDGE" ] && [ -x "$DNS" ] || { echo "skip: MERIDIAN_EDGE / MERIDIAN_DNS not built"; exit 77; }
for tool in ip dig curl nsenter; do
  command -v $tool >/dev/null || { echo "skip: $tool not installed"; exit 77; }
done

P=mp$$
NSS="origin eu us ap dns ceu cus cap"
TMP=$(mktemp -d /tmp/meridian-e2e-XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  wait 2>/dev/null
  for ns in $NSS hub; do ip netns del "$P-$ns" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

if ! ip netns add "$P-hub" 2>"$TMP/netns.err"; then
  echo "skip: cannot create network namespaces here (ip netns add: $(head -1 "$TMP/netns.err"))"
  exit 77
fi

FAIL=0
ok()   { echo "ok   $*"; }
bad()  { echo "FAIL $*"; FAIL=1; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

declare -A ADDR=([origin]=10.77.20.1 [eu]=10.77.10.1 [us]=10.77.10.2 [ap]=10.77.10.3 [dns]=10.77.30.1
                 [ceu]=10.77.1.10 [cus]=10.77.2.10 [cap]=10.77.3.10)
ip -n "$P-hub" link add br0 type bridge || { echo "skip: no bridge support"; exit 77; }
ip -n "$P-hub" link set br0 up
i=0
for ns in $NSS; do
  i=$((i + 1))
  ip netns add "$P-$ns"
  ip -n "$P-$ns" link set lo up
  ip -n "$P-hub" link add "v$i" type veth peer name eth0 netns "$P-$ns"
  ip -n "$P-hub" link set "v$i" master br0 up
  ip -n "$P-$ns" addr add "${ADDR[$ns]}/16" dev eth0
  ip -n "$P-$ns" link set eth0 up
done
in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }

# --- configs ---
cat >"$TMP/origin.toml" <<CONF
allow_root = true
workers = 1
listen = ["${ADDR[origin]}:8080"]
server_name = "origin"
[[origin]]
name = "site"
type = "bucket"
path = "$SRC/conf/demo/site"
index_document = "index.html"
error_document = "404.html"
[[behavior]]
path_pattern = "*"
origin = "site"
cache = false
CONF
for e in eu us ap; do
  cat >"$TMP/edge-$e.toml" <<CONF
allow_root = true
workers = 1
listen = ["${ADDR[$e]}:8080"]
server_name = "$e"
[health]
drain_delay = "3s"
[[origin]]
name = "origin"
type = "http"
address = "${ADDR[origin]}:8080"
[[behavior]]
path_pattern = "*"
origin = "origin"
default_ttl = "60s"
CONF
done
cat >"$TMP/cdn.test.zone" <<ZONE
\$ORIGIN cdn.test.
\$TTL 3600
@    IN SOA ns1 hostmaster 1 3600 600 86400 300
@    IN NS  ns1
ns1  IN A   ${ADDR[dns]}
ZONE
cat >"$TMP/clients.cidr" <<CIDR
10.77.1.0/24  clients-paris    lat=48.86 lon=2.35   continent=EU country=FR
10.77.2.0/24  clients-newyork  lat=40.71 lon=-74.01 continent=NA country=US
10.77.3.0/24  clients-tokyo    lat=35.69 lon=139.69 continent=AS country=JP
CIDR
INTERVAL_MS=500
THRESHOLD=2
{
  echo "allow_root = true"
  echo "workers = 1"
  echo "listen = \"${ADDR[dns]}:53\""
  echo "[[zone]]"
  echo "name = \"cdn.test.\""
  echo "file = \"cdn.test.zone\""
  echo "[geo]"
  echo "cidr_file = \"clients.cidr\""
  for e in eu:50.11:8.68 us:38.95:-77.45 ap:1.35:103.82; do
    IFS=: read -r name lat lon <<<"$e"
    echo "[[edge]]"
    echo "name = \"$name\""
    echo "ipv4 = \"${ADDR[$name]}\""
    echo "latitude = $lat"
    echo "longitude = $lon"
    echo "health = { type = \"http\", address = \"${ADDR[$name]}\", port = 8080, path = \"/_meridian/health\", interval = \"${INTERVAL_MS}ms\", timeout = \"300ms\", failure_threshold = $THRESHOLD, success_threshold = $THRESHOLD }"
  done
  echo "[[steer]]"
  echo "name = \"www.cdn.test.\""
  echo "ttl = 1"
  echo "policy = \"geoproximity\""
} >"$TMP/dns.toml"

# --- start the CDN ---
declare -A PID
start() { # ns binary config
  # nsenter execs the daemon in place (ip netns exec forks), so $! is the daemon and signals reach it.
  nsenter --net="/run/netns/$P-$1" "$2" --config "$3" >"$TMP/$1.log" 2>&1 &
  PID[$1]=$!
  PIDS+=($!)
}
start origin "$EDGE" "$TMP/origin.toml"
for e in eu us ap; do start "$e" "$EDGE" "$TMP/edge-$e.toml"; done
sleep 0.5
start dns "$DNS" "$TMP/dns.toml"

# Only an address counts: dig +short prints its errors (";; communications error ...") on stdout too, which made a
# refused query look like an answer while meridian-dns was still starting.
resolve() {
  in_ns "$1" dig +short +tries=1 +time=1 @"${ADDR[dns]}" www.cdn.test A 2>/dev/null | grep -E '^[0-9]+(\.[0-9]+){3}$' | head -1
}
# Prints "<edge address> <http status> <x-cache>" for one resolve + fetch from client namespace $1.
fetch() {
  local ip; ip=$(resolve "$1")
  [ -n "$ip" ] || { echo "- dns-failed -"; return; }
  local out; out=$(in_ns "$1" curl -s -o /dev/null --max-time 2 -w '%{http_code} %header{x-cache}' \
                     --resolve "www.cdn.test:8080:$ip" "http://www.cdn.test:8080${2:-/}" 2>/dev/null)
  echo "$ip ${out:-000 -}"
}

deadline=$((SECONDS + 15))
until [ -n "$(resolve ceu)" ] || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
check "meridian-dns answers in its namespace" test -n "$(resolve ceu)"

# --- nearest edge, Miss then Hit ---
for c in ceu:eu cus:us cap:ap; do
  IFS=: read -r client want <<<"$c"
  r1=$(fetch "$client" /index.html); r2=$(fetch "$client" /index.html)
  check "$client resolves to its nearest edge $want (${ADDR[$want]}): got '$r1'" test "${r1%% *}" = "${ADDR[$want]}"
  check "$client first fetch is a Miss through $want: '$r1'" grep -q "^${ADDR[$want]} 200 Miss" <<<"$r1"
  check "$client second fetch is a Hit: '$r2'" grep -q "^${ADDR[$want]} 200 Hit" <<<"$r2"
done

# --- client loops: one line per request, "<epoch ms> <edge> <status> <x-cache>" ---
now_ms() { date +%s%3N; }
loop() { # client seconds outfile
  local end=$((SECONDS + $2))
  while [ $SECONDS -lt $end ]; do
    echo "$(now_ms) $(fetch "$1" /index.html)" >>"$3"
    sleep 0.05
  done
}

# SIGTERM eu with drain_delay 3s > health window: the eu client must move to us with zero failures.
loop ceu 7 "$TMP/ceu.loop" &
LOOP=$!
sleep 1
kill -TERM "${PID[eu]}"
wait "$LOOP"
fails=$(awk '$3 != 200' "$TMP/ceu.loop" | wc -l)
total=$(wc -l <"$TMP/ceu.loop")
last=$(tail -1 "$TMP/ceu.loop" | awk '{print $2}')
check "eu drained: $total requests from the eu client, $fails failed" test "$fails" -eq 0 -a "$total" -gt 10
check "eu client now served by us (${ADDR[us]}), last answer $last" test "$last" = "${ADDR[us]}"
wait "${PID[eu]}"; rc=$?
check "draining eu exited 0 (rc $rc)" test "$rc" -eq 0

# SIGKILL us: its client moves within the health-check window (interval × threshold + 1 s); nothing fails after.
WINDOW_MS=$((INTERVAL_MS * THRESHOLD + 1000))
loop cus 6 "$TMP/cus.loop" &
LOOP=$!
sleep 1
kill_at=$(now_ms)
kill -KILL "${PID[us]}"
wait "$LOOP"
late=$(awk -v k="$kill_at" -v w="$WINDOW_MS" '$1 > k + w && $3 != 200' "$TMP/cus.loop" | wc -l)
after=$(awk -v k="$kill_at" -v w="$WINDOW_MS" '$1 > k + w {print $2}' "$TMP/cus.loop" | sort -u | tr '\n' ' ')
early=$(awk -v k="$kill_at" '$1 > k && $3 != 200' "$TMP/cus.loop" | wc -l)
check "us killed: no failed request after the ${WINDOW_MS}ms window ($late late, $early inside it)" test "$late" -eq 0
check "us client moved to ap (${ADDR[ap]}) after the window: '$after'" test "$after" = "${ADDR[ap]} "

if [ $FAIL -ne 0 ]; then
  for f in "$TMP"/*.log "$TMP"/*.loop; do echo "---- $f"; tail -20 "$f"; done
  exit 1
fi
echo "all checks passed"
