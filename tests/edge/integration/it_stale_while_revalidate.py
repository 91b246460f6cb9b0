"""stale-while-revalidate (RFC 5861 §3) through the real edge: once an object with max-age=1,
stale-while-revalidate=60 has expired, viewers get the stored copy at once while exactly one background request
refreshes it — even when the origin holds that request (a viewer made to wait would time out here) — and the next
viewers get the refreshed object."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import PY_CATCH_ALL, Failures, edge_before_pyorigin, http_get  # noqa: E402

f = Failures()


def wait_for(cond, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


with edge_before_pyorigin(PY_CATCH_ALL) as (edge, py):
    port = edge.port
    p = "/swr/a"
    st, h, b = http_get(port, p)
    f.eq((st, h.get("x-cache"), b), (200, "Miss from meridian", b"/swr/a #1"), "first request fills")
    time.sleep(1.3)  # past max-age=1
    for i in range(3):
        # The origin holds every refresh until released: an edge that waited would time out here (5 s).
        st, h, b = http_get(port, p, timeout=5)
        f.eq((st, h.get("x-cache"), b), (200, "Hit from meridian", b"/swr/a #1"),
             f"stale request {i + 1}: the stored copy at once")
    f.check(wait_for(lambda: py.count(p) == 2), "one background refresh reached the origin")
    time.sleep(0.3)
    f.eq(py.count(p), 2, "three stale requests caused one refresh, not three")
    py.release.set()
    f.check(wait_for(lambda: http_get(port, p)[2] == b"/swr/a #2"), "the refreshed object is served next")
f.done()
