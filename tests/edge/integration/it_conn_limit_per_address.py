"""[limits] max_connections_per_address on the real edge (2 workers, so the count is the process's, not a worker's):
8 connections from 127.0.0.1 that hold (half a request each) take that address's share; a 9th from 127.0.0.1 is
closed at once without an answer and counted in meridian_edge_connections_refused_per_address_total, while a
connection from 127.0.0.2 is served. TLS connections that fail their handshake give their place back (20 of them,
more than the limit, and 127.0.0.1 still gets in), and once the 8 close, 127.0.0.1 is served again. About 3 s."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import (Edge, Failures, closed_by_server, free_port, make_test_certs, read_response,  # noqa: E402
                      tmpdir, tls_listen)

LIMIT = 8
REQUEST = b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n"


def connect(port, source="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.settimeout(5)
    return s


def served(port, source="127.0.0.1"):
    """One request from `source`: True when it is answered 200."""
    s = connect(port, source)
    try:
        s.sendall(REQUEST)
        status, _, _ = read_response(s)
        return status == 200
    except OSError:
        return False
    finally:
        s.close()


def wait_metric(edge, name, want, timeout=5.0):
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        got = edge.metric(name)
        if got == want:
            return got
        time.sleep(0.05)
    return got


tmp = tmpdir()
site = os.path.join(tmp, "site")
os.makedirs(site)
with open(os.path.join(site, "index.html"), "w") as fh:
    fh.write("hello\n")

# 127.0.0.2 must reach the listener on 127.0.0.1 (any Linux loopback does).
probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    probe.bind(("127.0.0.2", 0))
except OSError as e:
    print(f"SKIP: cannot bind 127.0.0.2 ({e})")
    sys.exit(77)
finally:
    probe.close()

tls_port = free_port()
f = Failures()
e = Edge(tmp, f"""
[limits]
max_connections_per_address = {LIMIT}
{tls_listen(tls_port, make_test_certs(tmp))}
[[origin]]
name = "site"
type = "bucket"
path = "{site}"
[[behavior]]
path_pattern = "*"
origin = "site"
""", workers=2)
e.start()
try:
    f.check(served(e.port), "127.0.0.1 is served before it holds anything")
    held = []
    for _ in range(LIMIT):
        s = connect(e.port)
        s.sendall(b"GET /index.html HTTP/1.1\r\n")  # half a request: the connection stays open, busy
        held.append(s)
    f.eq(wait_metric(e, "meridian_edge_open_connections", LIMIT), LIMIT, "the edge holds the 8 connections")

    ninth = connect(e.port)
    t0 = time.time()
    ninth.sendall(REQUEST)
    closed, got = closed_by_server(ninth, time.time() + 3)
    dt = time.time() - t0
    ninth.close()
    f.check(closed and got == b"", f"the 9th connection from 127.0.0.1 is closed without an answer (got {got[:40]!r})")
    f.check(dt < 1.0, f"... at once ({dt * 1000:.0f} ms)")
    f.eq(wait_metric(e, "meridian_edge_connections_refused_per_address_total", 1), 1,
         "meridian_edge_connections_refused_per_address_total")
    f.check(served(e.port, "127.0.0.2"), "a connection from 127.0.0.2 is served meanwhile")
    f.eq(e.metric("meridian_edge_connections_refused_total"), 0, "max_connections refused nothing")

    # TLS handshakes that fail (plain bytes on the TLS port, from 127.0.0.2) give their place back: more of them
    # than the limit, then that address is still served.
    for _ in range(2 * LIMIT + 4):
        s = connect(tls_port, "127.0.0.2")
        s.sendall(b"\x16\x03\x01\x00\x05hello")  # a TLS record header, then garbage
        closed_by_server(s, time.time() + 3)
        s.close()
    f.check(e.metric_sum("meridian_edge_tls_handshake_errors_total") >= 2 * LIMIT + 4,
            "the 20 TLS connections failed their handshakes")
    f.check(served(e.port, "127.0.0.2"), "127.0.0.2 is served after 20 failed TLS handshakes")

    for s in held:
        s.close()
    f.eq(wait_metric(e, "meridian_edge_open_connections", 0), 0, "the 8 closed")
    f.check(served(e.port), "127.0.0.1 is served again once its 8 connections closed")
    f.eq(e.metric("meridian_edge_connections_refused_per_address_total"), 1, "one refusal in all")
finally:
    rc = e.stop()
f.eq(rc, 0, "the edge stops cleanly")
f.done()
