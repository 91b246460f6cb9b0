"""No heap allocation on the cache-hit path: meridian-edge runs with an LD_PRELOAD malloc counter (built here from
malloc_counter.c); after warm-up, N and then 4N keep-alive hits on open connections (access log on, 1 worker) must
not add allocations proportional to N; the same for ranged hits, conditional hits answered 304, for hits on a compressed (br) variant, for
hits sent with sendfile from a shared-memory file, and for hits through a behavior that rewrites its path and applies
a response headers policy (stored fields filtered into the head buffer, CORS from the request's Origin). Skipped
under ASan (its allocator cannot be interposed)."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import EDGE, Edge, Failures, bucket_origin, catch_all, read_response, skip, tmpdir  # noqa: E402

if not os.access(EDGE, os.X_OK):
    skip(f"meridian-edge not built at {EDGE}")
ldd = subprocess.run(["ldd", EDGE], capture_output=True, text=True).stdout
if "libasan" in ldd or "libtsan" in ldd:
    skip("sanitizer build: its allocator cannot be counted with LD_PRELOAD")
cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
if not cc:
    skip("no C compiler to build the malloc counter")

tmp = tmpdir()
lib = os.path.join(tmp, "malloc_counter.so")
subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", lib, os.path.join(os.path.dirname(__file__), "malloc_counter.c"),
                "-ldl"], check=True)
count_file = os.path.join(tmp, "count")
site = os.path.join(tmp, "site")
os.makedirs(site)
for name in ("one.bin", "two.bin"):
    with open(os.path.join(site, name), "wb") as fh:
        fh.write(os.urandom(1024))
with open(os.path.join(site, "big.bin"), "wb") as fh:
    fh.write(os.urandom(200_000))  # over 64 KiB: kept in a shared-memory file and sent with sendfile
with open(os.path.join(site, "app.js"), "wb") as fh:
    fh.write(b"function hit() { return 'alloc'; }\n" * 600)  # text/javascript, 21 KB: gets a br variant

f = Failures()
edge = Edge(tmp, bucket_origin("site", site) + """
[[response_headers_policy]]
name = "p"
cache_control = "public, max-age=31536000, immutable"
content_type_options = true
remove_headers = ["Last-Modified"]
cors_allow_origins = ["https://app.example.com"]
[[behavior]]
path_pattern = "/p/*"
origin = "site"
rewrite_path = "/one.bin"
response_headers_policy = "p"
""" + catch_all("site"), workers=1, extra_env={"LD_PRELOAD": lib, "MALLOC_COUNT_FILE": count_file})


def allocations():
    if os.path.exists(count_file):
        os.remove(count_file)
    edge.proc.send_signal(signal.SIGUSR2)
    for _ in range(100):
        if os.path.exists(count_file):
            txt = open(count_file).read()
            if txt.endswith("\n"):
                return int(txt)
        time.sleep(0.02)
    raise RuntimeError("malloc counter did not answer")


REQ = b"GET /one.bin HTTP/1.1\r\nHost: alloc.test\r\nUser-Agent: it\r\n\r\n"


RANGE_REQ = b"GET /one.bin HTTP/1.1\r\nHost: alloc.test\r\nRange: bytes=100-199\r\n\r\n"


def hits(conns, n, req=REQ, status=200, length=1024):
    for i in range(n):
        s = conns[i % len(conns)]
        s.sendall(req)
        st, h, body = read_response(s)
        if st != status or (length is not None and len(body) != length):
            raise RuntimeError(f"bad answer {st}")
        if i >= 0 and h.get("x-cache") != "Hit from meridian" and n > 10:
            raise RuntimeError(f"not a hit: {h.get('x-cache')}")


try:
    edge.start()
    conns = [socket.create_connection(("127.0.0.1", edge.port), timeout=5) for _ in range(4)]
    s0 = conns[0]
    s0.sendall(REQ)
    read_response(s0)  # the miss that fills the cache
    hits(conns, 400)   # warm-up: buffers reach their working size
    a0 = allocations()
    n = 2000
    hits(conns, n)
    a1 = allocations()
    hits(conns, 4 * n)
    a2 = allocations()
    d1, d2 = a1 - a0, a2 - a1
    print(f"allocations: {d1} over {n} hits, {d2} over {4 * n} hits")
    # Allocation-free means a constant (near zero), not one per request: 4x the hits must not add 4x allocations.
    f.check(d1 < n // 20, f"{d1} allocations over {n} hits")
    f.check(d2 < n // 20, f"{d2} allocations over {4 * n} hits (must not grow with N)")
    # Ranged hits (206 from slices of the stored body) are on the hit path too.
    hits(conns, 400, RANGE_REQ, 206, 100)
    r0 = allocations()
    hits(conns, n, RANGE_REQ, 206, 100)
    r1 = allocations()
    print(f"allocations: {r1 - r0} over {n} ranged hits")
    f.check(r1 - r0 < n // 20, f"{r1 - r0} allocations over {n} ranged hits")
    # Conditional hits answered 304 from the cache (the stored fields a 304 carries are copied from the stored block).
    s0.sendall(REQ)
    etag = read_response(s0)[1]["etag"]
    NM_REQ = REQ.replace(b"\r\n\r\n", b"\r\nIf-None-Match: " + etag.encode() + b"\r\n\r\n")
    hits(conns, 400, NM_REQ, 304, 0)
    c0 = allocations()
    hits(conns, n, NM_REQ, 304, 0)
    c1 = allocations()
    print(f"allocations: {c1 - c0} over {n} conditional (304) hits")
    f.check(c1 - c0 < n // 20, f"{c1 - c0} allocations over {n} conditional (304) hits")
    # Hits on a compressed variant: negotiation, variant key, two lookups (identity, variant), the tie check.
    BR_REQ = b"GET /app.js HTTP/1.1\r\nHost: alloc.test\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n"
    s0.sendall(BR_REQ)
    st, h, body = read_response(s0)  # the miss: fill, then compression on the threadpool
    f.eq((st, h.get("content-encoding")), (200, "br"), "the first br request gets br")
    br_len = len(body)
    hits(conns, 400, BR_REQ, 200, br_len)
    b0 = allocations()
    hits(conns, n, BR_REQ, 200, br_len)
    b1 = allocations()
    s0.sendall(BR_REQ)
    st, h, body = read_response(s0)
    f.eq((h.get("content-encoding"), h.get("x-cache"), len(body)), ("br", "Hit from meridian", br_len), "br hit")
    print(f"allocations: {b1 - b0} over {n} br variant hits")
    f.check(b1 - b0 < n // 20, f"{b1 - b0} allocations over {n} br variant hits")
    # Hits sent with sendfile from a shared-memory file (bodies of 64 KiB and more).
    BIG_REQ = REQ.replace(b"one.bin", b"big.bin")
    s0.sendall(BIG_REQ)
    read_response(s0)  # the miss
    hits(conns, 200, BIG_REQ, 200, 200_000)
    g0 = allocations()
    hits(conns, n // 2, BIG_REQ, 200, 200_000)
    g1 = allocations()
    print(f"allocations: {g1 - g0} over {n // 2} sendfile hits")
    f.check(g1 - g0 < n // 40, f"{g1 - g0} allocations over {n // 2} sendfile hits")
    # Hits through a rewrite and a response headers policy: the stored block is filtered into the head buffer.
    P_REQ = b"GET /p/any/route HTTP/1.1\r\nHost: alloc.test\r\nOrigin: https://app.example.com\r\n\r\n"
    s0.sendall(P_REQ)
    st, h, body = read_response(s0)
    f.eq((st, h.get("x-cache"), h.get("cache-control"), h.get("access-control-allow-origin"), "last-modified" in h),
         (200, "Hit from meridian", "public, max-age=31536000, immutable", "https://app.example.com", False),
         "a hit through the policy")
    hits(conns, 400, P_REQ, 200, 1024)
    p0 = allocations()
    hits(conns, n, P_REQ, 200, 1024)
    p1 = allocations()
    print(f"allocations: {p1 - p0} over {n} hits with a rewrite and a response headers policy")
    f.check(p1 - p0 < n // 20, f"{p1 - p0} allocations over {n} hits with a response headers policy")
    # HTTP/2 hits (h2c prior knowledge, one connection, 8 streams at a time): streams are pooled per connection and
    # heads, bodies and frames go through reused buffers, so what is left per request is nghttp2's own (its stream
    # state, the response's header copy and outbound items): a small constant, never growing with the body.
    if shutil.which("h2load"):
        def h2hits(k):
            out = subprocess.run(["h2load", "-n", str(k), "-c", "1", "-m", "8", f"http://127.0.0.1:{edge.port}/one.bin"],
                                 capture_output=True, text=True, timeout=60).stdout
            if f"{k} succeeded" not in out:
                raise RuntimeError("h2load failed: " + out[-400:])
        h2hits(400)
        h0 = allocations()
        h2hits(n)
        h1 = allocations()
        h2hits(4 * n)
        h2a = allocations()
        per1, per4 = (h1 - h0) / n, (h2a - h1) / (4 * n)
        print(f"allocations: {per1:.2f} per HTTP/2 hit over {n}, {per4:.2f} over {4 * n} (nghttp2's own)")
        f.check(per4 < 8 and per4 <= per1 + 0.5, f"HTTP/2 hits: {per4:.2f} allocations per request (nghttp2's own)")
    a2 = allocations()
    # The counter itself must see allocations where there are some: a miss allocates (fill, object, exchange).
    s0.sendall(REQ.replace(b"one.bin", b"two.bin"))
    read_response(s0)
    a3 = allocations()
    f.check(a3 - a2 > 5, f"the counter sees the miss path allocate ({a3 - a2})")
    for s in conns:
        s.close()
    f.eq(edge.stop(), 0, "exit code")
finally:
    if edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
    shutil.rmtree(tmp, ignore_errors=True)
f.done()
