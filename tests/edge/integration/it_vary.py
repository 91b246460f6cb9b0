"""Responses that Vary on request fields (RFC 9111 §4.1) through the real edge: each variant is stored and reused
for the requests whose fields select it — never for another (a different value, a missing field, fields of two
names); Vary: * is never reused; collapsed requests with other fields fetch for themselves instead of getting the
leader's variant; an unsafe request to the URI drops every variant; an invalidation by path (the API) does too. The
bodies name the field values the origin saw, so a wrong variant shows as wrong bytes."""
import concurrent.futures
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Failures, catch_all, edge_before_pyorigin, http_get, tmpdir  # noqa: E402

f = Failures()
tmp = tmpdir()
TOKEN = "vary-token-0123456789"
with open(os.path.join(tmp, "token"), "w") as fh:
    fh.write(TOKEN + "\n")
with edge_before_pyorigin(tmp=tmp, conf_tail=f"""
[invalidation]
token_file = "{os.path.join(tmp, 'token')}"
""" + catch_all("py", "compress = false", 'allowed_methods = "ALL"')) as (edge, py):
    port = edge.port

    def get(path, **hdrs):
        st, h, b = http_get(port, path, headers=hdrs)
        return h.get("x-cache"), b.decode().split(" #")[0]

    p = "/vary/foo/a"
    f.eq(get(p, Foo="1"), ("Miss from meridian", "foo=1;"), "Foo: 1 fetched")
    f.eq(get(p, Foo="1"), ("Hit from meridian", "foo=1;"), "Foo: 1 reused")
    f.eq(get(p, Foo="2"), ("Miss from meridian", "foo=2;"), "Foo: 2 is another variant")
    f.eq(get(p, Foo="2"), ("Hit from meridian", "foo=2;"), "Foo: 2 reused")
    f.eq(get(p), ("Miss from meridian", "foo=-;"), "no Foo is another variant")
    f.eq(get(p), ("Hit from meridian", "foo=-;"), "no Foo reused")
    f.eq(get(p, Foo="1"), ("Hit from meridian", "foo=1;"), "Foo: 1 still its own")
    f.eq(py.count(p), 3, "one fetch per variant")

    p = "/vary/foo+bar/b"
    f.eq(get(p, Foo="1", Bar="x"), ("Miss from meridian", "foo=1;bar=x;"), "two fields fetched")
    f.eq(get(p, Foo="1", Bar="x"), ("Hit from meridian", "foo=1;bar=x;"), "two fields reused")
    f.eq(get(p, Foo="1", Bar="y"), ("Miss from meridian", "foo=1;bar=y;"), "one field differs: another variant")
    f.eq(get(p, Foo="1"), ("Miss from meridian", "foo=1;bar=-;"), "one field missing: another variant")

    p = "/vary/star/c"
    get(p)
    f.eq(get(p)[0], "Miss from meridian", "Vary: * is never reused")

    # Collapsed misses: many requests at once while the origin takes 0.3 s, half Foo: 1, half Foo: 2; each gets its
    # own value (the ones collapsed onto another value's fetch fetch for themselves).
    p = "/vary/foo/d-slow"
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        futs = [(v, ex.submit(get, p, Foo=v)) for v in ["1", "2"] * 8]
        wrong = [(v, fu.result()[1]) for v, fu in futs if fu.result()[1] != f"foo={v};"]
    f.eq(wrong, [], "every collapsed request got the variant of its own Foo")
    f.eq(get(p, Foo="2")[1], "foo=2;", "and later ones too")

    # An unsafe request to the URI drops every variant.
    p = "/vary/foo/e"
    for v in ("1", "2"):
        get(p, Foo=v)
        f.eq(get(p, Foo=v)[0], "Hit from meridian", f"Foo: {v} cached")
    st, _, _ = http_get(port, p, method="POST", body=b"x")
    f.eq(st, 201, "POST passed on")
    f.eq(get(p, Foo="1")[0], "Miss from meridian", "after POST, Foo: 1 is fetched again")
    f.eq(get(p, Foo="2")[0], "Miss from meridian", "after POST, Foo: 2 is fetched again")

    # The invalidation API by path drops variants too.
    p = "/vary/foo/f"
    for v in ("1", "2"):
        get(p, Foo=v)
    st, _, body = http_get(edge.admin_port, "/_meridian/invalidate", method="POST",
                           headers={"Authorization": f"Bearer {TOKEN}"}, body=json.dumps({"paths": [p]}).encode())
    f.eq(st in (200, 201, 202), True, f"invalidation accepted ({st} {body[:120]!r})")
    f.eq(get(p, Foo="1")[0], "Miss from meridian", "after the purge, Foo: 1 is fetched again")
    f.eq(get(p, Foo="2")[0], "Miss from meridian", "after the purge, Foo: 2 is fetched again")
f.done()
