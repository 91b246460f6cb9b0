"""A custom error page served for a request that started before a reload carries the response headers policy of
the config the request started with: the request waits on a silent origin, a SIGHUP replaces the policy (new
requests get the new one), the origin gives up (502), and the [[error_response]] page, fetched by a new exchange
under the new config, still goes out with the old policy's header — the page's exchange keeps the old config (which
owns that policy) alive. The edge must live throughout."""
import os
import shutil
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import (Failures, catch_all, edge_before_pyorigin, http_get, http_origin, read_response,  # noqa: E402
                      tmpdir)

f = Failures()

CONF = """
[[response_headers_policy]]
name = "p"
headers = [{ name = "X-Policy", value = "%s" }]
[[behavior]]
path_pattern = "/silent*"
origin = "py"
compress = false
cache = false
response_headers_policy = "p"
""" + catch_all("py", "compress = false", 'response_headers_policy = "p"') + """
[[error_response]]
status = 502
page = "/errpage.html"
response_status = 503
"""

tmp = tmpdir()
with edge_before_pyorigin(CONF % "before", origin_keys='first_byte_timeout = "30s"\n', tmp=tmp) as (edge, py):
    py.scripts["/errpage.html"] = [b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n"
                                   b"Cache-Control: max-age=60\r\n\r\nsorry"]
    s = socket.create_connection(("127.0.0.1", edge.port), timeout=30)
    s.sendall(b"GET /silent/x HTTP/1.1\r\nHost: reload.test\r\n\r\n")
    deadline = time.time() + 20
    while time.time() < deadline and py.count("/silent/x") == 0:
        time.sleep(0.05)
    f.eq(py.count("/silent/x"), 1, "the request reached the origin")
    edge.rewrite(http_origin("py", py.port) + 'first_byte_timeout = "30s"\n' + CONF % "after")
    edge.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 20
    got = None
    while time.time() < deadline:
        got = http_get(edge.port, "/other")[1].get("x-policy")  # a 404 passed through, under the policy
        if got == "after":
            break
        time.sleep(0.1)
    f.eq(got, "after", "the reload applies to new requests")
    py.release.set()  # the origin closes without answering: 502, so the error page
    st, h, body = read_response(s, timeout=30)
    s.close()
    f.eq((st, body), (503, b"sorry"), "the error page with its response status")
    f.eq(h.get("x-policy"), "before", "the policy of the config the request started with")
    f.check(edge.proc.poll() is None, "the edge is alive")
shutil.rmtree(tmp, ignore_errors=True)
f.done()
