#!/usr/bin/env python3
"""Protocol details of issue 12 item 5 against the real server: a UDP query longer than 4,096 bytes is answered
(not dropped); CD is cleared in answers (dig +cdflag); NOTIMP to an EDNS query carries OPT; a rate-limited name does
not starve the same client's other names, and a slipped answer is TC with OPT; a reload with a lower SOA serial logs
a warning; meridian_dns_steering_failed_open_total survives a reload."""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnswire import build_query, parse_response, free_port, wait_udp, udp_query, TYPES  # noqa

SRC = os.environ.get("MERIDIAN_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
DNS = os.environ.get("MERIDIAN_DNS", os.path.join(SRC, "build/dns/bin/meridian-dns"))
ZONE_SRC = os.path.join(SRC, "conf/examples/zones/example.test.zone")

fails = []


def check(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        if detail:
            print("   " + str(detail)[-2000:])
        fails.append(what)


def metric(admin, name):
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/_meridian/metrics", timeout=5).read().decode()
    except OSError:
        return None
    m = re.search(r"^" + re.escape(name) + r"(?:\{[^}]*\})?\s+([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else None


def main():
    if not os.path.exists(DNS):
        print("SKIP: meridian-dns not built")
        return 77
    tmp = tempfile.mkdtemp(prefix="meridian-proto-")
    proc = None
    try:
        port, admin, dead = free_port(), free_port(), free_port()  # `dead`: nothing listens there
        zone = os.path.join(tmp, "example.test.zone")
        shutil.copy(ZONE_SRC, zone)
        subprocess.run(["perl", os.path.join(SRC, "conf/examples/geo/make_cities_mmdb.pl"),
                        os.path.join(tmp, "cities.mmdb")], check=True)
        conf = f'''allow_root = true\nworkers = 1
listen = "127.0.0.1:{port}"
[admin]
listen = "127.0.0.1:{admin}"
[log]
level = "info"
[[zone]]
name = "example.test."
file = "{zone}"
[rrl]
enabled = true
responses_per_second = 5
slip = 2
[geo]
database = "cities.mmdb"
[[edge]]
name = "only"
ipv4 = "192.0.2.200"
latitude = 50.1
longitude = 8.7
health = {{ type = "tcp", address = "127.0.0.1", port = {dead}, interval = "200ms", timeout = "200ms", failure_threshold = 1, success_threshold = 1 }}
[[steer]]
name = "geo.example.test."
policy = "geoproximity"
'''
        cfg = os.path.join(tmp, "dns.toml")
        with open(cfg, "w") as f:
            f.write(conf)
        logpath = os.path.join(tmp, "dns.log")
        log = open(logpath, "w")
        proc = subprocess.Popen([DNS, "--config", cfg], stdout=log, stderr=subprocess.STDOUT)
        if not wait_udp(port, 20):
            print("FAIL: meridian-dns did not start\n" + open(logpath).read()[-3000:])
            return 1

        # A 6,000-byte query (EDNS padding, RFC 7830) over UDP: answered.
        pad = struct.pack("!HH", 12, 6000) + b"\0" * 6000
        big = build_query("web.example.test.", TYPES["A"], qid=0x6001, options=pad)
        r = udp_query(port, big, timeout=3)
        check(r is not None and parse_response(r)["rcode"] == 0 and len(parse_response(r)["an"]) == 2,
              f"a {len(big)}-byte UDP query is answered", r)

        # CD cleared (dig +cdflag), RD echoed.
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "web.example.test", "A", "+cdflag", "+time=3"],
                             capture_output=True, text=True, timeout=20).stdout if shutil.which("dig") else None
        if out is not None:
            flags = re.search(r";; flags: ([a-z ]+);", out)
            check(flags and "cd" not in flags.group(1).split() and "aa" in flags.group(1).split(),
                  "dig +cdflag: the answer has AA and no CD", out)
        q = bytearray(build_query("web.example.test.", TYPES["A"], qid=0x6002))
        q[3] |= 0x10
        p = parse_response(udp_query(port, bytes(q)))
        check(p["cd"] == 0, "CD=1 query: CD clear in the answer")

        # NOTIMP (opcode 2) to an EDNS query: OPT in the answer.
        p = parse_response(udp_query(port, build_query("example.test.", TYPES["A"], qid=0x6003, opcode=2)))
        check(p["rcode"] == 4 and p["opt"] is not None, "NOTIMP to an EDNS query carries OPT", p)

        # RRL: flood one name from this client, then ask for others; a slipped answer is TC with OPT.
        flood = build_query("www.example.test.", TYPES["A"], qid=0x7000)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.3)
        answers = []
        for i in range(60):
            s.sendto(flood, ("127.0.0.1", port))
        try:
            while True:
                answers.append(s.recvfrom(65535)[0])
        except socket.timeout:
            pass
        s.close()
        tcs = [parse_response(a) for a in answers if parse_response(a)["tc"]]
        check(len(answers) < 60 and tcs, f"a flood of one name is limited ({len(answers)} of 60 answered, "
              f"{len(tcs)} slipped)")
        check(tcs and all(t["opt"] is not None and not t["an"] for t in tcs), "slipped answers are TC with OPT")
        other = [udp_query(port, build_query(n, TYPES["A"], qid=0x7100 + i), timeout=1, retries=1)
                 for i, n in enumerate(["web.example.test.", "mail.example.test.", "alias.example.test."])]
        check(all(o and parse_response(o)["an"] and not parse_response(o)["tc"] for o in other),
              "the same client's other names are still answered")

        # Fail-open: the only edge's health check fails; geo.example.test answers anyway and is counted.
        deadline = time.time() + 30
        before = 0.0
        while time.time() < deadline:
            udp_query(port, build_query("geo.example.test.", TYPES["A"], qid=0x7200), timeout=1, retries=1)
            before = metric(admin, "meridian_dns_steering_failed_open_total") or 0.0
            if before >= 1:
                break
            time.sleep(0.3)
        check(before >= 1, f"failed-open answers are counted ({before})")

        # Reload with a lower serial: warning logged; the failed-open count does not go back to 0.
        text = open(zone).read()
        serial = re.search(r"(\d+)\s*;\s*serial", text).group(1)
        open(zone, "w").write(text.replace(serial, str(int(serial) - 1), 1))
        proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 15
        warned = False
        while time.time() < deadline and not warned:
            time.sleep(0.2)
            warned = "serial went backwards" in open(logpath).read()
        check(warned, "a reload with a lower SOA serial logs a warning", open(logpath).read()[-1500:])
        after = metric(admin, "meridian_dns_steering_failed_open_total")
        check(after is not None and after >= before,
              f"meridian_dns_steering_failed_open_total survives the reload ({before} -> {after})")
        check(proc.poll() is None, "meridian-dns is still running")
        if fails:
            print("--- dns.log\n" + open(logpath).read()[-3000:])
        return 1 if fails else 0
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
