"""health.shutdown_timeout bounds how long SIGTERM waits for requests in flight (the cap used to be a hard-coded
30 s). A viewer waits on an origin that never answers; on SIGTERM with shutdown_timeout = "1s" the edge cuts it and
exits 0 within a few seconds, while a request that finishes inside the timeout still completes."""
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, catch_all, http_get, http_origin, read_response, tmpdir  # noqa: E402
from pyorigin import PyOrigin  # noqa: E402

tmp = tmpdir()
py = PyOrigin()      # /py/stream: held back until py.release
silent = PyOrigin()  # /py/silent: never answers while the edge runs
f = Failures()
edge = None
try:
    edge = Edge(tmp, http_origin("py", py.port) + http_origin("silent", silent.port) + """
[health]
shutdown_timeout = "1s"
[[behavior]]
path_pattern = "/py/silent*"
origin = "silent"
""" + catch_all("py"), workers=2).start()
    port = edge.port
    # Stalled: its origin never answers.
    stalled = socket.create_connection(("127.0.0.1", port), timeout=30)
    stalled.sendall(b"GET /py/silent HTTP/1.1\r\nHost: x\r\n\r\n")
    # Finishes inside the timeout: /py/stream holds back its last byte until py.release is set.
    quick = socket.create_connection(("127.0.0.1", port), timeout=30)
    quick.sendall(b"GET /py/stream HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.5)
    t0 = time.time()
    edge.proc.send_signal(signal.SIGTERM)
    threading.Timer(0.3, py.release.set).start()
    status, _, body = read_response(quick, timeout=10)
    f.eq((status, len(body)), (200, 1001), "a response finishing inside the timeout completes")
    try:
        rc = edge.proc.wait(15)
    except Exception:
        rc = None
    took = time.time() - t0
    f.eq(rc, 0, "exit status")
    f.check(0.9 < took < 8, f"exited {took:.1f}s after SIGTERM: after the 1s timeout, long before the old 30s cap")
    stalled.settimeout(5)
    try:
        got = stalled.recv(65536)
    except OSError:
        got = b""
    f.check(not got.startswith(b"HTTP/1.1 200"),
            f"the stalled request was cut, not answered as complete ({got[:40]!r})")
finally:
    py.stop()
    silent.stop()
    if edge:
        edge.stop()
f.done()
