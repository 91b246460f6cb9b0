"""A second meridian-edge started on ports a running one serves: every worker binds with SO_REUSEPORT, so it used
to join silently and take part of the traffic (6 requests split 3 errors / 3 hits), the admin port included. Now it
exits 1 within seconds with nginx's message naming the address ("bind tcp 127.0.0.1:P: Address already in use -
another process is serving it"): for the viewer listener, the admin listener, an IPv6 listener and a wildcard
address overlapping the running one; also when the other process is not Meridian (a plain SO_REUSEPORT listener).
The first edge keeps answering every request, through a SIGHUP reload too; of two edges started at the same moment,
exactly one serves; the workers of one edge still share
their port, also a port 0 chosen once at start; and the port is free again for the next edge once the first exits.
"""
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import (EDGE, Edge, Failures, bucket_edge_conf, free_port, has_ipv6_loopback, http_get,  # noqa: E402
                      skip, tmpdir)

if not os.access(EDGE, os.X_OK):
    skip(f"meridian-edge not built at {EDGE}")

tmp = tmpdir()
root = os.path.join(tmp, "site")
os.makedirs(root)
with open(os.path.join(root, "index.html"), "w") as fh:
    fh.write("first edge\n")
BODY = "\n" + bucket_edge_conf(root)
IPV6 = has_ipv6_loopback()
f = Failures()


def second(name, listen, admin, extra=""):
    """Runs a second edge with these listeners; returns (exit code or None if still running after 20 s, seconds,
    output)."""
    conf = os.path.join(tmp, f"{name}.toml")
    with open(conf, "w") as fh:
        fh.write(f"allow_root = true\nworkers = 2\nlisten = [{', '.join(chr(34) + a + chr(34) for a in listen)}]\n")
        if admin:
            fh.write(f'[admin]\nlisten = "{admin}"\n')
        fh.write(extra + BODY)
    t0 = time.time()
    p = subprocess.Popen([EDGE, "--config", conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=20)
        return p.returncode, time.time() - t0, out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)  # by PID, the one we started
        out, _ = p.communicate(timeout=20)
        return None, time.time() - t0, out.decode(errors="replace")


def all_served_by_first(port, n=24, host="127.0.0.1"):
    """n requests, each on its own connection (the kernel spreads connections across a port's listeners)."""
    ok = 0
    for _ in range(n):
        try:
            st, _, body = http_get(port, "/index.html", host=host, timeout=5)
            ok += st == 200 and body == b"first edge\n"
        except OSError:
            pass
    return ok


def listening_sockets(pid, port):
    """How many TCP listening sockets of process `pid` are bound to `port` (from /proc: inode → fd)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].split(":")[1], 16) == port and cols[9] in inodes:
                n += 1
    return n


def start_on_port0(name, ipv6=False):
    """An edge on port 0 (listen, [::1] too when asked, and admin): no window between picking a free port and
    binding it, which a test running beside this one could fall into. Returns (Edge, {addr prefix: port})."""
    e = Edge(tmp, BODY, workers=2)
    e.config = os.path.join(tmp, f"{name}.toml")
    e.log_path = os.path.join(tmp, f"{name}.log")
    listen = '"127.0.0.1:0"' + (', "[::1]:0"' if ipv6 else "")
    with open(e.config, "w") as fh:
        fh.write(f'allow_root = true\nworkers = 2\nlisten = [{listen}]\n[admin]\nlisten = "127.0.0.1:0"\n' + BODY)
    e.logf = open(e.log_path, "w")
    e.proc = subprocess.Popen([EDGE, "--config", e.config], stdout=e.logf, stderr=subprocess.STDOUT)
    want = ["edge 127.0.0.1", "admin 127.0.0.1"] + (["edge [::1]"] if ipv6 else [])
    ports = {}
    end = time.time() + 20
    while time.time() < end and len(ports) < len(want) and e.proc.poll() is None:
        for line in e.log().splitlines():
            for w in want:
                comp, host = w.split(" ")
                if f"{comp} msg=listening addr={host}:" in line:
                    # addr=HOST:PORT, possibly followed by other fields (scheme=...)
                    addr = line.split(f"addr={host}:", 1)[1]
                    ports[w] = int(addr.split()[0])
        time.sleep(0.1)
    if len(ports) < len(want):
        print(e.log())
        raise RuntimeError(f"{name}: the ports were not logged")
    return e, ports


first = None
try:
    first, ports = start_on_port0("first", IPV6)
    P, A = ports["edge 127.0.0.1"], ports["admin 127.0.0.1"]
    if IPV6:
        P6 = ports["edge [::1]"]
    f.eq(all_served_by_first(P), 24, "the first edge answers")
    f.eq(listening_sockets(first.proc.pid, P), 2, "its two workers share the port")
    if IPV6:
        f.eq(listening_sockets(first.proc.pid, P6), 2, "... and the IPv6 one")

    cases = [
        ("same-config", [f"127.0.0.1:{P}"], f"127.0.0.1:{A}", f"bind tcp 127.0.0.1:{A}: Address already in use"),
        ("listen", [f"127.0.0.1:{P}"], None, f"bind tcp 127.0.0.1:{P}: Address already in use"),
        ("wildcard", [f"0.0.0.0:{P}"], None, f"bind tcp 0.0.0.0:{P}: Address already in use"),
        ("admin-only", ["127.0.0.1:0"], f"127.0.0.1:{A}", f"bind tcp 127.0.0.1:{A}: Address already"),
    ]
    if IPV6:
        cases.append(("ipv6", [f"[::1]:{P6}"], None, f"bind tcp [::1]:{P6}: Address already in use"))
    for name, listen, admin, want in cases:
        rc, secs, out = second(name, listen, admin)
        f.eq(rc, 1, f"{name}: the second edge exits 1")
        f.check(secs < 10, f"{name}: ... within seconds ({secs:.1f} s)")
        f.check(want in out and "another process is serving it" in out, f"{name}: ... saying {want!r}: {out.strip()!r}")
        f.check("msg=started" not in out, f"{name}: ... without starting")
        f.eq(all_served_by_first(P), 24, f"{name}: every request still answered by the first edge")

    # Logging to a file: the reason is in the file, and stderr says the daemon did not start.
    log_file = os.path.join(tmp, "second.log")
    rc, _, out = second("log-file", [f"127.0.0.1:{P}"], None, f'[log]\nfile = "{log_file}"\n')
    f.eq(rc, 1, "log to a file: exits 1")
    f.check("not started" in out, f"log to a file: stderr says it did not start: {out.strip()!r}")
    f.check(f"bind tcp 127.0.0.1:{P}: Address already in use" in open(log_file).read(), "log to a file: the reason is in it")

    # Not Meridian: a program listening on a port with SO_REUSEPORT (a plain SO_REUSEPORT bind would join it).
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("127.0.0.1", 0))
    other.listen(8)
    Q = other.getsockname()[1]
    rc, _, out = second("foreign", [f"127.0.0.1:{Q}"], None)
    other.close()
    f.eq(rc, 1, "a port another program serves with SO_REUSEPORT: exits 1")
    f.check(f"bind tcp 127.0.0.1:{Q}: Address already in use" in out, f"... naming it: {out.strip()!r}")

    # A reload keeps the listeners (no rebind, so the instance's own claim never gets in the way).
    first.proc.send_signal(signal.SIGHUP)
    end = time.time() + 20
    while time.time() < end and "configuration reloaded" not in first.log():
        time.sleep(0.1)
    f.check("configuration reloaded" in first.log(), "SIGHUP: the first edge reloads")
    f.check("cannot listen" not in first.log(), "SIGHUP: ... without a listen error")
    f.eq(all_served_by_first(P), 24, "SIGHUP: every request still answered")
    f.check(first.proc.poll() is None, "the first edge is still running")
finally:
    if first:
        f.eq(first.stop(), 0, "the first edge exits 0")

# Port 0 (as the first edge above): chosen once, shared by every worker, logged; here without IPv6.
zero = None
try:
    zero, zports = start_on_port0("zero")
    port, admin = zports["edge 127.0.0.1"], zports["admin 127.0.0.1"]
    f.eq(listening_sockets(zero.proc.pid, port), 2, "port 0: both workers listen on the one port chosen")
    f.eq(all_served_by_first(port), 24, "port 0: it answers")
    f.eq(http_get(admin, "/_meridian/health")[0], 200, "port 0: the admin listener answers")
finally:
    if zero:
        f.eq(zero.stop(), 0, "port 0: exits 0")

# Two edges started at the same moment on the same ports: exactly one serves, the other exits 1 (the per-address
# lock settles what the probe alone could not). A few rounds, since the interleaving varies.
for rnd in range(4):
    conf = os.path.join(tmp, f"race{rnd}.toml")
    rport, radmin = free_port(), free_port()
    with open(conf, "w") as fh:
        fh.write(f'allow_root = true\nworkers = 2\nlisten = ["127.0.0.1:{rport}"]\n[admin]\nlisten = "127.0.0.1:{radmin}"\n' + BODY)
    procs = [subprocess.Popen([EDGE, "--config", conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(2)]
    try:
        end = time.time() + 20
        while time.time() < end and all(p.poll() is None for p in procs):
            time.sleep(0.05)
        time.sleep(0.5)
        codes = [p.poll() for p in procs]
        f.check(sorted(codes, key=lambda c: -1 if c is None else c) == [None, 1],
                f"race {rnd}: one edge runs, the other exits 1 ({codes})")
        f.eq(all_served_by_first(rport, 8), 8, f"race {rnd}: the survivor answers")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)  # by PID, the ones started here
            try:
                p.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()

# Once the first edge is gone, its ports are free for the next one.
again = Edge(tmp, BODY, workers=2)
again.port, again.admin_port = P, A
again.rewrite(BODY, workers=2)
try:
    again.start()
    f.eq(all_served_by_first(P), 24, "after the first edge exited, a new edge serves its ports")
finally:
    f.eq(again.stop(), 0, "the new edge exits 0")
import shutil  # noqa: E402
shutil.rmtree(tmp, ignore_errors=True)
f.done()
