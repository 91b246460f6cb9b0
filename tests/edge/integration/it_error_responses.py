"""Custom error responses (CloudFront's) through the real edge: a single-page app's 404 becomes its /index.html
with 200, both then served from the cache; an origin timeout becomes a page with the 504 kept; a POST's 404 is
passed on as it is. And an http origin's index_document: a folder path is fetched and cached as its index page."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Failures, catch_all, edge_before_pyorigin, http_get  # noqa: E402

f = Failures()
with edge_before_pyorigin(origin_keys='first_byte_timeout = "500ms"\nindex_document = "index.html"\n',
                          conf_tail=catch_all("py", "compress = false", 'allowed_methods = "ALL"') + """
[[error_response]]
status = 404
page = "/hdrs/cache/index"
response_status = 200
[[error_response]]
status = 504
page = "/hdrs/cache/oops"
[[error_response]]
status = 410
page = "/big/page"
""") as (edge, py):
    port = edge.port

    st, h, b = http_get(port, "/app/settings/profile")
    f.eq(st, 200, "SPA route: 200")
    f.check(b.startswith(b"Host: "), "SPA route: the page's body (the origin's echo of its request)")
    st2, h2, b2 = http_get(port, "/app/settings/profile")
    f.eq((st2, b2), (200, b), "SPA route again: the same page")
    f.eq((py.count("/app/settings/profile"), py.count("/hdrs/cache/index")), (1, 1),
         "the 404 and the page are each fetched once, then cached")
    st, h, b = http_get(port, "/other/route", method="HEAD")
    f.eq((st, b), (200, b""), "HEAD of a SPA route: 200 without a body")

    st, h, b = http_get(port, "/silent/x", timeout=10)
    f.eq(st, 504, "origin timeout: the 504 is kept")
    f.check(b.startswith(b"Host: "), "origin timeout: with the page's body")
    f.eq(h.get("content-length"), str(len(b)), "origin timeout: the page's length")

    # index_document: a folder path is fetched and cached as its index page (CloudFront's default root object).
    st, h, b = http_get(port, "/hdrs/cache/")
    f.eq((st, h.get("x-cache")), (200, "Miss from meridian"), "folder path: fetched")
    f.eq((py.count("/hdrs/cache/index.html"), py.count("/hdrs/cache/")), (1, 0), "folder path: as its index page")
    st, h, b = http_get(port, "/hdrs/cache/index.html")
    f.eq((st, h.get("x-cache")), (200, "Hit from meridian"), "the index page itself: the same object")

    # A page of unknown length (chunked) is stored in more than one piece; sent from the cache with the status line
    # the error response puts in front, every piece must follow the head (the second one used to be left out of a
    # full writev, and the viewer waited for bytes that never came).
    page = bytes(range(256)) * 160  # 40,960 bytes: 16 KiB, then more
    py.scripts["/gone/x"] = [b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n"]
    py.scripts["/big/page"] = [b"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n" +
                               b"".join(b"%x\r\n" % len(page[i:i + 10000]) + page[i:i + 10000] + b"\r\n"
                                        for i in range(0, len(page), 10000)) + b"0\r\n\r\n"]
    for round in ("first", "from the cache"):
        st, h, b = http_get(port, "/gone/x")
        f.eq((st, h.get("content-length", h.get("transfer-encoding")), b == page), (410, str(len(page)), True),
             f"a chunked page for a 410, {round}: all of its bytes")

    st, h, b = http_get(port, "/api/x", method="POST", body=b"{}")
    f.eq(st, 404, "a POST's 404 is passed on as it is")
f.done()
