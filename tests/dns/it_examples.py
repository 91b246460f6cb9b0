#!/usr/bin/env python3
"""The shipped example configs work as they are: conf/examples/dns-static.toml, dns-geo.toml and dns-dnssec.toml
pass --check, each starts (on a free port through DNS_LISTEN) and answers, dns-geo.toml steering www.example.test. A
to the edge nearest the ECS subnet, dns-dnssec.toml signing it. A copy of the geo example whose zone gives www a static A must fail --check by name."""
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnswire import build_query, parse_response, free_port, wait_udp, udp_query, TYPES  # noqa

SRC = os.environ.get("MERIDIAN_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
DNS = os.environ.get("MERIDIAN_DNS", os.path.join(SRC, "build/dns/bin/meridian-dns"))
EXAMPLES = os.path.join(SRC, "conf/examples")

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def ecs(prefix):
    """An EDNS Client Subnet option for an IPv4 a.b.c.d/len."""
    addr, plen = prefix.split("/")
    plen = int(plen)
    raw = bytes(int(x) for x in addr.split("."))[:(plen + 7) // 8]
    body = struct.pack("!HBB", 1, plen, 0) + raw
    return struct.pack("!HH", 8, len(body)) + body


def a_records(r):
    return sorted(".".join(str(b) for b in bytes.fromhex(rr[4])) for rr in r["an"] if rr[1] == TYPES["A"])


def scope_of(r):
    opts = r["opt"]["options"] if r and r["opt"] else b""
    i = 0
    while i + 4 <= len(opts):
        code, ln = struct.unpack("!HH", opts[i:i + 4])
        if code == 8:
            return opts[i + 4 + 3]
        i += 4 + ln
    return None


def run_check(conf, env=None):
    return subprocess.run([DNS, "--check", "--config", conf], capture_output=True, text=True, timeout=30, env=env)


def start(conf, port, tmp, name):
    env = dict(os.environ, DNS_LISTEN="127.0.0.1:%d" % port)
    log = open(os.path.join(tmp, name + ".log"), "w")
    proc = subprocess.Popen([DNS, "--config", conf], stdout=log, stderr=log, env=env)
    if not wait_udp(port, 10):
        print(open(os.path.join(tmp, name + ".log")).read())
        check(False, "%s started on 127.0.0.1:%d" % (name, port))
    return proc


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -9


def ask(port, name, qtype, **kw):
    r = udp_query(port, build_query(name, qtype, **kw))
    return parse_response(r) if r else None


def main():
    if not os.access(DNS, os.X_OK):
        print("skip: MERIDIAN_DNS not built (%s)" % DNS)
        return 77
    tmp = tempfile.mkdtemp(prefix="meridian-it-examples-")
    procs = []
    try:
        for name in ("dns-static.toml", "dns-geo.toml", "dns-dnssec.toml"):
            r = run_check(os.path.join(EXAMPLES, name))
            check(r.returncode == 0, "--check conf/examples/%s exits 0 (rc %d: %s)" %
                  (name, r.returncode, r.stderr.strip().splitlines()[-3:]))

        port = free_port()
        static = start(os.path.join(EXAMPLES, "dns-static.toml"), port, tmp, "static")
        procs.append(static)
        r = ask(port, "web.example.test.", TYPES["A"])
        check(r is not None and r["rcode"] == 0 and r["aa"] == 1 and a_records(r) == ["192.0.2.80", "192.0.2.81"],
              "dns-static: web.example.test A answered (%s)" % (r and a_records(r)))
        r = ask(port, "www.example.test.", TYPES["AAAA"])
        check(r is not None and r["rcode"] == 0 and len(r["an"]) == 1, "dns-static: www.example.test AAAA answered")
        procs.remove(static)
        check(stop(static) == 0, "dns-static: SIGTERM exits 0")

        port = free_port()
        geo = start(os.path.join(EXAMPLES, "dns-geo.toml"), port, tmp, "geo")
        procs.append(geo)
        for subnet, want in [("10.6.0.0/24", "203.0.113.10"), ("10.1.2.0/24", "192.0.2.10"),
                             ("10.3.0.0/24", "198.51.100.10"), ("10.7.1.0/24", "203.0.113.10")]:
            r = ask(port, "www.example.test.", TYPES["A"], options=ecs(subnet))
            got = a_records(r) if r else None
            check(r is not None and r["rcode"] == 0 and r["aa"] == 1 and got == [want],
                  "dns-geo: www A for +subnet=%s -> %s (got %s)" % (subnet, want, got))
            check(r is not None and scope_of(r) not in (None, 0), "dns-geo: ECS echoed with a non-zero scope for %s"
                  % subnet)
        r = ask(port, "www.example.test.", TYPES["TXT"])
        check(r is not None and r["rcode"] == 0 and len(r["an"]) == 1, "dns-geo: www TXT stays static")
        r = ask(port, "alias.example.test.", TYPES["A"])
        check(r is not None and r["rcode"] == 0 and a_records(r) == ["192.0.2.80", "192.0.2.81"],
              "dns-geo: static CNAME chain alias -> cdn -> web still answered")
        procs.remove(geo)
        check(stop(geo) == 0, "dns-geo: SIGTERM exits 0")

        port = free_port()
        signed = start(os.path.join(EXAMPLES, "dns-dnssec.toml"), port, tmp, "dnssec")
        procs.append(signed)
        r = ask(port, "www.example.test.", TYPES["A"], options=ecs("10.1.2.0/24"), do=True)
        check(r is not None and a_records(r) == ["192.0.2.10"] and [rr[1] for rr in r["an"]] == [1, 46],
              "dns-dnssec: the steered www A comes with its RRSIG (%s)" % (r and r["an"]))
        r = ask(port, "example.test.", 48, do=True)
        check(r is not None and [rr[1] for rr in r["an"]].count(48) == 2 and 46 in [rr[1] for rr in r["an"]],
              "dns-dnssec: the apex DNSKEY set (KSK and ZSK) is published and signed")
        r = ask(port, "web.example.test.", TYPES["A"])
        check(r is not None and a_records(r) == ["192.0.2.80", "192.0.2.81"] and len(r["an"]) == 2,
              "dns-dnssec: without DO the answer has no RRSIG")
        procs.remove(signed)
        check(stop(signed) == 0, "dns-dnssec: SIGTERM exits 0")

        # The rule these examples were fixed for: a steered name with static data of its type fails --check.
        bad = os.path.join(tmp, "bad")
        shutil.copytree(EXAMPLES, bad, ignore=shutil.ignore_patterns("edge-*"))
        with open(os.path.join(bad, "zones/example.test.zone"), "a") as f:
            f.write("www IN A 192.0.2.99\n")
        r = run_check(os.path.join(bad, "dns-geo.toml"))
        check(r.returncode != 0 and "steered name www.example.test." in r.stderr,
              "--check refuses a static A beside the steered www A (rc %d: %s)" %
              (r.returncode, r.stderr.strip().splitlines()[-2:]))
        r = run_check(os.path.join(bad, "dns-static.toml"))
        check(r.returncode == 0, "the same zone is fine without steering")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
