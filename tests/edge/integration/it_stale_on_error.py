"""Serving stale on origin failure (CloudFront's "origin unavailable" behaviour, RFC 9111 §4.2.4): an expired object
whose revalidation gets a 503 or a reset connection is served from the cache (200, X-Cache Hit, its real Age) to the
leader and to every collapsed waiter, and counted; the origin is still asked each time, and once it answers again
the object is revalidated (RefreshHit). An object stored with must-revalidate, or under a behavior with
serve_stale_on_error = false, gets the error instead; with serve_stale_when_disconnected only an unreachable origin
(reset) is replaced by the stale copy, not its 5xx."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, catch_all, http_get, http_origin, tmpdir  # noqa: E402
from pyorigin import PyOrigin  # noqa: E402

tmp = tmpdir()
f = Failures()
py = PyOrigin()
edge = None
try:
    edge = Edge(tmp, http_origin("py", py.port) + """
[[behavior]]
path_pattern = "/strict/*"
origin = "py"
serve_stale_on_error = false
[[behavior]]
path_pattern = "/disc/*"
origin = "py"
serve_stale_on_error = false
serve_stale_when_disconnected = true
""" + catch_all("py")).start()
    port = edge.port

    paths = ["/a/flaky/ok", "/a/flaky/mr", "/strict/flaky/ok", "/b/flaky/ok", "/disc/flaky/ok", "/disc/flaky/mr"]
    for p in paths:
        st, h, b = http_get(port, p)
        f.eq((st, h.get("x-cache")), (200, "Miss from meridian"), f"{p}: stored")
    time.sleep(1.3)  # every object is stale now (max-age=1)

    py.fail_mode = "503"
    before = py.count("/a/flaky/ok")
    st, h, b = http_get(port, "/a/flaky/ok")
    f.eq((st, h.get("x-cache"), b), (200, "Hit from meridian", b"flaky ok"), "503 on revalidation: the stale copy")
    f.check(int(h.get("age", "0")) >= 1, f"... with its real Age ({h.get('age')})")
    f.eq(py.count("/a/flaky/ok"), before + 1, "... after asking the origin")

    py.fail_mode = "reset"
    st, h, b = http_get(port, "/a/flaky/ok")
    f.eq((st, h.get("x-cache"), b), (200, "Hit from meridian", b"flaky ok"), "reset on revalidation: the stale copy")

    st, h, b = http_get(port, "/a/flaky/mr")
    f.eq(st, 502, "must-revalidate object, origin reset: the error, never the stale copy")
    st, h, b = http_get(port, "/disc/flaky/ok")
    f.eq((st, b), (200, b"flaky ok"), "serve_stale_when_disconnected, origin reset: the stale copy (RFC 9111 §4.2.4)")
    st, h, b = http_get(port, "/disc/flaky/mr")
    f.eq(st, 502, "serve_stale_when_disconnected, must-revalidate object: the error")
    py.fail_mode = "503"
    st, h, b = http_get(port, "/a/flaky/mr")
    f.eq(st, 503, "must-revalidate object, origin 503: the origin's answer")
    st, h, b = http_get(port, "/strict/flaky/ok")
    f.eq(st, 503, "serve_stale_on_error = false: the origin's answer")
    st, h, b = http_get(port, "/disc/flaky/ok")
    f.eq(st, 503, "serve_stale_when_disconnected: a 5xx answer is passed on, not replaced")

    # Collapsed waiters get the stale copy too.
    results = []

    def get():
        results.append(http_get(port, "/b/flaky/ok"))

    threads = [threading.Thread(target=get) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    f.eq(sorted({(r[0], r[2]) for r in results}), [(200, b"flaky ok")], "20 concurrent viewers: all get the stale copy")

    served = edge.metric("meridian_edge_stale_served_total")
    f.check(served is not None and served >= 22, f"meridian_edge_stale_served_total counts them ({served})")

    py.fail_mode = None
    st, h, b = http_get(port, "/a/flaky/ok")
    f.eq((st, h.get("x-cache")), (200, "RefreshHit from meridian"), "origin back: revalidated by a 304")
    st, h, b = http_get(port, "/a/flaky/ok")
    f.eq(h.get("x-cache"), "Hit from meridian", "... and fresh again")

    f.eq(edge.stop(), 0, "SIGTERM exit code")
finally:
    if edge and edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
    py.stop()
f.done()
