"""Range requests on a miss (as nginx, Varnish and CloudFront answer them): the edge fetches the whole object for the
cache, and the viewer gets 206 with exactly its range, streamed as the range's bytes arrive — a range at the start
is answered while the origin still holds back the object's last byte; a waiter asking for the last byte gets it once
it comes. A range beyond the announced length gets 416 at once. A miss of known length is sent with its
Content-Length, not chunked."""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, catch_all, http_get, http_origin, tmpdir  # noqa: E402
from pyorigin import PyOrigin  # noqa: E402

tmp = tmpdir()
f = Failures()
py = PyOrigin()  # /stream: 1,000 × "A" then "Z", the "Z" held back until py.release is set
edge = None
try:
    edge = Edge(tmp, http_origin("py", py.port) + catch_all("py")).start()
    port = edge.port

    st, h, b = http_get(port, "/py/stream", headers={"Range": "bytes=0-9"}, timeout=5)
    f.eq((st, h.get("content-range"), h.get("content-length"), b), (206, "bytes 0-9/1001", "10", b"A" * 10),
         "ranged miss: 206 with the range, before the origin sent its last byte")
    f.eq(h.get("x-cache"), "Miss from meridian", "... a miss")

    tail = []
    t = threading.Thread(target=lambda: tail.append(http_get(port, "/py/stream", headers={"Range": "bytes=-1"},
                                                             timeout=10)))
    t.start()
    t.join(0.5)
    f.check(t.is_alive(), "a waiter asking for the last byte waits for it")
    py.release.set()
    t.join(10)
    f.check(tail and (tail[0][0], tail[0][1].get("content-range"), tail[0][2]) == (206, "bytes 1000-1000/1001", b"Z"),
            f"... and gets 206 with it once it arrives ({tail[0][:1] if tail else None})")
    f.eq(py.count("/py/stream"), 1, "one origin fetch for both")

    st, h, b = http_get(port, "/py/stream")
    f.eq((st, h.get("x-cache"), len(b)), (200, "Hit from meridian", 1001), "the whole object was stored")

    st, h, b = http_get(port, "/py/stream-b", headers={"Range": "bytes=2000-"})
    f.eq((st, h.get("content-range")), (416, "bytes */1001"), "a range beyond the announced length: 416")
    st, h, b = http_get(port, "/py/stream-b", headers={"Range": "bytes=10-19"})
    f.eq((st, b), (206, b"A" * 10), "... the object is still filled for the next viewer")

    st, h, b = http_get(port, "/py/stream-c")
    f.eq((st, h.get("content-length"), h.get("transfer-encoding"), len(b)), (200, "1001", None, 1001),
         "a miss of announced length is sent with Content-Length, not chunked")

    f.eq(edge.stop(), 0, "SIGTERM exit code")
finally:
    if edge and edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
    py.release.set()
    py.stop()
f.done()
