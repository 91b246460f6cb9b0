"""What an idle keep-alive HTTP/1.1 connection costs the edge: N viewers each make one request and stay connected;
the edge's RSS growth (VmRSS) over N must stay under 8 KiB. An idle connection keeps only its own small state: the
read buffer, the request parser's storage and the response head buffer are a worker's pooled buffers, taken while a
request is in flight and given back after (they cost 44 KiB a connection when each connection kept its own).
Sanitizer builds only report the number (their allocator pads every block)."""
import os
import resource
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import ASAN_BUILD, Edge, Failures, rss_mb, tmpdir  # noqa: E402

N = 2000
LIMIT_KIB = 8
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 2 * N + 200
if hard != resource.RLIM_INFINITY and hard < want:
    print(f"SKIP: the open-files hard limit {hard} is below the {want} this test needs")
    sys.exit(77)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))

tmp = tmpdir()
site = os.path.join(tmp, "site")
os.makedirs(site)
with open(os.path.join(site, "index.html"), "w") as fh:
    fh.write("x" * 1024)

f = Failures()
e = Edge(tmpdir(), f"""
[limits]
keepalive_timeout = "600s"
max_connections = {N + 100}
# All N come from 127.0.0.1.
max_connections_per_address = 0
[[origin]]
name = "site"
type = "bucket"
path = "{site}"
[[behavior]]
path_pattern = "*"
origin = "site"
""")
e.start()

REQ = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\n\r\n"


def connect(n):
    """n connections, each with one answered request (a cache hit after the first), all at once as wrk would."""
    sel = selectors.DefaultSelector()
    socks, got = [], {}
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", e.port), timeout=30)
        s.setblocking(False)
        s.send(REQ)
        socks.append(s)
        got[s] = b""
        sel.register(s, selectors.EVENT_READ)
    deadline = time.time() + 30
    pending = n
    while pending and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            data = s.recv(65536)
            got[s] += data
            head, sep, body = got[s].partition(b"\r\n\r\n")
            if not data or (sep and len(body) >= 1024):
                sel.unregister(s)
                pending -= 1
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"request failed: {head[:40]!r}")
    sel.close()
    if pending:
        raise RuntimeError(f"{pending} of {n} requests unanswered")
    return socks


try:
    for s in connect(50):  # first-use allocations (the cache entry, metrics, a pool's first buffers) out of the measure
        s.close()
    time.sleep(1)
    r0 = rss_mb(e.proc.pid)
    conns = connect(N)
    time.sleep(1)
    r1 = rss_mb(e.proc.pid)
    f.eq(e.metric("meridian_edge_open_connections"), float(N), f"{N} idle connections")
    kib = (r1 - r0) * 1024 / N
    print(f"idle keep-alive HTTP/1.1 connection: {kib:.2f} KiB (RSS {r0:.1f} -> {r1:.1f} MiB, N={N})")
    if not ASAN_BUILD:
        f.check(kib < LIMIT_KIB, f"an idle keep-alive connection costs < {LIMIT_KIB} KiB ({kib:.2f})")
    for s in conns:
        s.close()
    f.check(e.proc.poll() is None, "edge alive")
    f.eq(e.stop(), 0, "SIGTERM exit code")
finally:
    e.stop()
f.done()
