"""The origin request policy and the cache key policy through the real edge, against an origin that echoes the
request head it received: by default a fill carries the viewer's end-to-end headers and cookies (as nginx and
Varnish forward them) but never its conditionals, Range or Accept-Encoding, nor hop-by-hop headers or those named in
Connection; `forward_headers`/`forward_cookies` = "none" or an allowlist narrow that; `cache_key_headers` /
`cache_key_cookies` split the cache by value; an answer to a request with Authorization is stored only when it says
public (RFC 9111 §3.5); a revalidation carries the headers of the request it satisfies (§4.3.1), not the filler's."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Failures, catch_all, edge_before_pyorigin, http_get  # noqa: E402

f = Failures()


def received(body):
    """The header lines the origin received, lower-cased names → values."""
    out = {}
    for line in body.decode().split("\r\n"):
        if ":" in line:
            k, _, v = line.partition(":")
            out.setdefault(k.strip().lower(), v.strip())
    return out


with edge_before_pyorigin("""
[[behavior]]
path_pattern = "/none/*"
origin = "py"
compress = false
forward_headers = "none"
forward_cookies = "none"
[[behavior]]
path_pattern = "/allow/*"
origin = "py"
compress = false
forward_headers = "allowlist"
forward_headers_allowlist = ["X-Req-Num"]
forward_cookies = "allowlist"
forward_cookies_allowlist = ["lang"]
[[behavior]]
path_pattern = "/keyed/*"
origin = "py"
compress = false
forward_headers = "none"
forward_cookies = "none"
cache_key_headers = ["X-Device"]
cache_key_cookies = ["theme"]
""" + catch_all("py", "compress = false")) as (edge, py):
    port = edge.port
    viewer = {"X-Req-Num": "2", "Accept-Language": "fr", "Cookie": "session=abc; lang=fr",
              "If-None-Match": '"viewer-tag"', "Range": "bytes=0-3", "Accept-Encoding": "gzip",
              "Connection": "close, X-Hop", "X-Hop": "1", "Via": "1.1 upstream-proxy"}

    # Default: all end-to-end headers reach the origin on a fill; the viewer's own conditionals and codings do not.
    st, h, b = http_get(port, "/hdrs/cache/a", headers=viewer)
    got = received(py.last_head)
    f.eq(st, 206, "default: the viewer's Range is answered from the filled object")
    f.eq(got.get("x-req-num"), "2", "default: X-Req-Num reaches the origin on a fill")
    f.eq(got.get("accept-language"), "fr", "default: Accept-Language reaches the origin")
    f.eq(got.get("cookie"), "session=abc; lang=fr", "default: cookies reach the origin")
    for own in ("if-none-match", "range", "accept-encoding", "x-hop"):
        f.check(own not in got, f"default: the fill does not carry the viewer's {own}")
    f.check(got.get("via", "").startswith("1.1 upstream-proxy, "), "default: the viewer's Via is kept, ours appended")

    # forward_headers/forward_cookies = "none": only Host, X-Forwarded-For, Via and the edge's own CDN-Loop.
    st, h, b = http_get(port, "/none/hdrs/cache/a", headers=viewer)
    got = received(py.last_head)
    f.eq(sorted(k for k in got if k not in ("host", "x-forwarded-for", "via", "cdn-loop")), [],
         "none: nothing of the viewer's but Host/X-Forwarded-For/Via/CDN-Loop")
    f.eq(got.get("cdn-loop"), "edge-test", "every origin request carries CDN-Loop with the edge's cdn_id (RFC 8586)")

    # Allowlists.
    st, h, b = http_get(port, "/allow/hdrs/cache/a", headers=viewer)
    got = received(py.last_head)
    f.eq((got.get("x-req-num"), got.get("accept-language"), got.get("cookie")), ("2", None, "lang=fr"),
         "allowlist: only X-Req-Num and the lang cookie")

    # Cache key headers and cookies: one object per value, forwarded although forward_headers = "none".
    def keyed(extra):
        before = py.count("/keyed/hdrs/cache/k")
        st, h, b = http_get(port, "/keyed/hdrs/cache/k", headers=extra)
        f.eq(st, 200, f"keyed {extra}: 200")
        return py.count("/keyed/hdrs/cache/k") - before, received(b)

    n, got = keyed({"X-Device": "mobile"})
    f.eq((n, got.get("x-device")), (1, "mobile"), "keyed: mobile is fetched with its X-Device")
    f.eq(keyed({"X-Device": "mobile", "User-Agent": "x"})[0], 0, "keyed: mobile again is a hit")
    n, got = keyed({"X-Device": "desktop"})
    f.eq((n, got.get("x-device")), (1, "desktop"), "keyed: desktop is another object")
    f.eq(keyed({})[0], 1, "keyed: no X-Device is another object")
    n, got = keyed({"X-Device": "mobile", "Cookie": "theme=dark; session=x"})
    f.eq((n, got.get("cookie")), (1, "theme=dark"), "keyed: the theme cookie splits the cache and is forwarded alone")
    f.eq(keyed({"X-Device": "mobile", "Cookie": "session=y; theme=dark"})[0], 0, "keyed: other cookies do not split")

    # RFC 9111 §3.5: Authorization forwarded, the answer not public: not stored.
    for i in range(2):
        http_get(port, "/hdrs/cache/auth", headers={"Authorization": "Bearer secret"})
    st, h, b = http_get(port, "/hdrs/cache/auth")
    f.eq(py.count("/hdrs/cache/auth"), 3, "Authorization: an answer without public is never reused")
    f.check("authorization" not in received(b), "Authorization: a viewer without credentials gets its own answer")
    http_get(port, "/hdrs/public/auth", headers={"Authorization": "Bearer secret"})
    st, h, b = http_get(port, "/hdrs/public/auth")
    f.eq((py.count("/hdrs/public/auth"), h.get("x-cache")), (1, "Hit from meridian"),
         "Authorization: a public answer is stored")

    # §4.3.1: the revalidation carries the headers of the request being satisfied.
    http_get(port, "/hdrs/validate/r", headers={"X-Req-Num": "1"})
    time.sleep(1.3)
    st, h, b = http_get(port, "/hdrs/validate/r", headers={"X-Req-Num": "7"})
    f.eq((st, h.get("x-cache")), (200, "RefreshHit from meridian"), "revalidation: answered by a 304")
    f.eq(received(py.last_head).get("x-req-num"), "7", "revalidation: the origin got the current request's header")
    f.eq(received(py.last_head).get("if-none-match"), '"h"', "revalidation: with the stored ETag")
f.done()
