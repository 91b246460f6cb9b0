#!/usr/bin/env bash
# ctest: LABELS tooling
# Scripts never touch what they did not start. ./run's package install runs with stand-ins for apt-get, dpkg-query
# and systemctl: the host already runs its own nginx.service, and the "installed" package's postinst starts
# nsd.service despite policy-rc.d. Only nsd.service may be stopped, by its unit; processes named nginx, nsd, knotd,
# gdnsd and varnishd that were running before (stand-ins: copies of sleep under those names) must all survive.
# Without systemd, only the daemon whose PID file appeared during the install is stopped. Then no script under run, tests/, bench/ or conf/ may end processes by name.
set -uo pipefail
SRC=${MERIDIAN_SRC:?}
TMP=$(mktemp -d)
pids=()
cleanup() { { for p in "${pids[@]}"; do kill -KILL "$p"; wait "$p"; done; } 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

names=(nginx nsd knotd gdnsd varnishd)
for n in "${names[@]}"; do
  cp "$(command -v sleep)" "$TMP/$n"
  "$TMP/$n" 600 & pids+=($!)
done

# systemctl's state: one active unit a line. The host's nginx.service runs before the install.
echo nginx.service >"$TMP/active"
(
  export MERIDIAN_RUN_LIB=1
  # shellcheck source=/dev/null
  source "$SRC/run"
  set +e
  POLICY_RC_D=$TMP/policy-rc.d
  id() { echo 0; }
  have_systemd() { true; }
  apt_update_once() { :; }
  dpkg-query() {
    case "$1" in
      -W) [ -f "$TMP/installed" ] && echo 'install ok installed' || echo 'unknown ok not-installed' ;;
      -L) echo /usr/sbin/nsd; echo /lib/systemd/system/nsd.service ;;
    esac
  }
  apt-get() {
    [ -x "$POLICY_RC_D" ] && [ "$("$POLICY_RC_D" nsd start; echo $?)" = 101 ] || echo "no policy-rc.d during install" >>"$TMP/errors"
    touch "$TMP/installed"
    echo nsd.service >>"$TMP/active" # the postinst started it anyway
  }
  systemctl() {
    case "$1" in
      list-units) sort "$TMP/active" | sed 's/$/ loaded active running Stand-in/' ;;
      stop) echo "$2" >>"$TMP/stopped"; grep -vx "$2" "$TMP/active" >"$TMP/a2"; mv "$TMP/a2" "$TMP/active" ;;
      *) echo "unexpected: systemctl $*" >>"$TMP/errors" ;;
    esac
  }
  install_pkgs nsd
) >"$TMP/out" 2>&1 || fail "install_pkgs failed: $(cat "$TMP/out")"

# Without systemd: the postinst starts nsd anyway and it writes its PID file; the host's nginx has had its own PID
# file all along, and another host daemon writes one during the install. Only the new PID file whose process runs a
# program of the package just added may be stopped.
mkdir -p "$TMP/run/nsd" "$TMP/bin2"
cp "$(command -v sleep)" "$TMP/bin2/nsd"
echo "${pids[0]}" >"$TMP/run/nginx.pid" # the host's nginx
rm -f "$TMP/installed"
(
  export MERIDIAN_RUN_LIB=1
  # shellcheck source=/dev/null
  source "$SRC/run"
  set +e
  POLICY_RC_D=$TMP/policy-rc.d
  RUN_DIR=$TMP/run
  id() { echo 0; }
  have_systemd() { false; }
  apt_update_once() { :; }
  dpkg-query() {
    case "$1" in
      -W) [ -f "$TMP/installed" ] && echo 'install ok installed' || echo 'unknown ok not-installed' ;;
      -S) case "$2" in "$TMP/bin2/nsd") echo "nsd: $2" ;; *) echo "coreutils: $2" ;; esac ;;
    esac
  }
  apt-get() {
    touch "$TMP/installed"
    "$TMP/bin2/nsd" 600 </dev/null >/dev/null 2>&1 &
    echo $! >"$TMP/run/nsd/nsd.pid"
    echo "${pids[0]}" >"$TMP/run/web.pid" # a host daemon that wrote a PID file meanwhile: not this install's
  }
  systemctl() { echo "unexpected: systemctl $*" >>"$TMP/errors"; }
  install_pkgs nsd
) >"$TMP/out2" 2>&1 || fail "install_pkgs without systemd failed: $(cat "$TMP/out2")"
new_nsd=$(cat "$TMP/run/nsd/nsd.pid")
pids+=("$new_nsd")
for _ in $(seq 50); do kill -0 "$new_nsd" 2>/dev/null || break; sleep 0.1; done
kill -0 "$new_nsd" 2>/dev/null && fail "the nsd this install started (PID file $TMP/run/nsd/nsd.pid) still runs"
grep -q "stopping PID $new_nsd" "$TMP/out2" || fail "no log of the stop: $(cat "$TMP/out2")"

[ -f "$TMP/errors" ] && fail "$(cat "$TMP/errors")"
[ -e "$TMP/policy-rc.d" ] && fail "policy-rc.d left behind after the install"
[ "$(cat "$TMP/stopped" 2>/dev/null)" = nsd.service ] || fail "stopped units: '$(cat "$TMP/stopped" 2>/dev/null)', want only nsd.service"
grep -qx nginx.service "$TMP/active" || fail "the host's nginx.service was stopped"
i=0
for n in "${names[@]}"; do
  kill -0 "${pids[$i]}" 2>/dev/null || fail "a process named $n that the install did not start was killed"
  i=$((i + 1))
done

# No script ends a process by its name. (The command names are spelled in pieces so this guard, which kills
# nothing, does not match its own pattern or a search for such commands.)
by_name='\b(p''kill|kill''all|kill''all5)\b|systemctl (stop|kill|restart) +(nginx|nsd|knot|gdnsd|varnish)\b|-s (stop|quit)\b'
hits=$(grep -rnE "$by_name" \
  "$SRC/run" "$SRC/tests" "$SRC/bench" "$SRC/conf" --include='*.sh' --include='*.py' --include='run' --include='*.pl' \
  --include='loadtest' --include='bench.sh' --include='cluster' 2>/dev/null | grep -v 'tests/integration/it_run_scripts.sh' || true)
[ -z "$hits" ] || fail "scripts that end processes by name: $hits"
echo "ok"
