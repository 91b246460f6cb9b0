"""Redirects and rewrites through the real edge in front of nginx, driven with curl: a behavior's redirect with
$host/$path/$query substitution (percent-encoded Location), the status it names, HEAD answered alike without a body,
never reaching the origin, counted as "redirect" in the metrics and "Redirect" in the access log; the viewer
protocol policy's HTTP → HTTPS redirect (301 for GET/HEAD, 308 otherwise; port dropped) and https-only 403; a
single-page app's routes rewritten to /index.html share ONE cached object (one origin request) while its assets are
fetched as themselves; "/docs" rewritten to "/docs/index.html" for an http origin; www → apex with a [[site]] for the
www host that only redirects."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, Nginx, catch_all, http_origin, skip, tmpdir  # noqa: E402

if not shutil.which("curl"):
    skip("curl is not installed")

f = Failures()
tmp = tmpdir()
root = os.path.join(tmp, "www")
os.makedirs(os.path.join(root, "app"))
os.makedirs(os.path.join(root, "docs"))
with open(os.path.join(root, "index.html"), "w") as fh:
    fh.write("<html>spa shell</html>\n")
with open(os.path.join(root, "app", "main.3f2a.js"), "w") as fh:
    fh.write("console.log('app');\n")
with open(os.path.join(root, "docs", "index.html"), "w") as fh:
    fh.write("<html>docs</html>\n")

nginx = Nginx(tmp, root)
edge = None


def curl(path, method="GET", host="example.com", headers=None):
    cmd = ["curl", "-sS", "-i", "--max-time", "20", "-H", f"Host: {host}"]
    if method == "HEAD":
        cmd.append("-I")
    elif method != "GET":
        cmd += ["-X", method]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(f"http://127.0.0.1:{edge.port}{path}")
    out = subprocess.run(cmd, capture_output=True, timeout=30).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        fields[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), fields, body


try:
    nginx.start()
    edge = Edge(tmp, http_origin("web", nginx.port) + """
[[response_headers_policy]]
name = "hsts"
hsts_max_age = "365d"

[[behavior]]
path_pattern = "/old/*"
redirect = "https://example.com/new$path$query"
redirect_status = 308
response_headers_policy = "hsts"

[[behavior]]
path_pattern = "/moved"
redirect = "https://$host/landing$query"
redirect_status = 302

[[behavior]]
path_pattern = "/secure/*"
origin = "web"
viewer_protocol_policy = "redirect-to-https"

[[behavior]]
path_pattern = "/private/*"
origin = "web"
viewer_protocol_policy = "https-only"

[[behavior]]
path_pattern = "/app/*"
origin = "web"
compress = false
rewrite_path = "/index.html"
rewrite_when = "no_extension"

[[behavior]]
path_pattern = "/docs"
origin = "web"
compress = false
rewrite_path = "$path/index.html"

""" + catch_all("web", "compress = false") + """
# www → apex: a site of its own that only redirects (no origin needed).
[[site]]
name = "www"
hosts = ["www.example.com"]
[[site.behavior]]
path_pattern = "*"
redirect = "https://example.com$path$query"
""").start()

    # A behavior redirect with substitution: the path is re-encoded, the query kept (bad escapes encoded).
    st, h, body = curl("/old/a%20b/caf%C3%A9?x=1&y=%zz")
    f.eq(st, 308, "redirect status from redirect_status")
    f.eq(h.get("location"), "https://example.com/new/old/a%20b/caf%C3%A9?x=1&y=%25zz", "Location substituted")
    f.eq(h.get("x-cache"), "Redirect from meridian", "X-Cache of a redirect")
    f.eq(h.get("strict-transport-security"), "max-age=31536000", "the behavior's headers policy on the redirect")
    f.check(body.startswith(b"Redirecting to https://example.com/new/"), f"a short body ({body[:60]!r})")
    st, h, body = curl("/old/x", method="HEAD")
    f.eq((st, h.get("location"), body), (308, "https://example.com/new/old/x", b""), "HEAD redirect, no body")
    f.check(int(h.get("content-length", "0")) > 0, "HEAD carries the GET's Content-Length")
    st, h, _ = curl("/moved?utm=1", host="shop.example.com")
    f.eq((st, h.get("location")), (302, "https://shop.example.com/landing?utm=1"), "$host substitution")
    st, h, _ = curl("/moved", method="POST")
    f.eq((st, h.get("location")), (302, "https://example.com/landing"), "redirects answer every method")
    st, h, _ = curl("/moved", host="evil.test/x")
    f.eq(st, 400, "an unusable Host is refused, not put in a Location")
    f.eq(nginx.requests("/old/a%20b/caf%C3%A9"), [], "redirects never reach the origin")

    # www → apex through the www site; the apex itself is served.
    st, h, body = curl("/docs/page.html?a=1&b=%C3%A9", host="WWW.example.com:8080")
    f.eq((st, h.get("location")), (301, "https://example.com/docs/page.html?a=1&b=%C3%A9"), "www → apex")
    st, h, body = curl("/", method="HEAD", host="www.example.com")
    f.eq((st, h.get("location"), body), (301, "https://example.com/", b""), "www → apex for HEAD")
    st, h, body = curl("/app/main.3f2a.js", host="example.com")
    f.eq((st, body), (200, b"console.log('app');\n"), "the apex is served, not redirected")

    # HTTP → HTTPS.
    st, h, _ = curl("/secure/page?q=1", host="shop.example.com:8080")
    f.eq((st, h.get("location")), (301, "https://shop.example.com/secure/page?q=1"), "redirect-to-https for GET")
    st, h, _ = curl("/secure/page", method="PUT", host="shop.example.com")
    f.eq((st, h.get("location")), (308, "https://shop.example.com/secure/page"), "redirect-to-https keeps PUT: 308")
    st, _, _ = curl("/private/x")
    f.eq(st, 403, "https-only refuses plain HTTP")

    # SPA: every route is the shell, one cached object, one origin request.
    results = []
    for route in ("/app/users/42", "/app/settings", "/app/a/b/c", "/app/"):
        st, h, body = curl(route)
        results.append((st, body, h.get("x-cache")))
    f.eq(results[0], (200, b"<html>spa shell</html>\n", "Miss from meridian"), "first route: the shell, a miss")
    f.eq(results[1:], [(200, b"<html>spa shell</html>\n", "Hit from meridian")] * 3, "other routes hit it")
    f.eq(len(nginx.requests("/index.html")), 1, "one origin request for every route")
    st, h, body = curl("/index.html")
    f.eq((st, h.get("x-cache")), (200, "Hit from meridian"), "the rewritten path is the cache key")
    st, h, body = curl("/app/main.3f2a.js")
    f.eq((st, body), (200, b"console.log('app');\n"), "an asset with an extension is fetched as itself")
    f.eq(len(nginx.requests("/app/main.3f2a.js")), 1, "the asset asked by its own path")
    st, h, _ = curl("/app/users/42", method="HEAD")
    f.eq((st, h.get("content-length")), (200, "23"), "HEAD on a rewritten route")

    # "/docs" → "/docs/index.html" (nginx would answer 301 to /docs/ otherwise).
    st, h, body = curl("/docs")
    f.eq((st, body), (200, b"<html>docs</html>\n"), "/docs rewritten to its index document")
    f.eq(len(nginx.requests("/docs/index.html")), 1, "nginx asked for /docs/index.html")

    # Metrics and the access log count redirects.
    n = edge.metric('meridian_edge_requests_total{result="redirect"}')
    f.eq(n, 8.0, "the eight redirects counted in metrics")
    deadline = time.time() + 10
    log = ""
    while time.time() < deadline:
        log = open(edge.access_log).read() if os.path.exists(edge.access_log) else ""
        if "Redirect" in log:
            break
        time.sleep(0.2)
    f.check("Redirect" in log, "result type Redirect in the access log")
    f.eq(edge.stop(), 0, "exit code")
finally:
    if edge:
        edge.stop()
    nginx.stop()
    shutil.rmtree(tmp, ignore_errors=True)
f.done()
