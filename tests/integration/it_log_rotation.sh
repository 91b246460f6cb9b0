#!/usr/bin/env bash
# Structured logs go to log.file; after the file is moved away (logrotate), SIGUSR1 makes the daemon write to a new
# file at the configured path, and SIGHUP reload is logged there. Exercised on meridian-dns (shared code).
set -uo pipefail
SRC=${MERIDIAN_SRC:?}; DNS=${MERIDIAN_DNS:?}
TMP=$(mktemp -d); pid=
trap '[ -n "$pid" ] && kill -KILL $pid 2>/dev/null; rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; ls -la "$TMP"; for f in "$TMP"/*.log*; do echo "--- $f"; cat "$f"; done; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cp "$SRC/conf/demo/zones/demo.test.zone" "$TMP/demo.test.zone"
cat >"$TMP/dns.toml" <<TOML
allow_root = true
workers = 1
listen = "127.0.0.1:$port"
[log]
level = "info"
file = "dns.log"
[[zone]]
name = "demo.test."
file = "demo.test.zone"
TOML
"$DNS" --config "$TMP/dns.toml" 2>"$TMP/stderr.log" & pid=$!
for _ in $(seq 50); do grep -q 'msg=started' "$TMP/dns.log" 2>/dev/null && break; sleep 0.1; done
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z info process msg=started program=meridian-dns' "$TMP/dns.log" \
  || fail "no structured 'started' line in dns.log"
mv "$TMP/dns.log" "$TMP/dns.log.1"
kill -USR1 $pid
for _ in $(seq 50); do [ -f "$TMP/dns.log" ] && break; sleep 0.1; done
[ -f "$TMP/dns.log" ] || fail "SIGUSR1 did not reopen dns.log"
kill -HUP $pid
for _ in $(seq 50); do grep -q 'reload' "$TMP/dns.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'reload' "$TMP/dns.log" || fail "reload not logged to the new file"
grep -q 'reload' "$TMP/dns.log.1" && fail "reload logged to the rotated file"
kill -TERM $pid; wait $pid; rc=$?; pid=
[ $rc = 0 ] || fail "exit $rc after SIGTERM"
grep -q 'msg=stopped' "$TMP/dns.log" || fail "no 'stopped' line"
echo PASS
