"""Response headers policies through the real edge, driven with curl: a policy's browser Cache-Control, security
headers, custom headers, removed headers and CORS fields on misses, hits, 304s, pass-through and the edge's own
answers; never stored — two behaviors rewritten to one origin object get their own policies from the one cached
copy, and a SIGHUP that changes a policy changes the next hit without asking the origin again; the edge's freshness
still comes from the origin's Cache-Control (a policy's no-store does not make hits misses); CORS preflights are
answered at the edge with 204 (even when OPTIONS is not an allowed method) and refused with 403 and no CORS field
for an origin that is not allowed."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Failures, catch_all, edge_before_pyorigin, http_origin, skip, tmpdir  # noqa: E402

if not subprocess.run(["which", "curl"], capture_output=True).stdout:
    skip("curl is not installed")

f = Failures()

OBJ = (b"HTTP/1.1 200 OK\r\nContent-Type: text/javascript\r\nCache-Control: public, max-age=300\r\n"
       b"Server: origin-server/1.0\r\nX-Powered-By: Express\r\nx-amz-request-id: R1\r\nx-amz-id-2: I2\r\n"
       b"Access-Control-Allow-Origin: https://origin-chosen.test\r\nETag: \"v1\"\r\nX-Team: origin\r\n"
       b"Content-Length: 5\r\n\r\nhello")

POLICIES = """
[[response_headers_policy]]
name = "assets"
cache_control = "public, max-age=31536000, immutable"
hsts_max_age = "365d"
hsts_include_subdomains = true
content_type_options = true
frame_options = "DENY"
referrer_policy = "strict-origin-when-cross-origin"
content_security_policy = "default-src 'self'"
remove_headers = ["Server", "X-Powered-By", "x-amz-*"]
headers = [{ name = "X-Robots-Tag", value = "noindex" }, { name = "X-Team", value = "policy", override = false }]
cors_allow_origins = ["https://app.example.com", "https://*.example.org"]
cors_allow_methods = ["GET", "HEAD", "PUT"]
cors_allow_headers = ["X-Token"]
cors_expose_headers = ["ETag"]
cors_max_age = "10m"

[[response_headers_policy]]
name = "html"
cache_control = "%s"
"""

BEHAVIORS = """
[[behavior]]
path_pattern = "/a/*"
origin = "py"
compress = false
rewrite_path = "/obj.js"
response_headers_policy = "assets"
[[behavior]]
path_pattern = "/b/*"
origin = "py"
compress = false
rewrite_path = "/obj.js"
response_headers_policy = "html"
[[behavior]]
path_pattern = "/pass/*"
origin = "py"
cache = false
compress = false
rewrite_path = "/obj.js"
response_headers_policy = "assets"
""" + catch_all("py", "compress = false")


def curl(port, path, method="GET", headers=None):
    """(status, {lower-cased name: [values]}, body) of one request made with curl."""
    cmd = ["curl", "-sS", "-i", "--max-time", "20", "-H", "Host: policy.test"]
    if method == "HEAD":
        cmd.append("-I")
    elif method != "GET":
        cmd += ["-X", method]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(cmd, capture_output=True, timeout=30).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        fields.setdefault(k.strip().lower(), []).append(v.strip())
    return int(lines[0].split()[1]), fields, body


def one(h, name):
    v = h.get(name, [])
    return v[0] if len(v) == 1 else v or None


tail = POLICIES % "no-store" + BEHAVIORS
tmp = tmpdir()
with edge_before_pyorigin(tail, tmp=tmp) as (edge, py):
    py.scripts["/obj.js"] = [OBJ]
    port = edge.port
    app = {"Origin": "https://app.example.com"}

    # A miss: the policy's fields, none of the removed ones (nor the edge's own Server), the origin's CORS field
    # replaced by the policy's for an allowed Origin.
    st, h, body = curl(port, "/a/one", headers=app)
    f.eq((st, body, one(h, "x-cache")), (200, b"hello", "Miss from meridian"), "miss through policy 'assets'")
    f.eq(one(h, "cache-control"), "public, max-age=31536000, immutable", "browser Cache-Control replaces the origin's")
    f.eq(one(h, "strict-transport-security"), "max-age=31536000; includeSubDomains", "HSTS")
    f.eq(one(h, "x-content-type-options"), "nosniff", "X-Content-Type-Options")
    f.eq(one(h, "x-frame-options"), "DENY", "X-Frame-Options")
    f.eq(one(h, "referrer-policy"), "strict-origin-when-cross-origin", "Referrer-Policy")
    f.eq(one(h, "content-security-policy"), "default-src 'self'", "CSP")
    f.eq(one(h, "x-robots-tag"), "noindex", "custom header")
    f.eq(one(h, "x-team"), "origin", "a custom header without override keeps the origin's value")
    for gone in ("server", "x-powered-by", "x-amz-request-id", "x-amz-id-2"):
        f.check(gone not in h, f"{gone} removed on the miss ({h.get(gone)})")
    f.eq(one(h, "access-control-allow-origin"), "https://app.example.com", "ACAO reflects an allowed Origin")
    f.eq(one(h, "access-control-expose-headers"), "ETag", "Access-Control-Expose-Headers")
    f.check("Origin" in h.get("vary", []), f"Vary: Origin ({h.get('vary')})")

    # The same on a hit.
    st, h, body = curl(port, "/a/one", headers={"Origin": "https://deep.sub.example.org"})
    f.eq((st, body, one(h, "x-cache")), (200, b"hello", "Hit from meridian"), "hit through policy 'assets'")
    f.eq(one(h, "cache-control"), "public, max-age=31536000, immutable", "browser Cache-Control on the hit")
    f.eq(one(h, "access-control-allow-origin"), "https://deep.sub.example.org", "wildcard origin allowed on the hit")
    for gone in ("server", "x-powered-by", "x-amz-request-id"):
        f.check(gone not in h, f"{gone} removed on the hit")
    f.eq(one(h, "etag"), '"v1"', "the origin's ETag goes on")

    # A disallowed origin: no CORS field at all, but still Vary: Origin.
    st, h, _ = curl(port, "/a/one", headers={"Origin": "https://evil.example.com"})
    f.check("access-control-allow-origin" not in h, f"no ACAO for a disallowed origin ({h.get('access-control-allow-origin')})")
    f.check("access-control-expose-headers" not in h, "no Expose-Headers for a disallowed origin")
    f.check("Origin" in h.get("vary", []), "Vary: Origin for a disallowed origin too")

    # Another behavior, rewritten to the same origin path: the same stored object (a hit, one origin request) with
    # its own policy — the stored fields were never changed by the first one.
    st, h, body = curl(port, "/b/two")
    f.eq((st, body, one(h, "x-cache")), (200, b"hello", "Hit from meridian"), "behavior /b/ hits the same object")
    f.eq(one(h, "cache-control"), "no-store", "policy 'html' Cache-Control")
    f.eq(one(h, "server"), "origin-server/1.0", "the stored Server is intact")
    f.eq(one(h, "x-powered-by"), "Express", "the stored X-Powered-By is intact")
    f.eq(one(h, "access-control-allow-origin"), "https://origin-chosen.test", "the stored CORS field is intact")
    f.check("strict-transport-security" not in h and "x-robots-tag" not in h, "no 'assets' field under 'html'")
    # no-store for browsers does not make the edge refetch: its TTL comes from the origin's max-age=300.
    st, h, _ = curl(port, "/b/three")
    f.eq(one(h, "x-cache"), "Hit from meridian", "a policy's no-store leaves the edge's freshness alone")
    f.eq(py.count("/obj.js"), 1, "one origin request for every behavior and policy")

    # A 304 from the cache carries the policy's Cache-Control, not the stored one.
    st, h, _ = curl(port, "/a/one", headers={"If-None-Match": '"v1"', "Origin": "https://app.example.com"})
    f.eq(st, 304, "conditional hit")
    f.eq(one(h, "cache-control"), "public, max-age=31536000, immutable", "304 carries the policy's Cache-Control")
    f.check("server" not in h and "x-powered-by" not in h, "304 without removed fields")
    f.eq(one(h, "access-control-allow-origin"), "https://app.example.com", "304 with ACAO")

    # A range of the stored object: 206 with the policy's fields, the stored status line replaced.
    st, h, body = curl(port, "/a/one", headers={"Range": "bytes=1-3", "Origin": "https://app.example.com"})
    f.eq((st, body, one(h, "content-range")), (206, b"ell", "bytes 1-3/5"), "ranged hit")
    f.eq(one(h, "cache-control"), "public, max-age=31536000, immutable", "206 carries the policy's Cache-Control")
    f.check("server" not in h and "x-amz-request-id" not in h, "206 without removed fields")
    f.eq(one(h, "access-control-allow-origin"), "https://app.example.com", "206 with ACAO")

    # HEAD on a hit.
    st, h, body = curl(port, "/a/one", method="HEAD")
    f.eq((st, one(h, "cache-control"), one(h, "content-length")), (200, "public, max-age=31536000, immutable", "5"),
         "HEAD hit")

    # Pass-through (caching off): the same policy on the origin's streamed answer.
    st, h, body = curl(port, "/pass/x", headers=app)
    f.eq((st, body), (200, b"hello"), "pass-through")
    f.eq(one(h, "cache-control"), "public, max-age=31536000, immutable", "pass-through Cache-Control")
    f.check("server" not in h and "x-powered-by" not in h and "x-amz-request-id" not in h,
            f"pass-through without removed fields ({sorted(h)})")
    f.eq(one(h, "access-control-allow-origin"), "https://app.example.com", "pass-through ACAO")
    f.eq(py.count("/obj.js"), 2, "the pass-through asked the origin")

    # The edge's own answers carry the policy too: a 405.
    st, h, _ = curl(port, "/a/one", method="DELETE", headers=app)
    f.eq(st, 405, "DELETE is not allowed")
    f.eq(one(h, "strict-transport-security"), "max-age=31536000; includeSubDomains", "HSTS on the 405")
    f.check("server" not in h, "no Server on the 405")

    # Preflight: answered at the edge with 204, though OPTIONS is not an allowed method of the behavior.
    before = len(py.requests)
    st, h, body = curl(port, "/a/one", method="OPTIONS",
                       headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
                                "Access-Control-Request-Headers": "x-token"})
    f.eq((st, body), (204, b""), "preflight answered 204")
    f.eq(one(h, "access-control-allow-origin"), "https://app.example.com", "preflight ACAO")
    f.eq(one(h, "access-control-allow-methods"), "GET, HEAD, PUT", "preflight Allow-Methods")
    f.eq(one(h, "access-control-allow-headers"), "X-Token", "preflight Allow-Headers")
    f.eq(one(h, "access-control-max-age"), "600", "preflight Max-Age")
    f.check("content-length" not in h, "no Content-Length on the 204")
    f.check("server" not in h, "no Server on the preflight (removed by the policy)")
    f.eq(len(py.requests), before, "the preflight never reached the origin")
    st, h, _ = curl(port, "/a/one", method="OPTIONS",
                    headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "PUT"})
    f.eq(st, 403, "preflight from a disallowed origin")
    f.check(not any(k.startswith("access-control-") for k in h), f"no CORS field on the refusal ({sorted(h)})")
    st, h, _ = curl(port, "/a/one", method="OPTIONS",
                    headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "DELETE"})
    f.eq(st, 403, "preflight for a method not allowed")
    st, _, _ = curl(port, "/a/one", method="OPTIONS")
    f.eq(st, 405, "a plain OPTIONS is not a preflight: the behavior's allowed methods apply")
    st, h, _ = curl(port, "/b/two", method="OPTIONS",
                    headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"})
    f.eq(st, 405, "no CORS in the behavior's policy: OPTIONS stays not allowed")

    # A policy changed by a reload applies to the next hit; the object is not fetched again.
    edge.rewrite(http_origin("py", py.port) + POLICIES % "no-cache" + BEHAVIORS)
    edge.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 20
    got = None
    while time.time() < deadline:
        st, h, _ = curl(port, "/b/four")
        got = one(h, "cache-control")
        if got == "no-cache":
            break
        time.sleep(0.2)
    f.eq(got, "no-cache", "the reloaded policy applies")
    if got != "no-cache":
        print(edge.log())
    f.eq(one(h, "x-cache"), "Hit from meridian", "still a hit after the reload")
    f.eq(py.count("/obj.js"), 2, "no new origin request for a policy change")

    # Metrics and access log count these answers like any other.
    f.check((edge.metric('meridian_edge_requests_by_status_total{status="204"}') or 0) >= 1, "204 counted")
shutil.rmtree(tmp, ignore_errors=True)
f.done()
