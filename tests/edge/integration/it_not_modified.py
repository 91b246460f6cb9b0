"""A 304 the edge answers from its cache to a viewer's If-None-Match / If-Modified-Since (RFC 9110 §15.4.5): it
carries every one of Cache-Control, Content-Location, Date, ETag, Expires and Vary that the 200 to the same request
carries, line for line and byte for byte (duplicates included), plus Last-Modified, and Age as the 200 has it; no
edge-only field (CDN-Cache-Control, Surrogate-Control, Surrogate-Key, Cache-Tag) and no other representation
metadata; no body, so the keep-alive connection goes on. The same after an origin revalidation changed the stored
fields (the 304 carries the merged ones, as the 200 does). Through the real edge and a scripted origin."""
import email.utils
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import PY_CATCH_ALL, Failures, edge_before_pyorigin  # noqa: E402

CARRIED = ("cache-control", "content-location", "date", "etag", "expires", "vary", "last-modified")
EDGE_ONLY = ("cdn-cache-control", "surrogate-control", "surrogate-key", "cache-tag")


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


def answer(status, fields, body=b""):
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields)
    if not status.startswith("304"):
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


class Conn:
    """One keep-alive viewer connection that returns the raw header lines of each answer."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buf = b""
        self.port = port

    def ask(self, path, fields=(), method="GET"):
        req = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in fields) + "\r\n"
        self.s.sendall(req.encode())
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise RuntimeError("the edge closed the connection")
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = [(l.split(":", 1)[0].lower(), l) for l in lines[1:]]
        length = 0
        if status != 304 and method != "HEAD":
            length = int(next(l.split(":", 1)[1] for n, l in fields if n == "content-length"))
        while len(self.buf) < length:
            d = self.s.recv(65536)
            if not d:
                raise RuntimeError("the edge closed the connection inside a body")
            self.buf += d
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, fields, body

    def close(self):
        self.s.close()


def lines_named(fields, name):
    return [line for n, line in fields if n == name]


def value(fields, name):
    got = lines_named(fields, name)
    return got[0].split(":", 1)[1].strip() if got else None


def check_304_against_200(f, what, ok, nm, t_between):
    """`ok` is a 200 hit, `nm` the 304 to the same request made up to t_between seconds later."""
    for name in CARRIED:
        f.eq(lines_named(nm, name), lines_named(ok, name), f"{what}: the 304's {name} lines are the 200's")
    age_200, age_304 = value(ok, "age"), value(nm, "age")
    f.check(age_304 is not None and age_200 is not None and
            int(age_200) <= int(age_304) <= int(age_200) + t_between + 1,
            f"{what}: Age as the 200 has it (200: {age_200}, 304: {age_304})")
    for name in EDGE_ONLY:
        f.eq(lines_named(nm, name), [], f"{what}: no {name} on the 304")
    for name in ("content-type", "content-length", "transfer-encoding", "content-language", "x-custom"):
        f.eq(lines_named(nm, name), [], f"{what}: no {name} on the 304")
    f.eq((value(nm, "x-cache"), value(nm, "via") is not None, value(nm, "cache-status") is not None),
         ("Hit from meridian", True, True), f"{what}: the edge's own fields")


f = Failures()
with edge_before_pyorigin(PY_CATCH_ALL) as (edge, py):
    port = edge.port
    date = http_date(time.time() - 40)
    lm = http_date(time.time() - 86400)
    etag = '"nm-1"'
    py.scripts["/nm/page"] = [answer("200 OK", [
        ("Date", date),
        ("Content-Type", "text/html; charset=utf-8"),
        ("cache-control", "public, max-age=3600"),
        ("Content-Location", "/nm/page.en.html"),
        ("X-Custom", "not carried"),
        ("ETag", etag),
        ("Cache-Control", "stale-if-error=60"),  # a second Cache-Control line
        ("Expires", http_date(time.time() + 7200)),
        ("Vary", "Accept-Encoding"),
        ("Content-Language", "en"),
        ("Last-Modified", lm),
        ("CDN-Cache-Control", "max-age=600"),
        ("Surrogate-Control", "max-age=600"),
        ("Surrogate-Key", "page release-1"),
        ("Cache-Tag", "page"),
    ], b"<p>page</p>")]
    c = Conn(port)
    st, miss, body = c.ask("/nm/page")
    f.eq((st, body), (200, b"<p>page</p>"), "the miss")
    time.sleep(1.1)  # a second in the cache, so Age counts
    st, ok, body = c.ask("/nm/page")
    f.eq((st, value(ok, "x-cache"), body), (200, "Hit from meridian", b"<p>page</p>"), "the 200 hit")
    for name in CARRIED:
        f.check(lines_named(ok, name), f"the 200 hit has {name} (else the comparison proves nothing)")
    f.eq(len(lines_named(ok, "cache-control")), 2, "the 200 hit has both Cache-Control lines")
    for name in EDGE_ONLY:
        f.eq(lines_named(ok, name), [], f"no {name} on the 200 hit")

    t0 = time.time()
    st, nm, body = c.ask("/nm/page", [("If-None-Match", etag)])
    f.eq((st, body), (304, b""), "If-None-Match: 304 with no body")
    check_304_against_200(f, "If-None-Match", ok, nm, time.time() - t0 + 1)
    st, nm, body = c.ask("/nm/page", [("If-None-Match", f'"other", W/{etag}')])
    f.eq(st, 304, "If-None-Match (weak comparison, a list): 304")
    check_304_against_200(f, "If-None-Match list", ok, nm, time.time() - t0 + 1)
    st, nm, body = c.ask("/nm/page", [("If-Modified-Since", lm)])
    f.eq(st, 304, "If-Modified-Since: 304")
    check_304_against_200(f, "If-Modified-Since", ok, nm, time.time() - t0 + 1)
    st, nm, body = c.ask("/nm/page", [("If-None-Match", etag)], method="HEAD")
    f.eq(st, 304, "HEAD with If-None-Match: 304")
    check_304_against_200(f, "HEAD If-None-Match", ok, nm, time.time() - t0 + 1)
    # The connection is still framed right after the body-less 304s.
    st, again, body = c.ask("/nm/page", [("If-None-Match", '"other"')])
    f.eq((st, body), (200, b"<p>page</p>"), "a validator that does not match: the 200, same connection")
    f.eq(py.count("/nm/page"), 1, "all from the cache: the origin asked once")

    # After an origin revalidation changed the stored fields (RFC 9111 §4.3.4), the 304 carries the merged ones.
    py.scripts["/nm/reval"] = [answer("200 OK", [("Date", http_date(time.time())), ("Cache-Control", "max-age=1"),
                                                 ("ETag", '"r"'), ("Content-Type", "text/plain")], b"r")]
    st, _, body = c.ask("/nm/reval")
    f.eq((st, body), (200, b"r"), "reval: the miss")
    time.sleep(1.6)  # stale
    py.scripts["/nm/reval"] = [answer("304 Not Modified", [
        ("Date", http_date(time.time())), ("Cache-Control", "max-age=3600"), ("ETag", '"r"'),
        ("Expires", http_date(time.time() + 3600)), ("Content-Location", "/nm/reval.txt"),
        ("CDN-Cache-Control", "max-age=900")])]
    st, refreshed, body = c.ask("/nm/reval")
    f.eq((st, body), (200, b"r"), "reval: served after the origin's 304")
    st, ok, body = c.ask("/nm/reval")
    f.eq((st, value(ok, "x-cache"), value(ok, "cache-control"), value(ok, "content-location")),
         (200, "Hit from meridian", "max-age=3600", "/nm/reval.txt"), "reval: the 200 hit has the merged fields")
    t0 = time.time()
    st, nm, body = c.ask("/nm/reval", [("If-None-Match", '"r"')])
    f.eq(st, 304, "reval: the viewer's If-None-Match")
    check_304_against_200(f, "after a revalidation", ok, nm, time.time() - t0 + 1)
    f.eq(py.count("/nm/reval"), 2, "reval: one fill and one revalidation")
    c.close()
f.done()
