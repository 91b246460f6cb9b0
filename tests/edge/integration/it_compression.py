"""Automatic compression at the edge (CloudFront's "Compress objects automatically") in front of nginx: curl
--compressed and Accept-Encoding: br get a br (gzip when only gzip is accepted) variant that decodes byte for byte to
the origin's file, Miss then Hit, with Content-Encoding, Vary: Accept-Encoding, the right Content-Length and a weak
ETag; identity answers of compressible types carry Vary; woff2/png and a 500-byte file are never compressed, nor is an
incompressible text file (remembered: one compression only); Range gets identity; compress = false turns it off; HEAD
gets the GET's headers; bad Accept-Encoding headers are harmless; concurrent first requests share one compression;
a changed origin file (revalidation) never gets the old variant; metrics and the access log count sent bytes."""
import gzip
import itertools
import os
import random
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, Nginx, catch_all, http_get, http_origin, skip, tmpdir  # noqa: E402

CURL = shutil.which("curl")
if not CURL:
    skip("curl is not installed")
if "brotli" not in subprocess.run([CURL, "-V"], capture_output=True, text=True).stdout:
    skip("this curl cannot decode brotli")

tmp = tmpdir()
root = os.path.join(tmp, "www")
os.makedirs(os.path.join(root, "nocompress"))
os.makedirs(os.path.join(root, "short"))
os.makedirs(os.path.join(root, "nt"))
rng = random.Random(1)
words = ["function", "return", "const", "let", "cache", "edge", "=>", "{", "}", ";", "\n", "document", "window"]


def text(n):
    out = []
    size = 0
    while size < n:
        w = rng.choice(words) + " "
        out.append(w)
        size += len(w)
    return "".join(out)[:n].encode()


files = {
    "app.js": text(300_000),
    "big.js": text(3_000_000),
    "style.css": text(40_000),
    "tiny.txt": text(500),
    "noise.txt": os.urandom(60_000),
    "font.woff2": text(20_000),  # compressible bytes, but the type says "already compressed"
    "img.png": text(20_000),
    "nocompress/page.html": text(50_000),
    "short/s.js": text(30_000),
    "nt/x.js": text(30_000),
}
for name, data in files.items():
    with open(os.path.join(root, name), "wb") as fh:
        fh.write(data)

f = Failures()
nginx = Nginx(tmp, root, locations="""
    location ~ \\.png$ { types { image/png png; } add_header Cache-Control "max-age=300"; }
    location ~ \\.woff2$ { types { font/woff2 woff2; } add_header Cache-Control "max-age=300"; }
    location ~ \\.css$ { types { text/css css; } add_header Cache-Control "max-age=300"; }
    location /short/ { add_header Cache-Control "max-age=1"; }
    location /nt/ { add_header Cache-Control "max-age=300, no-transform"; }
    location / { add_header Cache-Control "max-age=300"; }
""")
edge = None


_seq = itertools.count()


def curl(path, *args):
    """Returns (headers dict, body bytes) of a curl GET (body decoded when --compressed is among args)."""
    n = next(_seq)
    hdr = os.path.join(tmp, f"h{n}.txt")
    out = os.path.join(tmp, f"b{n}.bin")
    r = subprocess.run([CURL, "-sS", "-D", hdr, "-o", out, *args, f"http://127.0.0.1:{edge.port}{path}"],
                       capture_output=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"curl {path}: {r.stderr.decode()}")
    headers = {}
    for line in open(hdr, encoding="latin-1").read().splitlines()[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            k = k.strip().lower()
            headers[k] = headers[k] + ", " + v.strip() if k in headers else v.strip()
    return headers, open(out, "rb").read()


def origin_etag(name):
    st, h, _ = http_get(nginx.port, "/" + name, method="HEAD")
    return h.get("etag")


try:
    nginx.start()
    edge = Edge(tmp, f"""
[cache]
compress_timeout = "20s"
{http_origin("web", nginx.port)}
[[behavior]]
path_pattern = "/nocompress/*"
origin = "web"
compress = false
""" + catch_all("web"), workers=2).start()
    port = edge.port

    # ---- br: Miss, then Hit; decodes byte for byte
    h, body = curl("/app.js", "--compressed")
    f.eq((h.get("content-encoding"), h.get("x-cache")), ("br", "Miss from meridian"), "--compressed first: br, Miss")
    f.check(body == files["app.js"], "--compressed first: decodes to the origin's file")
    f.eq(h.get("vary"), "Accept-Encoding", "br: Vary")
    f.eq(h.get("etag"), "W/" + origin_etag("app.js"), "br: weak ETag = W/ + origin's strong tag")
    f.check("accept-ranges" not in h, "br: no Accept-Ranges")
    raw_len = int(h.get("content-length", "-1"))
    f.check(0 < raw_len < len(files["app.js"]) // 2, f"br: Content-Length {raw_len} is the compressed size")
    h, body = curl("/app.js", "--compressed")
    f.eq((h.get("content-encoding"), h.get("x-cache")), ("br", "Hit from meridian"), "--compressed again: br, Hit")
    f.check(body == files["app.js"], "--compressed hit: decodes to the origin's file")
    st, h, raw = http_get(port, "/app.js", headers={"Accept-Encoding": "br"})
    f.eq((st, h.get("content-encoding"), len(raw), int(h.get("content-length", -1))), (200, "br", raw_len, raw_len),
         "Accept-Encoding: br: raw body length = Content-Length")
    h, body = curl("/app.js", "-H", "Accept-Encoding: br", "--compressed")
    f.check(h.get("content-encoding") == "br" and body == files["app.js"], "-H 'Accept-Encoding: br' decodes")

    # ---- gzip when br is not acceptable (made from the cached identity object: Hit)
    st, h, raw = http_get(port, "/app.js", headers={"Accept-Encoding": "gzip, br;q=0"})
    f.eq((st, h.get("content-encoding"), h.get("x-cache")), (200, "gzip", "Hit from meridian"), "gzip, br;q=0: gzip")
    f.check(gzip.decompress(raw) == files["app.js"], "gzip: decodes byte for byte")
    f.eq(int(h.get("content-length", -1)), len(raw), "gzip: Content-Length")
    f.eq(h.get("vary"), "Accept-Encoding", "gzip: Vary")

    # ---- identity
    st, h, raw = http_get(port, "/app.js")
    f.eq((st, h.get("content-encoding"), raw == files["app.js"]), (200, None, True), "no Accept-Encoding: identity")
    f.eq(h.get("vary"), "Accept-Encoding", "identity of a compressible type carries Vary")
    f.eq(h.get("etag"), origin_etag("app.js"), "identity keeps the strong ETag")
    f.eq(h.get("x-cache"), "Hit from meridian", "identity: Hit")
    st, h, raw = http_get(port, "/app.js", headers={"Accept-Encoding": "identity"})
    f.eq((st, h.get("content-encoding"), len(raw)), (200, None, len(files["app.js"])), "identity only: identity")

    # ---- never compressed: woff2, png, 500 bytes
    for name, vary in (("font.woff2", None), ("img.png", None), ("tiny.txt", "Accept-Encoding")):
        for attempt in ("first", "second"):
            h, body = curl("/" + name, "--compressed")
            f.eq((h.get("content-encoding"), body == files[name]), (None, True), f"{name} ({attempt}): identity")
        f.eq(h.get("vary"), vary, f"{name}: Vary")

    # ---- Cache-Control: no-transform is honoured
    for attempt in ("first", "second"):
        h, body = curl("/nt/x.js", "--compressed")
        f.eq((h.get("content-encoding"), h.get("vary"), body == files["nt/x.js"]), (None, None, True),
             f"no-transform ({attempt}): identity, no Vary")

    # ---- incompressible text: identity, compressed once only (remembered)
    before = edge.metric('meridian_edge_compressor_unused_total{encoding="br"}') or 0
    for _ in range(3):
        h, body = curl("/noise.txt", "--compressed")
        f.eq((h.get("content-encoding"), body == files["noise.txt"]), (None, True), "noise.txt: identity")
    after = edge.metric('meridian_edge_compressor_unused_total{encoding="br"}') or 0
    f.eq(after - before, 1, "noise.txt: one compression, then remembered")

    # ---- Range gets identity
    st, h, raw = http_get(port, "/app.js", headers={"Accept-Encoding": "br, gzip", "Range": "bytes=10-109"})
    f.eq((st, h.get("content-encoding"), raw), (206, None, files["app.js"][10:110]), "Range: 206 identity")

    # ---- compress = false
    for attempt in ("first", "second"):
        h, body = curl("/nocompress/page.html", "--compressed")
        f.eq((h.get("content-encoding"), body == files["nocompress/page.html"]), (None, True),
             f"compress = false ({attempt}): identity")
    f.eq(h.get("vary"), None, "compress = false: no Vary added")

    # ---- HEAD gets the GET's headers
    st, hg, raw = http_get(port, "/style.css", headers={"Accept-Encoding": "br"})
    f.eq((st, hg.get("content-encoding"), hg.get("x-cache")), (200, "br", "Miss from meridian"), "css GET: br, Miss")
    st, hh, raw2 = http_get(port, "/style.css", headers={"Accept-Encoding": "br"}, method="HEAD")
    f.eq((st, hh.get("content-encoding"), hh.get("content-length"), hh.get("etag"), hh.get("vary"), raw2),
         (200, "br", hg.get("content-length"), hg.get("etag"), "Accept-Encoding", b""), "HEAD: the GET's headers")
    st, hh, raw2 = http_get(port, "/tiny.txt", headers={"Accept-Encoding": "br"}, method="HEAD")
    f.eq((st, hh.get("content-encoding"), hh.get("content-length")), (200, None, "500"), "HEAD tiny: identity")

    # ---- HEAD first (a miss), then GET: same shape
    st, hh, _ = http_get(port, "/short/s.js", headers={"Accept-Encoding": "gzip"}, method="HEAD")
    st2, hg, raw = http_get(port, "/short/s.js", headers={"Accept-Encoding": "gzip"})
    f.eq((hh.get("content-encoding"), hg.get("content-encoding"), hh.get("content-length")),
         ("gzip", "gzip", hg.get("content-length")), "HEAD miss then GET: both gzip, same length")
    f.check(gzip.decompress(raw) == files["short/s.js"], "short/s.js gzip decodes")

    # ---- bad Accept-Encoding headers
    for ae in ("garbage;;q=x,,\u00e9\u00ff", "br;q=2", ";;;", "br;q=0, gzip;q=0", "*;q=0", "x" * 4000):
        st, h, raw = http_get(port, "/app.js", headers={"Accept-Encoding": ae})
        f.eq((st, h.get("content-encoding"), raw == files["app.js"]), (200, None, True), f"AE {ae[:20]!r}: identity")
    st, h, raw = http_get(port, "/app.js", headers={"Accept-Encoding": "GZIP ; Q=0.5 , *;q=0"})
    f.eq((st, h.get("content-encoding")), (200, "gzip", ), "AE with case and spaces: gzip")

    # ---- concurrent first requests share one compression (a 3 MB file, so they overlap)
    http_get(port, "/big.js")  # identity cached
    in_before = edge.metric('meridian_edge_compressor_in_bytes_total{encoding="br"}') or 0
    results = []

    def grab():
        results.append(curl("/big.js", "-H", "Accept-Encoding: br", "--compressed"))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    f.check(len(results) == 8 and all(h.get("content-encoding") == "br" and b == files["big.js"] for h, b in results),
            "8 concurrent first br requests: all br, all decode")
    in_after = edge.metric('meridian_edge_compressor_in_bytes_total{encoding="br"}') or 0
    f.eq(in_after - in_before, len(files["big.js"]), "one compression for all of them")

    # ---- the origin's file changes: after expiry the variant is made from the new body, never the old one
    h1, b1 = curl("/short/s.js", "--compressed")
    new = text(31_000)
    with open(os.path.join(root, "short/s.js"), "wb") as fh:
        fh.write(new)
    time.sleep(1.5)
    h2, b2 = curl("/short/s.js", "--compressed")
    f.check(b1 == files["short/s.js"] and b2 == new, "changed origin file: the new body, compressed")
    f.eq(h2.get("content-encoding"), "br", "changed origin file: still br")
    f.eq(h2.get("etag"), "W/" + origin_etag("short/s.js"), "changed origin file: new weak ETag")
    # Unchanged after another expiry: RefreshHit (304 from nginx), the variant is refreshed, not recompressed.
    time.sleep(1.5)
    n_before = edge.metric('meridian_edge_compressor_in_bytes_total{encoding="br"}') or 0
    h3, b3 = curl("/short/s.js", "--compressed")
    n_after = edge.metric('meridian_edge_compressor_in_bytes_total{encoding="br"}') or 0
    f.eq((h3.get("x-cache"), h3.get("content-encoding"), b3 == new), ("RefreshHit from meridian", "br", True),
         "revalidated: RefreshHit, br")
    f.eq(n_after - n_before, 0, "revalidated: the tied variant is refreshed, not compressed again")

    # ---- metrics and access log
    f.check((edge.metric('meridian_edge_compressed_responses_total{encoding="br"}') or 0) >= 10, "br responses counted")
    f.check((edge.metric('meridian_edge_compressed_responses_total{encoding="gzip"}') or 0) >= 2,
            "gzip responses counted")
    f.check((edge.metric('meridian_edge_compressor_out_bytes_total{encoding="br"}') or 0) > 0, "compressor out bytes")
    f.eq(edge.stop(), 0, "exit code")
    # CloudFront access-log fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status...
    lines = [l.split("\t") for l in open(edge.access_log).read().splitlines() if not l.startswith("#")]
    app = [l for l in lines if len(l) > 8 and l[7] == "/app.js" and l[8] == "200"]
    sizes = sorted(int(l[3]) for l in app)
    f.check(any(raw_len < s < raw_len + 1000 for s in sizes), f"access log: a br response counts its sent bytes")
    f.check(any(s > len(files["app.js"]) for s in sizes), "access log: an identity response counts the full body")
finally:
    if edge:
        edge.stop()
    nginx.stop()
    shutil.rmtree(tmp, ignore_errors=True)
f.done()
