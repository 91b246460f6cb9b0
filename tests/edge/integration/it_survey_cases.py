"""Cases of the public RFC 9111 conformance survey (cache-tests) the edge used to fail, through the real edge with the
strict profile's TTL settings (no minimum or default TTL): a response of any final status with explicit freshness is
reused (a 503 with max-age, an unknown 299), none without it; must-understand with an unknown status is never
stored; an Age line holding a list counts by its first member; a CDN-Cache-Control that is not an RFC 8941
Dictionary is ignored (Cache-Control then decides), as is a wrong-typed directive in one; allowed_methods = "ALL"
forwards M-SEARCH (and it invalidates like any unsafe method) but refuses TRACE."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Failures, catch_all, edge_before_pyorigin, http_get  # noqa: E402


def answer(status, reason, fields, body=b"x"):
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n" + "".join(f"{k}: {v}\r\n"
                                                                                       for k, v in fields)
    return head.encode() + b"\r\n" + body


f = Failures()
with edge_before_pyorigin(catch_all("py", "compress = false", 'allowed_methods = "ALL"', 'min_ttl = "0s"',
                                    'default_ttl = "0s"', 'error_ttl = "0s"')) as (edge, py):
    port = edge.port

    def twice(path, script):
        py.scripts[path] = [script]
        a = http_get(port, path)
        b = http_get(port, path)
        return a, b, py.count(path)

    (s1, _, _), (s2, h2, _), n = twice("/s/503-fresh", answer(503, "Service Unavailable",
                                                               [("Cache-Control", "max-age=60")]))
    f.eq((s1, s2, n), (503, 503, 1), "a 503 with max-age=60 is stored and reused (origin asked once)")
    # X-Cache says "Error from meridian" for any error status, as CloudFront does; Cache-Status tells the hit.
    f.eq("; hit" in (h2.get("cache-status") or ""), True, "the second 503 is a hit (Cache-Status)")
    _, _, n = twice("/s/503-bare", answer(503, "Service Unavailable", []))
    f.eq(n, 2, "a 503 without explicit freshness is not stored")
    (s1, _, _), (s2, _, _), n = twice("/s/299", answer(299, "Whatever", [("Cache-Control", "max-age=60")]))
    f.eq((s1, s2, n), (299, 299, 1), "an unknown status (299) with max-age is stored and reused")
    _, _, n = twice("/s/299-mu", answer(299, "Whatever", [("Cache-Control", "max-age=60, must-understand, no-store")]))
    f.eq(n, 2, "must-understand with a status the edge does not understand: not stored")
    _, _, n = twice("/s/200-mu", answer(200, "OK", [("Cache-Control", "max-age=60, must-understand, no-store")]))
    f.eq(n, 1, "must-understand with 200: stored despite no-store")

    _, _, n = twice("/s/age-list", answer(200, "OK", [("Cache-Control", "max-age=3600"), ("Age", "7200, 0")]))
    f.eq(n, 2, "Age: 7200, 0 makes a max-age=3600 answer stale at once (first member counts)")
    _, _, n = twice("/s/age-ok", answer(200, "OK", [("Cache-Control", "max-age=3600"), ("Age", "100, 7200")]))
    f.eq(n, 1, "Age: 100, 7200 leaves it fresh")

    _, _, n = twice("/s/cdn-bad", answer(200, "OK", [("CDN-Cache-Control", "max-age=10000, &&&&&"),
                                                     ("Cache-Control", "no-store")]))
    f.eq(n, 2, "an invalid CDN-Cache-Control is ignored: Cache-Control: no-store decides")
    _, _, n = twice("/s/cdn-type", answer(200, "OK", [("CDN-Cache-Control", 'max-age="10000"'),
                                                      ("Cache-Control", "no-store")]))
    f.eq(n, 2, "a wrong-typed CDN-Cache-Control max-age is ignored")
    (_, h1, _), _, n = twice("/s/cdn-good", answer(200, "OK", [("CDN-Cache-Control", "max-age=10000"),
                                                               ("Cache-Control", "no-store")]))
    f.eq(n, 1, "a valid CDN-Cache-Control still outranks Cache-Control")
    f.eq(h1.get("cdn-cache-control"), None, "and is not passed on to the viewer")

    http_get(port, "/inv/m")
    f.eq(http_get(port, "/inv/m")[1].get("x-cache"), "Hit from meridian", "/inv/m is cached")
    st, _, _ = http_get(port, "/inv/m", method="M-SEARCH")
    f.eq(st, 201, "M-SEARCH reaches the origin")
    f.eq(py.count("/inv/m"), 2, "the origin saw the M-SEARCH")
    f.eq(http_get(port, "/inv/m")[1].get("x-cache"), "Miss from meridian", "M-SEARCH invalidated /inv/m")
    st, h, _ = http_get(port, "/inv/m", method="TRACE")
    f.eq(st, 405, "TRACE is refused")
    f.eq(py.count("/inv/m"), 3, "TRACE never reached the origin")
f.done()
