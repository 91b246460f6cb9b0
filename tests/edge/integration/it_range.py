"""Range requests answered from the cache (RFC 9110 §14): after a miss stores the object, single ranges (a-b, a-, -n,
ranges crossing the cache's body chunks) get 206 with Content-Range and exactly those bytes; an unsatisfiable range
gets 416 with "Content-Range: bytes */len"; several ranges get the whole object (200); If-Range with the strong
ETag or the exact Last-Modified applies the range, anything else gets 200. Two ranged answers on one keep-alive
connection stay framed. The large object's body is in a shared-memory file, so its hits go by sendfile."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, bucket_origin, http_get, read_response, tmpdir  # noqa: E402

tmp = tmpdir()
site = os.path.join(tmp, "site")
os.makedirs(site)
blob = os.urandom(700_000)
with open(os.path.join(site, "big.bin"), "wb") as fh:
    fh.write(blob)
small = b"0123456789"
with open(os.path.join(site, "small.txt"), "wb") as fh:
    fh.write(small)

f = Failures()
edge = None
try:
    edge = Edge(tmp, bucket_origin("site", site)).start()
    port = edge.port
    n = len(blob)

    st, h, b = http_get(port, "/big.bin", headers={"Range": "bytes=0-9"})
    f.eq((st, h.get("content-range"), b), (206, f"bytes 0-9/{len(blob)}", blob[:10]), "a ranged miss gets its range")
    # The 206 can finish before the fill behind it (the bucket file is read on the threadpool): wait for the store.
    for _ in range(250):
        if edge.metric("meridian_edge_cache_objects") == 1:
            break
        time.sleep(0.02)
    st, h, b = http_get(port, "/big.bin")
    f.eq((st, h.get("x-cache"), len(b)), (200, "Hit from meridian", n), "object stored")
    etag, lm = h.get("etag"), h.get("last-modified")
    # 700 kB is over the shared-memory file threshold: every hit below is sent with sendfile from that file.
    f.eq(edge.metric("meridian_edge_cache_body_files"), 1, "the body is kept in a shared-memory file")

    def ranged(rng, extra=None, path="/big.bin"):
        hd = {"Range": rng}
        hd.update(extra or {})
        return http_get(port, path, headers=hd)

    for rng, first, last in [("bytes=0-0", 0, 0), ("bytes=100-199", 100, 199), ("bytes=600000-", 600000, n - 1),
                             ("bytes=-1000", n - 1000, n - 1), ("bytes=65000-400000", 65000, 400000),
                             ("bytes=5-99999999", 5, n - 1), ("bytes=-99999999", 0, n - 1)]:
        st, h, b = ranged(rng)
        f.eq((st, h.get("content-range"), h.get("x-cache")), (206, f"bytes {first}-{last}/{n}", "Hit from meridian"),
             f"{rng}: 206")
        f.eq(int(h.get("content-length", -1)), last - first + 1, f"{rng}: Content-Length")
        f.check(b == blob[first:last + 1], f"{rng}: exactly those bytes")
        f.eq(h.get("etag"), etag, f"{rng}: the stored headers are replayed")

    for rng in ["bytes=700000-", "bytes=800000-900000", "bytes=-0"]:
        st, h, b = ranged(rng)
        f.eq((st, h.get("content-range"), h.get("x-cache")), (416, f"bytes */{n}", "Error from meridian"),
             f"{rng}: 416 with the length")
    st, h, b = ranged("bytes=0-", path="/small.txt")
    st, h, b = ranged("bytes=3-4", path="/small.txt")
    f.eq((st, b, h.get("content-range")), (206, b"34", "bytes 3-4/10"), "small object: 206")

    for rng in ["bytes=0-1,5-6", "bytes=9-3", "lines=1-2", "bytes=x-"]:
        st, h, b = ranged(rng)
        f.check(st == 200 and b == blob and "content-range" not in h, f"{rng}: whole object with 200 ({st})")

    st, h, b = ranged("bytes=10-19", {"If-Range": etag})
    f.eq((st, b), (206, blob[10:20]), "If-Range with the stored ETag: 206")
    st, h, b = ranged("bytes=10-19", {"If-Range": lm})
    f.eq((st, b), (206, blob[10:20]), "If-Range with the stored Last-Modified: 206")
    st, h, b = ranged("bytes=10-19", {"If-Range": '"other"'})
    f.check(st == 200 and b == blob, f"If-Range with another ETag: 200 full ({st})")
    st, h, b = ranged("bytes=10-19", {"If-Range": "W/" + etag})
    f.check(st == 200 and b == blob, f"If-Range with a weak ETag: 200 full ({st})")
    st, h, b = ranged("bytes=10-19", {"If-Range": "Thu, 01 Jan 1998 00:00:00 GMT"})
    f.check(st == 200 and b == blob, f"If-Range with another date: 200 full ({st})")
    st, h, b = http_get(port, "/big.bin", method="HEAD", headers={"Range": "bytes=0-9"})
    f.eq(st, 200, "HEAD ignores Range")

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        got = []
        for path, extra in [("/big.bin", "Range: bytes=1-3\r\n"), ("/big.bin", "Range: bytes=-2\r\n"),
                            ("/small.txt", "Range: bytes=50-\r\n"), ("/small.txt", "")]:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode())
            got.append(read_response(s))
        f.eq([(g[0], g[2]) for g in got[:2]], [(206, blob[1:4]), (206, blob[-2:])], "keep-alive: two ranged hits")
        f.eq(got[2][0], 416, "keep-alive: 416 keeps the connection")
        f.eq((got[3][0], got[3][2]), (200, small), "keep-alive: next answer framed correctly")

    f.eq(edge.stop(), 0, "SIGTERM exit code")
finally:
    if edge and edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
f.done()
