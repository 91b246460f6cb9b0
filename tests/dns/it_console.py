#!/usr/bin/env python3
"""meridian-dns's live console on the real daemon: GET /_meridian/stats.json counts the queries sent by protocol
(UDP, TCP) and their rcodes, the steering decisions by edge and by region (ECS clients in Europe and Asia sent to
their edges), RRL drops of a flooded name, and each edge's health with its last check (one edge's check passes,
one fails, one has none); rates move while load runs. With admin.token_file the console, stats and metrics need the
token (401 with WWW-Authenticate without it), health stays open."""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnswire import build_query, free_port, parse_response, tcp_query, udp_query, wait_udp  # noqa: E402

SRC = os.environ.get("MERIDIAN_SRC", os.getcwd())
DNS = os.environ.get("MERIDIAN_DNS")
if not DNS or not os.path.exists(DNS):
    print("skip: MERIDIAN_DNS not built")
    sys.exit(77)

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def eq(got, want, what):
    check(got == want, f"{what}: got {got!r}, want {want!r}")


TOKEN = "dns-console-token-0123456789"
tmp = tempfile.mkdtemp(prefix="meridian-it-console-")
proc = None
up = socket.socket()  # the healthy edge's check target: accepts and closes


def accept_loop():
    while True:
        try:
            c, _ = up.accept()
            c.close()
        except OSError:
            return


def admin_get(path, token=TOKEN):
    req = urllib.request.Request(f"http://127.0.0.1:{admin}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def stats():
    st, _, b = admin_get("/_meridian/stats.json")
    assert st == 200, (st, b)
    return json.loads(b)


def ecs(prefix24):
    a = bytes(int(x) for x in prefix24.split(".")[:3])
    return struct.pack("!HHHBB", 8, 4 + len(a), 1, 24, 0) + a


qid = [1000]


def q(name, qtype=1, options=b""):
    qid[0] = (qid[0] + 1) % 65536
    return build_query(name, qtype, qid=qid[0], options=options)


def rcode_of(s, rc):
    return next(r["total"] for r in s["rcodes"] if r["rcode"] == rc)


try:
    up.bind(("127.0.0.1", 0))
    up.listen(64)
    up_port = up.getsockname()[1]
    threading.Thread(target=accept_loop, daemon=True).start()
    down_port = free_port()  # nothing listens: refused
    subprocess.run(["perl", os.path.join(SRC, "conf/examples/geo/make_cities_mmdb.pl"),
                    os.path.join(tmp, "cities.mmdb")], check=True)
    with open(os.path.join(tmp, "geo.test.zone"), "w") as f:
        f.write("$ORIGIN geo.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\n"
                "ns1 IN A 127.0.0.1\nstatic IN A 192.0.2.99\n")
    with open(os.path.join(tmp, "token"), "w") as f:
        f.write(TOKEN + "\n")
    port, admin = free_port(), free_port()
    conf = os.path.join(tmp, "dns.toml")
    with open(conf, "w") as f:
        f.write(f"""
allow_root = true
workers = 2
listen = "127.0.0.1:{port}"
[admin]
listen = "127.0.0.1:{admin}"
token_file = "token"
[rrl]
enabled = true
responses_per_second = 10
slip = 0
[[zone]]
name = "geo.test."
file = "geo.test.zone"
[geo]
database = "cities.mmdb"
[[edge]]
name = "eu"
ipv4 = "192.0.2.10"
continent = "EU"
country = "DE"
health = {{ type = "tcp", address = "127.0.0.1", port = {up_port}, interval = "300ms", timeout = "200ms", failure_threshold = 1, success_threshold = 1 }}
[[edge]]
name = "us"
ipv4 = "198.51.100.10"
continent = "NA"
health = {{ type = "tcp", address = "127.0.0.1", port = {down_port}, interval = "300ms", timeout = "200ms", failure_threshold = 1, success_threshold = 1 }}
[[edge]]
name = "ap"
ipv4 = "203.0.113.10"
continent = "AS"
[[steer]]
name = "loc.geo.test."
policy = "geolocation"
members = ["eu", "us", "ap"]
locations = {{ eu = ["continent:EU"], us = ["continent:NA"], ap = ["continent:AS"] }}
default = "ap"
""")
    log = open(os.path.join(tmp, "dns.log"), "w")
    proc = subprocess.Popen([DNS, "--config", conf], stdout=log, stderr=subprocess.STDOUT)
    if not wait_udp(port, 10):
        print(open(os.path.join(tmp, "dns.log")).read())
        raise SystemExit("meridian-dns did not start")
    time.sleep(0.8)  # a few health checks ran

    # --- the token ---
    for path in ("/_meridian/stats.json", "/_meridian/console", "/_meridian/metrics"):
        st, h, _ = admin_get(path, token=None)
        eq(st, 401, f"{path} without the token")
        check("Bearer" in h.get("WWW-Authenticate", ""), f"{path}: WWW-Authenticate {h.get('WWW-Authenticate')!r}")
        st, _, _ = admin_get(path, token="not-the-token-000000000000")
        eq(st, 401, f"{path} with a wrong token")
        st, _, _ = admin_get(path)
        eq(st, 200, f"{path} with the token")
    st, _, b = admin_get("/_meridian/health", token=None)
    eq((st, b), (200, b"ok\n"), "health needs no token")
    st, h, page = admin_get("/_meridian/console")
    page = page.decode()
    check(h.get("Content-Type", "").startswith("text/html"), "the console is HTML")
    check("http://" not in page and "https://" not in page and "<link" not in page and " src=" not in page,
          "the page loads nothing from elsewhere")
    for el in ("qps", "rcodes", "protocols", "by_edge", "by_region", "health", "rrl_total"):
        check(f'id="{el}"' in page, f"the page has #{el}")

    base = stats()
    # --- known traffic ---
    eu = [q("loc.geo.test", options=ecs("10.1.0.0")) for _ in range(30)]  # Frankfurt: EU -> eu
    asia = [q("loc.geo.test", options=ecs("10.6.0.0")) for _ in range(20)]  # Singapore: AS -> ap
    answers = tcp_query(port, eu + asia)
    eq(len(answers), 50, "50 steered answers over TCP")
    addrs = [parse_response(a)["an"][0] for a in answers]
    check(all(a is not None for a in addrs), "every steered query answered")
    for _ in range(5):
        udp_query(port, q("nope.geo.test"))
    for _ in range(3):
        udp_query(port, q("www.example.com"))
    # A flood of one name from one address over UDP: RRL (10/s, slip 0) drops most of it.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(300):
        s.sendto(q("static.geo.test"), ("127.0.0.1", port))
        if i % 20 == 19:
            time.sleep(0.005)  # paced a little, so a slow (sanitizer) build's socket buffer does not overflow
    s.close()
    time.sleep(0.3)
    a = stats()
    d = lambda key: a[key] - base[key]  # noqa: E731
    eq(a["protocol"]["tcp"]["total"] - base["protocol"]["tcp"]["total"], 50, "TCP queries")
    eq(a["protocol"]["udp"]["total"] - base["protocol"]["udp"]["total"], 308, "UDP queries")
    eq(d("queries_total"), 358, "queries_total = UDP + TCP")
    eq(rcode_of(a, "NXDOMAIN") - rcode_of(base, "NXDOMAIN"), 5, "NXDOMAIN responses")
    eq(rcode_of(a, "REFUSED") - rcode_of(base, "REFUSED"), 3, "REFUSED responses")
    rrl = d("rrl_total")
    check(250 <= rrl <= 295, f"RRL drops of the flooded name: {rrl} of 300")
    noerr = rcode_of(a, "NOERROR") - rcode_of(base, "NOERROR")
    eq(noerr, 50 + 300 - rrl, "NOERROR = steered answers + the flood's answered part")
    by_edge = {e["edge"]: e for e in a["steering"]["by_edge"]}
    eq({k: v["answers"] for k, v in by_edge.items()}, {"eu": 30, "us": 0, "ap": 20}, "steering decisions by edge")
    eq({r["region"]: r["answers"] for r in a["steering"]["by_region"]}, {"EU/DE": 30, "NA": 0, "AS": 20},
       "steering decisions by region")
    eq(a["steering"]["answers_total"], 50, "steered answers")
    health = {h["edge"]: h for h in a["health"]}
    eq((health["eu"]["health"], health["eu"]["check"], health["eu"]["last_ok"]), ("healthy", "tcp", True),
       "eu: healthy, its last tcp check passed")
    eq((health["us"]["health"], health["us"]["last_ok"]), ("unhealthy", False), "us: unhealthy, last check failed")
    check(health["us"]["last_detail"] != "", f"us: why it failed: {health['us']['last_detail']!r}")
    eq((health["ap"]["check"], health["ap"]["health"]), ("none", "healthy"), "ap: no check, taken as healthy")
    for e in ("eu", "us"):
        age = a["unix_ms"] - health[e]["last_check_unix_ms"]
        check(0 <= age < 2000, f"{e}: last check {age} ms ago (every 300 ms)")
    eq(by_edge["us"]["health"], "unhealthy", "the by-edge table shows health too")

    # --- rates under load ---
    stop = threading.Event()

    def load():
        while not stop.is_set():
            tcp_query(port, [q("loc.geo.test", options=ecs("10.1.0.0")) for _ in range(100)])

    t = threading.Thread(target=load)
    t.start()
    time.sleep(0.3)
    s1 = stats()
    time.sleep(1.2)
    s2 = stats()
    time.sleep(1.2)
    s3 = stats()
    stop.set()
    t.join()
    check(s3["queries_per_s"] > 50, f"queries/s under load: {s3['queries_per_s']:.0f}")
    check(s3["protocol"]["tcp"]["per_s"] > 50 and s3["protocol"]["udp"]["per_s"] == 0, "per protocol rates")
    want = (s3["queries_total"] - s2["queries_total"]) / s3["rate_window_s"]
    check(abs(s3["queries_per_s"] - want) < 1e-6 * max(1, want), "the rate is the counter's delta over the interval")
    eu3 = next(e for e in s3["steering"]["by_edge"] if e["edge"] == "eu")
    check(eu3["per_s"] > 50, f"steering rate to eu under load: {eu3['per_s']:.0f}")
    check(s1["queries_total"] < s2["queries_total"] < s3["queries_total"], "totals move")
    check(len(s3["history"]["queries_per_s"]) >= 2, "a history for the sparkline")

    # --- a reload keeps the steering counts (a new Steering counts from 0) ---
    before = {e["edge"]: e["answers"] for e in stats()["steering"]["by_edge"]}
    proc.send_signal(1)
    time.sleep(1.5)
    after = {e["edge"]: e["answers"] for e in stats()["steering"]["by_edge"]}
    check(after["eu"] >= before["eu"] and after["ap"] == before["ap"], f"steering counts kept across a reload: "
          f"{before} -> {after}")
    check(proc.poll() is None, "meridian-dns is still running")
finally:
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            rc = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        check(rc == 0, f"meridian-dns exit code {rc}")
    up.close()
    if failures:
        print(open(os.path.join(tmp, "dns.log")).read()[-3000:])
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
