#!/usr/bin/env bash
# Both daemons' CLI: --version, --help, usage errors (exit 2), and --check on good and broken files (exit 0/1, each
# problem on its own line naming file:line:column and the key).
set -uo pipefail
SRC=${MERIDIAN_SRC:?}; EDGE=${MERIDIAN_EDGE:?}; DNS=${MERIDIAN_DNS:?}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
fails=0
check() { # check DESCRIPTION EXPECTED_RC PATTERN CMD...
  local what=$1 want=$2 pat=$3; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qE -- "$pat" <<<"$out"; then
    echo "FAIL: $what: exit $rc (want $want), output:"; echo "$out" | head -20; fails=$((fails+1))
  else
    echo "ok: $what"
  fi
}

for bin in "$EDGE" "$DNS"; do
  name=$(basename "$bin")
  check "$name --version" 0 "^$name [0-9]+\.[0-9]+\.[0-9]+" "$bin" --version
  check "$name --help" 0 "--check" "$bin" --help
  check "$name unknown flag" 2 "unknown argument '--frobnicate'" "$bin" --frobnicate
  check "$name --config without a file" 2 "needs a file name" "$bin" --config
  check "$name missing config file" 1 "$TMP/nope.toml: cannot open" "$bin" --check --config "$TMP/nope.toml"
done

check "edge --check demo" 0 "configuration ok" "$EDGE" --check --config "$SRC/conf/demo/edge.toml"
check "dns --check demo" 0 "configuration ok" "$DNS" --check --config "$SRC/conf/demo/dns.toml"

cat >"$TMP/edge.toml" <<'TOML'
allow_root = true
workers = 2
listen = "127.0.0.1:8080"
[cache]
max_bytes = "lots"
[[origin]]
name = "site"
type = "bucket"
path = "does-not-exist"
TOML
check "edge --check: bad size names file:line:col and key" 1 "^$TMP/edge.toml:5:13: cache.max_bytes: expected a size like \"512MiB\", got \"lots\"$" \
  "$EDGE" --check --config "$TMP/edge.toml"
check "edge --check: error count" 1 "error\(s\)" "$EDGE" --check --config "$TMP/edge.toml"

cat >"$TMP/edge2.toml" <<'TOML'
listen = "${MERIDIAN_SURELY_UNSET_VAR}"
workerz = 2
TOML
check "edge --check: unset env var" 1 "^$TMP/edge2.toml:1:10: listen: environment variable \\$\\{MERIDIAN_SURELY_UNSET_VAR\\} is not set" \
  "$EDGE" --check --config "$TMP/edge2.toml"
check "edge --check: unknown key" 1 "^$TMP/edge2.toml:2:1: workerz: unknown key$" "$EDGE" --check --config "$TMP/edge2.toml"

cat >"$TMP/dns.toml" <<'TOML'
listen = "127.0.0.1:5300"
allow_root = true
workers = -1
TOML
check "dns --check: out of range" 1 "^$TMP/dns.toml:3:11: workers: value -1 is out of range" "$DNS" --check --config "$TMP/dns.toml"

cat >"$TMP/dns3.toml" <<'TOML'
listen = "127.0.0.1:5300"
[[zone]]
name = "broken.test."
file = "broken.zone"
TOML
printf '$ORIGIN broken.test.\n$TTL 300\n@ IN SOA ns1 host 1 2 3 4 5\n  IN NS ns1\nns1 IN A 999.1.1.1\n' >"$TMP/broken.zone"
check "dns --check: zone error names the zone file and line" 1 "broken.zone:5" "$DNS" --check --config "$TMP/dns3.toml"

cat >"$TMP/syntax.toml" <<'TOML'
listen = = "x"
TOML
check "dns --check: TOML syntax error" 1 "^$TMP/syntax.toml:1:" "$DNS" --check --config "$TMP/syntax.toml"

# A broken config stops the daemon from starting (exit 1), it never runs half-configured.
check "edge refuses to start on a broken config" 1 "not started" "$EDGE" --config "$TMP/edge.toml"

[ $fails = 0 ] && echo "PASS" || { echo "$fails check(s) failed"; exit 1; }
