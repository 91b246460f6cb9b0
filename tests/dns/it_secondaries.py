#!/usr/bin/env python3
# ctest: COST 50
"""NSD and Knot as secondaries of meridian-dns, authenticated with TSIG (hmac-sha256; Meridian's address allow-list
is empty, so only the key admits them), kept current through NOTIFY and IXFR across several reloads. Zones:
example.test. (the example zone) and big.test. (an RRset of 100 TXT records, ~21 KB: more than one 16 KiB message).
After the first transfer and after each reload, both secondaries' zones (AXFR from them) must equal Meridian's, and
after each reload their logs must show an incremental transfer, not an AXFR fallback. Then a slow reader (slower
than tcp_idle_timeout) completes a transfer, and a reader that stalls is cut off by transfer_timeout with a log line
that says so. Exit 77 (skip) when nsd or knotd is not installed."""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnswire import build_query, parse_response, free_port, wait_udp, udp_query, TYPES  # noqa
from nsdpeer import start_nsd, stop_all  # noqa: E402

SRC = os.environ.get("MERIDIAN_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
DNS = os.environ.get("MERIDIAN_DNS", os.path.join(SRC, "build/dns/bin/meridian-dns"))
ZONE_SRC = os.path.join(SRC, "conf/examples/zones/example.test.zone")
SECRET = "bWVyaWRpYW4tdHNpZy10ZXN0LXNlY3JldC0zMi1ieXRlcyE="
KEY = "hmac-sha256:xfr-key.:" + SECRET
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def which(name):
    return shutil.which(name) or next((p for p in ("/usr/sbin/" + name,) if os.path.exists(p)), None)


def big_zone(serial, extra=""):
    lines = ["$TTL 300",
             "@ IN SOA ns1.big.test. hostmaster.big.test. %d 3600 600 86400 300" % serial,
             "@ IN NS ns1.big.test.", "ns1 IN A 192.0.2.1"]
    lines += ['txt IN TXT "record %03d %s"' % (i, "x" * 180) for i in range(100)]
    return "\n".join(lines) + "\n" + extra


def stall_zone():
    lines = ["$TTL 300", "@ IN SOA ns1.stall.test. hostmaster.stall.test. 1 3600 600 86400 300",
             "@ IN NS ns1.stall.test.", "ns1 IN A 192.0.2.1"]
    lines += ['n%d IN TXT "%s"' % (i, "y" * 200) for i in range(40000)]
    return "\n".join(lines) + "\n"


def soa_serial(port, zone):
    r = udp_query(port, build_query(zone, TYPES["SOA"]), timeout=0.5, retries=1)
    if not r:
        return None
    p = parse_response(r)
    if p["rcode"] != 0 or not p["an"]:
        return None
    return int(p["an"][0][4].split()[2][:8], 16)  # dnswire: "mname rname <hex of the five numbers>"


def wait_serial(port, zone, serial, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if soa_serial(port, zone) == serial:
            return True
        time.sleep(0.2)
    return False


def axfr_records(port, zone, key=None):
    """The zone's records as a sorted list of normalized lines (one SOA), via dig AXFR."""
    cmd = ["dig", "@127.0.0.1", "-p", str(port), zone, "AXFR", "+nocmd", "+nostats", "+nocomments", "+time=10",
           "+tries=1", "+nottlunits"]
    if key:
        cmd[1:1] = ["-y", key]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    recs = set()
    for line in out.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        f = line.split()
        if len(f) < 4 or f[3] in ("TSIG",):
            continue
        f[0] = f[0].lower()
        recs.add(" ".join(f))
    return sorted(recs)


def same_zone(what, mport, sport, zone):
    ours = axfr_records(mport, zone, KEY)
    theirs = axfr_records(sport, zone)
    ok = bool(ours) and ours == theirs
    check(ok, "%s: %s equals Meridian's (%d records)" % (what, zone, len(ours)))
    if not ok:
        a, b = set(ours), set(theirs)
        print("   only at meridian: %s" % sorted(a - b)[:5])
        print("   only at %s: %s" % (what, sorted(b - a)[:5]))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def log_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def raw_transfer(port, zone, src, read_chunk, pause, max_seconds):
    """AXFR over a raw socket from `src`, reading `read_chunk` bytes every `pause` s. Returns (records, complete,
    closed_early)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((src, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    q = build_query(zone, 252, qid=0x5151)
    s.sendall(struct.pack("!H", len(q)) + q)
    buf, records, soas, closed = b"", 0, 0, False
    deadline = time.time() + max_seconds
    try:
        while time.time() < deadline and soas < 2:
            if read_chunk == 0:
                time.sleep(0.2)
                continue
            try:
                chunk = s.recv(read_chunk)
            except socket.timeout:
                continue
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                n = struct.unpack("!H", buf[:2])[0]
                msg, buf = buf[2:2 + n], buf[2 + n:]
                r = parse_response(msg)
                records += len(r["an"])
                soas += sum(1 for rr in r["an"] if rr[1] == TYPES["SOA"])
            time.sleep(pause)
    finally:
        s.close()
    return records, soas >= 2, closed


def main():
    nsd, knotd, dig = which("nsd"), which("knotd"), which("dig")
    if not nsd or not knotd or not dig:
        print("SKIP: needs nsd, knotd and dig")
        return 77
    tmp = tempfile.mkdtemp(prefix="meridian-secondaries-")
    procs = []
    try:
        mport, nport, kport = free_port(), free_port(), free_port()
        zdir = os.path.join(tmp, "zones")
        os.makedirs(zdir)
        example = os.path.join(zdir, "example.test.zone")
        big = os.path.join(zdir, "big.test.zone")
        shutil.copy(ZONE_SRC, example)
        with open(big, "w") as f:
            f.write(big_zone(1))
        with open(os.path.join(zdir, "stall.test.zone"), "w") as f:
            f.write(stall_zone())
        with open(os.path.join(tmp, "dns.toml"), "w") as f:
            f.write(f'''allow_root = true\nworkers = 1
listen = "127.0.0.1:{mport}"
notify = ["127.0.0.1:{nport}", "127.0.0.1:{kport}"]
[log]
level = "info"
[limits]
tcp_idle_timeout = "2s"
[[zone]]
name = "example.test."
file = "zones/example.test.zone"
[[zone]]
name = "big.test."
file = "zones/big.test.zone"
[[zone]]
name = "stall.test."
file = "zones/stall.test.zone"
[axfr]
allow = ["127.0.0.2"]
transfer_timeout = "3s"
[[tsig_key]]
name = "xfr-key."
algorithm = "hmac-sha256"
secret = "{SECRET}"
''')
        mlog_path = os.path.join(tmp, "meridian.log")
        mlog = open(mlog_path, "w")
        m = subprocess.Popen([DNS, "--config", os.path.join(tmp, "dns.toml")], stdout=mlog, stderr=mlog)
        procs.append(m)
        if not wait_udp(mport, 30):
            print("FAIL: meridian did not start")
            print(log_text(mlog_path)[-2000:])
            return 1

        # NSD: request-xfr without "AXFR" asks IXFR first once it has the zone (RFC 1995), AXFR when it has none.
        nsd_zones = "".join(f'''zone:
  name: "{z}"
  zonefile: "{tmp}/nsd-{z}zone"
  request-xfr: 127.0.0.1@{mport} xfr-key.
  outgoing-interface: 127.0.0.4
  allow-notify: 127.0.0.1 NOKEY
  provide-xfr: 127.0.0.1 NOKEY
''' for z in ("example.test.", "big.test."))
        procs.append(start_nsd(nsd, tmp, nport, "xfr-key.", SECRET, nsd_zones, verbosity=2))
        kdir = os.path.join(tmp, "knot")
        os.makedirs(kdir)
        with open(os.path.join(tmp, "knot.conf"), "w") as f:
            f.write(f'''server:
    rundir: "{kdir}"
    pidfile: "{kdir}/knot.pid"
    listen: 127.0.0.1@{kport}
log:
  - target: "{tmp}/knot.log"
    any: info
database:
    storage: "{kdir}"
key:
  - id: xfr-key.
    algorithm: hmac-sha256
    secret: {SECRET}
remote:
  - id: primary
    address: 127.0.0.1@{mport}
    via: 127.0.0.3
    key: xfr-key.
acl:
  - id: from_primary
    address: 127.0.0.1
    action: notify
  - id: local_transfer
    address: 127.0.0.1
    action: transfer
template:
  - id: default
    storage: "{kdir}"
    file: "%s.zone"
    master: primary
    acl: [from_primary, local_transfer]
    zonefile-load: none
    journal-content: changes
zone:
  - domain: example.test.
  - domain: big.test.
control:
    listen: "{kdir}/knot.sock"
''')
        procs.append(subprocess.Popen([knotd, "-c", os.path.join(tmp, "knot.conf")], stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(tmp, "knot.stderr"), "w")))

        secondaries = (("NSD", nport, os.path.join(tmp, "nsd.log")), ("Knot", kport, os.path.join(tmp, "knot.log")))
        for name, port, _ in secondaries:
            for zone, serial in (("example.test.", 2026112501), ("big.test.", 1)):
                ok = wait_serial(port, zone, serial, 40)
                check(ok, "%s transferred %s serial %d" % (name, zone, serial))
        for name, port, _ in secondaries:
            for zone in ("example.test.", "big.test."):
                same_zone(name, mport, port, zone)

        # Several reloads; each must reach both secondaries by NOTIFY + IXFR.
        changes = [
            (2026112502, "added IN A 192.0.2.201\n", 'txt IN TXT "record 100 added"\n'),
            (2026112503, "added IN A 192.0.2.202\nadded2 IN AAAA 2001:db8::2\n", ""),  # changed + removed record
            (2026112504, "added2 600 IN AAAA 2001:db8::2\n", 'big2 IN TXT "x"\n'),  # TTL change, removals
        ]
        base_example = open(ZONE_SRC).read()
        for i, (serial, ex_extra, big_extra) in enumerate(changes):
            mlog_before = len(log_text(mlog_path))
            knot_before = len(log_text(os.path.join(tmp, "knot.log")))
            with open(example, "w") as f:
                f.write(base_example.replace("2026112501 ; serial", "%d ; serial" % serial) + ex_extra)
            with open(big, "w") as f:
                f.write(big_zone(2 + i, big_extra))
            m.send_signal(signal.SIGHUP)
            for name, port, logp in secondaries:
                ok = wait_serial(port, "example.test.", serial, 30) and wait_serial(port, "big.test.", 2 + i, 30)
                check(ok, "reload %d: NOTIFY brought %s to serials %d / %d" % (i + 1, name, serial, 2 + i))
            time.sleep(0.5)
            for name, port, logp in secondaries:
                for zone in ("example.test.", "big.test."):
                    same_zone("reload %d: %s" % (i + 1, name), mport, port, zone)
            # Meridian logs each transfer's kind and client: NSD transfers from 127.0.0.4, Knot from 127.0.0.3.
            served = log_text(mlog_path)[mlog_before:]
            for name, src in (("NSD", "127.0.0.4"), ("Knot", "127.0.0.3")):
                lines = [l for l in served.splitlines() if "zone transfer" in l and "client=%s:" % src in l]
                incremental = {z for z in ("example.test.", "big.test.") for l in lines
                               if "zone=%s " % z in l and 'kind="IXFR (incremental)"' in l}
                full = [l for l in lines if "kind=AXFR" in l or "full zone" in l or "failed" in l]
                ok = incremental == {"example.test.", "big.test."} and not full
                check(ok, "reload %d: %s was served incremental IXFR for both zones (no AXFR fallback)" % (i + 1, name))
                if not ok:
                    print("   " + "\n   ".join(lines[-6:]))
            knot_new = log_text(os.path.join(tmp, "knot.log"))[knot_before:]
            knot_ixfr = len(re.findall(r"IXFR, incoming.*finished", knot_new)) >= 2 and \
                "AXFR, incoming" not in knot_new and "fallback to AXFR" not in knot_new
            check(knot_ixfr, "reload %d: Knot's log shows IXFR for both zones, no AXFR fallback" % (i + 1))
            if not knot_ixfr:
                print("   " + "\n   ".join(knot_new.splitlines()[-8:]))
        mlog_text = log_text(mlog_path)
        check("IXFR (incremental)" in mlog_text, "Meridian logged incremental IXFR answers")
        for name, port, _ in secondaries:
            acks = len(re.findall(r'NOTIFY answered.*to=127\.0\.0\.1:%d ' % port, mlog_text))
            check(acks >= 6, "%s answered Meridian's NOTIFYs (%d answered; no retries needed)" % (name, acks))

        # A slow reader (256 bytes every 50 ms: ~5 KB/s, longer than tcp_idle_timeout in total) completes.
        expect = len(axfr_records(mport, "big.test.", KEY)) + 1
        t0 = time.time()
        recs, complete, closed = raw_transfer(mport, "big.test.", "127.0.0.2", 256, 0.05, 60)
        took = time.time() - t0
        check(complete and recs == expect and took > 2.5,
              "a slow reader (%.1f s, more than tcp_idle_timeout) gets the whole transfer (%d records)" % (took, recs))
        # A reader that stalls is cut off after transfer_timeout, and the log says the transfer failed.
        # Streamed with backpressure: while it is stalled, Meridian holds a few messages, not the ~9 MB zone.
        rss_before = rss_kib(m.pid)
        result = {}
        th = threading.Thread(target=lambda: result.update(r=raw_transfer(mport, "stall.test.", "127.0.0.2", 0, 0, 8)))
        th.start()
        time.sleep(1.5)
        growth = rss_kib(m.pid) - rss_before
        th.join()
        recs, complete, closed = result["r"]
        check(growth < 3 * 1024, "a stalled transfer of a ~9 MB zone grows Meridian's RSS by %d KiB (< 3 MiB)" % growth)
        time.sleep(1)
        text = log_text(mlog_path)
        check(not complete, "the stalled reader did not get a complete transfer")
        failed = re.search(r'zone transfer failed.*stall\.test\..*transfer_timeout', text) is not None
        check(failed, "Meridian logged the stalled transfer as failed (transfer_timeout)")
        check(not re.search(r'zone transfer completed.*stall\.test\.', text),
              "the stalled transfer is not logged as completed")
        check(m.poll() is None, "meridian-dns is alive")
    finally:
        stop_all([p for p in procs if p.poll() is None], timeout=10)
    if failures:
        for f in ("meridian.log", "nsd.log", "knot.log", "knot.stderr"):
            print("---- %s (tail)" % f)
            print(log_text(os.path.join(tmp, f))[-2500:])
        print("%d failure(s)" % len(failures))
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
