# Geo benchmark: `www.bench.test A` steered by geoproximity across three edges (eu, us, ap: the coordinates of
# conf/examples/dns-geo.toml), every query with an EDNS Client Subnet from 4,096 located /24s, answered by
# meridian-dns and by gdnsd's geoip plugin (auto_dc_coords) on the same MaxMind DB; same zone as the dns group
# (1,000 names here: the steered name is what is measured). Sourced by bench.sh.

GEO_CASE="geo-steered name with ECS"

bench_geo() {
  local secs=$1 d="$BENCH_TMP/geo"
  mkdir -p "$d"
  log "geo: generating the location database (4,096 /24 cities) and ECS queries"
  python3 "$BENCH_LIB/gen_zone.py" --origin bench.test --names 1000 --zone "$d/bench.test.zone"
  if ! perl "$BENCH_LIB/gen_geo.pl" "$d/cities.mmdb" "$d/queries" bench.test 100000 2>"$d/gen.err"; then
    skip_row geo "$GEO_CASE" meridian "fixture: $(head -2 "$d/gen.err" | tr '\n' ' ')"
    return 1
  fi
  # meridian-dns: the steering part appended to the generated config.
  cat >"$d/meridian-geo.toml" <<CONF

[geo]
database = "$d/cities.mmdb"

[[edge]]
name = "eu"
ipv4 = "192.0.2.10"
latitude = 50.11
longitude = 8.68

[[edge]]
name = "us"
ipv4 = "198.51.100.10"
latitude = 38.95
longitude = -77.45

[[edge]]
name = "ap"
ipv4 = "203.0.113.10"
latitude = 1.35
longitude = 103.82

[[steer]]
name = "www.bench.test."
type = ["A"]
ttl = 60
policy = "geoproximity"
members = ["eu", "us", "ap"]
CONF
  cat >"$d/gdnsd-plugins" <<CONF
plugins => {
  geoip => {
    maps => {
      bench => {
        geoip2_db => $d/cities.mmdb
        datacenters => [ eu, us, ap ]
        auto_dc_coords => { eu => [ 50.11, 8.68 ], us => [ 38.95, -77.45 ], ap => [ 1.35, 103.82 ] }
      }
    }
    resources => {
      www => {
        map => bench
        dcmap => { eu => 192.0.2.10, us => 198.51.100.10, ap => 203.0.113.10 }
      }
    }
  }
}
CONF
  echo "www 60 DYNA geoip!www" >"$d/gdnsd-zone-append"
  local kind port up=()
  DNS_PORT=() DNS_PID=()
  for kind in meridian gdnsd; do
    port=$(free_port)
    log "geo: $kind on 127.0.0.1:$port (core $SERVER_CPU)"
    SERVER_PID=
    if ! GEO_CONF_APPEND="$d/meridian-geo.toml" GDNSD_PLUGINS="$d/gdnsd-plugins" \
         GDNSD_ZONE_APPEND="$d/gdnsd-zone-append" \
         start_dns_server "$kind" "$d/$kind" "$port" bench.test "$d/bench.test.zone"; then
      skip_row geo "$GEO_CASE" "$kind" "did not start (see $d/$kind)"
      continue
    fi
    # Sanity: both must steer a Frankfurt-ish client and echo an ECS scope.
    log "  $kind answers www for 10.0.0.0/24: $(dig +short +subnet=10.0.0.0/24 -p "$port" @127.0.0.1 www.bench.test A | tr '\n' ' ')"
    DNS_PORT[$kind]=$port
    DNS_PID[$kind]=$SERVER_PID
    up+=("$kind")
  done
  measure_rounds geo "$GEO_CASE" "$d/queries" "$secs" "${up[@]}"
  stop_all
}
