"""RFC 9111 §4.4 through the real edge: a non-error answer to an unsafe request (POST, PUT, DELETE, PATCH) drops the
stored answer for its target URI and for its Location on the same host, so the next GET goes to the origin; an error
answer, or a Location on another host, drops nothing (nginx proxy_cache and Varnish keep serving the old object in
both cases; RFC 9111 says a cache MUST invalidate)."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Failures, catch_all, edge_before_pyorigin, http_get  # noqa: E402

f = Failures()
with edge_before_pyorigin(catch_all("py", "compress = false", 'allowed_methods = "ALL"')) as (edge, py):
    port = edge.port

    def get(path):
        st, h, b = http_get(port, path)
        return h.get("x-cache"), b.decode()

    for p in ("/inv/a", "/inv/b", "/inv/c"):
        get(p)
        f.eq(get(p)[0], "Hit from meridian", f"{p} is cached")

    for method in ("POST", "PUT", "DELETE", "PATCH"):
        st, h, b = http_get(port, "/inv/a", method=method, body=b"x", headers={"X-Location": "/inv/b"})
        f.eq(st, 201, f"{method}: the origin's answer is passed on")
        f.eq(get("/inv/a")[0], "Miss from meridian", f"{method}: the target is fetched again")
        f.eq(get("/inv/b")[0], "Miss from meridian", f"{method}: the Location is fetched again")
        f.eq(get("/inv/c")[0], "Hit from meridian", f"{method}: other objects stay")

    http_get(port, "/inv/a", method="POST", body=b"x", headers={"X-Location": "http://elsewhere.test/inv/b"})
    get("/inv/a")
    f.eq(get("/inv/b")[0], "Hit from meridian", "a Location on another host drops nothing")
    f.eq(py.count("/inv/c"), 1, "the origin saw /inv/c once")
f.done()
