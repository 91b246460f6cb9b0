#!/usr/bin/env python3
"""A zone edited without raising its SOA serial, then reloaded (SIGHUP): meridian-dns serves the new contents, as
BIND does, and warns, naming the zone, its file and serial, that secondaries will not see the change (they compare
serials; no NOTIFY goes out). IXFR: a change without a serial step cannot be a difference, so a secondary at an
older serial gets the whole zone (AXFR-style) and one at this serial is told it is up to date. A reload without an
edit warns nothing, also for a DNSSEC-signed zone, whose signatures change at every signing."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dnswire import free_port, wait_udp  # noqa: E402

SRC = os.environ.get("MERIDIAN_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))
DNS = os.environ.get("MERIDIAN_DNS", os.path.join(SRC, "build/dns/bin/meridian-dns"))
if not os.access(DNS, os.X_OK):
    print("SKIP: meridian-dns not built at", DNS)
    sys.exit(77)
if not shutil.which("dig"):
    print("SKIP: dig not installed (bind9-dnsutils)")
    sys.exit(77)
ZONE_SRC = os.path.join(SRC, "conf/examples/zones/example.test.zone")
KEYS = os.path.join(SRC, "conf/examples/keys")
WARNING = "zone changed without a serial change"

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def write_zone(path, serial, web="192.0.2.80", origin="example.test."):
    text = open(ZONE_SRC).read().replace("2026112501 ; serial", f"{serial} ; serial")
    text = text.replace("$ORIGIN example.test.", f"$ORIGIN {origin}")
    text = text.replace("web      300    IN A    192.0.2.80", f"web      300    IN A    {web}")
    with open(path, "w") as f:
        f.write(text)


def dig(port, *args):
    return subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+tries=2", "+time=3", *args],
                          capture_output=True, text=True, timeout=20).stdout


tmp = tempfile.mkdtemp(prefix="meridian-it-serial-")
proc = None
try:
    zone = os.path.join(tmp, "example.test.zone")
    signed = os.path.join(tmp, "signed.zone")
    write_zone(zone, 4)
    # The signed version is example.test. too (the example keys are that zone's), from its own file.
    port = free_port()
    conf = os.path.join(tmp, "dns.toml")

    def write_conf(signed_zone):
        with open(conf, "w") as f:
            f.write(f'allow_root = true\nworkers = 1\nlisten = "127.0.0.1:{port}"\n[axfr]\nallow = ["127.0.0.0/8"]\nixfr_history = 8\n'
                    f'[[zone]]\nname = "example.test."\nfile = "{signed if signed_zone else zone}"\n')
            if signed_zone:
                f.write(f'[zone.dnssec]\nksk = "{KEYS}/Kexample.test.+013+48517"\n'
                        f'zsk = "{KEYS}/Kexample.test.+013+25691"\n')

    write_conf(False)
    log_path = os.path.join(tmp, "dns.log")
    proc = subprocess.Popen([DNS, "--config", conf], stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    check(wait_udp(port, 20), "meridian-dns answers")

    def log():
        return open(log_path).read()

    def reload(n):
        proc.send_signal(signal.SIGHUP)
        end = time.time() + 20
        while time.time() < end and log().count("msg=reloaded") < n:
            time.sleep(0.1)
        return log().count("msg=reloaded") >= n

    def web():
        return dig(port, "web.example.test", "A", "+short").split()

    # A proper change first (serial 4 → 5), so IXFR has a history to lose.
    write_zone(zone, 5, web="192.0.2.85")
    check(reload(1), "reload 1 (serial 4 → 5)")
    check("192.0.2.85" in web(), "serial 5 served")
    inc = dig(port, "example.test", "IXFR=4")
    check("192.0.2.85" in inc, "IXFR from 4 answers the change")
    check(inc.count("IN\tA\t") < 5, f"... incrementally ({inc.count(chr(9) + 'A' + chr(9))} A records)")
    check(WARNING not in log(), "a serial step warns nothing")

    # Edited, serial kept: served, warned.
    write_zone(zone, 5, web="192.0.2.99")
    check(reload(2), "reload 2 (edited, serial still 5)")
    check("192.0.2.99" in web(), "the edit is served")
    lines = [l for l in log().splitlines() if WARNING in l]
    check(len(lines) == 1, f"one warning: {lines!r}")
    line = lines[0] if lines else ""
    check(" warn " in line and "zone=example.test." in line and "serial=5" in line and zone in line,
          "... naming the zone, its serial and file")
    check("secondaries will not see the change" in line, "... saying secondaries will not see the change")
    full = dig(port, "example.test", "IXFR=4")
    check("192.0.2.99" in full and "ns1.example.test." in full and full.count("\tSOA\t") == 2,
          "IXFR from 4: the whole zone (AXFR-style), with the edit")
    cur = dig(port, "example.test", "IXFR=5")
    check(cur.count("\tSOA\t") == 1 and "192.0.2.99" not in cur, "IXFR from 5: up to date (SOA alone)")

    # Reloaded again without an edit: nothing more.
    check(reload(3), "reload 3 (unchanged)")
    check(log().count(WARNING) == 1, "an unchanged zone warns nothing")

    # Signed: every reload signs again (new RRSIGs, same records): no warning; an edit without a serial step warns.
    write_zone(signed, 7)
    write_conf(True)
    check(reload(4), "reload 4 (the zone signed now, serial 7)")
    check("RRSIG" in dig(port, "web.example.test", "A", "+dnssec"), "the zone is signed")
    check(reload(5), "reload 5 (signed, unchanged: signed again)")
    check(log().count(WARNING) == 1, "a signed zone signed again without an edit warns nothing")
    write_zone(signed, 7, web="192.0.2.77")
    check(reload(6), "reload 6 (signed, edited, serial 7)")
    check(log().count(WARNING) == 2 and "serial=7" in [l for l in log().splitlines() if WARNING in l][-1],
          "a signed zone edited without a serial step warns")
    check("192.0.2.77" in web(), "... and serves the edit")
    check(proc.poll() is None, "meridian-dns is running")
finally:
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            check(proc.wait(timeout=15) == 0, "meridian-dns stops cleanly")
        except subprocess.TimeoutExpired:
            proc.kill()
            check(False, "meridian-dns stops within 15 s")
    if failures:
        print("---- meridian-dns log ----")
        print(open(os.path.join(tmp, "dns.log")).read()[-4000:])
    shutil.rmtree(tmp, ignore_errors=True)

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
