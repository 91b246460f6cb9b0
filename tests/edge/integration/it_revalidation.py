"""RFC 9111 revalidation through meridian-edge, against a scripted origin that answers If-None-Match with a bare 304:
a `Cache-Control: no-cache` object with an ETag is stored and revalidated on every use (RefreshHit, the origin sees
If-None-Match) instead of being passed through; a max-age=2 object refreshed by a 304 without Cache-Control keeps
max-age=2 (§4.3.4: the stored headers still apply), not the behavior's default_ttl; a 304 that carries new
Cache-Control and other fields updates the stored headers (§3.2), keeping the body."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, catch_all, http_get, http_origin, tmpdir  # noqa: E402
from pyorigin import PyOrigin  # noqa: E402

tmp = tmpdir()
f = Failures()
py = PyOrigin()
edge = None
try:
    edge = Edge(tmp, http_origin("py", py.port) + catch_all("py", 'default_ttl = "1h"')).start()
    port = edge.port

    # no-cache + ETag: stored, then revalidated on each request.
    p = "/py/validate/nocache"
    st, h, b = http_get(port, p)
    f.eq((st, h.get("x-cache"), b), (200, "Miss from meridian", b"body of nocache"), "no-cache: first request")
    for i in range(2):
        st, h, b = http_get(port, p)
        f.eq((st, h.get("x-cache"), b), (200, "RefreshHit from meridian", b"body of nocache"),
             f"no-cache: request {i + 2} revalidated, served from the cache")
    f.eq(py.count(p), 3, "no-cache: the origin is asked every time")
    f.eq([c for c in py.conditional if c[0] == p], [(p, '"v-nocache"')] * 2,
         "no-cache: the revalidations carry If-None-Match with the stored ETag")

    # max-age=2, then a 304 without Cache-Control: still max-age=2.
    p = "/py/validate/maxage2"
    st, h, b = http_get(port, p)
    f.eq(h.get("x-cache"), "Miss from meridian", "max-age=2: miss")
    st, h, b = http_get(port, p)
    f.eq(h.get("x-cache"), "Hit from meridian", "max-age=2: hit while fresh")
    time.sleep(2.2)
    st, h, b = http_get(port, p)
    f.eq((st, h.get("x-cache"), b), (200, "RefreshHit from meridian", b"body of maxage2"),
         "max-age=2: stale → revalidated by a 304")
    st, h, b = http_get(port, p)
    f.eq(h.get("x-cache"), "Hit from meridian", "max-age=2: fresh again after the 304")
    time.sleep(2.2)
    st, h, b = http_get(port, p)
    f.eq(h.get("x-cache"), "RefreshHit from meridian",
         "max-age=2: the 304 kept max-age=2 (a default_ttl of 1h would still be a Hit)")
    f.eq(py.count(p), 3, "max-age=2: one miss and two revalidations reached the origin")

    # A 304 with new headers updates the stored ones (§3.2): the viewer sees them, and the new max-age applies.
    p = "/py/validate/update"
    st, h, b = http_get(port, p)
    f.eq((h.get("x-cache"), h.get("x-version"), h.get("cache-control")), ("Miss from meridian", "1", "max-age=1"),
         "update: stored with X-Version 1, max-age=1")
    time.sleep(1.2)
    st, h, b = http_get(port, p)
    f.eq((st, h.get("x-cache"), h.get("x-version"), h.get("cache-control"), b),
         (200, "RefreshHit from meridian", "2", "max-age=60", b"body of update"),
         "update: the 304's X-Version and Cache-Control replace the stored ones, the body stays")
    time.sleep(1.2)
    st, h, b = http_get(port, p)
    f.eq((h.get("x-cache"), h.get("x-version"), h.get("etag")), ("Hit from meridian", "2", '"v-update"'),
         "update: fresh for the new max-age=60, validators kept")
    f.eq(py.count(p), 2, "update: one miss and one revalidation reached the origin")

    f.eq(edge.stop(), 0, "SIGTERM exit code")
finally:
    py.stop()
    if edge and edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
f.done()
