#!/usr/bin/env python3
"""meridian-dns health checks end to end: real HTTP servers (one per edge, started here) that begin to fail must
drop out of the answers within interval × failure_threshold + 1 s, come back when they recover, a 503 "draining"
takes an edge out after one check, and when every edge is down meridian-dns fails open."""
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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

INTERVAL = 0.5
THRESHOLD = 2
WINDOW = INTERVAL * THRESHOLD + 1.0  # the bound: interval × threshold + 1 s

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


class Edge:
    """A health endpoint whose answer the test controls."""

    def __init__(self):
        self.status, self.body = 200, b"ok\n"
        edge = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                st, body = edge.status, edge.body
                self.send_response(st)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set(self, status, body):
        self.status, self.body = status, body




edges = {"eu": Edge(), "us": Edge(), "ap": Edge()}
addr = {"eu": "192.0.2.10", "us": "198.51.100.10", "ap": "203.0.113.10"}
coords = {"eu": (50.11, 8.68), "us": (38.95, -77.45), "ap": (1.35, 103.82)}
tmp = tempfile.mkdtemp(prefix="meridian-it-health-")
proc = None
try:
    subprocess.run(["perl", os.path.join(SRC, "conf/examples/geo/make_cities_mmdb.pl"),
                    os.path.join(tmp, "cities.mmdb")], check=True)
    with open(os.path.join(tmp, "h.test.zone"), "w") as f:
        f.write("$ORIGIN h.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\n"
                "ns1 IN A 127.0.0.1\n")
    port = free_port()
    conf = f"""
allow_root = true
workers = 2
listen = "127.0.0.1:{port}"
[[zone]]
name = "h.test."
file = "h.test.zone"
[geo]
database = "cities.mmdb"
"""
    for name, e in edges.items():
        conf += f"""
[[edge]]
name = "{name}"
ipv4 = "{addr[name]}"
latitude = {coords[name][0]}
longitude = {coords[name][1]}
health = {{ type = "http", address = "127.0.0.1", port = {e.port}, path = "/health", interval = "{int(INTERVAL * 1000)}ms", timeout = "300ms", failure_threshold = {THRESHOLD}, success_threshold = {THRESHOLD} }}
"""
    conf += """
[[steer]]
name = "www.h.test."
policy = "geoproximity"
[[steer]]
name = "mv.h.test."
policy = "multivalue"
"""
    with open(os.path.join(tmp, "dns.toml"), "w") as f:
        f.write(conf)
    log = open(os.path.join(tmp, "dns.log"), "w")
    proc = subprocess.Popen([DNS, "--config", os.path.join(tmp, "dns.toml")], stdout=log, stderr=subprocess.STDOUT)

    def dig(name, subnet):
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), name, "A", "+tries=1", "+time=1",
                              "+subnet=" + subnet], capture_output=True, text=True, timeout=10).stdout
        return re.findall(r"^\S+\s+\d+\s+IN\s+A\s+(\S+)$", out, re.M)

    FRA = "10.1.0.0/24"  # nearest eu, then us, then ap
    deadline = time.time() + 10
    while time.time() < deadline and proc.poll() is None:
        if dig("www.h.test", FRA):
            break
        time.sleep(0.1)
    check(proc.poll() is None, "meridian-dns is running")
    check(dig("www.h.test", FRA) == [addr["eu"]], "all healthy: Frankfurt → eu")

    def wait_for(pred, limit):
        t0 = time.time()
        while time.time() - t0 < limit:
            if pred():
                return time.time() - t0
            time.sleep(0.05)
        return None

    # eu starts failing.
    edges["eu"].set(500, b"broken\n")
    t = wait_for(lambda: dig("www.h.test", FRA) == [addr["us"]], WINDOW)
    check(t is not None, f"eu failing → Frankfurt moves to us within {WINDOW:.1f}s (took {t})")
    # ...and stays out: no answer names it.
    named = [a for _ in range(10) for a in dig("mv.h.test", FRA) if a == addr["eu"]]
    check(not named, "no answer names the unhealthy eu (multivalue)")

    # eu recovers.
    edges["eu"].set(200, b"ok\n")
    t = wait_for(lambda: dig("www.h.test", FRA) == [addr["eu"]], WINDOW)
    check(t is not None, f"eu recovered → back within {WINDOW:.1f}s (took {t})")

    # Draining: one check suffices.
    edges["eu"].set(503, b"draining\n")
    t = wait_for(lambda: dig("www.h.test", FRA) == [addr["us"]], INTERVAL + 1.0)
    check(t is not None, f"eu draining → out within one interval + 1s (took {t})")
    edges["eu"].set(200, b"ok\n")
    wait_for(lambda: dig("www.h.test", FRA) == [addr["eu"]], WINDOW)

    # An edge that stops answering at all (server gone: connection refused).
    edges["ap"].server.shutdown()
    edges["ap"].server.server_close()
    t = wait_for(lambda: dig("www.h.test", "10.6.0.0/24") == [addr["eu"]], WINDOW)
    check(t is not None, f"ap gone → Singapore moves to eu within {WINDOW:.1f}s (took {t})")

    # All down: fail open (answered as if all were healthy).
    edges["eu"].set(500, b"x")
    edges["us"].set(500, b"x")
    t = wait_for(lambda: sorted(dig("mv.h.test", FRA)) == sorted(addr.values()), WINDOW)
    check(t is not None, f"all down → multivalue fails open with every edge (took {t})")
    check(dig("www.h.test", FRA) == [addr["eu"]], "all down → geoproximity fails open to the nearest")
    logtext = open(os.path.join(tmp, "dns.log")).read()
    check("failing open" in logtext, "fail-open is logged")
    check("edge unhealthy" in logtext and "edge healthy" in logtext, "state changes are logged")
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
    for e in edges.values():
        try:
            e.server.shutdown()
        except Exception:
            pass
    shutil.rmtree(tmp, ignore_errors=True)

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
