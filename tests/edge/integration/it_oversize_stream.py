"""Cacheable responses without a length that turn out larger than max_object_bytes (issue 11, item 2) must reach the
viewer whole — chunked or close-delimited, to the leader and to collapsed waiters, HTTP/1.1 and HTTP/1.0 — uncached
and counted in meridian_edge_oversize_passes_total. Before, the fill failed at the limit and the viewer's connection
was cut (curl error 18: 5-100 MB bodies arrived as 0.1-4 MB). An origin that dies in the middle of such a body must
still cut the viewer (never a short body presented as complete)."""
import hashlib
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, catch_all, http_get, http_origin, tmpdir  # noqa: E402
from pyorigin import PyOrigin, body_of  # noqa: E402




def curl(port, path, http10=False, out=None):
    cmd = ["curl", "-s", "-o", out or "/dev/null", "-w", "%{http_code} %{size_download}", "--max-time", "60"]
    if http10:
        cmd.append("--http1.0")
    p = subprocess.run(cmd + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True)
    return p.returncode, p.stdout


tmp = tmpdir()
f = Failures()
origin = PyOrigin("lengthless")
edge = None
try:
    edge = Edge(tmp, http_origin("o", origin.port) + """
[cache]
max_bytes = "64MiB"
max_object_bytes = "1MiB"
""" + catch_all("o"), workers=2).start()
    port = edge.port

    cases = [("chunked", 5 << 20, False), ("close", 5 << 20, False), ("chunked", 40 << 20, False),
             ("close", 3 << 20, True), ("chunked", 3 << 20, True)]
    for mode, size, http10 in cases:
        path = f"/{mode}/{size}/one{'-10' if http10 else ''}"
        out = os.path.join(tmp, "body")
        rc, res = curl(port, path, http10, out)
        with open(out, "rb") as fh:
            got = fh.read()
        f.eq((rc, res), (0, f"200 {size}"), f"{mode} {size >> 20} MiB{' HTTP/1.0' if http10 else ''}: whole")
        f.check(hashlib.sha256(got).digest() == hashlib.sha256(body_of(path, size)).digest(), "... byte-exact")

    # Collapsed viewers of one oversize fill: every one gets the whole body.
    path = f"/chunked/{8 << 20}/collapsed"
    results = []
    threads = [threading.Thread(target=lambda: results.append(curl(port, path))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    f.eq(sorted(results), [(0, f"200 {8 << 20}")] * 4, "4 collapsed viewers of an 8 MiB chunked body: all whole")

    # Not cached: a second request is a miss again.
    st, h, b = http_get(port, f"/chunked/{2 << 20}/twice", timeout=30)
    st2, h2, b2 = http_get(port, f"/chunked/{2 << 20}/twice", timeout=30)
    f.eq((st2, len(b2), h2.get("x-cache")), (200, 2 << 20, "Miss from meridian"), "oversize bodies are not stored")
    # ... and the key is remembered as hit-for-miss, so the second request passed straight through.
    hfm = edge.metric("meridian_edge_hit_for_miss_passes_total")
    f.check(hfm is not None and hfm >= 1, f"the second request passed through as hit-for-miss ({hfm})")

    # An origin that dies mid-body: the viewer's connection is cut (curl 18), never a complete-looking short body.
    rc, res = curl(port, f"/dies/{6 << 20}/x")
    # (A 502 is right too when the reset came before the viewer's head was sent: a whole, honest answer.)
    f.check(rc in (18, 56) or (rc == 0 and res.startswith("502 ")),
            f"origin reset mid-body: the viewer sees a cut transfer or a 502 (curl exit {rc}, {res})")

    # One that would fit the cache, dying at 400 KiB: past its 48 KiB heap head, inside the shared-memory file its
    # body went on in. Cut the same way, and not stored: the next request asks the origin again.
    small = f"/dies/{800 << 10}/fits"
    for round in ("first", "again"):
        rc, res = curl(port, small)
        f.check(rc in (18, 56) or (rc == 0 and res.startswith("502 ")),
                f"origin reset at 400 KiB, {round}: a cut transfer or a 502 (curl exit {rc}, {res})")
    f.eq(origin.count(small), 2, "the body cut at 400 KiB was not stored")

    passes = edge.metric("meridian_edge_oversize_passes_total")
    f.check(passes is not None and passes >= 6, f"meridian_edge_oversize_passes_total counts them ({passes})")
    f.check("passed through uncached" in edge.log(), "a log line says so")
    f.check(edge.proc.poll() is None, "meridian-edge still running")
finally:
    if edge:
        edge.stop()
f.done()
