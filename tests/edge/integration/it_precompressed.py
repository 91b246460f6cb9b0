"""Pre-compressed siblings in a bucket: with app.js.br and app.js.gz beside app.js, a viewer accepting br (gzip)
gets the sibling's exact bytes with Content-Encoding, Vary: Accept-Encoding and a (weak) ETag distinct from the
identity's, Miss then Hit; identity viewers get app.js; HEAD, 304 and Range stay right; a sibling older than its file
(left from an older deploy) is never used (the edge compresses instead); /app.js.br itself is served as a file; after
a release switch the new release's sibling is served."""
import gzip
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, http_get, tmpdir  # noqa: E402

CURL = shutil.which("curl")
tmp = tmpdir()
TTL = 1


def js(tag, n=40_000):
    line = f"function {tag}(a, b) {{ return a + b; }} // edge cache\n".encode()
    return (line * (n // len(line) + 1))[:n]


def write(path, data, age=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    if age:
        t = time.time() - age
        os.utime(path, (t, t))


def release(v):
    root = os.path.join(tmp, "releases", v)
    app = js("app_" + v)
    files = {
        "app.js": app,
        # Not what the edge's own brotli would make: proves the bytes come from the file.
        "app.js.br": b"BR-SIBLING-" + v.encode() + b"-" + os.urandom(64),
        # A real gzip member with MTIME 1 in its header (the edge's gzip writes 0): proves the same.
        "app.js.gz": gzip.compress(app, mtime=1),
        "old.js": js("old_" + v),
        "old.js.br": b"STALE-BR-SIBLING",
        "old.js.gz": gzip.compress(b"stale sibling", mtime=1),
    }
    for name, data in files.items():
        # The file itself is 60 s old; old.js's siblings are older still (a previous deploy's leftovers).
        write(os.path.join(root, name), data, age=120 if name.startswith("old.js.") else 60)
    return files


rel = {"v1": release("v1"), "v2": release("v2")}
os.symlink("releases/v1", os.path.join(tmp, "current"))

f = Failures()
edge = Edge(tmp, f"""
[[origin]]
name = "site"
type = "bucket"
path = "{os.path.join(tmp, "current")}"
[[behavior]]
path_pattern = "*"
origin = "site"
default_ttl = "{TTL}s"
""")
edge.start()
alive = False
try:
    port = edge.port
    v1 = rel["v1"]
    st, h_id, body = http_get(port, "/app.js")
    f.eq((st, body == v1["app.js"]), (200, True), "identity viewer: app.js")
    f.check("content-encoding" not in h_id, "identity: no Content-Encoding")
    id_etag = h_id.get("etag", "")

    for attempt in ("miss", "hit"):
        st, h, body = http_get(port, "/app.js", headers={"Accept-Encoding": "br"})
        f.eq(st, 200, f"br ({attempt}) status")
        f.check(body == v1["app.js.br"], f"br ({attempt}): the .br sibling's exact bytes")
        f.eq(h.get("content-encoding"), "br", f"br ({attempt}) Content-Encoding")
        f.check("accept-encoding" in h.get("vary", "").lower(), f"br ({attempt}) Vary: Accept-Encoding")
        f.eq(h.get("content-length"), str(len(v1["app.js.br"])), f"br ({attempt}) Content-Length")
        f.check(h.get("etag") and h.get("etag") != id_etag, f"br ({attempt}) ETag distinct from identity's")
    br_etag = h.get("etag")

    st, h, body = http_get(port, "/app.js", headers={"Accept-Encoding": "gzip"})
    f.check(st == 200 and body == v1["app.js.gz"] and h.get("content-encoding") == "gzip",
            "gzip: the .gz sibling's exact bytes")
    f.check(gzip.decompress(body) == v1["app.js"], "gzip sibling decodes to app.js")
    if CURL:
        out = subprocess.run([CURL, "-s", "--compressed", "-H", "Accept-Encoding: gzip",
                              f"http://127.0.0.1:{port}/app.js"], capture_output=True).stdout
        f.check(out == v1["app.js"], "curl --compressed (gzip) decodes to app.js")

    st, h, body = http_get(port, "/app.js", method="HEAD", headers={"Accept-Encoding": "br"})
    f.check(st == 200 and h.get("content-encoding") == "br" and h.get("content-length") == str(len(v1["app.js.br"])),
            "HEAD br: the sibling's headers, no body")
    st, h, body = http_get(port, "/app.js", headers={"Accept-Encoding": "br", "If-None-Match": br_etag})
    f.eq(st, 304, "If-None-Match with the br variant's ETag: 304")
    st, h, body = http_get(port, "/app.js", headers={"Accept-Encoding": "br", "Range": "bytes=0-9"})
    f.check(st == 206 and body == v1["app.js"][:10] and "content-encoding" not in h,
            "Range: answered from the identity bytes")
    st, h, body = http_get(port, "/app.js")
    f.check(st == 200 and body == v1["app.js"] and h.get("etag") == id_etag, "identity again after the variants")

    # A sibling older than its file is an older deploy's: the edge compresses instead.
    st, h, body = http_get(port, "/old.js", headers={"Accept-Encoding": "br"})
    f.check(st == 200 and h.get("content-encoding") == "br" and body != v1["old.js.br"],
            "older .br sibling ignored: compressed at the edge")
    st, h, body = http_get(port, "/old.js", headers={"Accept-Encoding": "gzip"})
    f.check(st == 200 and h.get("content-encoding") == "gzip" and gzip.decompress(body) == v1["old.js"],
            "older .gz sibling ignored: gzip of old.js itself")

    # The sibling as a file of its own.
    st, h, body = http_get(port, "/app.js.br", headers={"Accept-Encoding": "br"})
    f.check(st == 200 and body == v1["app.js.br"] and "content-encoding" not in h, "/app.js.br served as is")

    # A release switch: once the identity expires, its new bytes come with the new release's sibling.
    tmplink = os.path.join(tmp, "current.tmp")
    os.symlink("releases/v2", tmplink)
    os.rename(tmplink, os.path.join(tmp, "current"))
    deadline = time.monotonic() + TTL + 10
    ok = False
    while time.monotonic() < deadline and not ok:
        st, h, body = http_get(port, "/app.js", headers={"Accept-Encoding": "br"})
        ok = st == 200 and body == rel["v2"]["app.js.br"]
        if not ok:
            f.check(body == v1["app.js.br"], "before the switch is seen: still v1's sibling, never a mix")
            time.sleep(0.2)
    f.check(ok, "after the switch: v2's .br sibling")
    st, h, body = http_get(port, "/app.js")
    f.check(st == 200 and body == rel["v2"]["app.js"], "after the switch: v2's app.js for identity viewers")
    alive = edge.proc.poll() is None
finally:
    edge.stop()
f.check(alive, "the edge is alive")
if not f.items:
    shutil.rmtree(tmp, ignore_errors=True)
f.done()
