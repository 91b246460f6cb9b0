"""Collapsed misses share the leader's answer on an origin failure (issue 11, item 7): when the origin times out
(first_byte_timeout), the leader and every collapsed waiter get 504 — the waiters used to get 502."""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, catch_all, http_get, http_origin, tmpdir  # noqa: E402
from pyorigin import PyOrigin  # noqa: E402

tmp = tmpdir()
f = Failures()
py = PyOrigin()
edge = None
try:
    edge = Edge(tmp, http_origin("py", py.port) + 'first_byte_timeout = "1s"\n' + catch_all("py")).start()
    results = []
    lock = threading.Lock()

    def get():
        try:
            st, h, b = http_get(edge.port, "/silent/one", timeout=30)
        except Exception as e:  # noqa: BLE001
            st = repr(e)
        with lock:
            results.append(st)

    threads = [threading.Thread(target=get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    f.eq(sorted(results), [504] * 8, "leader and 7 collapsed waiters all answer 504 on the origin's timeout")
    f.check(py.count("/silent/one") <= 2, f"collapsed: the origin was asked {py.count('/silent/one')} time(s)")
    f.eq(edge.stop(), 0, "SIGTERM exit code")
finally:
    if edge and edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
    py.stop()
f.done()
