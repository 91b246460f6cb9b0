"""What an idle keep-alive HTTPS connection costs the edge: N viewers each make one request over TLS and stay
connected; the edge's RSS growth / N is compared with the same over plain HTTP (each in a fresh edge, so neither
reuses the other's freed memory). The TLS share is OpenSSL's per-connection state (its record buffers are released
when idle), not buffers of our own: an idle TLS connection must not cost more than 27 KiB over a plain one (it cost
37 KiB when the request parser reserved its 40 KiB limits up front, which the handshake's freed buffers made
resident). Sanitizer builds only report the numbers (their allocator pads every block)."""
import os
import resource
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import (ASAN_BUILD, Edge, Failures, bucket_edge_conf, free_port, make_test_certs, read_response,  # noqa: E402
                      rss_mb, tls_listen, tmpdir, wait_port)

N = 600
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * N)), hard))

tmp = tmpdir()
certs = make_test_certs(tmp)
site = os.path.join(tmp, "site")
os.makedirs(site)
with open(os.path.join(site, "index.html"), "w") as fh:
    fh.write("x" * 2000)

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
f = Failures()


def per_connection_kib(tls):
    d = tmpdir()
    # ASan's quarantine (256 MB by default) would keep every buffer freed after a handshake.
    asan = os.environ.get("ASAN_OPTIONS", "")
    tls_port = free_port()
    e = Edge(d, f"""
[limits]
keepalive_timeout = "600s"
{tls_listen(tls_port, certs)}{bucket_edge_conf(site)}""", extra_env={"ASAN_OPTIONS": (asan + ":" if asan else "") + "quarantine_size_mb=8"})
    e.start()
    wait_port(tls_port)

    def connect(n):
        out = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", tls_port if tls else e.port), timeout=30)
            if tls:
                s = ctx.wrap_socket(s, server_hostname="example.test")
            s.sendall(b"GET /index.html HTTP/1.1\r\nHost: example.test\r\n\r\n")
            st, _, body = read_response(s, timeout=30)
            if st != 200 or len(body) != 2000:
                raise RuntimeError(f"request failed: {st}")
            out.append(s)
        return out

    try:
        for s in connect(10):  # first-use allocations (metrics, cache entry, TLS contexts) out of the measure
            s.close()
        time.sleep(1)
        r0 = rss_mb(e.proc.pid)
        conns = connect(N)
        time.sleep(1.5)
        r1 = rss_mb(e.proc.pid)
        f.eq(e.metric("meridian_edge_open_connections"), float(N), f"{N} idle {'TLS' if tls else 'HTTP'} connections")
        for s in conns:
            s.close()
        f.check(e.proc.poll() is None, "edge alive")
        f.eq(e.stop(), 0, "SIGTERM exit code")
    finally:
        e.stop()
    return (r1 - r0) * 1024 / N


http_kib = per_connection_kib(False)
tls_kib = per_connection_kib(True)
print(f"idle keep-alive connection: HTTP {http_kib:.1f} KiB, HTTPS {tls_kib:.1f} KiB "
      f"(TLS adds {tls_kib - http_kib:.1f} KiB), N={N}")
if not ASAN_BUILD:
    f.check(tls_kib - http_kib < 27, f"an idle TLS connection costs < 27 KiB more than a plain one "
            f"({tls_kib - http_kib:.1f})")
f.done()
