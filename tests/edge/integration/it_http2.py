"""HTTP/2 for viewers: ALPN h2 on the HTTPS listener and prior-knowledge h2c on the plain one, driven by curl --http2,
nghttp, h2load and python3-h2. The same bytes as over HTTP/1.1 (a 10 MiB cached object and 10 MiB passed through
uncached, with and without a length), HEAD, 304, Range, 404; many streams on one connection with h2load; a slow
origin miss does not hold back hits on the same connection; a viewer that never opens its flow-control windows keeps
the edge's memory bounded; SIGTERM sends GOAWAY and lets the open stream finish. (h2spec is not packaged in Debian
and cannot be built offline; nghttp2's own client tools and python3-h2 are the peers.)"""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import (Edge, Failures, bucket_origin, catch_all, free_port, http_origin, make_test_certs,  # noqa: E402
                      rss_mb, skip, tls_listen, tmpdir, wait_port)
from pyorigin import PyOrigin  # noqa: E402

for tool in ("curl", "nghttp", "h2load", "openssl"):
    if not shutil.which(tool):
        skip(f"{tool} not installed (Debian nghttp2-client, curl, openssl)")
try:
    from h2client import H2Client  # noqa: E402
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")  # Debian's python3-h2 under another python3 first on PATH
    try:
        from h2client import H2Client  # noqa: E402
    except ImportError:
        skip("python3-h2 not installed")

tmp = tmpdir()
certs = make_test_certs(tmp)
site = os.path.join(tmp, "site")
os.makedirs(site)
big = os.urandom(10 << 20)
with open(os.path.join(site, "big.bin"), "wb") as fh:
    fh.write(big)
with open(os.path.join(site, "index.html"), "w") as fh:
    fh.write("<h1>hello over h2</h1>\n")
for i in range(8):
    with open(os.path.join(site, f"s{i}.txt"), "w") as fh:
        fh.write(f"small {i}\n" * 100)

py = PyOrigin()
pass_body = os.urandom(10 << 20)
py.scripts["/py/pass/big"] = [b"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: %d\r\n\r\n"
                              % len(pass_body) + pass_body]
chunked_body = os.urandom(3 << 20)
chunks = b"".join(b"%x\r\n" % len(chunked_body[i:i + 65536]) + chunked_body[i:i + 65536] + b"\r\n"
                  for i in range(0, len(chunked_body), 65536))
py.scripts["/py/pass/chunked"] = [b"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  + chunks + b"0\r\n\r\n"]

py.scripts["/py/hints"] = [b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                           b"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 2\r\n\r\nok"]

tls_port = free_port()
conf = f"""
[limits]
client_buffer_bytes = "128KiB"
[cache]
max_bytes = "64MiB"
max_object_bytes = "16MiB"
{tls_listen(tls_port, certs)}
[http2]
max_concurrent_streams = 64
{http_origin("py", py.port)}
{bucket_origin("site", site)}
[[behavior]]
path_pattern = "/py/*"
origin = "py"
compress = false
""" + catch_all("site", 'default_ttl = "1h"', "compress = false")
f = Failures()
edge = Edge(tmp, conf)
# ASan's quarantine would keep every freed buffer and hide what the memory check measures.
asan = os.environ.get("ASAN_OPTIONS", "")
edge.env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "quarantine_size_mb=8"
edge.start()
wait_port(tls_port)
base = f"https://127.0.0.1:{tls_port}"


def curl(url, *args):
    p = subprocess.run(["curl", "-sS", "-k", "--http2", "--max-time", "30", "-o", "-",
                        "-w", "\n%{http_version} %{http_code}", *args, url], capture_output=True, timeout=60)
    body, _, tail = p.stdout.rpartition(b"\n")
    return tail.decode(), body


def sha(b):
    return hashlib.sha256(b).hexdigest()


try:
    # --- curl --http2: the same bytes as the origin's, miss then hit ---
    for n in (1, 2):
        st, body = curl(base + "/big.bin")
        f.eq(st, "2 200", f"GET /big.bin over h2 (#{n})")
        f.check(sha(body) == sha(big), f"10 MiB object byte-exact over h2 (#{n}: {len(body)} bytes)")
    p = subprocess.run(["curl", "-sSk", "--http2", "-D", "-", "-o", "/dev/null", base + "/index.html"],
                       capture_output=True, timeout=30)
    head = p.stdout.decode().lower()
    f.check(head.startswith("http/2 200"), "a head over h2")
    f.check("connection:" not in head and "transfer-encoding:" not in head and "keep-alive" not in head,
            "no connection-specific field in an HTTP/2 head (RFC 9113 §8.2.2)")
    etag = next((ln.split(":", 1)[1].strip() for ln in head.splitlines() if ln.startswith("etag:")), None)
    f.check(etag is not None, "the head has the ETag")
    st, body = curl(base + "/index.html", "-I")
    f.check(st == "2 200" and b"content-length: 23" in body.lower(), f"HEAD over h2: {st}")
    st, body = curl(base + "/index.html", "-H", f"If-None-Match: {etag}")
    f.eq(st, "2 304", "If-None-Match over h2 answers 304")
    f.eq(body, b"", "the 304 has no body")
    st, body = curl(base + "/big.bin", "-r", "1000-1999")
    f.check(st == "2 206" and body == big[1000:2000], f"Range over h2: {st}, {len(body)} bytes")
    st, body = curl(base + "/nope.html")
    f.eq(st, "2 404", "404 over h2")

    # --- passed through uncached, with a length and chunked from the origin (no length to the viewer) ---
    st, body = curl(base + "/py/pass/big")
    f.check(st == "2 200" and sha(body) == sha(pass_body), f"10 MiB no-store pass-through byte-exact: {st}, "
            f"{len(body)} bytes")
    st, body = curl(base + "/py/pass/chunked")
    f.check(st == "2 200" and sha(body) == sha(chunked_body), f"3 MiB chunked pass-through byte-exact: {st}, "
            f"{len(body)} bytes")

    # --- an origin that dies mid-body: the stream is reset, never a short body that looks complete ---
    p = subprocess.run(["curl", "-sSk", "--http2", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}",
                        base + "/py/truncated"], capture_output=True, timeout=60)
    f.check(p.stdout == b"502" or p.returncode != 0,
            f"origin truncates: 502, or the stream fails ({p.stdout!r}, curl exit {p.returncode})")
    f.check(edge.proc.poll() is None, "the edge lives on")

    # --- h2c with prior knowledge on the plain listener ---
    p = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "-", "-w", "\n%{http_version} %{http_code}",
                        f"http://127.0.0.1:{edge.port}/big.bin"], capture_output=True, timeout=60)
    body, _, tail = p.stdout.rpartition(b"\n")
    f.check(tail == b"2 200" and sha(body) == sha(big), f"h2c prior knowledge: {tail!r}, {len(body)} bytes")
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                        f"http://127.0.0.1:{edge.port}/index.html"], capture_output=True, timeout=30)
    f.eq(p.stdout, b"1.1 200", "HTTP/1.1 on the same plain listener")

    # --- nghttp: h2 negotiated, SETTINGS as configured ---
    p = subprocess.run(["nghttp", "-nv", base + "/index.html"], capture_output=True, timeout=30)
    out = p.stdout.decode()
    f.check("negotiated protocol: h2" in out, "nghttp negotiates h2")
    f.check("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):64" in out, "SETTINGS_MAX_CONCURRENT_STREAMS from [http2]")
    f.check(":status: 200" in out, "nghttp gets 200")

    # --- 103 Early Hints: a HEADERS frame before the final one (browsers use them only over HTTP/2) ---
    p = subprocess.run(["nghttp", "-v", base + "/py/hints"], capture_output=True, timeout=30)
    out = p.stdout.decode()
    i103, i200 = out.find(":status: 103"), out.find(":status: 200")
    f.check(0 <= i103 < i200 and "link: </a.css>; rel=preload" in out[i103:i200],
            "103 Early Hints reach an h2 viewer before the 200")

    # --- h2load: many streams on few connections against cached objects ---
    paths = [base + f"/s{i}.txt" for i in range(8)]
    p = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "32", *paths], capture_output=True, timeout=60)
    out = p.stdout.decode()
    print(out[-700:])
    f.check("2000 succeeded, 0 failed, 0 errored, 0 timeout" in out, "h2load -c 4 -m 32: 2000 requests, no error")
    f.check("status codes: 2000 2xx" in out, "h2load: every answer 2xx")

    # --- a slow origin miss does not hold back hits on the same connection ---
    c = H2Client(tls_port)
    slow = c.request("/py/stream")  # the origin holds its last byte until released
    c.pump(lambda: c.streams[slow]["headers"], timeout=10)
    hits = [c.request(f"/s{i % 8}.txt") for i in range(40)]
    t0 = time.time()
    c.pump(lambda: all(c.done(h) for h in hits), timeout=15)
    f.check(all(c.streams[h]["ended"] and c.streams[h]["headers"].get(":status") == "200" for h in hits),
            f"40 hits answered while a miss streams on the same connection ({time.time() - t0:.2f}s)")
    f.check(not c.done(slow), "the slow stream is still open meanwhile")
    py.release.set()
    c.pump(lambda: c.done(slow), timeout=15)
    f.check(c.streams[slow]["ended"] and bytes(c.streams[slow]["data"]) == b"A" * 1000 + b"Z",
            "the slow stream completes byte-exact once the origin goes on")
    c.close()

    # --- a viewer that never opens its windows: memory stays bounded ---
    rss0 = rss_mb(edge.proc.pid)
    stalled = []
    for _ in range(4):
        sc = H2Client(tls_port, window=0, auto_ack=False)
        ids = [sc.request("/big.bin") for _ in range(16)] + [sc.request("/py/pass/big")]
        sc.pump(lambda: all(sc.streams[i]["headers"] for i in ids), timeout=10)
        stalled.append(sc)
    time.sleep(1.0)
    rss1 = rss_mb(edge.proc.pid)
    f.check(rss1 - rss0 < 40, f"4 connections x 17 streams with window 0: RSS {rss0:.0f} -> {rss1:.0f} MB")
    st, body = curl(base + "/index.html")
    f.eq(st, "2 200", "others are served while those stall")
    for sc in stalled:
        sc.close()

    # --- SIGTERM: GOAWAY, the open stream finishes, the process exits 0 ---
    py.release.clear()
    # nghttp keeps reading the open stream after a GOAWAY (python3-h2 4.1 stops at it).
    ng = subprocess.Popen(["nghttp", "-v", base + "/py/stream-drain"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    deadline = time.time() + 10
    while py.count("/py/stream-drain") == 0 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    edge.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    py.release.set()
    try:
        out = ng.communicate(timeout=20)[0].decode("latin-1")
    except subprocess.TimeoutExpired:
        ng.kill()
        out = ng.communicate()[0].decode("latin-1")
    f.check("recv GOAWAY" in out and "error_code=NO_ERROR" in out, "SIGTERM: GOAWAY NO_ERROR on an h2 connection")
    f.check(":status: 200" in out and "END_STREAM" in out and ng.returncode == 0,
            f"the stream open at SIGTERM completes (nghttp exit {ng.returncode})")
    try:
        rc = edge.proc.wait(20)
    except subprocess.TimeoutExpired:
        rc = None
    f.eq(rc, 0, "the edge exits 0 after draining")
    lines = [ln.split("\t") for ln in open(edge.access_log).read().splitlines()]
    f.check(any(x[7] == "/big.bin" and x[15].startswith("TLSv1.") and x[17] == "HTTP/2.0" for x in lines),
            "access log: cs-protocol-version HTTP/2.0 for an h2 request")
    f.check(any(x[7] == "/big.bin" and x[15] == "-" and x[17] == "HTTP/2.0" for x in lines),
            "access log: HTTP/2.0 for an h2c request: "
            f"{sorted({(x[7], x[8], x[15], x[17]) for x in lines if x[7] in ('/big.bin', '/index.html')})}")
    f.check(any(x[7] == "/index.html" and x[15] == "-" and x[17] == "HTTP/1.1" for x in lines),
            "access log: HTTP/1.1 for the HTTP/1.1 request")
finally:
    edge.stop()
    py.stop()
f.done()
