"""GET /_meridian/cache on the edge's admin listener: a file of a bucket origin requested twice is reported cached,
with its key, a size equal to the file's, and an age that grows while the report itself leaves the object alone;
an answer that Varies lists its variants with the fields that select them, and compressed copies are listed
beside their object; tags (Surrogate-Key, Cache-Tag) are listed; an uncached URL answers 404 {"cached": false};
bad parameters answer 400 with a usage line; format=text reads as text."""
import json
import os
import shutil
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Failures, bucket_origin, catch_all, edge_before_pyorigin, http_get, tmpdir  # noqa: E402

SITE = os.path.join(os.environ.get("MERIDIAN_SRC", "."), "conf/demo/site")
HOST = "www.example.test"

f = Failures()
tmp = tmpdir()
site = os.path.join(tmp, "site")
shutil.copytree(SITE, site)
with open(os.path.join(site, "big.css"), "w") as fh:  # compressible, large enough to get compressed variants
    fh.write("body { color: #123456; margin: 0 auto; }\n" * 200)
with edge_before_pyorigin(tmp=tmp, conf_tail=bucket_origin("bucket", site) + """
[[behavior]]
path_pattern = "/vary/*"
origin = "py"
compress = false
[[behavior]]
path_pattern = "/inv/*"
origin = "py"
compress = false
""" + catch_all("bucket", 'default_ttl = "300s"')) as (edge, py):

    def get(path, **hdrs):
        st, h, _ = http_get(edge.port, path, headers={"Host": HOST, **hdrs})
        return st, h.get("x-cache")

    def report(query, raw=False):
        st, h, body = http_get(edge.admin_port, "/_meridian/cache?" + query)
        if raw:
            return st, h, body.decode()
        try:
            return st, json.loads(body)
        except ValueError:
            f.check(False, f"the report is JSON: {body[:200]!r}")
            return st, {}

    def q(url, host=HOST, **more):
        return urllib.parse.urlencode({"url": url, "host": host, **more})

    index = os.path.join(site, "index.html")
    size = os.path.getsize(index)
    f.eq(get("/index.html"), (200, "Miss from meridian"), "first GET is a miss")
    f.eq(get("/index.html"), (200, "Hit from meridian"), "second GET is a hit")

    st, r = report(q("/index.html"))
    f.eq(st, 200, "cached object: 200")
    f.eq(r.get("cached"), True, "cached = true")
    f.eq(r.get("key"), f"{HOST}/index.html", "the key: host + path")
    obj = r.get("object") or {}
    f.eq(obj.get("size"), size, "size is the file's")
    f.eq(obj.get("status"), 200, "status")
    f.check(obj.get("content_type", "").startswith("text/html"), f"content type ({obj.get('content_type')!r})")
    f.eq(obj.get("freshness_lifetime"), 300, "freshness lifetime is the behavior's default_ttl")
    f.check(0 < obj.get("freshness_left", 0) <= 300, f"freshness left ({obj.get('freshness_left')})")
    f.eq(r.get("variants"), [], "no variants")
    age1 = obj.get("age", -1)

    # An absolute URL names the host itself; the report reads the same.
    st, r2 = report(urllib.parse.urlencode({"url": f"http://{HOST}/index.html"}))
    f.eq((st, r2.get("key")), (200, f"{HOST}/index.html"), "absolute url")

    time.sleep(2.2)
    st, r = report(q("/index.html"))
    age2 = (r.get("object") or {}).get("age", -1)
    f.check(age2 >= age1 + 2, f"age grows ({age1} then {age2})")
    f.check((r.get("object") or {}).get("freshness_left", 999) <= 300 - 2, "freshness left shrinks")
    f.eq(get("/index.html"), (200, "Hit from meridian"), "the report left the object in place")

    # Vary: each variant listed with the request fields that select it.
    p = "/vary/foo/a"
    get(p, Foo="1")
    get(p, Foo="2")
    get(p)
    st, r = report(q(p))
    f.eq((st, r.get("cached")), (200, True), "a Vary'd URL is cached")
    f.eq(r.get("vary"), ["foo"], "the fields it varies on")
    f.eq((r.get("object") or {}).get("kind"), "vary-marker", "the plain key holds the marker")
    sel = sorted(tuple(v.get("selects", [])) for v in r.get("variants", []))
    f.eq(sel, [("foo!",), ("foo:1",), ("foo:2",)], "three variants, by their Foo")
    f.check(all(v.get("kind") == "variant" and v.get("size", 0) > 0 for v in r.get("variants", [])),
            "each variant has its size")

    # Compressed copies are listed beside the object they were made from.
    for _ in range(50):
        get("/big.css", **{"Accept-Encoding": "gzip"})
        st, r = report(q("/big.css"))
        if any(v.get("kind") == "gzip" for v in r.get("variants", [])):
            break
        time.sleep(0.1)
    gz = [v for v in r.get("variants", []) if v.get("kind") == "gzip"]
    f.eq(len(gz), 1, "a gzip variant is listed")
    if gz:
        f.eq(gz[0].get("key"), f"{HOST}/big.css\u0000gzip", "its key: the object's, NUL, the coding")
        f.check(0 < gz[0].get("size", 0) < (r.get("object") or {}).get("size", 0), "and it is smaller")

    # Tags.
    get("/inv/tagme")
    st, r = report(q("/inv/tagme"))
    f.eq((r.get("object") or {}).get("tags"), ["inv", "tagme", "tagged-tagme"], "Surrogate-Key and Cache-Tag tags")

    # Not cached.
    st, r = report(q("/never-asked.html"))
    f.eq(st, 404, "uncached URL: 404")
    f.eq(r.get("cached"), False, "cached = false")
    f.eq(r.get("key"), f"{HOST}/never-asked.html", "with the key it would have")

    # Text.
    st, _, text = report(q("/index.html", format="text"), raw=True)
    f.eq(st, 200, "format=text: 200")
    f.check("cached:    yes" in text and f"size: {size} bytes" in text, f"format=text reads as text: {text!r}")

    # Bad parameters.
    for bad in ("", "host=" + HOST, urllib.parse.urlencode({"url": "index.html", "host": HOST}),
                urllib.parse.urlencode({"url": "/index.html"}), q("/index.html", format="xml")):
        st, _, body = report(bad, raw=True)
        f.eq(st, 400, f"400 for {bad!r}")
        f.check("usage: GET /_meridian/cache?url=" in body, f"usage line for {bad!r}")
    st, _, _ = http_get(edge.admin_port, "/_meridian/cache?" + q("/index.html"), method="POST", body=b"x")
    f.eq(st, 405, "POST: 405")
f.done()
