#!/bin/bash
# ctest: PROCESSORS 2 COST 40 LABELS cluster
# Anycast CDN in a box, reduced (issue 14): bench/cluster with two PoPs and one client region. BIRD 2 speakers in
# each PoP announce the anycast /32s to their region routers (eBGP); the client is answered over HTTP and DNS by
# PoP eu (its nearest by AS path); NSD holds the zone by AXFR and follows a serial bump by NOTIFY (TSIG). Then PoP
# eu's edge and DNS are killed: its health watcher withdraws the routes and the client must be answered by PoP us
# within CONVERGE_MS. Fails (not skips) when BIRD, NSD or network namespaces are missing: the rig is the test.
set -u
SRC=${MERIDIAN_SRC:-$(pwd)}
[ -x "${MERIDIAN_EDGE:-}" ] && [ -x "${MERIDIAN_DNS:-}" ] || { echo "skip: MERIDIAN_EDGE / MERIDIAN_DNS not built"; exit 77; }
for tool in bird birdc nsd ip nsenter setsid dig curl python3; do
  command -v $tool >/dev/null || { echo "FAIL $tool not installed (./run deps installs it)"; exit 1; }
done
CONVERGE_MS=${CONVERGE_MS:-6000}

export CLUSTER_DIR CLUSTER_PREFIX=mct$$
CLUSTER_DIR=$(mktemp -d /tmp/meridian-cluster-XXXXXX)
rmdir "$CLUSTER_DIR"  # bench/cluster up creates it and refuses an existing cluster
CLUSTER=("$SRC/bench/cluster")
OUT=$(mktemp /tmp/meridian-cluster-out-XXXXXX)
PIDS_SEEN=""
cleanup() {
  "${CLUSTER[@]}" down >/dev/null 2>&1
  rm -f "$OUT"
}
trap cleanup EXIT

FAIL=0
ok()   { echo "ok   $*"; }
bad()  { echo "FAIL $*"; FAIL=1; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
t0=$SECONDS

if ! "${CLUSTER[@]}" up --pops 2 --clients 1 >"$OUT" 2>&1; then
  cat "$OUT"
  echo "FAIL bench/cluster up (namespaces, BIRD, NSD and the daemons are needed; output above)"
  exit 1
fi
head -2 "$OUT"
PIDS_SEEN=$(cat "$CLUSTER_DIR"/pid/*.pid | tr '\n' ' ')
in_client() { ip netns exec "$CLUSTER_PREFIX-client-eu" "$@"; }

via=$(in_client curl -s -o /dev/null -D - --max-time 2 http://10.255.0.80/index.html | tr -d '\r' |
      awk 'tolower($1) == "via:" { $1 = ""; v = v (v == "" ? "" : ",") substr($0, 2) } END { print v }')
check "client-eu is served by pop-eu through the parent tier (Via: $via)" \
  test "$via" = "1.1 origin,1.1 parent,1.1 pop-eu"
id=$(in_client dig +short +tries=2 +time=1 @10.255.0.53 id.server CH TXT)
check "client-eu's DNS is answered by pop-eu (id.server: $id)" test "$id" = '"pop-eu"'
www=$(in_client dig +short +tries=2 +time=1 @10.255.0.53 www.cdn.test A)
check "www.cdn.test answers the anycast edge address ($www)" test "$www" = 10.255.0.80
check "NSD followed the serial bump by NOTIFY: $(grep -m1 'zone serial' "$OUT")" grep -q "NSD transferred it" "$OUT"
serial=$(ip netns exec "$CLUSTER_PREFIX-ctl" dig +short +tries=2 +time=1 @10.200.0.5 cdn.test SOA | awk '{print $3}')
check "NSD serves cdn.test. at serial 2 ($serial)" test "$serial" = 2

"${CLUSTER[@]}" failover eu >"$OUT" 2>&1
cat "$OUT"
for svc in http dns; do
  line=$(grep "^failover pop-eu $svc " "$OUT")
  conv=$(sed -n 's/.*converged \([0-9]*\) ms.*/\1/p' <<<"$line")
  check "$svc: answered by pop-eu before the kill" grep -q "before pop-eu," <<<"$line"
  check "$svc: answered by pop-us after it" grep -q "after pop-us," <<<"$line"
  check "$svc: converged within ${CONVERGE_MS} ms (${conv:-never} ms)" test "${conv:-999999}" -le "$CONVERGE_MS"
done
status=$("${CLUSTER[@]}" status 2>&1)
check "pop-eu's routes are withdrawn: $(grep '^pop-eu' <<<"$status")" grep -q "^pop-eu: .*announced: *$" <<<"$status"
check "client-eu is routed to pop-us: $(grep 'rtr-eu:' <<<"$status")" grep -q "rtr-eu: .*AS path 65102 65002" <<<"$status"

"${CLUSTER[@]}" down >/dev/null 2>&1
left=""
for pid in $PIDS_SEEN; do kill -0 "$pid" 2>/dev/null && left="$left $pid"; done
check "down stopped every process it started (left:${left:- none})" test -z "$left"
nss=$(ip netns list | grep -c "^$CLUSTER_PREFIX-")
check "down deleted the namespaces ($nss left)" test "$nss" -eq 0
check "down removed $CLUSTER_DIR" test ! -e "$CLUSTER_DIR"
echo "took $((SECONDS - t0)) s"
[ $FAIL -eq 0 ] || exit 1
echo "all checks passed"
