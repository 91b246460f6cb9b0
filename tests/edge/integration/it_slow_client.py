"""Slow-client isolation: a viewer that stops reading a large response holds only its own bounded buffer. Others
streaming the same object (collapsed fill or hit), other objects on the same worker, and a private pass-through of
an uncacheable object all complete promptly while it stalls."""
import os
import shutil
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, Nginx, http_get, tmpdir  # noqa: E402

tmp = tmpdir()
root = os.path.join(tmp, "www")
os.makedirs(os.path.join(root, "nostore"))
big = os.urandom(6 << 20)
for p in ("big.bin", "nostore/big.bin"):
    with open(os.path.join(root, p), "wb") as fh:
        fh.write(big)
with open(os.path.join(root, "small.html"), "w") as fh:
    fh.write("small\n")

# The time limits are far below what a worker blocked by a stalled viewer would take (its send_timeout, 60 s by
# default, and http_get's 15 s), and far above what a loaded CI machine under ASan needs.
f = Failures()
nginx = Nginx(tmp, root, locations="""
    location /nostore/ { add_header Cache-Control "no-store"; }
    location / { add_header Cache-Control "max-age=300"; }
""")
edge = None


def stalled_client(path):
    """Asks for `path`, reads the head and a little body, then stops reading."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", edge.port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: slow.test\r\n\r\n".encode())
    s.settimeout(5)
    got = b""
    while b"\r\n\r\n" not in got:
        got += s.recv(1024)
    return s


def timed_get(path, timeout=15):
    t0 = time.time()
    r = http_get(edge.port, path, headers={"Host": "slow.test"}, timeout=timeout)
    return r, time.time() - t0


try:
    nginx.start()
    edge = Edge(tmp, f"""
[limits]
client_buffer_bytes = "64KiB"
[cache]
max_bytes = "64MiB"
max_object_bytes = "8MiB"
shards = 4
[[origin]]
name = "nginx"
type = "http"
address = "127.0.0.1:{nginx.port}"
[[behavior]]
path_pattern = "*"
origin = "nginx"
""", workers=1).start()

    a = stalled_client("/big.bin")
    (st, h, body), took = timed_get("/big.bin")
    f.check(st == 200 and body == big, "second viewer of the same object gets all 6 MiB byte for byte")
    f.check(took < 8, f"... promptly while the first viewer stalls ({took:.2f}s)")
    (st, h, body), took = timed_get("/small.html")
    f.check(st == 200 and took < 3, f"another object on the same worker is served at once ({took:.2f}s)")
    f.eq(len(nginx.requests("/big.bin")), 1, "one origin fetch for the shared object")

    b = stalled_client("/nostore/big.bin")
    (st, h, body), took = timed_get("/nostore/big.bin")
    f.check(st == 200 and body == big, "uncacheable object: another viewer's private fetch completes")
    f.check(took < 8, f"... promptly while a stalled viewer holds its own fetch ({took:.2f}s)")

    # The stalled viewers can still finish reading: nothing was dropped.
    for s, what in ((a, "cached"), (b, "pass-through")):
        s.settimeout(10)
        total = 0
        try:
            while True:
                d = s.recv(1 << 20)
                if not d:
                    break
                total += len(d)
                if total >= len(big) - 4096:
                    break
        except socket.timeout:
            pass
        f.check(total >= len(big) - 4096, f"stalled {what} viewer eventually gets the rest ({total} bytes)")
        s.close()
    f.eq(edge.stop(), 0, "exit code")
finally:
    if edge and edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
    nginx.stop()
    shutil.rmtree(tmp, ignore_errors=True)
f.done()
