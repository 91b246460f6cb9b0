#!/usr/bin/env bash
# Starts meridian-dns and two meridian-edges (127.0.0.1 "eu" and 127.0.0.2 "us", the same edge.toml) on the demo
# config in the foreground; Ctrl-C stops all three (exit 0).
# Usage: conf/demo/run-demo.sh BUILD_DIR   (./run demo builds Release and calls this)
set -uo pipefail
BUILD=${1:?usage: run-demo.sh BUILD_DIR}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EDGE="$BUILD/bin/meridian-edge"
DNS="$BUILD/bin/meridian-dns"

for f in "$EDGE" "$DNS"; do [ -x "$f" ] || { echo "run-demo: $f is missing (build first)" >&2; exit 1; }; done
# A deploy to try: the edges serve $DEPLOY/current, a symlink to releases/v1 (the demo site); releases/v2 is the same
# site with another heading. Removed when the demo stops.
DEPLOY=$(mktemp -d -t meridian-demo-deploy.XXXXXX) || exit 1
trap 'rm -rf "$DEPLOY"' EXIT
mkdir -p "$DEPLOY/releases"
cp -r "$HERE/site" "$DEPLOY/releases/v1" && cp -r "$HERE/site" "$DEPLOY/releases/v2" || exit 1
sed -i 's|<h1>It works: served by meridian-edge</h1>|<h1>Release v2: deployed with a symlink switch</h1>|' \
  "$DEPLOY/releases/v2/index.html"
ln -s releases/v1 "$DEPLOY/current"
(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DEPLOY/edge.token")
export DEMO_SITE="$DEPLOY/current" DEMO_TOKEN_FILE="$DEPLOY/edge.token"

"$DNS" --check --config "$HERE/dns.toml" || exit 1
"$EDGE" --check --config "$HERE/edge.toml" || exit 1

# Each daemon in its own process group (job control on): Ctrl-C in the terminal reaches only this script, whose
# trap then sends each daemon one SIGTERM. Otherwise the daemons got the terminal's SIGINT as well, stopped on it,
# and the script's SIGTERM could land after one had restored the default action: killed, not a clean stop.
set -m
"$EDGE" --config "$HERE/edge.toml" & edge_pid=$!
EDGE_LISTEN=${EDGE2_LISTEN:-127.0.0.2:8080} EDGE_ADMIN_LISTEN=${EDGE2_ADMIN_LISTEN:-127.0.0.2:9080} \
  EDGE_TLS_LISTEN=${EDGE2_TLS_LISTEN:-127.0.0.2:8443} "$EDGE" --config "$HERE/edge.toml" & edge2_pid=$!
# The DNS health-checks both edges from its first second: start it once they listen, so the demo does not open
# with "edge unhealthy" warnings about edges that were still starting.
listening() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
for _ in $(seq 50); do
  listening "${EDGE_LISTEN:-127.0.0.1:8080}" && listening "${EDGE2_LISTEN:-127.0.0.2:8080}" && break
  sleep 0.1
done
"$DNS" --config "$HERE/dns.toml" & dns_pid=$!
pids=("$dns_pid" "$edge_pid" "$edge2_pid")
set +m

stop() {
  trap - INT TERM
  echo; echo "run-demo: stopping (SIGTERM to the three daemons)"
  kill -CONT "${pids[@]}" 2>/dev/null
  kill -TERM "${pids[@]}" 2>/dev/null
  local rc=0 pid
  for pid in "${pids[@]}"; do wait "$pid" || rc=$?; done
  [ $rc = 0 ] && echo "run-demo: all stopped cleanly" || echo "run-demo: a daemon exited with status $rc"
  exit $rc
}
trap stop INT TERM

sleep 0.5
for pid in "${pids[@]}"; do
  kill -0 "$pid" 2>/dev/null || { echo "run-demo: a daemon failed to start (see its log above)" >&2; kill "${pids[@]}" 2>/dev/null; wait; exit 1; }
done

cat <<TRY

Meridian demo is up:
  meridian-dns   127.0.0.1:5300 (UDP+TCP), admin http://127.0.0.1:9053/_meridian/metrics
  meridian-edge  http://127.0.0.1:8080/ ("eu"), admin http://127.0.0.1:9080/_meridian/metrics
  meridian-edge  http://127.0.0.2:8080/ ("us", PID $edge2_pid), admin http://127.0.0.2:9080/_meridian/metrics
  origin bucket  $DEPLOY/current -> releases/v1 (a copy of $HERE/site)

Try:
  dig @127.0.0.1 -p 5300 www.demo.test A              # -> 127.0.0.1, flags: aa
  dig @127.0.0.1 -p 5300 demo.test SOA +tcp
  curl -si http://127.0.0.1:8080/ | head -20           # X-Cache: Miss from meridian, then Hit
  curl -si http://127.0.0.1:8080/ | grep -i -e x-cache -e age
  curl -si http://127.0.0.1:8080/docs/ | head -5       # index document of a folder
  curl -sik https://127.0.0.1:8443/ | head -5         # the same over HTTPS (test-only self-signed certificate)
  curl -si http://127.0.0.1:8080/missing | head -5     # error document, 404
  curl -s  http://127.0.0.1:9080/_meridian/metrics | grep meridian_
  curl -s --resolve www.demo.test:8080:\$(dig +short @127.0.0.1 -p 5300 www.demo.test) http://www.demo.test:8080/ | head -3

Geo steering (geo.demo.test: the nearer healthy edge for the client's subnet, EDNS Client Subnet):
  dig @127.0.0.1 -p 5300 geo.demo.test A +subnet=10.1.0.0/24 +short   # a Frankfurt client -> 127.0.0.1 (eu)
  dig @127.0.0.1 -p 5300 geo.demo.test A +subnet=10.3.0.0/24 +short   # an Ashburn client   -> 127.0.0.2 (us)
  kill -STOP $edge2_pid; sleep 4; dig @127.0.0.1 -p 5300 geo.demo.test A +subnet=10.3.0.0/24 +short   # us fails its
  kill -CONT $edge2_pid                                                # health checks -> 127.0.0.1; then it is back

Watch it live (README.md, "Watching it"): open in a browser, then run the curl and dig lines above in a loop
  http://127.0.0.1:9080/_meridian/console     # the edge: requests/s, hit ratios, latency, cache, popular URLs
  http://127.0.0.1:9053/_meridian/console     # the DNS server: queries/s, rcodes, steering by edge, edge health

Deploy a new version (README.md, "Deploying a new version"): switch the release atomically, then invalidate the HTML:
  curl -s http://127.0.0.1:8080/ | grep -o '<h1>.*</h1>'           # release v1 (cached for 60 s)
  ln -sfn releases/v2 $DEPLOY/current.tmp && mv -T $DEPLOY/current.tmp $DEPLOY/current
  $EDGE invalidate --admin 127.0.0.1:9080 --token-file $DEPLOY/edge.token / /index.html
  $EDGE invalidate --admin 127.0.0.2:9080 --token-file $DEPLOY/edge.token / /index.html
  curl -s http://127.0.0.1:8080/ | grep -o '<h1>.*</h1>'           # release v2, at once on both edges
  ln -sfn releases/v1 $DEPLOY/current.tmp && mv -T $DEPLOY/current.tmp $DEPLOY/current   # roll back (then invalidate)

Ctrl-C stops all three.
TRY

# Any daemon exiting on its own ends the demo too.
while kill -0 "$edge_pid" 2>/dev/null && kill -0 "$edge2_pid" 2>/dev/null && kill -0 "$dns_pid" 2>/dev/null; do
  sleep 0.5
done
echo "run-demo: a daemon exited unexpectedly" >&2
kill -CONT "${pids[@]}" 2>/dev/null
kill -TERM "${pids[@]}" 2>/dev/null; wait
exit 1
