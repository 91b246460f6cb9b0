#!/usr/bin/env python3
"""meridian-dns explain, end to end: for many (client, ECS) pairs the running daemon's GET /_meridian/explain gives
the answer a dig with the same ECS gets (records, ECS scope), and names the decision (location, policy tree, health,
fail-open); the explain sub-command answers from the config alone. One edge's health check points at a closed port,
so the live explanation shows it unhealthy and the fallback, while the sub-command (no checks) takes it as healthy."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnswire import free_port  # noqa: E402

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


ADDR = {"eu": "192.0.2.10", "us": "198.51.100.10", "ap": "203.0.113.10"}

tmp = tempfile.mkdtemp(prefix="meridian-it-explain-")
proc = None
up = socket.socket()  # the healthy edge's check target: accepts and closes, until the test closes it


def accept_loop():
    while True:
        try:
            c, _ = up.accept()
            c.close()
        except OSError:
            return


try:
    up.bind(("127.0.0.1", 0))
    up.listen(64)
    up_port = up.getsockname()[1]
    threading.Thread(target=accept_loop, daemon=True).start()
    down_port = free_port()  # nothing listens: connection refused
    subprocess.run(["perl", os.path.join(SRC, "conf/examples/geo/make_cities_mmdb.pl"),
                    os.path.join(tmp, "cities.mmdb")], check=True)
    with open(os.path.join(tmp, "geo.test.zone"), "w") as f:
        f.write("$ORIGIN geo.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\n"
                "ns1 IN A 127.0.0.1\nstatic IN A 192.0.2.99\n")
    with open(os.path.join(tmp, "clients.cidr"), "w") as f:
        f.write("10.200.1.0/24  office-eu\n")
    port, admin = free_port(), free_port()
    conf = os.path.join(tmp, "dns.toml")
    with open(conf, "w") as f:
        f.write(f"""
allow_root = true
workers = 2
listen = "127.0.0.1:{port}"
[admin]
listen = "127.0.0.1:{admin}"
[[zone]]
name = "geo.test."
file = "geo.test.zone"
[geo]
database = "cities.mmdb"
cidr_file = "clients.cidr"
[[edge]]
name = "eu"
ipv4 = "192.0.2.10"
latitude = 50.11
longitude = 8.68
health = {{ type = "tcp", address = "127.0.0.1", port = {up_port}, interval = "200ms", timeout = "150ms", failure_threshold = 1, success_threshold = 1 }}
[[edge]]
name = "us"
ipv4 = "198.51.100.10"
latitude = 38.95
longitude = -77.45
health = {{ type = "tcp", address = "127.0.0.1", port = {down_port}, interval = "200ms", timeout = "150ms", failure_threshold = 1, success_threshold = 1 }}
[[edge]]
name = "ap"
ipv4 = "203.0.113.10"
latitude = 1.35
longitude = 103.82
[[steer]]
name = "www.geo.test."
policy = "geoproximity"
default = "ap"
[[steer]]
name = "loc.geo.test."
policy = "geolocation"
members = ["eu", "us", "ap"]
locations = {{ eu = ["continent:EU"], us = ["continent:NA"], ap = ["continent:AS", "continent:OC"] }}
default = "ap"
[[steer]]
name = "fo.geo.test."
policy = "failover"
members = ["us", "eu"]
[[steer]]
name = "w.geo.test."
policy = "weighted"
members = ["eu", "ap"]
weights = {{ eu = 1, ap = 1 }}
[[steer]]
name = "mv.geo.test."
policy = "multivalue"
[[steer]]
name = "ip.geo.test."
policy = "ip_based"
default = "ap"
cidr = {{ eu = ["office-eu"] }}
""")
    log = open(os.path.join(tmp, "dns.log"), "w")
    proc = subprocess.Popen([DNS, "--config", conf], stdout=log, stderr=subprocess.STDOUT)

    def dig(name, qtype="A", subnet=None):
        cmd = ["dig", "@127.0.0.1", "-p", str(port), name, qtype, "+tries=2", "+time=3", "+norecurse"]
        if subnet:
            cmd.append("+subnet=" + subnet)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
        answers = re.findall(r"^\S+\s+\d+\s+IN\s+(?:A|AAAA)\s+(\S+)$", out, re.M)
        m = re.search(r"CLIENT-SUBNET: (\S+)/(\d+)/(\d+)", out)
        status = re.search(r"status: (\w+)", out)
        return answers, (int(m.group(3)) if m else None), (status.group(1) if status else None)

    def explain(name, qtype="A", client="127.0.0.1", ecs=None, fmt=None, raw=False):
        q = {"name": name, "type": qtype, "client": client}
        if ecs:
            q["ecs"] = ecs
        if fmt:
            q["format"] = fmt
        url = "http://127.0.0.1:%d/_meridian/explain?%s" % (admin, urllib.parse.urlencode(q))
        try:
            r = urllib.request.urlopen(url, timeout=20)
            body = r.read().decode()
            return (r.status, body) if raw else json.loads(body)
        except urllib.error.HTTPError as e:
            return (e.code, e.read().decode()) if raw else None

    deadline = time.time() + 30
    while time.time() < deadline and proc.poll() is None:
        if dig("ns1.geo.test")[2] == "NOERROR":
            break
        time.sleep(0.2)
    check(proc.poll() is None, "meridian-dns is running")
    # The us edge's check fails from the first run; wait until the live state says so.
    while time.time() < deadline:
        e = explain("fo.geo.test", ecs="10.3.0.0/24")
        if e and e["steering"]["answered"] == ["eu"]:
            break
        time.sleep(0.2)

    # Many (client, ECS) pairs: the explanation's answer is the one dig gets.
    subnets = [None, "10.1.2.0/24", "10.1.200.0/24", "10.2.0.0/24", "10.3.9.0/24", "10.4.0.0/24", "10.5.77.0/24",
               "10.6.0.0/24", "10.7.0.0/24", "10.8.0.0/24", "10.9.0.0/24", "10.200.1.0/24", "192.0.2.0/24",
               "10.1.2.3/32", "10.0.0.0/8", "0.0.0.0/0", "2001:db8:1::/48", "2001:db8:6::/48", "2001:db8:ffff::/48"]
    names = ["www.geo.test", "loc.geo.test", "fo.geo.test", "mv.geo.test", "ip.geo.test", "w.geo.test",
             "static.geo.test"]
    compared = 0
    for name in names:
        for subnet in subnets:
            a, scope, st = dig(name, "A", subnet)
            e = explain(name, ecs=subnet)
            what = f"{name} from ECS {subnet}"
            if e is None:
                check(False, what + ": explain answered")
                continue
            r = e["response"]
            check(r["rcode"] == st, f"{what}: rcode {r['rcode']} = dig {st}")
            check(r["ecs_scope"] == scope, f"{what}: ECS scope {r['ecs_scope']} = dig {scope}")
            if name == "w.geo.test":
                # Weighted: each answer is one of the explained options (the draw differs per query).
                opts = [sorted(ADDR[x] for x in o["edges"]) for o in e["steering"]["options"]]
                check(sorted(a) in opts and sorted(r["addresses"]) in opts, f"{what}: {a} among options {opts}")
            else:
                check(sorted(r["addresses"]) == sorted(a), f"{what}: explained {r['addresses']} = dig {a}")
            if e["steered"]:
                s = e["steering"]
                check(sorted(ADDR[x] for x in s["answered"]) == sorted(r["addresses"]),
                      f"{what}: steering answered {s['answered']} = the response's records")
                if subnet is not None and subnet != "0.0.0.0/0":
                    check(s["scope"] == scope, f"{what}: steering scope {s['scope']} = dig {scope}")
            else:
                check(name == "static.geo.test", f"{what}: steered")
            compared += 1
    check(compared == len(names) * len(subnets), f"compared {compared} (client, ECS) pairs")

    # What the explanation says.
    e = explain("www.geo.test", ecs="10.1.2.0/24")
    s = e["steering"]
    check(s["policy"] == "geoproximity" and s["health"] == "live", "policy and live health named")
    loc = s["location"]
    check(loc["known"] and loc["country"] == "DE" and loc["network"] == "10.1.0.0/17" and
          loc["database"].endswith("cities.mmdb"), f"location found: {loc}")
    cands = {c["name"]: c for c in s["policy_tree"][0]["candidates"]}
    check(cands["eu"]["outcome"] == "answered" and cands["eu"]["distance_km"] < 1, "eu nearest, answered")
    check(cands["us"]["healthy"] is False and cands["us"]["health_check"], "us shown unhealthy (its check fails)")
    check(cands["ap"]["health_check"] is False, "ap has no health check")

    e = explain("fo.geo.test", ecs="10.3.0.0/24")
    c = e["steering"]["policy_tree"][0]["candidates"]
    check(c[0]["name"] == "us" and c[0]["outcome"] == "unavailable" and c[1]["outcome"] == "answered",
          f"failover: us unavailable (unhealthy), eu answered: {c}")
    check(e["steering"]["failed_open"] is False, "failover: not failing open while eu is healthy")

    # Take eu down too: fo fails open to us, and the explanation says so (as the daemon does).
    up.shutdown(socket.SHUT_RDWR)
    up.close()
    deadline = time.time() + 20
    e = None
    while time.time() < deadline:
        e = explain("fo.geo.test", ecs="10.3.0.0/24")
        if e and e["steering"]["failed_open"]:
            break
        time.sleep(0.2)
    check(e is not None and e["steering"]["failed_open"] and e["steering"]["answered"] == ["us"],
          "both down: fail-open explained, us answered")
    check(e is not None and any(p["fail_open_pass"] for p in e["steering"]["policy_tree"]),
          "the fail-open pass is in the policy tree")
    a, _, _ = dig("fo.geo.test", "A", "10.3.0.0/24")
    check(a == ["198.51.100.10"], f"dig agrees: failing open to us ({a})")

    # Text form.
    st, body = explain("www.geo.test", ecs="10.6.0.0/24", fmt="text", raw=True)
    check(st == 200 and "policy tree:" in body and "fail-open:" in body and "edge ap: answered" in body,
          "format=text: the human form")
    # Bad input: 400 with the reason.
    for q, why in [({"name": "www.geo.test"}, "client"), ({"name": "x", "client": "nope"}, "client"),
                   ({"name": "x", "client": "10.0.0.1", "type": "BOGUS"}, "BOGUS"),
                   ({"name": "x", "client": "10.0.0.1", "ecs": "10.0.0.0/99"}, "ecs")]:
        url = "http://127.0.0.1:%d/_meridian/explain?%s" % (admin, urllib.parse.urlencode(q))
        try:
            urllib.request.urlopen(url, timeout=10)
            check(False, f"bad input {q}: 400")
        except urllib.error.HTTPError as err:
            check(err.code == 400 and why in err.read().decode(), f"bad input {q}: 400 naming {why}")
    req = urllib.request.Request("http://127.0.0.1:%d/_meridian/explain?name=x&client=1.2.3.4" % admin,
                                 method="POST", data=b"")
    try:
        urllib.request.urlopen(req, timeout=10)
        check(False, "POST: 405")
    except urllib.error.HTTPError as err:
        check(err.code == 405, f"POST: 405 (got {err.code})")

    # The sub-command, from the config alone: every edge taken as healthy (no checks run).
    out = subprocess.run([DNS, "explain", "--config", conf, "--client", "203.0.113.5", "--ecs", "10.3.0.0/24",
                          "--json", "fo.geo.test", "A"], capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, f"explain sub-command exits 0 ({out.stderr[-300:]})")
    j = json.loads(out.stdout) if out.returncode == 0 else {}
    check(j.get("steering", {}).get("answered") == ["us"] and j["steering"]["health"] == "assumed healthy",
          "sub-command: us answers (health assumed), and says so")
    # Where health plays no part (ap has no check), the sub-command's answer is the daemon's.
    for subnet in ["10.6.0.0/24", "10.8.0.0/24", "192.0.2.0/24", "2001:db8:6::/48"]:
        out = subprocess.run([DNS, "explain", "-c", conf, "--client", "127.0.0.1", "--ecs", subnet, "--json",
                              "loc.geo.test"], capture_output=True, text=True, timeout=60)
        j = json.loads(out.stdout) if out.returncode == 0 else {"response": {}}
        a, scope, _ = dig("loc.geo.test", "A", subnet)
        check(j["response"].get("addresses") == a and j["response"].get("ecs_scope") == scope,
              f"sub-command loc from {subnet}: {j['response'].get('addresses')} = dig {a}")
    out = subprocess.run([DNS, "explain", "--config", conf, "www.geo.test"], capture_output=True, text=True,
                         timeout=60)
    check(out.returncode == 2 and "--client" in out.stderr, "sub-command without --client: usage error (2)")
    out = subprocess.run([DNS, "explain", "--config", os.path.join(tmp, "missing.toml"), "--client", "10.0.0.1",
                          "www.geo.test"], capture_output=True, text=True, timeout=60)
    check(out.returncode == 1, "sub-command with a missing config: exit 1")
finally:
    up.close()
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            check(proc.wait(timeout=20) == 0, "meridian-dns stops cleanly on SIGTERM")
        except subprocess.TimeoutExpired:
            proc.kill()
            check(False, "meridian-dns stops within 20s of SIGTERM")
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
