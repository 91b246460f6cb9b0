#!/usr/bin/env bash
# ctest: LABELS tooling
# The Debian package: cpack builds it from this (already built) tree; it holds the daemons in /usr/sbin, configs in
# /etc/meridian (conffiles), units in /lib/systemd/system, man pages and docs in /usr/share/doc/meridian, declares its library
# dependencies and adduser, and its postinst creates the meridian system user. Both units pass systemd-analyze
# verify. Unpacked into a throwaway root, meridian-dns is started from its unit's ExecStartPre and ExecStart
# command lines (paths moved into that root) with a NOTIFY_SOCKET this test listens on: READY=1 once it answers,
# RELOADING=1 then READY=1 on the unit's ExecReload, STOPPING=1 and exit 0 on SIGTERM.
set -uo pipefail
SRC=${MERIDIAN_SRC:?}; BUILD=${MERIDIAN_BUILD:?}
grep -q '^CMAKE_INSTALL_PREFIX:PATH=/usr$' "$BUILD/CMakeCache.txt" ||
  { echo "SKIP: this build tree installs under $(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt"), not /usr"; exit 77; }
TMP=$(mktemp -d)
chmod 755 "$TMP" # the daemon reads its config again as nobody
pids=()
cleanup() { { for p in "${pids[@]}"; do kill -KILL "$p"; wait "$p"; done; } 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }

# Build the package from the built tree (no rebuild: installing never builds first).
cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$TMP/pkg" >"$TMP/cpack.log" 2>&1 || fail "cpack"
DEB=$(ls "$TMP"/pkg/meridian_*.deb 2>/dev/null | head -1)
[ -f "$DEB" ] || fail "no meridian_*.deb"

# Contents.
dpkg-deb -c "$DEB" | awk '{print $6}' >"$TMP/contents"
for f in ./usr/sbin/meridian-edge ./usr/sbin/meridian-dns ./etc/meridian/edge.toml ./etc/meridian/dns.toml \
  ./etc/meridian/zones/example.test.zone ./lib/systemd/system/meridian-edge.service \
  ./lib/systemd/system/meridian-dns.service ./usr/share/doc/meridian/README.md ./usr/share/doc/meridian/conf-README.md \
  ./usr/share/doc/meridian/examples/edge-bucket.toml; do
  grep -qx "$f" "$TMP/contents" || fail "$f is not in the package"
done
for f in meridian-edge.8 meridian-dns.8 meridian.toml.5; do
  grep -q "^./usr/share/man/man${f##*.}/$f" "$TMP/contents" || fail "man page $f is not in the package"
done
grep -q '^./usr/local' "$TMP/contents" && fail "files under /usr/local in the package"
dep=$(dpkg-deb -f "$DEB" Depends)
for d in adduser libuv1 libc-ares2 libldns3 libssl3 libmaxminddb0 libtomlplusplus3 zlib1g libbrotli1; do
  grep -Eq "(^|, )$d( |,|$)" <<<"$dep" || fail "Depends lacks $d: $dep"
done
# The archive installs here as apt would (its dependencies are met): dpkg --dry-run changes nothing.
out=$(dpkg --dry-run -i "$DEB" 2>&1) || fail "dpkg --dry-run -i: $out"
dpkg-deb -e "$DEB" "$TMP/control"
for f in /etc/meridian/edge.toml /etc/meridian/dns.toml /etc/logrotate.d/meridian; do grep -qx "$f" "$TMP/control/conffiles" || fail "$f is not a conffile"; done

# postinst: creates the system user when it is missing, and only then (adduser, getent and systemctl are stand-ins
# here; the folder commands act on a throwaway root through a wrapper).
mkdir -p "$TMP/stub"
cat >"$TMP/stub/adduser" <<EOF
#!/bin/sh
echo "adduser \$*" >>"$TMP/calls"
EOF
cat >"$TMP/stub/getent" <<EOF
#!/bin/sh
[ -f "$TMP/user-exists" ]
EOF
for c in install chgrp chmod systemctl; do printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$c" "$TMP" >"$TMP/stub/$c"; done
chmod +x "$TMP"/stub/*
PATH="$TMP/stub:$PATH" sh "$TMP/control/postinst" configure || fail "postinst configure exited $?"
grep -Eq '^adduser --system --group .*meridian$' "$TMP/calls" || fail "postinst did not add the system user: $(cat "$TMP/calls")"
grep -q 'install -d -o meridian -g meridian -m 0750 /var/log/meridian' "$TMP/calls" || fail "no log folder for meridian"
grep -q '^chgrp meridian /etc/meridian/edge.toml /etc/meridian/dns.toml' "$TMP/calls" || fail "configs not given to group meridian"
touch "$TMP/user-exists" && : >"$TMP/calls"
PATH="$TMP/stub:$PATH" sh "$TMP/control/postinst" configure 0.0.9 || fail "postinst (upgrade) exited $?"
grep -q '^adduser' "$TMP/calls" && fail "postinst added the user twice"
grep -q '^ch' "$TMP/calls" && fail "an upgrade changed the admin's permissions: $(cat "$TMP/calls")"

# The units, unpacked into a throwaway root.
ROOT=$TMP/root
dpkg -x "$DEB" "$ROOT" || fail "dpkg -x"
mkdir -p "$TMP/units"
for d in edge dns; do
  sed "s|/usr/sbin/|$ROOT/usr/sbin/|g" "$ROOT/lib/systemd/system/meridian-$d.service" >"$TMP/units/meridian-$d.service"
done
out=$(systemd-analyze verify --man=no "$TMP/units/meridian-edge.service" "$TMP/units/meridian-dns.service" 2>&1) ||
  fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify complains: $out"
# The sandbox, scored by systemd itself: exposure 3.5 ("OK") at most, out of 10.
for d in edge dns; do
  out=$(systemd-analyze security --offline=true --threshold=35 "$TMP/units/meridian-$d.service" 2>&1) ||
    fail "meridian-$d.service is too exposed: $(tail -1 <<<"$out")"
done
unit=$ROOT/lib/systemd/system/meridian-dns.service
for k in 'Type=notify' 'User=meridian' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'PrivateTmp=yes' \
  'AmbientCapabilities=CAP_NET_BIND_SERVICE' 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' \
  'ExecReload=/bin/kill -HUP $MAINPID' 'MemoryDenyWriteExecute=yes' 'ProtectProc=invisible'; do
  grep -qxF "$k" "$unit" || fail "meridian-dns.service lacks $k"
done
grep -q '^RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX$' "$unit" || fail "RestrictAddressFamilies"

# The packaged config, on free ports; user nobody stands in for meridian when this test runs as root.
free_ports() { python3 -c 'import socket,sys; s=[socket.socket() for _ in range(int(sys.argv[1]))]; [x.bind(("127.0.0.1",0)) for x in s]; print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"; }
read -r DP DA < <(free_ports 2)
conf=$ROOT/etc/meridian/dns.toml
sed -i "s|^listen = .*|listen = \"127.0.0.1:$DP\"|; /^\[admin\]/,/^listen/ s|^listen = .*|listen = \"127.0.0.1:$DA\"|" "$conf"
if [ "$(id -u)" = 0 ]; then sed -i 's/^user = "meridian"/user = "nobody"/' "$conf"; else sed -i '/^user = /d' "$conf"; fi
# Its log in the root's /var/log/meridian, for the logrotate check below.
mkdir -p "$ROOT/var/log/meridian"
sed -i "/^\[log\]/,/^file/ s|^file = .*|file = \"$ROOT/var/log/meridian/dns.log\"|" "$conf"
grep -q "^file = \"$ROOT/var/log/meridian/dns.log\"" "$conf" || fail "could not point log.file into the root"
chmod -R a+rX "$ROOT"
cmdline() { # cmdline KEY: the unit's KEY= line, with its paths moved into the throwaway root
  sed -n "s/^$1=//p" "$unit" | sed "s|/usr/sbin/|$ROOT/usr/sbin/|g; s|/etc/meridian/|$ROOT/etc/meridian/|g"
}
read -r -a pre <<<"$(cmdline ExecStartPre)"
"${pre[@]}" >"$TMP/check.log" 2>&1 || fail "ExecStartPre (--check) failed: $(cat "$TMP/check.log")"

# NOTIFY_SOCKET: every datagram, one a line (newlines inside shown as |).
cat >"$TMP/notify.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    d = s.recv(4096).decode()
    with open(sys.argv[2], "a") as f:
        f.write(d.replace("\n", "|") + "\n")
PY
python3 "$TMP/notify.py" "$TMP/notify.sock" "$TMP/notified" >"$TMP/notify.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do [ -S "$TMP/notify.sock" ] && break; sleep 0.1; done
[ -S "$TMP/notify.sock" ] || fail "notify listener did not start"
read -r -a start <<<"$(cmdline ExecStart)"
NOTIFY_SOCKET=$TMP/notify.sock "${start[@]}" >"$TMP/dns.log" 2>&1 & main=$!; pids+=($main)
for _ in $(seq 200); do grep -q 'READY=1' "$TMP/notified" 2>/dev/null && break; sleep 0.1; done
grep -q "^READY=1|STATUS=serving|MAINPID=$main$" "$TMP/notified" 2>/dev/null || fail "no READY=1 (got: $(cat "$TMP/notified" 2>/dev/null))"
# Ready means serving: the answer is there at once.
a=$(dig @127.0.0.1 -p "$DP" web.example.test A +short +time=2 +tries=1 | sort | head -1)
[ "$a" = 192.0.2.80 ] || fail "READY=1 but web.example.test A is '$a'"
# ExecReload, with $MAINPID as systemd fills it in.
reload=$(cmdline ExecReload); reload=${reload//\$MAINPID/$main}
read -r -a rl <<<"$reload"
"${rl[@]}" || fail "ExecReload failed"
for _ in $(seq 100); do [ "$(grep -c '^READY=1' "$TMP/notified")" -ge 2 ] && break; sleep 0.1; done
[ "$(grep -c '^RELOADING=1' "$TMP/notified")" = 1 ] || fail "no RELOADING=1 after ExecReload: $(cat "$TMP/notified")"
[ "$(grep -c '^READY=1' "$TMP/notified")" = 2 ] || fail "no READY=1 after the reload: $(cat "$TMP/notified")"
# The packaged logrotate rule (paths in the root; the stand-in user; our PID instead of systemctl kill): the log is
# rotated, a new one created for the user, and the daemon writes to it after SIGUSR1.
lr=$ROOT/etc/logrotate.d/meridian
[ -f "$lr" ] || fail "no /etc/logrotate.d/meridian"
grep -q 'create 0640 meridian meridian' "$lr" || fail "logrotate does not create the new log for meridian"
grep -q 'systemctl kill --signal=USR1 --kill-who=main meridian-edge.service meridian-dns.service' "$lr" ||
  fail "logrotate does not signal the daemons"
owner="$(id -un) $(id -gn)"; [ "$(id -u)" = 0 ] && owner="nobody $(id -gn nobody)"
sed "s|/var/log/meridian|$ROOT/var/log/meridian|; s|create 0640 meridian meridian|create 0640 $owner|;
  s|systemctl kill .*|kill -USR1 $main|" "$lr" >"$TMP/logrotate.conf"
chmod 644 "$TMP/logrotate.conf"
logrotate -f -s "$TMP/logrotate.state" "$TMP/logrotate.conf" >"$TMP/logrotate.log" 2>&1 || fail "logrotate: $(cat "$TMP/logrotate.log")"
[ -s "$ROOT/var/log/meridian/dns.log.1" ] || fail "logrotate did not rotate dns.log"
sleep 0.5
kill -HUP "$main"
for _ in $(seq 100); do grep -q reloaded "$ROOT/var/log/meridian/dns.log" 2>/dev/null && break; sleep 0.1; done
grep -q reloaded "$ROOT/var/log/meridian/dns.log" || fail "nothing logged to the new dns.log after the rotation"
kill -TERM "$main"; wait "$main"; rc=$?
[ $rc = 0 ] || fail "meridian-dns exited $rc on SIGTERM"
grep -q '^STOPPING=1' "$TMP/notified" || fail "no STOPPING=1: $(cat "$TMP/notified")"
echo "PASS: $(basename "$DEB") ($(du -k "$DEB" | cut -f1) KiB): FHS contents, Depends, conffiles, postinst user, units verified, READY/RELOADING/STOPPING from the unit's command lines, logrotate rule"
