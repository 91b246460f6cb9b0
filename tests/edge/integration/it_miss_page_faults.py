"""What a large miss costs the edge in page faults: each 1 MiB miss from an nginx origin is stored in a shared-memory
file and streamed to the viewer. The fill writes the file with pwrite and the viewer gets its pages by sendfile, so
the edge's mapping of the file is never touched page by page: a store through it took a fault per fresh 4 KiB page
(256 per MiB) and a copy out of it for the viewer one per 64 KiB, and on a virtual machine each fault costs
microseconds (a 1 MiB miss took 6.4 ms of edge CPU against nginx proxy_cache's 1.3 ms; 1.5 ms with pwrite and
sendfile). Asserts: the bytes are the origin's, and the misses average under 12 minor faults each (about 1 now).

Then the same for 1 MiB bodies of unknown length (nginx's SSI filter drops Content-Length, so the origin sends them
chunked and the viewer gets them chunked during the miss): past its first 48 KiB on the heap such a body continues in
a growing shared-memory file, written with pwrite and sent by sendfile, where heap chunks took a fault per 4 KiB
(about 260 per miss). Asserts: the bytes (sha256), under 32 faults per miss (about 13: the 48 KiB of fresh heap),
and a hit after it with the same bytes and a Content-Length."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, Nginx, catch_all, http_get, http_origin, tmpdir  # noqa: E402

MISSES = 8

tmp = tmpdir()
root = os.path.join(tmp, "www")
os.makedirs(root)
blobs = {}
os.makedirs(os.path.join(root, "chunked"))
chunked = {}
for i in range(MISSES + 1):
    blobs[i] = os.urandom(1 << 20)
    with open(os.path.join(root, f"b{i}.bin"), "wb") as fh:
        fh.write(blobs[i])
    # No "<" in it, so SSI passes every byte through unchanged (it swallowed a last byte that might start a command).
    chunked[i] = os.urandom(1 << 20).replace(b"<", b">")
    with open(os.path.join(root, "chunked", f"c{i}.bin"), "wb") as fh:
        fh.write(chunked[i])


def sha(b):
    return hashlib.sha256(b).hexdigest()


def minflt(pid):
    """Minor faults of the whole process so far (/proc/PID/stat field 10)."""
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[7])


f = Failures()
nginx = Nginx(tmp, root, locations='location / { add_header Cache-Control "max-age=300"; } '
              'location /chunked/ { ssi on; ssi_types *; add_header Cache-Control "max-age=300"; }')
edge = None
try:
    nginx.start()
    edge = Edge(tmp, http_origin("nginx", nginx.port) + catch_all("nginx")).start()
    # The first miss opens the origin connection and warms the worker's pools.
    st, h, b = http_get(edge.port, "/b0.bin", timeout=10)
    f.eq((st, b == blobs[0]), (200, True), "first miss: the origin's bytes")
    before = minflt(edge.proc.pid)
    for i in range(1, MISSES + 1):
        st, h, b = http_get(edge.port, f"/b{i}.bin", timeout=10)
        f.eq((st, h.get("x-cache"), len(b), b == blobs[i]), (200, "Miss from meridian", 1 << 20, True),
             f"miss {i}: 200, the origin's bytes")
    faults = minflt(edge.proc.pid) - before
    print(f"{faults / MISSES:.1f} minor page faults per 1 MiB miss")
    f.check(faults < 12 * MISSES, f"1 MiB misses cost the edge {faults / MISSES:.1f} page faults each (want < 12)")
    st, h, b = http_get(edge.port, "/b3.bin", timeout=10)
    f.eq((st, h.get("x-cache"), b == blobs[3]), (200, "Hit from meridian", True), "then a hit with the same bytes")

    st, h, b = http_get(edge.port, "/chunked/c0.bin", timeout=10)
    f.eq((st, h.get("transfer-encoding"), sha(b)), (200, "chunked", sha(chunked[0])),
         "first chunked miss: the origin's bytes, chunked (no length known)")
    before = minflt(edge.proc.pid)
    for i in range(1, MISSES + 1):
        st, h, b = http_get(edge.port, f"/chunked/c{i}.bin", timeout=10)
        f.eq((st, h.get("x-cache"), h.get("transfer-encoding"), sha(b)),
             (200, "Miss from meridian", "chunked", sha(chunked[i])), f"chunked miss {i}: 200, the origin's bytes")
    faults = minflt(edge.proc.pid) - before
    print(f"{faults / MISSES:.1f} minor page faults per chunked 1 MiB miss")
    f.check(faults < 32 * MISSES, f"chunked 1 MiB misses cost the edge {faults / MISSES:.1f} page faults each (want < 32)")
    st, h, b = http_get(edge.port, "/chunked/c3.bin", timeout=10)
    f.eq((st, h.get("x-cache"), h.get("content-length"), sha(b)),
         (200, "Hit from meridian", str(1 << 20), sha(chunked[3])), "then a hit with the same bytes and a length")
    st, h, b = http_get(edge.port, "/chunked/c4.bin", headers={"Range": "bytes=40000-60000"}, timeout=10)
    f.eq((st, h.get("content-range"), sha(b)), (206, f"bytes 40000-60000/{1 << 20}", sha(chunked[4][40000:60001])),
         "a range across the heap head and the file")
    f.eq(edge.stop(), 0, "SIGTERM exit code")
finally:
    if edge and edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
    nginx.stop()
f.done()
