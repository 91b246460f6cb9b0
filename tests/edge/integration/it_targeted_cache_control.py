"""CDN-Cache-Control (RFC 9213) and Surrogate-Control through the real edge: the targeted field decides whether and
how long the edge stores an answer, Cache-Control (and Expires) only what viewers and browsers do, and viewers never
see the targeted fields — on a miss, a hit or a pass-through."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import PY_CATCH_ALL, Failures, edge_before_pyorigin, http_get  # noqa: E402

f = Failures()
with edge_before_pyorigin(PY_CATCH_ALL) as (edge, py):
    port = edge.port
    cases = [  # path, stored by the edge, Cache-Control the viewer gets
        ("/tgt/cdn/a", True, "no-store"),
        ("/tgt/surrogate/a", True, "private"),
        ("/tgt/cdnnostore/a", False, "max-age=60"),
    ]
    for path, stored, cc in cases:
        results = [http_get(port, path) for _ in range(3)]
        for st, h, b in results:
            f.eq((st, h.get("cache-control")), (200, cc), f"{path}: 200 with the origin's Cache-Control")
            f.check("cdn-cache-control" not in h and "surrogate-control" not in h,
                    f"{path}: no targeted field reaches the viewer ({h.get('x-cache')})")
        f.eq(py.count(path), 1 if stored else 3, f"{path}: the origin is asked {'once' if stored else 'every time'}")
        if stored:
            f.eq(results[-1][1].get("x-cache"), "Hit from meridian", f"{path}: stored per the targeted field")
f.done()
