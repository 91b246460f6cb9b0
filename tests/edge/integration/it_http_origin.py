"""meridian-edge in front of http origins: nginx (started here on loopback; its access log counts origin requests
and records Host / X-Forwarded-For / Via) for miss→hit, TTL expiry and RefreshHit on 304, no-store, Age, X-Cache,
collapsing (100 concurrent cold requests → 1 origin request, across 2 workers); a scripted python origin for
streaming (the client gets the first bytes while the origin still holds back the last one), refused/reset/garbage/
truncated → 502, silence → 504, Set-Cookie not stored, chunked origin bodies."""
import os
import shutil
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, Nginx, catch_all, free_port, http_get, http_origin, tmpdir  # noqa: E402
from pyorigin import PyOrigin  # noqa: E402

tmp = tmpdir()
root = os.path.join(tmp, "www")
os.makedirs(os.path.join(root, "ttl"))
os.makedirs(os.path.join(root, "nostore"))
with open(os.path.join(root, "a.html"), "w") as fh:
    fh.write("<p>a</p>\n")
with open(os.path.join(root, "ttl", "t.txt"), "w") as fh:
    fh.write("short-lived\n")
with open(os.path.join(root, "nostore", "n.txt"), "w") as fh:
    fh.write("never stored\n")
blob = os.urandom(200_000)
with open(os.path.join(root, "cold.bin"), "wb") as fh:
    fh.write(blob)

f = Failures()
nginx = Nginx(tmp, root, locations="""
    location /ttl/ { add_header Cache-Control "max-age=1"; }
    location /nostore/ { add_header Cache-Control "no-store"; }
    location / { add_header Cache-Control "max-age=300"; }
""")
py = PyOrigin()
dead_port = free_port()
edge = None
try:
    nginx.start()
    edge = Edge(tmp, f"""
[cache]
collapse_timeout = "5s"
{http_origin("nginx", nginx.port)}
{http_origin("py", py.port)}
first_byte_timeout = "700ms"
idle_timeout = "2s"
{http_origin("dead", dead_port)}
connect_timeout = "1s"
{http_origin("viewerhost", nginx.port)}
host_header = "viewer"
[[behavior]]
path_pattern = "/py/api/*"
origin = "py"
allowed_methods = "ALL"
[[behavior]]
path_pattern = "/py/*"
origin = "py"
[[behavior]]
path_pattern = "/dead/*"
origin = "dead"
[[behavior]]
path_pattern = "/vh/*"
origin = "viewerhost"
""" + catch_all("nginx"), workers=2).start()
    port = edge.port

    # Miss then hit; the origin sees exactly one request.
    st, h, body = http_get(port, "/a.html", headers={"X-Forwarded-For": "10.1.2.3"})
    f.eq((st, body), (200, b"<p>a</p>\n"), "miss body")
    f.eq(h.get("x-cache"), "Miss from meridian", "miss X-Cache")
    st, h, body = http_get(port, "/a.html")
    f.eq(h.get("x-cache"), "Hit from meridian", "hit X-Cache")
    f.eq(body, b"<p>a</p>\n", "hit body")
    f.eq(len(nginx.requests("/a.html")), 1, "one origin request for miss + hit")
    line = nginx.requests("/a.html")[0]
    f.check(f"host=127.0.0.1:{nginx.port}" in line, f"origin sees its own Host ({line})")
    f.check("xff=10.1.2.3, 127.0.0.1" in line, f"origin sees X-Forwarded-For appended ({line})")
    f.check("via=1.1 edge-test" in line, f"origin sees Via ({line})")
    time.sleep(1.1)
    st, h, body = http_get(port, "/a.html")
    f.check(int(h.get("age", "0")) >= 1, f"Age grows ({h.get('age')})")

    # Host per host_header = viewer.
    http_get(port, "/vh/../a.html")  # normalized to /a.html: matches "*" behavior, not /vh/*
    shutil.copy(os.path.join(root, "a.html"), os.path.join(root, "vh.html"))
    os.makedirs(os.path.join(root, "vh"), exist_ok=True)
    shutil.copy(os.path.join(root, "a.html"), os.path.join(root, "vh", "x.html"))
    http_get(port, "/vh/x.html", headers={"Host": "www.example.test"})
    lines = nginx.requests("/vh/x.html")
    f.check(len(lines) == 1 and "host=www.example.test" in lines[0], f"host_header = viewer ({lines})")

    # TTL expiry with max-age=1: hit within the second, then revalidation with a 304 → RefreshHit.
    st, h, _ = http_get(port, "/ttl/t.txt")
    f.eq(h.get("x-cache"), "Miss from meridian", "ttl first")
    st, h, _ = http_get(port, "/ttl/t.txt")
    f.eq(h.get("x-cache"), "Hit from meridian", "ttl within max-age")
    time.sleep(1.3)
    st, h, body = http_get(port, "/ttl/t.txt")
    f.eq(h.get("x-cache"), "RefreshHit from meridian", "after max-age: revalidated (304) → RefreshHit")
    f.eq(body, b"short-lived\n", "RefreshHit body")
    f.eq(len(nginx.requests("/ttl/t.txt")), 2, "expiry caused exactly one more origin request")

    # no-store: never stored.
    for i in range(3):
        st, h, body = http_get(port, "/nostore/n.txt")
        f.eq(h.get("x-cache"), "Miss from meridian", f"no-store request {i}")
    f.eq(len(nginx.requests("/nostore/n.txt")), 3, "no-store: every request reaches the origin")

    # Collapsing: 100 concurrent requests for a cold object → one origin request.
    results = []
    lock = threading.Lock()
    go = threading.Event()

    def fetch():
        go.wait()
        try:
            r = http_get(port, "/cold.bin", timeout=15)
        except Exception as e:  # noqa: BLE001
            r = (None, {}, repr(e).encode())
        with lock:
            results.append(r)

    threads = [threading.Thread(target=fetch) for _ in range(100)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(30)
    ok = sum(1 for st, h, b in results if st == 200 and b == blob)
    f.eq(ok, 100, "100 concurrent cold requests all got the object byte for byte")
    f.eq(len(nginx.requests("/cold.bin")), 1, "collapsing: exactly one origin request")

    # Streaming: the first bytes arrive while the origin holds back the last one.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /py/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        s.settimeout(5)
        try:
            while got.count(b"A") < 1000:
                d = s.recv(65536)
                if not d:
                    break
                got += d
        except socket.timeout:
            print("streaming: received so far:", got[:300], len(got))
        f.check(got.count(b"A") == 1000 and b"Z" not in got, "streaming: body bytes before the origin finished")
        py.release.set()
        while b"Z" not in got:
            d = s.recv(65536)
            if not d:
                break
            got += d
        f.check(got.endswith(b"Z") or b"Z\r\n" in got, "streaming: last byte arrives after release")
    st, h, body = http_get(port, "/py/stream", headers={"Host": "x"})
    f.eq(h.get("x-cache"), "Hit from meridian", "streamed object was stored")
    py.release.clear()

    # Origin failures.
    st, h, _ = http_get(port, "/dead/x")
    f.eq(st, 502, "connection refused → 502")
    f.eq(h.get("x-cache"), "Error from meridian", "502 X-Cache")
    st, h, _ = http_get(port, "/py/garbage")
    f.eq(st, 502, "garbage → 502")
    st, h, _ = http_get(port, "/py/reset")
    f.eq(st, 502, "reset → 502")
    t0 = time.time()
    st, h, _ = http_get(port, "/py/silent", timeout=10)
    f.eq(st, 504, "no answer → 504")
    f.check(time.time() - t0 < 5, "504 after about first_byte_timeout")
    try:
        st, h, body = http_get(port, "/py/truncated")
        f.check(st != 200 or len(body) != 100, "truncated body is not delivered as complete")
    except RuntimeError:
        f.check(True, "truncated body: connection closed inside the body")
    n_before = py.count("/py/truncated")
    try:
        http_get(port, "/py/truncated")
    except RuntimeError:
        pass
    f.eq(py.count("/py/truncated"), n_before + 1, "truncated response was not cached")
    errs = edge.metric('meridian_edge_origin_errors_total{kind="refused"}')
    f.check(errs is not None and errs >= 1, f"origin errors counted ({errs})")

    # Set-Cookie not stored; chunked origin bodies are fine.
    http_get(port, "/py/cookie")
    st, h, body = http_get(port, "/py/cookie")
    f.check(h.get("x-cache") == "Miss from meridian" and "s=1" in h.get("set-cookie", ""),
            "Set-Cookie responses are passed, not stored")
    st, h, body = http_get(port, "/py/chunked")
    f.eq(body, b"hello world", "chunked origin body (miss)")
    st, h, body = http_get(port, "/py/chunked")
    f.check(body == b"hello world" and h.get("x-cache") == "Hit from meridian", "chunked origin body (hit)")

    # Forwarded methods pass through uncached, with their bodies and the viewer's headers.
    for i in range(2):
        st, h, body = http_get(port, "/py/api/echo", method="POST", body=b"payload-%d" % i,
                               headers={"Cookie": "sid=42"})
        f.eq((st, body), (200, b"POST payload-%d" % i), f"POST body reaches the origin and back ({i})")
        f.eq(h.get("x-cache"), "Miss from meridian", f"POST is never a hit ({i})")
    f.check(b"sid=42" in py.last_head, "pass-through forwards the viewer's Cookie")
    st, h, body = http_get(port, "/py/api/echo", method="DELETE")
    f.eq((st, body), (200, b"DELETE "), "DELETE forwarded with ALL")
    st, h, body = http_get(port, "/py/api/echo")
    f.eq(body, b"GET ", "GET on an ALL behavior")
    f.check(b"sid" not in py.last_head, "a shared fill carries no viewer cookie")
    st, h, _ = http_get(port, "/py/echo", method="PUT", body=b"x")
    f.eq(st, 405, "PUT on a GET_HEAD behavior")
    st, h, _ = http_get(port, "/py/echo", method="OPTIONS")
    f.eq((st, h.get("allow")), (405, "GET, HEAD"), "OPTIONS on a GET_HEAD behavior")

    f.eq(edge.stop(), 0, "SIGTERM exit code")
finally:
    py.stop()
    if edge and edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
    nginx.stop()
    shutil.rmtree(tmp, ignore_errors=True)
f.done()
