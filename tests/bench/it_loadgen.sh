#!/usr/bin/env bash
# ctest: PROCESSORS 2 COST 30 LABELS tooling
# Smoke test for bench/'s DNS tools: dns_loadgen runs 2 s against dns_echo on loopback and must count answers,
# with no lost queries and no mismatched IDs or questions; a bad query file must be refused naming file:line.
set -euo pipefail
BIN="${MERIDIAN_BIN:?MERIDIAN_BIN must point at the folder with the bench tools}"
for t in dns_loadgen dns_echo; do
  [ -x "$BIN/$t" ] || { echo "FAIL: $BIN/$t not built"; exit 1; }
done
tmp=$(mktemp -d)
echo_pid=
cleanup() { [ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

"$BIN/dns_echo" -a 127.0.0.1 -p 0 >"$tmp/echo.out" 2>"$tmp/echo.err" &
echo_pid=$!
for _ in $(seq 50); do grep -q listening "$tmp/echo.out" && break; sleep 0.1; done
port=$(sed -n 's/^dns_echo listening on .*:\([0-9][0-9]*\)$/\1/p' "$tmp/echo.out")
[ -n "$port" ] || { echo "FAIL: dns_echo did not report its port"; cat "$tmp/echo.err"; exit 1; }

cat >"$tmp/queries" <<'Q'
# comment lines and blank lines are skipped

www.example.test A
Mixed.Example.TEST AAAA
example.test MX ecs=192.0.2.77/24
v6.example.test TXT ecs=2001:db8::1/56
example.test TYPE65
Q

fail=0
check() { # check NAME EXPR-DESCRIPTION CONDITION
  if [ "$3" = 1 ]; then echo "ok:   $1 ($2)"; else echo "FAIL: $1 ($2)"; fail=1; fi
}

# Saturating mode.
out=$(timeout 20 "$BIN/dns_loadgen" -s 127.0.0.1 -p "$port" -d "$tmp/queries" -l 2 --json)
echo "$out"
get() { echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
check saturate "answered > 1000" "$(get 'int(d["answered"] > 1000)')"
check saturate "answered + lost == sent" "$(get 'int(d["answered"] + d["lost"] == d["sent"])')"
check saturate "no lost queries" "$(get 'int(d["lost"] == 0)')"
check saturate "no bad ids or questions" "$(get 'int(d["bad_id"] == 0 and d["bad_question"] == 0)')"
check saturate "every answer counted as NOERROR" "$(get 'int(d["rcodes"].get("NOERROR", 0) == d["answered"])')"
check saturate "latency measured" "$(get 'int(0 < d["p50_us"] <= d["p99_us"])')"

# Fixed-rate mode: 2 s at 2,000 q/s must send close to 4,000 queries, not as many as it can.
out=$(timeout 20 "$BIN/dns_loadgen" -s 127.0.0.1 -p "$port" -d "$tmp/queries" -l 2 -Q 2000 --json --edns)
echo "$out"
check fixed-rate "3,500 <= sent <= 4,100" "$(get 'int(3500 <= d["sent"] <= 4100)')"
check fixed-rate "all answered" "$(get 'int(d["answered"] == d["sent"])')"

# A silent server: every query must be counted lost, and the run must still end on time.
python3 - "$tmp/port" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write(str(s.getsockname()[1])); time.sleep(6)
PY
sink_pid=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
t0=$SECONDS
out=$(timeout 20 "$BIN/dns_loadgen" -s 127.0.0.1 -p "$(cat "$tmp/port")" -d "$tmp/queries" -l 1 --timeout 0.3 --json || true)
kill $sink_pid 2>/dev/null || true
echo "$out"
check silent "nothing answered, everything lost" "$(get 'int(d["answered"] == 0 and d["lost"] == d["sent"] and d["sent"] > 0)')"
# A hang would run into the 20 s timeout; 8 s leaves a loaded machine room to start and stop the process.
check silent "run bounded" "$(( SECONDS - t0 <= 8 ))"

# A misbehaving server: answers every query twice (the second copy has an ID no longer outstanding), changes the
# question's letter case, and answers every second query NXDOMAIN. The checks must notice all three.
python3 - "$tmp/port2" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); s.settimeout(0.2)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
n, end = 0, time.time() + 8
while time.time() < end:
    try:
        q, peer = s.recvfrom(4096)
    except socket.timeout:
        continue
    a = bytearray(q)
    a[2] |= 0x80
    if n % 2:
        a[3] = (a[3] & 0xF0) | 3
    a[13] ^= 0x20  # first letter of the first label: case flipped
    s.sendto(a, peer); s.sendto(a, peer)
    n += 1
PY
bad_pid=$!
for _ in $(seq 50); do [ -s "$tmp/port2" ] && break; sleep 0.1; done
out=$(timeout 20 "$BIN/dns_loadgen" -s 127.0.0.1 -p "$(cat "$tmp/port2")" -d "$tmp/queries" -l 1 -Q 300 --json || true)
kill $bad_pid 2>/dev/null || true
echo "$out"
check misbehaving "every query answered" "$(get 'int(d["sent"] > 200 and d["answered"] == d["sent"])')"
check misbehaving "duplicates counted as unknown ids" "$(get 'int(d["bad_id"] == d["answered"])')"
check misbehaving "changed question counted" "$(get 'int(d["bad_question"] == d["answered"])')"
check misbehaving "rcodes counted per rcode" "$(get 'int(d["rcodes"].get("NXDOMAIN", 0) + d["rcodes"].get("NOERROR", 0) == d["answered"] and abs(d["rcodes"].get("NXDOMAIN", 0) - d["rcodes"].get("NOERROR", 0)) <= 1)')"

# Bad query file: clear error naming file:line, exit 2.
printf 'ok.example.test A\nbad.example.test NOSUCHTYPE\n' >"$tmp/bad"
set +e
err=$("$BIN/dns_loadgen" -s 127.0.0.1 -p "$port" -d "$tmp/bad" -l 1 2>&1 >/dev/null); rc=$?
set -e
echo "$err"
check bad-file "exit 2" "$(( rc == 2 ))"
check bad-file "names file:line" "$(echo "$err" | grep -q "$tmp/bad:2: unknown query type" && echo 1 || echo 0)"

exit $fail
