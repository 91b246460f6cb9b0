"""defer_accept (on by default): the edge's HTTP and HTTPS listeners have TCP_DEFER_ACCEPT, so the kernel hands the
edge a connection only once its first bytes arrived, and the edge reads them at the accept.
- A connection that sends nothing is not accepted at once (the open-connections gauge stays 0), but about a second
  later, and is then served as any other: a request sent on it afterwards is answered (the read at the accept found
  nothing, and the loop reads what comes later).
- Requests that come with the connection are answered whole, including a request split across two sends (the read at
  the accept takes the first part) and two pipelined requests in one send; over HTTPS too.
- defer_accept = false: a silent connection is accepted at once.
Takes about 6 s."""
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import (Edge, Failures, bucket_edge_conf, closed_by_server, free_port, make_test_certs, skip,  # noqa: E402
                      tls_listen, tmpdir, wait_port)

if not os.path.exists("/usr/bin/openssl"):
    skip("openssl not installed")

tmp = tmpdir()
certs = make_test_certs(tmp)
site = os.path.join(tmp, "site")
os.makedirs(site)
body = os.urandom(1024)
with open(os.path.join(site, "obj.bin"), "wb") as fh:
    fh.write(body)

f = Failures()


def config(tls_port, defer):
    return tls_listen(tls_port, certs) + bucket_edge_conf(site)


def start(defer):
    tls_port = free_port()
    d = os.path.join(tmp, f"edge-{defer}")
    os.makedirs(d)
    e = Edge(d, config(tls_port, defer))
    with open(e.config) as fh:
        text = fh.read()
    with open(e.config, "w") as fh:  # a top-level key: before the tables Edge writes
        fh.write(f"defer_accept = {'true' if defer else 'false'}\n" + text)
    e.tls_port = tls_port
    e.start()
    wait_port(tls_port)
    wait_port(e.admin_port)
    # wait_port's probes were connections that sent nothing: with the deferral they reach the edge a second later.
    # Wait for those to come and go so the gauge below counts only this test's connections.
    deadline = time.time() + 10
    while time.time() < deadline and e.metric("meridian_edge_open_connections") != 0:
        time.sleep(0.1)
    return e


def open_conns(e):
    return e.metric("meridian_edge_open_connections")


def when_open(e, n, limit):
    """Seconds until the gauge shows n connections (None when it does not within limit)."""
    t0 = time.time()
    while time.time() - t0 < limit:
        if open_conns(e) == n:
            return time.time() - t0
        time.sleep(0.05)
    return None


def get_close(port, chunks, gap=0.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    for i, c in enumerate(chunks):
        if i and gap:
            time.sleep(gap)
        s.sendall(c)
    closed, got = closed_by_server(s, time.time() + 10)
    s.close()
    return closed, got


REQ = b"GET /obj.bin HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"

edge = start(True)
try:
    # Silent connections, plain and TLS: held by the kernel, then accepted about a second later.
    silent = socket.create_connection(("127.0.0.1", edge.port), timeout=10)
    silent_tls = socket.create_connection(("127.0.0.1", edge.tls_port), timeout=10)
    t0 = time.time()
    time.sleep(0.4)
    f.eq(open_conns(edge), 0, "silent connections are not accepted at once")
    took = when_open(edge, 2, 5)
    f.check(took is not None, "silent connections are accepted after the deferral")
    if took is not None:
        waited = time.time() - t0
        f.check(0.5 < waited < 4, f"accepted after about a second ({waited:.1f}s)")
    silent.sendall(b"GET /obj.bin HTTP/1.1\r\nHost: a.test\r\n\r\n")
    silent.settimeout(5)
    got = b""
    try:
        while not got.endswith(body):
            d = silent.recv(65536)
            if not d:
                break
            got += d
    except OSError:
        pass
    f.check(got.startswith(b"HTTP/1.1 200") and got.endswith(body), f"a late-accepted connection is served ({got[:30]!r})")
    silent.close()
    silent_tls.close()

    # Requests that come with the connection.
    ok = 0
    for _ in range(30):
        closed, got = get_close(edge.port, [REQ])
        ok += closed and got.startswith(b"HTTP/1.1 200") and got.endswith(body)
    f.eq(ok, 30, "one request per connection, answered whole and closed")
    closed, got = get_close(edge.port, [REQ[:20], REQ[20:]], gap=0.2)
    f.check(closed and got.startswith(b"HTTP/1.1 200") and got.endswith(body), f"a request in two sends ({got[:30]!r})")
    pipelined = REQ.replace(b"Connection: close\r\n", b"") + REQ
    closed, got = get_close(edge.port, [pipelined])
    f.check(closed and got.count(b"HTTP/1.1 200") == 2 and got.endswith(body), "two pipelined requests in one send")

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", edge.tls_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="example.test") as s:
            s.sendall(REQ)
            got = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got += d
    f.check(got.startswith(b"HTTP/1.1 200") and got.endswith(body), f"HTTPS on a deferred listener ({got[:30]!r})")
    f.eq(edge.stop(), 0, "exit code")
finally:
    if edge.proc and edge.proc.poll() is None:
        edge.proc.kill()

edge = start(False)
try:
    silent = socket.create_connection(("127.0.0.1", edge.port), timeout=10)
    took = when_open(edge, 1, 5)
    f.check(took is not None and took < 0.5, f"defer_accept = false: accepted at once ({took})")
    silent.close()
    closed, got = get_close(edge.port, [REQ])
    f.check(closed and got.endswith(body), "defer_accept = false: answered")
    f.eq(edge.stop(), 0, "exit code")
finally:
    if edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
f.done()
