#!/usr/bin/env python3
"""Geolocation failover end to end, as Route53 does it: a location database the test writes, real HTTP health
endpoints (one per edge) the test turns off, and `dig +subnet=` from San Jose, Ashburn, Frankfurt and Tokyo.
An unhealthy geolocation record falls back to the next less specific healthy one (subdivision → continent →
default "*"); when none of a client's records is healthy, the answer fails open to the most specific one (never to
another area's edge, though one is healthy), counted in meridian_dns_steering_failed_open_total. The log names the
steered name, the client location, the candidates that failed and the answer, once per change: a SIGHUP reload
repeats nothing."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
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
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


class Health:
    """A health endpoint whose status the test sets."""

    def __init__(self):
        self.status = 200
        me = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"ok\n" if me.status == 200 else b"down\n"
                self.send_response(me.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


ADDR = {"sj": "198.51.100.20", "na1": "198.51.100.10", "eu1": "192.0.2.10", "default-eu": "192.0.2.20"}
health = {name: Health() for name in ADDR}
SAN_JOSE, ASHBURN, FRANKFURT, TOKYO = "10.4.0.0/24", "10.3.0.0/24", "10.1.0.0/24", "10.7.0.0/24"
tmp = tempfile.mkdtemp(prefix="meridian-it-geo-failover-")
proc = None
try:
    subprocess.run(["perl", os.path.join(SRC, "conf/examples/geo/make_cities_mmdb.pl"),
                    os.path.join(tmp, "cities.mmdb")], check=True)
    with open(os.path.join(tmp, "geo.test.zone"), "w") as f:
        f.write("$ORIGIN geo.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\n"
                "ns1 IN A 127.0.0.1\n")
    port, admin = free_port(), free_port()
    conf = f"""
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
"""
    for name, h in health.items():
        conf += (f'[[edge]]\nname = "{name}"\nipv4 = "{ADDR[name]}"\nhealth = {{ type = "http", address = "127.0.0.1", '
                 f'port = {h.port}, interval = "1s", timeout = "1s", failure_threshold = 2, '
                 f'success_threshold = 2 }}\n')
    conf += """
[[steer]]
name = "www.geo.test."
ttl = "30s"
policy = "geolocation"
locations = { sj = ["US-CA"], na1 = ["continent:NA"], eu1 = ["continent:EU"] }
default = "default-eu"
"""
    with open(os.path.join(tmp, "dns.toml"), "w") as f:
        f.write(conf)
    chk = subprocess.run([DNS, "--check", "--config", os.path.join(tmp, "dns.toml")], capture_output=True, text=True)
    check(chk.returncode == 0, f"--check accepts ttl = \"30s\" ({chk.stderr.strip()})")
    log_path = os.path.join(tmp, "dns.log")
    proc = subprocess.Popen([DNS, "--config", os.path.join(tmp, "dns.toml")], stdout=open(log_path, "w"),
                            stderr=subprocess.STDOUT)

    def dig(subnet):
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "www.geo.test", "A", "+tries=1", "+time=2",
                              "+subnet=" + subnet], capture_output=True, text=True, timeout=10).stdout
        return re.findall(r"^\S+\s+(\d+)\s+IN\s+A\s+(\S+)$", out, re.M)

    def answer(subnet):
        got = dig(subnet)
        return got[0][1] if len(got) == 1 else got

    def wait_for(pred, limit=15):
        end = time.time() + limit
        while time.time() < end:
            if pred():
                return True
            time.sleep(0.1)
        return False

    def log():
        return open(log_path).read()

    def failed_open_total():
        text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/_meridian/metrics", timeout=5).read().decode()
        m = re.search(r"^meridian_dns_steering_failed_open_total (\S+)$", text, re.M)
        return float(m.group(1)) if m else None

    check(wait_for(lambda: answer(SAN_JOSE) == ADDR["sj"]), "meridian-dns answers")
    check(dig(SAN_JOSE)[0][0] == "30", "the answers carry ttl \"30s\" as 30")
    # (A first check slower than its timeout on a loaded machine marks an edge down until two pass: wait.)
    check(wait_for(lambda: answer(ASHBURN) == ADDR["na1"]), "all healthy: Ashburn → na1 (continent NA)")
    check(wait_for(lambda: answer(FRANKFURT) == ADDR["eu1"]), "all healthy: Frankfurt → eu1")
    check(wait_for(lambda: answer(TOKYO) == ADDR["default-eu"]), "all healthy: Tokyo → the default")

    # na1 down: North America (outside California) falls back to the next less specific record, the default.
    health["na1"].status = 500
    check(wait_for(lambda: answer(ASHBURN) == ADDR["default-eu"]), "na1 down: Ashburn → default-eu")
    check(answer(SAN_JOSE) == ADDR["sj"], "na1 down: San Jose keeps its subdivision's sj")
    line = "steer www.geo.test. A: location NA: edge na1 unhealthy: answering default-eu"
    check(wait_for(lambda: line in log(), 5), f"logged: {line!r}")

    # The default down too: no record of North America is healthy (eu1 is, but it is Europe's): fail open to na1.
    before = failed_open_total()
    health["default-eu"].status = 500
    check(wait_for(lambda: answer(ASHBURN) == ADDR["na1"]), "na1 and default-eu down: Ashburn fails open to na1")
    check(answer(FRANKFURT) == ADDR["eu1"], "... Frankfurt still gets eu1")
    check(answer(SAN_JOSE) == ADDR["sj"], "... San Jose still gets sj")
    check(answer(TOKYO) == ADDR["default-eu"], "... Tokyo fails open to the default")
    line = "steer www.geo.test. A: location NA: edges na1, default-eu unhealthy: failing open to na1"
    check(wait_for(lambda: line in log(), 5), f"logged: {line!r}")
    line2 = "steer www.geo.test. A: location *: edge default-eu unhealthy: failing open to default-eu"
    check(line2 in log(), f"logged: {line2!r}")
    check("every edge" not in log(), "no 'every edge unhealthy' line")
    after = failed_open_total()
    check(before is not None and after is not None and after >= before + 2,
          f"meridian_dns_steering_failed_open_total counts the fail-open answers ({before} → {after})")

    # A reload with nothing changed logs nothing again.
    def n_open():
        return log().count(line) + log().count(line2)

    before_reload = n_open()
    proc.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "msg=reloaded" in log(), 15), "SIGHUP: reloaded")
    time.sleep(2.5)  # a few health rounds
    check(n_open() == before_reload == 2, f"SIGHUP: the fail-open lines are not repeated ({before_reload})")
    check(answer(ASHBURN) == ADDR["na1"], "SIGHUP: Ashburn still fails open to na1")
    m = failed_open_total()
    check(m is not None and m >= after, f"SIGHUP: the counter does not step back ({after} → {m})")

    # na1 back: North America answered normally again, and the log says so.
    health["na1"].status = 200
    check(wait_for(lambda: answer(ASHBURN) == ADDR["na1"] and
                   "steer www.geo.test. A: location NA: candidates healthy again" in log()),
          "na1 back: Ashburn → na1, logged as healthy again")
    check(proc.poll() is None, "meridian-dns is running")
finally:
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            check(proc.wait(timeout=15) == 0, "meridian-dns stops cleanly on SIGTERM")
        except subprocess.TimeoutExpired:
            proc.kill()
            check(False, "meridian-dns stops within 15s of SIGTERM")
    if failures:
        try:
            print("---- meridian-dns log ----")
            print(open(os.path.join(tmp, "dns.log")).read()[-5000:])
        except OSError:
            pass
    for h in health.values():
        h.server.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
