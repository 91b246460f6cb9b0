#!/usr/bin/env python3
"""NSD as a secondary of meridian-dns: NSD transfers example.test. by AXFR from Meridian, authenticated with TSIG
(hmac-sha256; Meridian's address allow-list is empty, so only the key admits it), and answers from it exactly like
Meridian; then a reload with a higher serial sends NOTIFY (signed: NSD takes NOTIFY only with the key) and NSD
transfers the new version. A request signed with
the wrong secret is refused (dig -y).
Exit 77 (skip) when nsd is not installed."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnswire import build_query, parse_response, free_port, wait_udp, udp_query, TYPES  # noqa
from nsdpeer import nsd_binary, start_nsd, stop_all  # noqa: E402

SRC = os.environ.get("MERIDIAN_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
DNS = os.environ.get("MERIDIAN_DNS", os.path.join(SRC, "build/dns/bin/meridian-dns"))
ZONE_SRC = os.path.join(SRC, "conf/examples/zones/example.test.zone")
SECRET = "bWVyaWRpYW4tdHNpZy10ZXN0LXNlY3JldC0zMi1ieXRlcyE="
WRONG = "d3Jvbmctc2VjcmV0LWZvci10aGUtc2FtZS1rZXktbmFtZQ=="


def serial_of(port):
    r = udp_query(port, build_query("example.test.", TYPES["SOA"]), timeout=0.5, retries=1)
    if not r:
        return None
    p = parse_response(r)
    if p["rcode"] != 0 or not p["an"]:
        return None
    return int(p["an"][0][4].split()[2][:8], 16)


def wait_serial(port, serial, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if serial_of(port) == serial:
            return True
        time.sleep(0.2)
    return False


def main():
    nsd = nsd_binary()
    if not nsd:
        print("SKIP: nsd is not installed")
        return 77
    tmp = tempfile.mkdtemp(prefix="meridian-axfr-")
    procs = []
    fails = []
    try:
        mport, nport = free_port(), free_port()
        os.makedirs(os.path.join(tmp, "zones"))
        zone = os.path.join(tmp, "zones/example.test.zone")
        shutil.copy(ZONE_SRC, zone)
        with open(os.path.join(tmp, "dns.toml"), "w") as f:
            f.write(f'''allow_root = true\nworkers = 1
listen = "127.0.0.1:{mport}"
notify = ["127.0.0.1:{nport}"]
notify_key = "xfr-key."
[log]
level = "info"
[[zone]]
name = "example.test."
file = "zones/example.test.zone"
[axfr]
allow = []
[[tsig_key]]
name = "xfr-key."
algorithm = "hmac-sha256"
secret = "{SECRET}"
''')
        mlog = open(os.path.join(tmp, "meridian.log"), "w")
        m = subprocess.Popen([DNS, "--config", os.path.join(tmp, "dns.toml")], stdout=mlog, stderr=mlog)
        procs.append(m)
        if not wait_udp(mport, 10):
            print("FAIL: meridian did not start")
            return 1
        procs.append(start_nsd(nsd, tmp, nport, "xfr-key.", SECRET, f'''zone:
  name: "example.test."
  zonefile: "{tmp}/secondary.zone"
  request-xfr: AXFR 127.0.0.1@{mport} xfr-key.
  allow-notify: 127.0.0.1 xfr-key.
''', verbosity=2))
        ok = wait_serial(nport, 2026112501, 20)
        print(("ok   " if ok else "FAIL ") + "NSD transferred serial 2026112501 from Meridian")
        if not ok:
            fails.append("initial transfer")
        else:
            for name, t in [("alias.example.test.", "A"), ("www.example.test.", "AAAA"), ("example.test.", "MX"), ("web.example.test.", "HTTPS"),
                            ("opaque.example.test.", 65280), ("_sip._udp.example.test.", "SRV"),
                            ("x.b.ent.example.test.", "A"), ("example.test.", "CAA")]:
                qt = TYPES[t] if isinstance(t, str) else t
                a = parse_response(udp_query(mport, build_query(name, qt)))
                b = parse_response(udp_query(nport, build_query(name, qt)))
                same = sorted(a["an"]) == sorted(b["an"]) and a["rcode"] == b["rcode"]
                print(("ok   " if same else "FAIL ") + "NSD (secondary) answers %s %s like Meridian" % (name, t))
                if not same:
                    print("   meridian %s\n   nsd      %s" % (a["an"], b["an"]))
                    fails.append(name)
        dig = shutil.which("dig")
        if dig:
            for secret, expect_ok, what in ((SECRET, True, "right"), (WRONG, False, "wrong")):
                out = subprocess.run([dig, "-y", "hmac-sha256:xfr-key.:" + secret, "@127.0.0.1", "-p", str(mport),
                                      "example.test.", "AXFR", "+time=3", "+tries=1"],
                                     capture_output=True, text=True).stdout
                got = "XFR size:" in out and "TSIG" in out
                good = got == expect_ok
                print(("ok   " if good else "FAIL ") + "dig AXFR with the %s TSIG secret %s" %
                      (what, "transfers" if expect_ok else "is refused"))
                if not good:
                    print(out[-1500:])
                    fails.append("dig " + what)
            out = subprocess.run([dig, "@127.0.0.1", "-p", str(mport), "example.test.", "AXFR", "+time=3",
                                  "+tries=1"], capture_output=True, text=True).stdout
            good = "XFR size:" not in out
            print(("ok   " if good else "FAIL ") + "unsigned AXFR from an address not allowed is refused")
            if not good:
                fails.append("unsigned")
        # New serial on the primary: reload → NOTIFY → NSD transfers it.
        text = open(zone).read().replace("2026112501 ; serial", "2026112502 ; serial")
        open(zone, "w").write(text + "notified IN A 192.0.2.222\n")
        m.send_signal(signal.SIGHUP)
        ok = wait_serial(nport, 2026112502, 15)
        print(("ok   " if ok else "FAIL ") + "after SIGHUP, NOTIFY made NSD transfer serial 2026112502")
        if not ok:
            fails.append("notify")
        if fails:
            for f in ("meridian.log", "nsd.log", "nsd.stderr"):
                p = os.path.join(tmp, f)
                if os.path.exists(p):
                    print("--- %s\n%s" % (f, open(p).read()[-3000:]))
        return 1 if fails else 0
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
