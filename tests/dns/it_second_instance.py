#!/usr/bin/env python3
"""A second meridian-dns started on an address a running one serves: every worker binds UDP and TCP with
SO_REUSEPORT, so it used to join silently and answer part of the queries (its own zones, or none), the admin port
included. Now it exits 1 within seconds naming the address and protocol ("bind udp 127.0.0.1:P: Address already in
use - another process is serving it"), also when another program holds only the UDP or only the TCP port with
SO_REUSEPORT. The first server keeps answering every UDP and TCP query, through a SIGHUP reload too (one that
changes listen says it needs a restart and keeps the running sockets); a port 0 is
chosen once and shared by UDP, TCP and every worker; the port is free for the next server once the first exits."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnswire import build_query, parse_response, free_port, wait_udp, udp_query, tcp_query  # noqa: E402

SRC = os.environ.get("MERIDIAN_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
DNS = os.environ.get("MERIDIAN_DNS", os.path.join(SRC, "build/dns/bin/meridian-dns"))
ZONE = os.path.join(SRC, "conf/examples/zones/example.test.zone")
if not os.access(DNS, os.X_OK):
    print("SKIP: meridian-dns not built at", DNS)
    sys.exit(77)

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def config(tmp, name, listen, admin=None):
    path = os.path.join(tmp, name + ".toml")
    with open(path, "w") as f:
        f.write(f'allow_root = true\nworkers = 2\nlisten = "{listen}"\n')
        if admin:
            f.write(f'[admin]\nlisten = "{admin}"\n')
        f.write(f'[[zone]]\nname = "example.test."\nfile = "{ZONE}"\n')
    return path


def second(tmp, name, listen, admin=None):
    """Runs a second server; (exit code or None when still running after 20 s, seconds, output)."""
    t0 = time.time()
    p = subprocess.Popen([DNS, "--config", config(tmp, name, listen, admin)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=20)
        return p.returncode, time.time() - t0, out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)  # by PID: the one started here
        out, _ = p.communicate(timeout=20)
        return None, time.time() - t0, out.decode(errors="replace")


def answered(port, n=24):
    """n UDP queries (each from a new socket, so a new source port: the kernel spreads them over the port's
    sockets) and n TCP connections; how many got the zone's answer."""
    ok = 0
    for i in range(n):
        r = udp_query(port, build_query("web.example.test.", 1, qid=1000 + i), timeout=2, retries=2)
        ok += bool(r and parse_response(r)["an"])
        a = tcp_query(port, [build_query("web.example.test.", 1, qid=2000 + i)])
        ok += bool(a and parse_response(a[0])["an"])
    return ok


def main():
    tmp = tempfile.mkdtemp(prefix="meridian-it-second-")
    first = None
    try:
        # Port 0 for the first server: no window between picking a free port and binding it, which a test running
        # beside this one could fall into. The ports chosen are logged.
        log = open(os.path.join(tmp, "first.log"), "w")
        first = subprocess.Popen([DNS, "--config", config(tmp, "first", "127.0.0.1:0", "127.0.0.1:0")],
                                 stdout=log, stderr=log)
        port = admin = None
        end = time.time() + 20
        while time.time() < end and not (port and admin) and first.poll() is None:
            for line in open(os.path.join(tmp, "first.log")).read().splitlines():
                m = re.search(r"dns msg=listening udp=127\.0\.0\.1:(\d+)", line)
                port = int(m.group(1)) if m else port
                m = re.search(r"admin msg=listening addr=127\.0\.0\.1:(\d+)", line)
                admin = int(m.group(1)) if m else admin
            time.sleep(0.1)
        if not (port and admin and wait_udp(port, 20)):
            print(open(os.path.join(tmp, "first.log")).read())
            check(False, "the first server starts")
            return 1
        check(answered(port) == 48, "the first server answers UDP and TCP")

        cases = [
            ("same-config", f"127.0.0.1:{port}", f"127.0.0.1:{admin}", f"bind tcp 127.0.0.1:{admin}: "),
            ("listen", f"127.0.0.1:{port}", None, f"bind tcp 127.0.0.1:{port}: "),
            ("wildcard", f"0.0.0.0:{port}", None, f"bind tcp 0.0.0.0:{port}: "),
        ]
        # Another program holding only the UDP port, or only the TCP port, with SO_REUSEPORT.
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        uport = free_port()  # free for TCP too, so only the UDP socket below can be in the way
        u.bind(("127.0.0.1", uport))
        t = socket.socket()
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        t.bind(("127.0.0.1", free_port()))
        t.listen(4)
        tport = t.getsockname()[1]
        cases += [("udp-only", f"127.0.0.1:{uport}", None, f"bind udp 127.0.0.1:{uport}: "),
                  ("tcp-only", f"127.0.0.1:{tport}", None, f"bind tcp 127.0.0.1:{tport}: ")]
        for name, listen, adm, want in cases:
            rc, secs, out = second(tmp, name, listen, adm)
            check(rc == 1, f"{name}: the second server exits 1 (got {rc})")
            check(secs < 10, f"{name}: ... within seconds ({secs:.1f} s)")
            check(want + "Address already in use - another process is serving it" in out,
                  f"{name}: ... saying {want!r}...: {out.strip()!r}")
            check("msg=started" not in out, f"{name}: ... without starting")
            check(answered(port) == 48, f"{name}: every query still answered by the first server")
        u.close()
        t.close()

        first.send_signal(signal.SIGHUP)
        end = time.time() + 20
        text = ""
        while time.time() < end and "msg=reloaded" not in text:
            time.sleep(0.1)
            text = open(os.path.join(tmp, "first.log")).read()
        check("msg=reloaded" in text, "SIGHUP: the first server reloads")
        check("cannot listen" not in text, "SIGHUP: ... without a listen error")
        check(answered(port) == 48, "SIGHUP: every query still answered")
        # A reload that changes listen/admin.listen: sockets are made once, so it says so and keeps serving where it
        # runs (the new port stays unbound); the next reload compares against what runs.
        moved, moved_admin = free_port(), free_port()
        config(tmp, "first", f"127.0.0.1:{moved}", f"127.0.0.1:{moved_admin}")
        first.send_signal(signal.SIGHUP)
        end = time.time() + 20
        while time.time() < end and text.count("msg=reloaded") < 2:
            time.sleep(0.1)
            text = open(os.path.join(tmp, "first.log")).read()
        warn = 'msg="reload: changing this key needs a restart; keeping the running value"'
        check(f'{warn} key=listen running=127.0.0.1:0 configured=127.0.0.1:{moved}' in text,
              "SIGHUP with another listen: the warning names the running (as configured) and new addresses")
        check(f'{warn} key=admin.listen running=127.0.0.1:0 configured=127.0.0.1:{moved_admin}' in text,
              "... and admin.listen")
        check(answered(port) == 48, "... the running address still answers")
        check(udp_query(moved, build_query("web.example.test.", 1), timeout=0.5, retries=1) is None,
              "... the new one is not bound")
        first.send_signal(signal.SIGHUP)
        while time.time() < end and text.count("msg=reloaded") < 3:
            time.sleep(0.1)
            text = open(os.path.join(tmp, "first.log")).read()
        check(text.count("key=listen") == 2, "the next reload compares with what runs (warns again)")
        first.send_signal(signal.SIGTERM)
        check(first.wait(20) == 0, "the first server exits 0")

        # Port 0: one port for UDP, TCP and both workers.
        zlog = os.path.join(tmp, "zero.log")
        zero = subprocess.Popen([DNS, "--config", config(tmp, "zero", "127.0.0.1:0")], stdout=open(zlog, "w"),
                                stderr=subprocess.STDOUT)
        try:
            line = ""
            end = time.time() + 20
            while time.time() < end and not line:
                line = next((l for l in open(zlog).read().splitlines() if "dns msg=listening" in l), "")
                time.sleep(0.1)
            fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            udp, tcp = fields.get("udp", ""), fields.get("tcp", "")
            check(udp and udp == tcp and not udp.endswith(":0"), f"port 0: one port for UDP and TCP ({line!r})")
            if udp:
                zport = int(udp.rsplit(":", 1)[1])
                check(answered(zport) == 48, "port 0: both workers' sockets answer on it")
        finally:
            zero.send_signal(signal.SIGTERM)
            check(zero.wait(20) == 0, "port 0: exits 0")

        # The first server's port is free again.
        again = subprocess.Popen([DNS, "--config", config(tmp, "again", f"127.0.0.1:{port}", f"127.0.0.1:{admin}")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            check(wait_udp(port, 20) and answered(port) == 48, "after the first server exited, a new one serves its port")
        finally:
            again.send_signal(signal.SIGTERM)
            check(again.wait(20) == 0, "the new server exits 0")
    finally:
        if first and first.poll() is None:
            first.send_signal(signal.SIGTERM)
            first.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % len(failures) if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
