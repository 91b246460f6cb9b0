"""meridian-edge with a bucket origin: miss then hit byte for byte, X-Cache/Age/Via/Server/Date, S3 error
document, 405 + Allow, HEAD, health on the main listener, conditional hits (304), keep-alive and pipelining in
order, HTTP/1.0, IPv6-free config checks, and every bad-input shape over raw sockets (400/414/431/501/408)."""
import os
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import (EDGE, Edge, Failures, bucket_origin, catch_all, http_get, raw_exchange,  # noqa: E402
                      read_response, status_of, tmpdir)

SITE = os.path.join(os.environ.get("MERIDIAN_SRC", "."), "conf/demo/site")

tmp = tmpdir()
site = os.path.join(tmp, "site")
shutil.copytree(SITE, site)
with open(os.path.join(site, "big.bin"), "wb") as f:
    f.write(os.urandom(3 << 20))
with open(os.path.join(site, "huge.bin"), "wb") as f:  # over max_object_bytes (8 MiB): passed through, never stored
    f.write(os.urandom(12 << 20))

f = Failures()
edge = Edge(tmp, f"""
[limits]
max_uri_bytes = 1024
max_header_bytes = 4096
header_timeout = "1s"
[health]
path = "/healthz"
{bucket_origin("site", site)}
error_document = "404.html"
[[behavior]]
path_pattern = "/short/*"
origin = "site"
default_ttl = "1s"
[[behavior]]
path_pattern = "/nocache/*"
origin = "site"
cache = false
{catch_all("site")}
default_ttl = "60s"
""", workers=2, ipv6=True)
edge.start()
try:
    port = edge.port
    index = open(os.path.join(site, "index.html"), "rb").read()

    st, h, body = http_get(port, "/")
    f.eq(st, 200, "GET / status")
    f.check(body == index, "GET / is index.html byte for byte")
    f.eq(h.get("x-cache"), "Miss from meridian", "first GET / X-Cache")
    f.check("date" in h and h.get("server") == "meridian", "Date and Server present")
    f.eq(h.get("via"), "1.1 edge-test", "Via")
    f.check(h.get("content-type", "").startswith("text/html"), "Content-Type text/html")
    f.check(h.get("etag", "").startswith('"'), "strong ETag")

    st, h, body = http_get(port, "/")
    f.eq(h.get("x-cache"), "Hit from meridian", "second GET / X-Cache")
    f.check(body == index, "hit body byte for byte")
    f.check(h.get("age") is not None and int(h["age"]) >= 0, "hit has Age")

    # Every file of the site, twice: miss then hit, byte for byte.
    for dirpath, _, files in os.walk(SITE):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), SITE)
            want = open(os.path.join(dirpath, name), "rb").read()
            for attempt in ("miss", "hit"):
                st, h, body = http_get(port, "/" + rel)
                f.check(st == 200 and body == want, f"/{rel} ({attempt}) byte for byte")

    if edge.ipv6:
        for attempt in ("miss", "hit"):
            st, h, body = http_get(port, "/", host="::1")
            f.check(st == 200 and body == index, f"IPv6 listener ({attempt})")
    else:
        print("note: no IPv6 loopback here; IPv6 listener not checked")

    big = open(os.path.join(site, "big.bin"), "rb").read()
    for attempt in ("miss", "hit"):
        st, h, body = http_get(port, "/big.bin", timeout=20)
        f.check(st == 200 and body == big, f"3 MiB file ({attempt}) byte for byte")
    huge = open(os.path.join(site, "huge.bin"), "rb").read()
    for attempt in ("first", "second"):  # read on the threadpool, 256 KiB at a time
        st, h, body = http_get(port, "/huge.bin", timeout=30)
        f.check(st == 200 and body == huge, f"12 MiB file, over max_object_bytes ({attempt}) byte for byte")
    st, h, body = http_get(port, "/huge.bin", headers={"Range": "bytes=9000000-9999999"}, timeout=30)
    f.check(st == 206 and body == huge[9000000:10000000], "a range of it (206) byte for byte")

    st, h, body = http_get(port, "/no/such/file")
    f.eq(st, 404, "missing key status")
    f.eq(h.get("x-cache"), "Error from meridian", "404 X-Cache")
    f.check(body == open(os.path.join(site, "404.html"), "rb").read(), "404 serves the error document")

    st, h, body = http_get(port, "/", method="POST", body=b"x=1")
    f.eq(st, 405, "POST on GET_HEAD behavior")
    f.eq(h.get("allow"), "GET, HEAD", "405 Allow")

    st, h, body = http_get(port, "/", method="HEAD")
    f.eq(st, 200, "HEAD status")
    f.eq(h.get("content-length"), str(len(index)), "HEAD Content-Length")

    st, h, body = http_get(port, "/healthz")
    f.eq((st, body), (200, b"ok\n"), "health on the main listener")

    st, h, body = http_get(port, "/", headers={"If-None-Match": h.get("etag", '"x"')})
    st0, h0, _ = http_get(port, "/")
    st, h, body = http_get(port, "/", headers={"If-None-Match": h0["etag"]})
    f.eq(st, 304, "If-None-Match on a hit → 304")

    st, h, body = http_get(port, "/nocache/../index.html")
    f.eq(st, 200, "dot segments normalized")
    for evil in ["/..%2f..%2fetc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/a%00b", "/a\\..\\b", "/../../etc/passwd"]:
        st, h, body = http_get(port, evil)
        f.check(st in (400, 404), f"escape attempt {evil!r} → {st}")

    # Short TTL on a bucket object: unchanged file → revalidated (RefreshHit); changed file → new content (Miss).
    os.makedirs(os.path.join(site, "short"), exist_ok=True)
    short = os.path.join(site, "short", "s.txt")
    with open(short, "w") as fh:
        fh.write("version-1")
    f.eq(http_get(port, "/short/s.txt")[1].get("x-cache"), "Miss from meridian", "short TTL: first")
    time.sleep(1.2)
    st, h, body = http_get(port, "/short/s.txt")
    f.check(h.get("x-cache") == "RefreshHit from meridian" and body == b"version-1",
            f"short TTL, unchanged file: RefreshHit ({h.get('x-cache')})")
    f.eq(http_get(port, "/short/s.txt")[1].get("x-cache"), "Hit from meridian", "refreshed object is fresh again")
    time.sleep(1.2)
    with open(short, "w") as fh:
        fh.write("version-2 (longer)")
    st, h, body = http_get(port, "/short/s.txt")
    f.check(h.get("x-cache") == "Miss from meridian" and body == b"version-2 (longer)",
            f"short TTL, changed file: new content ({h.get('x-cache')}, {body!r})")

    # Caching off: always a miss.
    os.makedirs(os.path.join(site, "nocache"), exist_ok=True)
    with open(os.path.join(site, "nocache", "a.txt"), "w") as fh:
        fh.write("fresh-1")
    http_get(port, "/nocache/a.txt")
    with open(os.path.join(site, "nocache", "a.txt"), "w") as fh:
        fh.write("fresh-2")
    st, h, body = http_get(port, "/nocache/a.txt")
    f.check(body == b"fresh-2" and h.get("x-cache") == "Miss from meridian", "cache = false passes through")

    # Keep-alive + pipelining: three requests in one write, answers in order.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /no-such HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        deadline = time.time() + 5
        while data.count(b"HTTP/1.1 ") < 3 and time.time() < deadline:
            data += s.recv(65536)
        parts = data.split(b"HTTP/1.1 ")[1:]
        statuses = [int(p[:3]) for p in parts]
        f.eq(statuses, [200, 404, 200], "pipelined responses in order")

    # HTTP/1.0 without Host, then keep-alive on 1.0.
    raw = raw_exchange(port, b"GET /robots.txt HTTP/1.0\r\n\r\n")
    f.eq(status_of(raw), 200, "HTTP/1.0 without Host")
    f.check(b"Connection: close" in raw, "HTTP/1.0 answer closes")

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        answers = []
        for _ in range(2):
            s.sendall(b"GET /robots.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            answers.append(read_response(s))
        f.check(all(a[0] == 200 and a[1].get("connection") == "keep-alive" for a in answers),
                "HTTP/1.0 keep-alive: two answers on one connection, each saying keep-alive")

    # Expect: 100-continue gets an interim 100 before the final answer (here 405: POST is not allowed).
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        s.settimeout(3)
        first = s.recv(4096)
        f.check(first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), f"100 Continue before the body ({first[:30]!r})")
        s.sendall(b"hello")
        rest = first[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
        while b"\r\n\r\n" not in rest:
            rest += s.recv(4096)
        f.eq(status_of(rest), 405, "final answer after 100 Continue")

    # ---- bad input over raw sockets ----
    cases = [
        (b"GET / HTTP/1.1\r\n\r\n", 400, "missing Host"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "duplicate Host"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
         "CL and TE"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, "differing CLs"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n", 400, "obs-fold"),
        (b"GET / HTTP/1.1\nHost: a\n\n", 400, "bare LF"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nX: \rTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
         "empty header name after CR"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unknown Transfer-Encoding"),
        (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414, "URI too long"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"b" * 5000 + b"\r\n\r\n", 431, "headers too large"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage", 400, "TLS hello on the plain port"),
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "space before colon"),
    ]
    for data, want, what in cases:
        raw = raw_exchange(port, data)
        f.eq(status_of(raw), want, f"bad input: {what}")
        f.check(raw.endswith(b"\n") or raw.endswith(b"<reset>") or status_of(raw) == want,
                f"bad input: {what}: connection closed after the answer")

    # Slowloris: a partial head and then silence → 408 after header_timeout (1 s).
    t0 = time.time()
    raw = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ", timeout=5)
    f.eq(status_of(raw), 408, "slow headers → 408")
    f.check(time.time() - t0 < 4, "408 arrives after about header_timeout")

    # The server still works after all of that.
    st, h, body = http_get(port, "/")
    f.check(st == 200 and body == index, "still serving after bad input")

    hits = edge.metric('meridian_edge_requests_total{result="hit"}')
    f.check(hits is not None and hits > 0, f"metrics count hits ({hits})")

    code = edge.stop()
    f.eq(code, 0, "SIGTERM exit code")
    lines = open(edge.access_log).read().splitlines()
    f.check(len(lines) > 20, f"access log has lines ({len(lines)})")
    fields = lines[0].split("\t")
    f.eq(len(fields), 18, "access log line has 18 tab-separated fields")
    f.eq(fields[17], "HTTP/1.1", "cs-protocol-version")
    f.check(any("\tHit\t" in l for l in lines) and any("\tMiss\t" in l for l in lines),
            "access log result types Hit and Miss")
    # A listen address that is taken: a clear error and exit 1, nothing left running.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    bport = busy.getsockname()[1]
    cfg = os.path.join(tmp, "busy.toml")
    with open(cfg, "w") as fh:
        fh.write(f'allow_root = true\nworkers = 2\nlisten = ["127.0.0.1:{bport}"]\n[[origin]]\nname = "s"\ntype = "bucket"\n'
                 f'path = "{site}"\n')
    import subprocess
    r = subprocess.run([EDGE, "--config", cfg], capture_output=True,
                       text=True, timeout=30)
    busy.close()
    f.eq(r.returncode, 1, "busy listen address: exit code")
    f.check(f"127.0.0.1:{bport}" in r.stderr and "address already in use" in r.stderr.lower(),
            f"busy listen address: the error names it ({r.stderr.strip()[-200:]})")
finally:
    if edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
    shutil.rmtree(tmp, ignore_errors=True)
f.done()
