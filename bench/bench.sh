#!/usr/bin/env bash
# Meridian's side-by-side benchmarks: bench/bench.sh BUILD_DIR [edge|tls|dns|dnstcp|dnssec|geo|scale|loadtest|invalidation|tier|all]... [--seconds N]
# (normally through `./run bench`, which installs the peers and builds Release first).
#
# Every server and peer is started here, on loopback, on free ports, with configs generated into a temp dir; the
# server is pinned to core SERVER_CPU (0) and the load generator to LOAD_CPU (1); every case runs N seconds (bounded);
# everything is stopped by PID on exit. The table, results.json and chart.png go to bench/results/<time>/, and the
# summary to bench/results/latest.md.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BENCH_LIB="$BENCH_DIR/lib"

usage() {
  echo "usage: bench/bench.sh BUILD_DIR [edge|tls|dns|dnstcp|dnssec|geo|scale|loadtest|invalidation|tier|all]... [--seconds N]" >&2
  exit 2
}
[ $# -ge 1 ] || usage

# Every case runs in a network namespace of its own (BENCH_NETNS=0 keeps the machine's), whose TCP congestion control
# is BENCH_TCP_CC (default cubic, the kernel's default; "host" keeps the machine's). Measured on a machine whose
# default is bbr: BBR paces each socket with its own hrtimer whenever it has left its startup phase, and on loopback
# whether a connection leaves startup depends on how fast the server fills the client's window. The edge's 100 KiB
# hit connections left it and took 0.8 pacing-timer interrupts per response (perf: tcp_pace_kick, 12,797 in 2 s;
# nginx's stayed in startup: 0), which put 37% of the edge's samples in interrupt re-enables and cost it 45 against
# nginx's 33 us per hit; with cubic the same binaries took 19-27 against 31-40 us. A pacing timer at 100 Gbit/s says
# nothing about a server's cost, so the rows compare the servers without it. The namespace also keeps other
# loopback traffic on the machine out of the measurements. The namespace inherits the machine's other sysctls.
if [ "${BENCH_NETNS:-1}" != 0 ] && [ -z "${MERIDIAN_BENCH_IN_NETNS:-}" ]; then
  if unshare --net true 2>/dev/null; then
    exec unshare --net -- env MERIDIAN_BENCH_IN_NETNS=1 "$0" "$@"
  fi
  echo "bench: WARNING: cannot create a network namespace (root needed): running on the machine's network" >&2
fi
if [ -n "${MERIDIAN_BENCH_IN_NETNS:-}" ]; then
  ip link set lo up
  if [ "${BENCH_TCP_CC:-cubic}" != host ]; then
    sysctl -qw net.ipv4.tcp_congestion_control="${BENCH_TCP_CC:-cubic}" ||
      echo "bench: WARNING: cannot set tcp_congestion_control=${BENCH_TCP_CC:-cubic}" >&2
  fi
fi
BENCH_TCP_CC_USED=$(sysctl -n net.ipv4.tcp_congestion_control 2>/dev/null || echo "?")
export BENCH_TCP_CC_USED

BUILD=$(cd "$1" && pwd) || usage
shift
SECONDS_PER_CASE=10
GROUPS_WANTED=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) [ $# -ge 2 ] || usage; SECONDS_PER_CASE=$2; shift 2 ;;
    --seconds=*) SECONDS_PER_CASE=${1#*=}; shift ;;
    dns) GROUPS_WANTED+=(dns dnssec); shift ;; # the signed rates beside the unsigned ones
    edge|tls|dnstcp|dnssec|geo|scale|loadtest|invalidation|tier) GROUPS_WANTED+=("$1"); shift ;;
    all) GROUPS_WANTED+=(edge tls dns dnssec dnstcp geo scale loadtest invalidation tier); shift ;;
    -h|--help) usage ;;
    *) echo "bench: unknown argument '$1'" >&2; usage ;;
  esac
done
[ ${#GROUPS_WANTED[@]} -gt 0 ] || GROUPS_WANTED=(edge tls dns dnssec dnstcp geo scale loadtest invalidation tier)
case "$SECONDS_PER_CASE" in ''|*[!0-9]*) echo "bench: --seconds wants a whole number" >&2; exit 2 ;; esac
[ "$SECONDS_PER_CASE" -ge 1 ] && [ "$SECONDS_PER_CASE" -le 600 ] || { echo "bench: --seconds must be 1..600" >&2; exit 2; }

BIN="$BUILD/bin"
MERIDIAN_EDGE="$BIN/meridian-edge"
MERIDIAN_DNS="$BIN/meridian-dns"
for t in dns_loadgen dns_echo http_ttfb; do
  [ -x "$BIN/$t" ] || { echo "bench: $BIN/$t is missing: build the bench tools (cmake --build $BUILD)" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || echo "bench: WARNING: fewer than 2 cores: server and load generator share one" >&2

RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$ROOT/bench/results/$RUN_ID"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"
# Scratch on tmpfs: the nginx cache, generated sites and zones live in memory like the caches they compete with.
BENCH_TMP=$(mktemp -d /dev/shm/meridian-bench.XXXXXX 2>/dev/null || mktemp -d)
export BENCH_TMP RESULTS BENCH_LIB BIN MERIDIAN_EDGE MERIDIAN_DNS

# shellcheck source=lib/common.sh
source "$BENCH_LIB/common.sh"
source "$BENCH_LIB/dns_servers.sh"
source "$BENCH_LIB/dns_bench.sh"
source "$BENCH_LIB/edge_servers.sh"
source "$BENCH_LIB/edge_bench.sh"
source "$BENCH_LIB/tls_bench.sh"
source "$BENCH_LIB/geo_bench.sh"
source "$BENCH_LIB/scale_bench.sh"
source "$BENCH_LIB/invalidation_bench.sh"
source "$BENCH_LIB/dnssec_bench.sh"
source "$BENCH_LIB/tier_bench.sh"
source "$BENCH_LIB/dnstcp_bench.sh"

# The load test as a group: meridian-edge, nginx proxy_cache and Varnish side by side on a generated site, Zipf
# sweep in LOADTEST_ROUNDS (3) interleaved rounds, p99-crossing search, 10,000 connections held.
bench_loadtest() {
  local secs=$1 s=$(( $1 < 5 ? $1 : 5 ))
  if [ ! -x "$MERIDIAN_EDGE" ]; then
    skip_row loadtest "10k keep-alive connections" meridian "meridian-edge not built"
    return 0
  fi
  "$BENCH_DIR/loadtest" --build "$BUILD" --results "$RESULTS" --seconds "$s" --warm "$s" --objects 2000 \
    --steps "16 64 256 1024 4096" --rounds "${LOADTEST_ROUNDS:-3}" --search 2 --hold 10000 ||
    skip_row loadtest "10k keep-alive connections" meridian "bench/loadtest failed (exit $?)"
}

cleanup() {
  stop_all
  rm -rf "$BENCH_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wrk and the edges need many descriptors (10k connections in the load test).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log "Meridian bench: groups ${GROUPS_WANTED[*]}, ${SECONDS_PER_CASE}s per case, build $BUILD, results $OUT"
[ -x "$MERIDIAN_EDGE" ] || warn "meridian-edge is not built: edge rows will be n/a"
[ -x "$MERIDIAN_DNS" ] || warn "meridian-dns is not built: dns rows will be n/a"
T0=$SECONDS
for g in "${GROUPS_WANTED[@]}"; do
  log "=== group $g ==="
  t=$SECONDS
  "bench_$g" "$SECONDS_PER_CASE" || warn "group $g ended early (exit $?)"
  stop_all
  log "=== group $g done in $((SECONDS - t))s ==="
done
log "all groups done in $((SECONDS - T0))s"

cmd="./run bench ${GROUPS_WANTED[*]} --seconds $SECONDS_PER_CASE"
[ "${GROUPS_WANTED[*]}" = "edge tls dns dnssec dnstcp geo scale loadtest invalidation tier" ] && cmd="./run bench all --seconds $SECONDS_PER_CASE"
LATEST_ARGS=()
# Only a full run replaces the committed summary.
[ "${GROUPS_WANTED[*]}" = "edge tls dns dnssec dnstcp geo scale loadtest invalidation tier" ] && LATEST_ARGS=(--latest "$ROOT/bench/results/latest.md")
python3 "$BENCH_LIB/report.py" "$RESULTS" "$OUT" --command "$cmd" "${LATEST_ARGS[@]}"
