"""Viewers that leave in the middle of a streamed answer (issue 11, item 1): a client pipelines two GETs for paths
whose origin answers chunked and slowly, half-closes its side (shutdown SHUT_WR), then resets (SO_LINGER 0) while
the edge is still writing. A write that closed the connection used to leave the exchange writing through a null
connection (SIGSEGV, no log line). Cached (collapsed fill) and uncacheable (pass-through) paths, with and without
reading a little first. The edge must stay up, keep answering, and its RSS stay bounded."""
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, catch_all, http_get, http_origin, tmpdir  # noqa: E402
from pyorigin import STREAMED_CHUNK, PyOrigin  # noqa: E402




def hostile(port, paths, read_first):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        req = b"".join(b"GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % p.encode() for p in paths)
        s.sendall(req)
        s.shutdown(socket.SHUT_WR)
        if read_first:
            try:
                s.recv(read_first)
            except OSError:
                pass
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        s.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


tmp = tmpdir()
f = Failures()
origin = PyOrigin("streamed")
edge = None
try:
    edge = Edge(tmp, http_origin("s", origin.port) + catch_all("s"), workers=2).start()
    port = edge.port
    st, _, body = http_get(edge.port, "/warm/pass/x", timeout=20)
    f.eq((st, len(body)), (200, 64 * len(STREAMED_CHUNK)), "a normal viewer gets the whole chunked body")
    rss0 = rss_kib(edge.proc.pid)

    n = 0
    deadline = time.monotonic() + 20
    for round_ in range(6):
        threads = []
        for i in range(40):
            kind = ("pass/", "", "pass/")[i % 3]
            paths = [f"/r{round_}/{i}/{kind}a", f"/r{round_}/{i}/{kind}b"]
            if i % 4 == 0:  # collapse onto one fill, so the fill outlives the viewer that left
                paths = [f"/shared/{round_}/a", f"/shared/{round_}/b"]
            t = threading.Thread(target=hostile, args=(port, paths, (0, 1, 9000, 70000)[i % 4]), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(10)
        n += len(threads)
        if edge.proc.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    time.sleep(1.0)
    alive = edge.proc.poll() is None
    f.check(alive, f"meridian-edge still running after {n} viewers reset mid-stream (exit {edge.proc.poll()})")
    if alive:
        st, _, body = http_get(port, "/after/pass/x", timeout=20)
        f.eq((st, len(body)), (200, 64 * len(STREAMED_CHUNK)), "the edge still answers whole bodies afterwards")
        grew = rss_kib(edge.proc.pid) - rss0
        f.check(grew < 256 * 1024, f"RSS grew {grew} KiB (< 256 MiB)")
        f.eq(edge.stop(), 0, "exit code")
        # The access log names each of them although its socket was reset before its line was written (c-ip is
        # asked of the kernel lazily, and after a reset getpeername has nothing to say).
        lines = [l.split("\t") for l in open(edge.access_log).read().splitlines() if not l.startswith("#")]
        reset = [l for l in lines if len(l) > 7 and l[7].startswith(("/r", "/shared/"))]
        f.check(len(reset) >= 10, f"access log: lines for the viewers that reset ({len(reset)})")
        f.eq(sorted({l[4] for l in reset}), ["127.0.0.1"], "access log: c-ip of the viewers that reset")
    else:
        print(edge.log()[-3000:])
finally:
    if edge:
        edge.stop()
    origin.stop()
f.done()
