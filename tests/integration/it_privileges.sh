#!/usr/bin/env bash
# Least privilege (user/group/allow_root). Started as root with user = "nobody", both daemons bind, then every
# thread runs as nobody:nogroup with no supplementary groups; they still serve, a SIGHUP reload still reads the
# (changed) zone, and the log file they create is nobody's. --check refuses root without `user` unless allow_root,
# and names a zone the user cannot read. Needs root (exit 77 otherwise).
set -uo pipefail
SRC=${MERIDIAN_SRC:?}; EDGE=${MERIDIAN_EDGE:?}; DNS=${MERIDIAN_DNS:?}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to switch users"; exit 77; }
id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody"; exit 77; }
NUID=$(id -u nobody); NGID=$(id -g nobody)
TMP=$(mktemp -d)
chmod 755 "$TMP" # nobody reads the zone and the config again on SIGHUP
pids=()
cleanup() { { for p in "${pids[@]}"; do kill -KILL "$p"; wait "$p"; done; } 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$TMP"/*.log "$TMP"/logs/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }
free_ports() { python3 -c 'import socket,sys; s=[socket.socket() for _ in range(int(sys.argv[1]))]; [x.bind(("127.0.0.1",0)) for x in s]; print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"; }
read -r DP DA EP EA < <(free_ports 4)

# Every thread of PID runs as nobody:nogroup (real, effective, saved, fs ids) with no supplementary groups.
check_ids() {
  local pid=$1 t
  for t in /proc/"$pid"/task/*; do
    grep -Eq "^Uid:\s+$NUID\s+$NUID\s+$NUID\s+$NUID\s*$" "$t/status" || fail "$t: $(grep ^Uid: "$t/status"), want $NUID"
    grep -Eq "^Gid:\s+$NGID\s+$NGID\s+$NGID\s+$NGID\s*$" "$t/status" || fail "$t: $(grep ^Gid: "$t/status"), want $NGID"
    grep -Eq '^Groups:\s*$' "$t/status" || fail "$t: supplementary groups left: $(grep ^Groups: "$t/status")"
  done
}

mkdir -p "$TMP/logs" && chmod 755 "$TMP/logs"
sed 's/2026112501 ; serial/1 ; serial/' "$SRC/conf/demo/zones/demo.test.zone" >"$TMP/demo.test.zone"
chmod 644 "$TMP/demo.test.zone"
cat >"$TMP/dns.toml" <<TOML
user = "nobody"
workers = 2
listen = "127.0.0.1:$DP"
[admin]
listen = "127.0.0.1:$DA"
[log]
file = "$TMP/logs/dns.log"
[[zone]]
name = "demo.test."
file = "$TMP/demo.test.zone"
TOML

"$DNS" --check --config "$TMP/dns.toml" >"$TMP/check.log" 2>&1 || fail "--check with user = nobody: $(cat "$TMP/check.log")"
"$DNS" --config "$TMP/dns.toml" >"$TMP/dns-stderr.log" 2>&1 & dns_pid=$!; pids+=($dns_pid)
q() { dig @127.0.0.1 -p "$DP" "$1" A +short +time=2 +tries=1; }
for _ in $(seq 100); do [ "$(q www.demo.test)" = 127.0.0.1 ] && break; sleep 0.1; done
[ "$(q www.demo.test)" = 127.0.0.1 ] || fail "dns does not answer as nobody"
check_ids "$dns_pid"
[ "$(stat -c %u "$TMP/logs/dns.log")" = "$NUID" ] || fail "the log file is not nobody's: $(stat -c %U "$TMP/logs/dns.log")"
grep -q 'switched user' "$TMP/logs/dns.log" || fail "no 'switched user' in the log"

# SIGHUP: nobody reads the changed zone and the config again.
sed -i 's/1 ; serial/2 ; serial/' "$TMP/demo.test.zone"
echo "new     IN A    192.0.2.7" >>"$TMP/demo.test.zone"
kill -HUP "$dns_pid"
for _ in $(seq 100); do [ "$(q new.demo.test)" = 192.0.2.7 ] && break; sleep 0.1; done
[ "$(q new.demo.test)" = 192.0.2.7 ] || fail "SIGHUP as nobody did not load the changed zone"
# A new user in the config needs a restart: the reload says so and the process stays nobody.
sed -i 's/^user = "nobody"/user = "root"/' "$TMP/dns.toml"
kill -HUP "$dns_pid"
for _ in $(seq 100); do grep -q 'user/group changes take effect after a restart' "$TMP/logs/dns.log" && break; sleep 0.1; done
grep -q 'user/group changes take effect after a restart' "$TMP/logs/dns.log" || fail "no warning when user changes on reload"
check_ids "$dns_pid"
sed -i 's/^user = "root"/user = "nobody"/' "$TMP/dns.toml"
# SIGUSR1: nobody reopens its log after a rotation (logrotate's `create`: a new empty file for the user).
mv "$TMP/logs/dns.log" "$TMP/logs/dns.log.1"
install -o nobody -g "$NGID" -m 640 /dev/null "$TMP/logs/dns.log"
kill -USR1 "$dns_pid"; sleep 0.5; kill -HUP "$dns_pid"
for _ in $(seq 100); do [ -s "$TMP/logs/dns.log" ] && break; sleep 0.1; done
[ -s "$TMP/logs/dns.log" ] || fail "nothing logged to the new log file after SIGUSR1"
check_ids "$dns_pid"

# The edge too (a bucket origin that nobody reads).
mkdir -p "$TMP/site" && echo "hello from nobody" >"$TMP/site/index.html" && chmod -R a+rX "$TMP/site"
cat >"$TMP/edge.toml" <<TOML
user = "nobody"
workers = 2
listen = ["127.0.0.1:$EP"]
[admin]
listen = "127.0.0.1:$EA"
[[origin]]
name = "site"
type = "bucket"
path = "$TMP/site"
[[behavior]]
path_pattern = "*"
origin = "site"
TOML
"$EDGE" --config "$TMP/edge.toml" >"$TMP/edge.log" 2>&1 & edge_pid=$!; pids+=($edge_pid)
for _ in $(seq 100); do curl -sf --max-time 2 "http://127.0.0.1:$EP/" >/dev/null 2>&1 && break; sleep 0.1; done
[ "$(curl -sf --max-time 5 "http://127.0.0.1:$EP/")" = "hello from nobody" ] || fail "edge does not serve as nobody"
check_ids "$edge_pid"
kill -HUP "$edge_pid"
for _ in $(seq 100); do grep -q 'configuration reloaded' "$TMP/edge.log" && break; sleep 0.1; done
grep -q 'configuration reloaded' "$TMP/edge.log" || fail "edge SIGHUP reload as nobody failed"
[ "$(curl -sf --max-time 5 "http://127.0.0.1:$EP/")" = "hello from nobody" ] || fail "edge stopped serving after SIGHUP"

kill -TERM "$dns_pid" "$edge_pid"
wait "$dns_pid"; drc=$?
wait "$edge_pid"; erc=$?
pids=()
[ $drc = 0 ] || fail "dns exited $drc after SIGTERM"
[ $erc = 0 ] || fail "edge exited $erc after SIGTERM"

# --check: a zone nobody cannot read is named, with the key and the user.
chmod 600 "$TMP/demo.test.zone"
out=$("$DNS" --check --config "$TMP/dns.toml" 2>&1) && fail "--check passed with a zone nobody cannot read"
grep -q "zone\[0\].file: $TMP/demo.test.zone: not readable by user nobody" <<<"$out" || fail "--check did not name the zone: $out"
chmod 644 "$TMP/demo.test.zone"
# Root without user: refused, unless allow_root.
sed -i '/^user = /d' "$TMP/dns.toml"
out=$("$DNS" --check --config "$TMP/dns.toml" 2>&1) && fail "--check passed as root without user"
grep -q 'refusing to run as root' <<<"$out" || fail "no refusal: $out"
"$DNS" --config "$TMP/dns.toml" >/dev/null 2>&1 && fail "started as root without user"
sed -i '1i allow_root = true' "$TMP/dns.toml"
"$DNS" --check --config "$TMP/dns.toml" >/dev/null 2>&1 || fail "--check with allow_root = true: $("$DNS" --check --config "$TMP/dns.toml" 2>&1)"
# An unknown user is a config error at its key.
sed -i '1i user = "no-such-user-meridian"' "$TMP/dns.toml"
out=$("$DNS" --check --config "$TMP/dns.toml" 2>&1) && fail "--check passed with an unknown user"
grep -q 'dns.toml:1:8: user: no such user "no-such-user-meridian"' <<<"$out" || fail "unknown user not named at its key: $out"
echo "PASS: both daemons run as nobody:nogroup in every thread with no groups, serve, reload on SIGHUP; --check names unreadable files and refuses root"
