"""Cache-Control no-cache and private with field names (RFC 9111 §5.2.2.4, §5.2.2.7) through the real edge and a
scripted origin: the response is stored and reused without revalidation, the viewer whose request filled the cache
gets every field, and no later viewer gets a named one; the unqualified forms keep their meaning."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import PY_CATCH_ALL, Failures, edge_before_pyorigin, http_get  # noqa: E402


def answer(fields, body):
    head = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields) + f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


f = Failures()
with edge_before_pyorigin(PY_CATCH_ALL) as (edge, py):
    port = edge.port
    cases = [  # path, origin fields, fields only the first viewer may get, fields every viewer gets
        ("/q/no-cache", [("Cache-Control", 'max-age=3600, no-cache="X-Foo"'), ("X-Foo", "secret"),
                         ("X-Bar", "kept")], {"x-foo": "secret"}, {"x-bar": "kept"}),
        ("/q/private", [("Cache-Control", 'max-age=3600, private="Set-Cookie"'), ("Set-Cookie", "sid=42"),
                        ("X-Bar", "kept")], {"set-cookie": "sid=42"}, {"x-bar": "kept"}),
        ("/q/two-lines", [("Cache-Control", 'no-cache="a, b"'), ("Cache-Control", "max-age=3600"), ("a", "1"),
                          ("b", "2"), ("c", "3")], {"a": "1", "b": "2"}, {"c": "3"}),
    ]
    for path, fields, private, shared in cases:
        py.scripts[path] = [answer(fields, path.encode())]
        st, h, b = http_get(port, path)
        f.eq((st, b), (200, path.encode()), f"{path}: first answer")
        for k, v in {**private, **shared}.items():
            f.eq(h.get(k), v, f"{path}: the viewer whose request filled the cache gets {k}")
        for i in range(2):
            st, h, b = http_get(port, path)
            f.eq((st, b, h.get("x-cache")), (200, path.encode(), "Hit from meridian"),
                 f"{path}: reused without revalidation ({i})")
            for k in private:
                f.check(k not in h, f"{path}: a reuse never carries {k} ({h.get(k)!r})")
            for k, v in shared.items():
                f.eq(h.get(k), v, f"{path}: a reuse keeps {k}")
        f.eq(py.count(path), 1, f"{path}: the origin asked once")

    # The unqualified forms: private is not stored, no-cache is revalidated on every use.
    py.scripts["/q/private-all"] = [answer([("Cache-Control", "max-age=3600, private"), ("X-Bar", "x")], b"p")]
    for _ in range(2):
        http_get(port, "/q/private-all")
    f.eq(py.count("/q/private-all"), 2, "unqualified private: never stored")
    py.scripts["/q/no-cache-all"] = [answer([("Cache-Control", 'max-age=3600, no-cache, no-cache="X-Foo"'),
                                             ("ETag", '"n"')], b"n")]
    for _ in range(2):
        http_get(port, "/q/no-cache-all")
    f.eq(py.count("/q/no-cache-all"), 2, "unqualified no-cache (beside a qualified one): revalidated on every use")
f.done()
