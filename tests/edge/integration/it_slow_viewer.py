# ctest: COST 60
"""A viewer that reads slowly but steadily is served to the end, however long the body takes (issue: the send
timeout counted only completed writes; behind an autotuned kernel send buffer of megabytes, a viewer reading a few
hundred KB/s completes no write for seconds while it is still being served, and was cut off mid-body after
send_timeout: a short body with no error on the viewer's side). nginx's send_timeout is the time between two
successive writes that make progress; here progress is what the viewer acknowledged.
Over plain HTTP (sendfile from the cache's shared-memory body) and HTTPS (encrypted flights), with a 1 s
send_timeout: each viewer reads 6 MiB at ~1 MB/s, then the rest at full speed; the body must be whole. A viewer
that stops reading is still closed after send_timeout."""
import hashlib
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import (Edge, Failures, bucket_edge_conf, closed_by_server, free_port, make_test_certs,  # noqa: E402
                      skip, tls_listen, tmpdir)

if not os.path.exists("/usr/bin/openssl"):
    skip("openssl not installed")

SEND_TIMEOUT = 1
tmp = tmpdir()
site = os.path.join(tmp, "site")
os.makedirs(site)
big = os.urandom(16 << 20)
with open(os.path.join(site, "big.bin"), "wb") as fh:
    fh.write(big)
certs = make_test_certs(tmp)
tls_port = free_port()

f = Failures()
edge = Edge(tmp, f"""
[limits]
send_timeout = "{SEND_TIMEOUT}s"
keepalive_timeout = "60s"
[cache]
max_bytes = "128MiB"
max_object_bytes = "32MiB"
{tls_listen(tls_port, certs, cert="www.example.test", default=False)}
""" + bucket_edge_conf(site, 'default_ttl = "1h"'))


def slow_read(sock, slow_bytes, rate):
    """Reads `slow_bytes` at about `rate` bytes/s, then the rest as fast as it comes; returns (body ok, length)."""
    got = bytearray()
    t0 = time.time()
    sock.settimeout(20)
    while True:
        want = 16 << 10
        try:
            d = sock.recv(want)
        except (ConnectionResetError, TimeoutError, socket.timeout, ssl.SSLError):
            break
        if not d:
            break
        got += d
        if len(got) < slow_bytes:
            ahead = len(got) / rate - (time.time() - t0)
            if ahead > 0:
                time.sleep(ahead)
    head, _, body = bytes(got).partition(b"\r\n\r\n")
    return head.startswith(b"HTTP/1.1 200") and hashlib.sha256(body).digest() == hashlib.sha256(big).digest(), \
        len(body), time.time() - t0


try:
    edge.start()
    # Warm the cache (a hit is what a CDN serves slowly to phones).
    with socket.create_connection(("127.0.0.1", edge.port), timeout=20) as s:
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        closed_by_server(s, time.time() + 30)

    with socket.create_connection(("127.0.0.1", edge.port), timeout=20) as s:
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        ok, n, took = slow_read(s, 6 << 20, 1 << 20)
    f.check(ok, f"HTTP: a viewer reading ~1 MB/s gets the whole 16 MiB body ({n} bytes in {took:.1f}s, "
                f"send_timeout {SEND_TIMEOUT}s)")

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", tls_port), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname="www.example.test") as s:
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: www.example.test\r\nConnection: close\r\n\r\n")
            ok, n, took = slow_read(s, 6 << 20, 1 << 20)
    f.check(ok, f"HTTPS: a viewer reading ~1 MB/s gets the whole 16 MiB body ({n} bytes in {took:.1f}s)")

    # Still: one that stops reading is closed after send_timeout (not kept alive by its own buffers filling).
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", edge.port))
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a.test\r\n\r\n")
    time.sleep(SEND_TIMEOUT + 3)
    closed, got = closed_by_server(s, time.time() + 10)
    s.close()
    f.check(closed and len(got) < len(big), f"a viewer that stops reading is closed by send_timeout ({len(got)} bytes)")
    f.check(edge.proc.poll() is None, "edge alive")
finally:
    edge.stop()
f.done()
