"""Interim (1xx) responses from the origin (RFC 9110 §15.2, RFC 9111 §3), through the real edge and a scripted origin
writing raw bytes: 103 Early Hints (and 102) reach an HTTP/1.1 viewer whose request the origin is answering, on a
miss that fills the cache and on a pass-through, and are never stored (a hit has none); 100 Continue, which answers
an Expect the edge never forwards, goes no further; an HTTP/1.0 viewer gets none; and a 101, a 1xx with a body,
garbage after a 1xx or interim responses without end are a 502 — never bytes taken for the final response. Bytes
an origin sends after a 204 or 304 head are never a body (RFC 9112 §6.3)."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import PY_CATCH_ALL, Failures, edge_before_pyorigin  # noqa: E402

HINT = b"HTTP/1.1 103 Early Hints\r\nLink: </styles.css>; rel=preload; as=style\r\nX-My-Header: test\r\n\r\n"


def final(cc, body):
    return b"HTTP/1.1 200 OK\r\nCache-Control: %s\r\nContent-Length: %d\r\n\r\n%s" % (cc, len(body), body)


def exchange(port, path, version="1.1", requests=1):
    """Sends `requests` GETs for `path` on one connection (the last with Connection: close) and splits what comes
    back into responses: [(status, [(name, value)...], body)], interim ones included."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        req = b""
        for i in range(requests):
            close = b"Connection: close\r\n" if i == requests - 1 else b""
            req += b"GET %s HTTP/%s\r\nHost: t\r\n%s\r\n" % (path.encode(), version.encode(), close)
        s.sendall(req)
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    out = []
    while data:
        head, sep, data = data.partition(b"\r\n\r\n")
        if not sep:
            out.append((None, [], head))
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = [(k.strip().lower(), v.strip()) for k, v in (l.split(":", 1) for l in lines[1:])]
        body = b""
        if status >= 200:
            n = int(dict(fields).get("content-length", "0"))
            body, data = data[:n], data[n:]
        out.append((status, fields, body))
    return out


def statuses(rs):
    return [r[0] for r in rs]


f = Failures()
with edge_before_pyorigin(PY_CATCH_ALL) as (edge, py):
    port = edge.port

    # A miss that fills the cache: the viewer gets the 103 (its fields as sent) and then the 200; the hit none.
    py.scripts["/i/miss"] = [HINT + final(b"max-age=3600", b"cached")]
    rs = exchange(port, "/i/miss")
    f.eq(statuses(rs), [103, 200], "miss: 103 then 200")
    if len(rs) == 2:
        f.eq([(k, v) for k, v in rs[0][1]], [("link", "</styles.css>; rel=preload; as=style"),
                                             ("x-my-header", "test")], "miss: the 103's fields, as the origin sent")
        f.eq(rs[1][2], b"cached", "miss: the final body")
        f.check(not any(k == "link" for k, _ in rs[1][1]), "the final response does not inherit the 103's fields")
    rs = exchange(port, "/i/miss")
    f.eq(statuses(rs), [200], "hit: no interim response (never stored)")
    f.eq(rs[-1][2] if rs else None, b"cached", "hit: the stored body")
    f.check(rs and ("x-cache", "Hit from meridian") in rs[-1][1], "hit: from the cache")
    f.eq(py.count("/i/miss"), 1, "the origin asked once")

    # Pass-through: 102 and 103 go on, 100 stops here; keep-alive framing stays intact for the next request.
    py.scripts["/i/pass"] = [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" + HINT
                             + final(b"no-store", b"passed")]
    rs = exchange(port, "/i/pass", requests=2)
    f.eq(statuses(rs), [102, 103, 200, 102, 103, 200], "pass-through twice on one connection: 102, 103, 200 each")
    f.eq([r[2] for r in rs if r[0] == 200], [b"passed", b"passed"], "pass-through: both bodies whole")

    # 100 Continue alone before the final answer: swallowed.
    py.scripts["/i/continue"] = [b"HTTP/1.1 100 Continue\r\n\r\n" + final(b"no-store", b"c")]
    f.eq(statuses(exchange(port, "/i/continue")), [200], "100 Continue is not forwarded")

    # An HTTP/1.0 viewer never gets a 1xx (RFC 9110 §15.2).
    py.scripts["/i/http10"] = [HINT + final(b"no-store", b"old")]
    rs = exchange(port, "/i/http10", version="1.0")
    f.eq(statuses(rs), [200], "HTTP/1.0 viewer: the final response only")

    # Broken interim responses: a 502, never their bytes as the answer.
    broken = {
        "/i/switch": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
                     b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbad",
        "/i/body": b"HTTP/1.1 150 Odd\r\nContent-Length: 5\r\n\r\nhello" + final(b"max-age=60", b"bad"),
        "/i/chunked-hint": b"HTTP/1.1 103 Early Hints\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbad\r\n0\r\n\r\n"
                           + final(b"max-age=60", b"bad"),
        "/i/garbage": b"HTTP/1.1 103 Early Hints\r\n\r\nnot http at all\r\n\r\n",
        "/i/endless": b"HTTP/1.1 103 \r\n\r\n" * 100 + final(b"max-age=60", b"bad"),
    }
    for path, raw in broken.items():
        py.scripts[path] = [raw]
        rs = exchange(port, path)
        # A 1xx that announces a body is refused before it is forwarded; one that is followed by garbage only
        # shows it is broken after it went on.
        want = [502] if path in ("/i/switch", "/i/body", "/i/chunked-hint") else None
        f.check(rs and rs[-1][0] == 502 and all(r[0] in (103, 502) for r in rs) and
                (want is None or statuses(rs) == want), f"{path}: 502 ({statuses(rs)})")
        f.check(all(b"bad" not in r[2] and b"hello" not in r[2] for r in rs), f"{path}: no byte of it reaches the "
                f"viewer as a body")
    # RFC 9112 §6.3: a 204 or 304 ends with its head whatever its fields announce. An origin that sends bytes after
    # one: they are no body (llhttp 8.1 read one, and the edge stored and served it behind the 204, where a viewer
    # takes it for the start of its next response), and its connection is not reused for the next request.
    for path, raw in {"/i/nocontent": b"HTTP/1.1 204 No Content\r\nCache-Control: max-age=60\r\n"
                                      b"Content-Length: 5\r\n\r\nhello",
                      "/i/nocontent-chunked": b"HTTP/1.1 204 No Content\r\nCache-Control: max-age=60\r\n"
                                              b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                      "/i/notmodified": b"HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\n"
                                        b"Content-Length: 5\r\n\r\nhello",
                      # The length of the representation, as RFC 9110 §8.6 allows on a 304, and no body (llhttp
                      # waited for 1000 bytes that never came, holding the origin connection until its idle timeout).
                      "/i/notmodified-length": b"HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\n"
                                               b"Content-Length: 1000\r\n\r\n"}.items():
        py.scripts[path] = [raw]
        py.scripts[path + "-next"] = [final(b"max-age=60", b"next")]
        for round_ in ("miss", "again"):
            with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
                s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\nGET %s-next HTTP/1.1\r\nHost: t\r\n"
                          b"Connection: close\r\n\r\n" % (path.encode(), path.encode()))
                data = b""
                while d := s.recv(65536):
                    data += d
            head, _, rest = data.partition(b"\r\n\r\n")
            f.check(rest.startswith(b"HTTP/1.1 200 ") and rest.endswith(b"\r\n\r\nnext"),
                    f"{path} ({round_}): the next response follows the head at once ({rest[:20]!r})")
            if "204" in head.decode("latin-1").split("\r\n")[0]:
                f.check(b"content-length" not in head.lower(), f"{path} ({round_}): no Content-Length on a 204")
    # The edge still answers after all that.
    py.scripts["/i/after"] = [final(b"max-age=60", b"fine")]
    rs = exchange(port, "/i/after")
    f.eq([(r[0], r[2]) for r in rs], [(200, b"fine")], "the edge still serves")
f.done()
