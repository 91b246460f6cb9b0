"""Request-parsing gaps over raw sockets against the real binary: chunk data not followed by CRLF (a smuggling
primitive: what follows must never be answered as a second request), invalid Host values (400), absolute-form
targets (accepted; the target's host wins over Host), unknown methods (501). The same bytes go to nginx (when
installed) as a reference: it must also refuse the smuggling shape and the invalid Hosts."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, Nginx, bucket_edge_conf, raw_exchange, status_of, tmpdir  # noqa: E402
import shutil  # noqa: E402

tmp = tmpdir()
site = os.path.join(tmp, "site")
os.makedirs(os.path.join(site, "secret"))
with open(os.path.join(site, "index.html"), "w") as fh:
    fh.write("index\n")
with open(os.path.join(site, "x.html"), "w") as fh:
    fh.write("x-body\n")
with open(os.path.join(site, "secret", "s.html"), "w") as fh:
    fh.write("SMUGGLED\n")

f = Failures()
edge = Edge(tmp, bucket_edge_conf(site))
nginx = None
try:
    edge.start()

    def statuses(raw):
        """Every status line the server sent, in order."""
        out = []
        for part in raw.split(b"HTTP/1.1 ")[1:]:
            try:
                out.append(int(part[:3]))
            except ValueError:
                pass
        return out

    chunk_head = b"POST /x.html HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n"
    smuggle = chunk_head + b"5\r\nhelloGET /secret/s.html HTTP/1.1\r\nHost: a.test\r\n\r\n0\r\n\r\n"
    for name, data in [("XX after chunk data", chunk_head + b"5\r\nhelloXX0\r\n\r\n"),
                       ("LF only after chunk data", chunk_head + b"5\r\nhello\n\n0\r\n\r\n"),
                       ("request hidden after chunk data", smuggle)]:
        raw = raw_exchange(edge.port, data, timeout=10)
        f.eq(statuses(raw), [400], f"{name}: one 400, nothing else answered")
        f.check(b"SMUGGLED" not in raw, f"{name}: the hidden request is not served")

    for host in [b"a b", b"evil.example/x?", b"evil.example/x", b"h:abc", b"[::1", b"u@h"]:
        raw = raw_exchange(edge.port, b"GET /x.html HTTP/1.1\r\nHost: " + host + b"\r\n\r\n", timeout=10)
        f.eq(status_of(raw), 400, f"Host {host!r}")
    for host in [b"a.test", b"a.test:8080", b"127.0.0.1", b"[::1]:80"]:
        raw = raw_exchange(edge.port, b"GET /x.html HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n",
                           timeout=10)
        f.eq(status_of(raw), 200, f"Host {host!r}")

    raw = raw_exchange(edge.port, b"GET http://b.test/x.html HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
                       timeout=10)
    f.eq(status_of(raw), 200, "absolute-form target accepted")
    f.check(raw.endswith(b"x-body\n"), "absolute-form target serves the path it names")
    raw = raw_exchange(edge.port, b"GET http://b.test HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
                       timeout=10)
    f.eq(status_of(raw), 200, "absolute-form without a path is /")
    f.check(raw.endswith(b"index\n"), "absolute-form without a path serves the index")
    # The target's host wins: the access log names it, not the Host header.
    edge.stop()
    log = open(edge.access_log).read()
    f.check("\tb.test\t/x.html\t" in log, "access log shows the target's host for absolute-form")
    edge.start()

    raw = raw_exchange(edge.port, b"FOO /x.html HTTP/1.1\r\nHost: a.test\r\n\r\n", timeout=10)
    f.eq(status_of(raw), 501, "unknown method")
    raw = raw_exchange(edge.port, b"G{T /x.html HTTP/1.1\r\nHost: a.test\r\n\r\n", timeout=10)
    f.eq(status_of(raw), 400, "method with a non-token character")
    f.check(edge.proc.poll() is None, "edge alive")

    if shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK):
        nginx = Nginx(tmp, site).start()
        raw = raw_exchange(nginx.port, smuggle, timeout=10)
        f.check(b"SMUGGLED" not in raw, f"nginx also refuses the hidden request (statuses {statuses(raw)})")
        for host in [b"a b", b"evil.example/x?"]:
            raw = raw_exchange(nginx.port, b"GET /x.html HTTP/1.1\r\nHost: " + host + b"\r\n\r\n", timeout=10)
            f.eq(status_of(raw), 400, f"nginx: Host {host!r}")
    else:
        print("nginx not installed: no reference comparison")
finally:
    edge.stop()
    if nginx:
        nginx.stop()
f.done()
