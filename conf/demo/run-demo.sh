#!/usr/bin/env bash
# Starts meridian-dns and meridian-edge on the demo config in the foreground; Ctrl-C stops both (exit 0).
# Usage: conf/demo/run-demo.sh BUILD_DIR   (./run demo builds Release and calls this)
set -uo pipefail
BUILD=${1:?usage: run-demo.sh BUILD_DIR}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EDGE="$BUILD/bin/meridian-edge"
DNS="$BUILD/bin/meridian-dns"

for f in "$EDGE" "$DNS"; do [ -x "$f" ] || { echo "run-demo: $f is missing (build first)" >&2; exit 1; }; done
"$DNS" --check --config "$HERE/dns.toml" || exit 1
"$EDGE" --check --config "$HERE/edge.toml" || exit 1

"$DNS" --config "$HERE/dns.toml" & dns_pid=$!
"$EDGE" --config "$HERE/edge.toml" & edge_pid=$!

stop() {
  trap - INT TERM
  echo; echo "run-demo: stopping (SIGTERM to both daemons)"
  kill -TERM "$edge_pid" "$dns_pid" 2>/dev/null
  local rc=0
  wait "$edge_pid" || rc=$?
  wait "$dns_pid" || rc=$?
  [ $rc = 0 ] && echo "run-demo: both stopped cleanly" || echo "run-demo: a daemon exited with status $rc"
  exit $rc
}
trap stop INT TERM

sleep 0.5
for pid in "$dns_pid" "$edge_pid"; do
  kill -0 "$pid" 2>/dev/null || { echo "run-demo: a daemon failed to start (see its log above)" >&2; kill "$dns_pid" "$edge_pid" 2>/dev/null; wait; exit 1; }
done

cat <<TRY

Meridian demo is up:
  meridian-dns   127.0.0.1:5300 (UDP+TCP), admin http://127.0.0.1:9053/_meridian/metrics
  meridian-edge  http://127.0.0.1:8080/, admin http://127.0.0.1:9080/_meridian/metrics
  origin bucket  $HERE/site

Try:
  dig @127.0.0.1 -p 5300 www.demo.test A              # -> 127.0.0.1, flags: aa
  dig @127.0.0.1 -p 5300 demo.test SOA +tcp
  curl -si http://127.0.0.1:8080/ | head -20           # X-Cache: Miss from meridian, then Hit
  curl -si http://127.0.0.1:8080/ | grep -i -e x-cache -e age
  curl -si http://127.0.0.1:8080/docs/ | head -5       # index document of a folder
  curl -si http://127.0.0.1:8080/missing | head -5     # error document, 404
  curl -s  http://127.0.0.1:9080/_meridian/metrics | grep meridian_
  curl -s --resolve www.demo.test:8080:\$(dig +short @127.0.0.1 -p 5300 www.demo.test) http://www.demo.test:8080/ | head -3

Ctrl-C stops both.
TRY

# Either daemon exiting on its own ends the demo too.
while kill -0 "$edge_pid" 2>/dev/null && kill -0 "$dns_pid" 2>/dev/null; do sleep 0.5; done
echo "run-demo: a daemon exited unexpectedly" >&2
kill -TERM "$edge_pid" "$dns_pid" 2>/dev/null; wait
exit 1
