#!/usr/bin/env python3
"""meridian-dns geo steering end to end: a location database the test writes (Perl MaxMind::DB::Writer), a CIDR
collection, and `dig +subnet=` from each prefix must get the nearest edge, with the ECS scope echoed; IPv6 clients
too; a client outside the data gets the default; static records beside a steered name still answer."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dnswire import free_port  # noqa: E402  (shared with the other DNS integration tests)

SRC = os.environ.get("MERIDIAN_SRC", os.getcwd())
DNS = os.environ.get("MERIDIAN_DNS")
if not DNS or not os.path.exists(DNS):
    print("skip: MERIDIAN_DNS not built")
    sys.exit(77)
if not shutil.which("dig"):
    print("skip: dig not installed (bind9-dnsutils)")
    sys.exit(77)

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)




tmp = tempfile.mkdtemp(prefix="meridian-it-geo-")
proc = None
try:
    subprocess.run(["perl", os.path.join(SRC, "conf/examples/geo/make_cities_mmdb.pl"),
                    os.path.join(tmp, "cities.mmdb")], check=True)
    with open(os.path.join(tmp, "geo.test.zone"), "w") as f:
        f.write("""$ORIGIN geo.test.
$TTL 3600
@    IN SOA ns1 hostmaster 1 3600 600 86400 300
@    IN NS  ns1
ns1  IN A   127.0.0.1
www  IN TXT "static data beside a steered name"
""")
    with open(os.path.join(tmp, "clients.cidr"), "w") as f:
        f.write("# test client networks\n"
                "10.200.1.0/24  office-eu\n"
                "10.200.2.0/24  office-ap  lat=1.3 lon=103.8\n"
                "2001:db8:200::/48  office-ap\n")
    port = free_port()
    conf_path = os.path.join(tmp, "dns.toml")
    with open(conf_path, "w") as f:
        f.write(f"""
allow_root = true
workers = 2
listen = "127.0.0.1:{port}"
[[zone]]
name = "geo.test."
file = "geo.test.zone"
[geo]
database = "cities.mmdb"
cidr_file = "clients.cidr"
[[edge]]
name = "eu"
ipv4 = "192.0.2.10"
ipv6 = "2001:db8:e0::10"
latitude = 50.11
longitude = 8.68
[[edge]]
name = "us"
ipv4 = "198.51.100.10"
ipv6 = "2001:db8:e1::10"
latitude = 38.95
longitude = -77.45
[[edge]]
name = "ap"
ipv4 = "203.0.113.10"
latitude = 1.35
longitude = 103.82
[[steer]]
name = "www.geo.test."
type = ["A", "AAAA"]
ttl = 60
policy = "geoproximity"
default = "us"
[[steer]]
name = "ip.geo.test."
policy = "ip_based"
default = "us"
cidr = {{ eu = ["office-eu"], ap = ["office-ap"] }}
[[steer]]
name = "mv.geo.test."
policy = "multivalue"
""")
    log = open(os.path.join(tmp, "dns.log"), "w")
    proc = subprocess.Popen([DNS, "--config", os.path.join(tmp, "dns.toml")], stdout=log, stderr=subprocess.STDOUT)

    def dig(name, qtype="A", subnet=None, extra=()):
        cmd = ["dig", "@127.0.0.1", "-p", str(port), name, qtype, "+tries=1", "+time=2", "+norecurse"]
        if subnet:
            cmd.append("+subnet=" + subnet)
        cmd += list(extra)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
        answers = re.findall(r"^\S+\s+\d+\s+IN\s+(?:A|AAAA|TXT)\s+(.+)$", out, re.M)
        m = re.search(r"CLIENT-SUBNET: (\S+)/(\d+)/(\d+)", out)
        scope = int(m.group(3)) if m else None
        status = re.search(r"status: (\w+)", out)
        return answers, scope, (status.group(1) if status else None), out

    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        a, _, st, _ = dig("ns1.geo.test")
        if st == "NOERROR":
            break
        time.sleep(0.1)
    check(proc.poll() is None, "meridian-dns is running")

    # (subnet, expected edge, expected scope or None): scopes follow from the test database's layout.
    cases = [
        ("10.1.2.0/24", "192.0.2.10", 16),      # Frankfurt (10.1/16 incl. Paris /17: both eu)
        ("10.1.200.0/24", "192.0.2.10", 16),    # Paris
        ("10.2.0.0/24", "192.0.2.10", None),    # London
        ("10.3.9.0/24", "198.51.100.10", 16),   # Ashburn
        ("10.4.0.0/24", "198.51.100.10", 15),   # San Jose + Sao Paulo merge to 10.4/15
        ("10.5.77.0/24", "198.51.100.10", 15),
        ("10.6.0.0/24", "203.0.113.10", None),  # Singapore
        ("10.7.0.0/24", "203.0.113.10", None),  # Tokyo
        ("10.8.0.0/24", "203.0.113.10", None),  # Sydney
        ("10.200.2.0/24", "203.0.113.10", 24),  # CIDR collection entry with coordinates
        ("192.0.2.0/24", "198.51.100.10", None),  # outside the data → default
        ("10.1.2.3/32", "192.0.2.10", 16),      # /32 source: truncated to /24, scope still 16
    ]
    for subnet, want, want_scope in cases:
        a, scope, st, out = dig("www.geo.test", "A", subnet)
        check(st == "NOERROR" and a == [want], f"www A from {subnet} → {want} (got {a}, {st})")
        check(scope is not None and 0 < scope <= 24, f"  ECS scope echoed for {subnet} (got {scope})")
        if want_scope is not None:
            check(scope == want_scope, f"  scope for {subnet} is /{want_scope} (got {scope})")

    # Every address inside the echoed scope gets the same answer (never wider than true).
    for x in (0, 63, 127, 128, 255):
        a, _, _, _ = dig("www.geo.test", "A", f"10.1.{x}.0/24")
        check(a == ["192.0.2.10"], f"10.1.{x}.0/24 inside the /16 scope → eu (got {a})")

    # IPv6 clients.
    a, scope, st, _ = dig("www.geo.test", "A", "2001:db8:6::/48")
    check(a == ["203.0.113.10"], f"IPv6 Singapore client → ap (got {a})")
    check(scope is not None and 0 < scope <= 56, f"  IPv6 scope echoed (got {scope})")
    a, scope, st, _ = dig("www.geo.test", "A", "2001:db8:1:ab00::/56")
    check(a == ["192.0.2.10"], f"IPv6 Frankfurt client → eu (got {a})")
    a, scope, st, _ = dig("www.geo.test", "AAAA", "2001:db8:1::/48")
    check(a == ["2001:db8:e0::10"], f"AAAA for an IPv6 Frankfurt client → eu's IPv6 (got {a})")
    a, scope, st, _ = dig("www.geo.test", "AAAA", "10.6.0.0/24")
    check(a == ["2001:db8:e0::10"], f"AAAA: ap has no IPv6, the next nearest with one (eu) answers (got {a})")
    a, scope, st, _ = dig("www.geo.test", "A", "2001:db8:ffff::/48")
    check(a == ["198.51.100.10"], f"IPv6 outside the data → default (got {a})")

    # No ECS: the resolver's own address (127.0.0.1, unknown) decides; no option echoed.
    a, scope, st, out = dig("www.geo.test", "A")
    check(a == ["198.51.100.10"] and scope is None, f"no ECS: resolver address → default, no ECS echoed ({a}, {scope})")
    # SOURCE PREFIX 0: not located by subnet, scope 0.
    a, scope, st, out = dig("www.geo.test", "A", "0.0.0.0/0")
    check(st == "NOERROR" and scope == 0, f"ECS /0 → scope 0 (got {scope}, {st})")

    # IP-based routing from the CIDR collection.
    for subnet, want in [("10.200.1.0/24", "192.0.2.10"), ("10.200.2.0/24", "203.0.113.10"),
                         ("2001:db8:200::/48", "203.0.113.10"), ("10.6.0.0/24", "198.51.100.10")]:
        a, scope, st, _ = dig("ip.geo.test", "A", subnet)
        check(a == [want], f"ip_based from {subnet} → {want} (got {a})")

    # Multivalue: every edge with an address, order rotated, scope 0.
    firsts = set()
    for _ in range(20):
        a, scope, st, _ = dig("mv.geo.test", "A", "10.1.0.0/24")
        check(sorted(a) == ["192.0.2.10", "198.51.100.10", "203.0.113.10"], f"multivalue answers all three ({a})")
        check(scope == 0, f"  multivalue scope 0 (got {scope})")
        if a:
            firsts.add(a[0])
    check(len(firsts) > 1, f"multivalue order rotates (first records seen: {sorted(firsts)})")

    # Static data at the steered name, and a type that is neither steered nor present.
    a, scope, st, _ = dig("www.geo.test", "TXT")
    check(st == "NOERROR" and len(a) == 1 and "static data" in a[0], f"www TXT from the zone (got {a})")
    a, scope, st, out = dig("www.geo.test", "MX")
    check(st == "NOERROR" and a == [], f"www MX → NODATA (got {st}, {a})")
    a, scope, st, out = dig("ip.geo.test", "AAAA")
    check(st == "NOERROR" and a == [], f"unsteered type at a steered-only name → NODATA (got {st}, {a})")

    # Over TCP too.
    a, scope, st, _ = dig("www.geo.test", "A", "10.6.0.0/24", ["+tcp"])
    check(a == ["203.0.113.10"] and scope is not None, f"TCP: Singapore → ap (got {a}, scope {scope})")

    # SIGHUP with a changed steering config: the new default answers; a broken config keeps the running one.
    conf = open(conf_path).read()
    with open(conf_path, "w") as f:
        f.write(conf.replace('policy = "geoproximity"\ndefault = "us"', 'policy = "geoproximity"\ndefault = "eu"'))
    proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline and dig("www.geo.test", "A", "192.0.2.0/24")[0] != ["192.0.2.10"]:
        time.sleep(0.1)
    check(dig("www.geo.test", "A", "192.0.2.0/24")[0] == ["192.0.2.10"], "SIGHUP: new default eu answers outside the data")
    check(dig("www.geo.test", "A", "10.6.0.0/24")[0] == ["203.0.113.10"], "SIGHUP: Singapore still → ap")
    with open(conf_path, "w") as f:
        f.write(conf.replace('policy = "geoproximity"\ndefault = "us"', 'policy = "geoproximity"\ndefault = "nowhere"'))
    proc.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    check(proc.poll() is None, "broken config on SIGHUP: still running")
    check(dig("www.geo.test", "A", "192.0.2.0/24")[0] == ["192.0.2.10"], "broken config on SIGHUP: old steering stays")
    logtext = open(os.path.join(tmp, "dns.log")).read()
    check("nowhere" in logtext, "broken config on SIGHUP: the log names the bad member")
finally:
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            check(proc.wait(timeout=10) == 0, "meridian-dns stops cleanly on SIGTERM (exit 0, no sanitizer report)")
        except subprocess.TimeoutExpired:
            proc.kill()
            check(False, "meridian-dns stops within 10s of SIGTERM")
    if failures:
        try:
            print("---- meridian-dns log ----")
            print(open(os.path.join(tmp, "dns.log")).read()[-4000:])
        except OSError:
            pass
    shutil.rmtree(tmp, ignore_errors=True)

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
