"""Several sites on one edge (CloudFront distributions with alternate domain names): two [[site]]s whose bucket
folders hold different files at the same paths. Each Host gets its own site's bytes and its own cache entries (X-Cache
and Age show hits per site); host matching ignores case, port and a trailing dot, takes the absolute-form target's
authority over Host, IPv6 literals, and one-label wildcards; an unknown host goes to the default site, or gets 421
without one; an invalidation scoped to one site leaves the other's object cached; the access log names the site;
a reload that removes a site and adds another for its host never serves the removed site's objects, not even when
the removed site comes back under its old name."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import EDGE, Edge, Failures, read_response, tmpdir  # noqa: E402

tmp = tmpdir()
f = Failures()
TOKEN = "sites-token-0123456789"
token_file = os.path.join(tmp, "token")
with open(token_file, "w") as fh:
    fh.write(TOKEN + "\n")
for name in ("alpha", "beta", "gamma"):
    os.makedirs(os.path.join(tmp, name))
    for p in ("index.html", "shared.txt"):
        with open(os.path.join(tmp, name, p), "w") as fh:
            fh.write(f"{name} {p}\n")


def site(name, hosts, default=False):
    return f"""
[[site]]
name = "{name}"
hosts = {json.dumps(hosts)}
default = {"true" if default else "false"}
[[site.origin]]
name = "bucket"
type = "bucket"
path = "{os.path.join(tmp, name)}"
[[site.behavior]]
path_pattern = "*"
origin = "bucket"
default_ttl = "1h"
compress = false
"""


HEAD = f'[invalidation]\ntoken_file = "{token_file}"\n'


def get(path, host, target=None):
    """GET `path` with Host `host` (None: no Host header, HTTP/1.0); `target` replaces the request target."""
    with socket.create_connection(("127.0.0.1", edge.port), timeout=10) as s:
        version = "HTTP/1.1" if host is not None else "HTTP/1.0"
        req = f"GET {target or path} {version}\r\n"
        if host is not None:
            req += f"Host: {host}\r\n"
        s.sendall((req + "Connection: close\r\n\r\n").encode())
        st, h, b = read_response(s, timeout=10)
    return st, h.get("x-cache", ""), h.get("age"), b.decode(errors="replace")


def admin_invalidate(body):
    data = json.dumps(body).encode()
    with socket.create_connection(("127.0.0.1", edge.admin_port), timeout=10) as s:
        s.sendall((f"POST /_meridian/invalidate HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n"
                   f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data)
        st, _, b = read_response(s, timeout=30)
    try:
        return st, json.loads(b)
    except ValueError:
        return st, b


def reload(body):
    before = edge.log().count("configuration reloaded")
    edge.rewrite(HEAD + body)
    edge.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 30
    while time.time() < deadline and edge.log().count("configuration reloaded") == before:
        time.sleep(0.05)
    f.check(edge.log().count("configuration reloaded") > before, "the reload was applied")
    time.sleep(0.3)  # the workers take the new snapshot from their own loops


edge = Edge(tmp, HEAD + site("alpha", ["alpha.test", "*.alpha.test"], default=True) +
            site("beta", ["beta.test", "*.beta.test", "[::1]"]), workers=2)
edge.start()
try:
    # Same path, two sites: each its own bytes and its own cache entry.
    st, xc, _, body = get("/shared.txt", "alpha.test")
    f.eq((st, body), (200, "alpha shared.txt\n"), "alpha's file for alpha.test")
    f.check(xc.startswith("Miss"), f"alpha: first request is a miss ({xc})")
    st, xc, _, body = get("/shared.txt", "beta.test")
    f.eq((st, body), (200, "beta shared.txt\n"), "beta's file for beta.test, not alpha's cached one")
    f.check(xc.startswith("Miss"), f"beta: its own cache entry, first a miss ({xc})")
    time.sleep(1.1)
    for host, name in (("alpha.test", "alpha"), ("beta.test", "beta")):
        st, xc, age, body = get("/shared.txt", host)
        f.eq(body, f"{name} shared.txt\n", f"{name}: the hit has the site's bytes")
        f.check(xc.startswith("Hit") and age is not None and int(age) >= 1, f"{name}: a hit with Age ({xc}, {age})")

    # Host matching: case, port, trailing dot, IPv6 literal, one-label wildcard, absolute-form target.
    f.eq(get("/index.html", "BETA.Test.:8080")[3], "beta index.html\n", "case, trailing dot and port ignored")
    f.eq(get("/index.html", "[0:0::1]:8080")[3], "beta index.html\n", "an IPv6 literal, compared as an address")
    f.eq(get("/index.html", "www.beta.test")[3], "beta index.html\n", "*.beta.test matches www.beta.test")
    f.eq(get("/index.html", "a.b.beta.test")[3], "alpha index.html\n",
         "*.beta.test does not match two labels: the default site answers")
    f.eq(get("/index.html", "nobody.example")[3], "alpha index.html\n", "an unknown host gets the default site")
    f.eq(get("/index.html", None)[3], "alpha index.html\n", "HTTP/1.0 without Host gets the default site")
    f.eq(get("/index.html", "alpha.test", target="http://beta.test/index.html")[3], "beta index.html\n",
         "the absolute-form target's authority wins over Host (RFC 9112 §3.2.2)")

    # An invalidation scoped to one site leaves the other's object cached.
    st, rep = admin_invalidate({"site": "beta", "paths": ["/shared.txt"]})
    f.eq(st, 201, f"invalidation of beta accepted ({rep})")
    f.check(isinstance(rep, dict) and rep.get("site") == "beta" and rep.get("objects") == 1,
            f"it removed beta's one object only ({rep})")
    f.check(get("/shared.txt", "alpha.test")[1].startswith("Hit"), "alpha's object is still cached")
    st, xc, _, body = get("/shared.txt", "beta.test")
    f.check(xc.startswith("Miss") and body == "beta shared.txt\n", f"beta's is fetched again ({xc})")
    st, rep = admin_invalidate({"site": "nosuch", "paths": ["/shared.txt"]})
    f.eq(st, 400, f"an unknown site is refused ({rep})")
    st, rep = admin_invalidate({"paths": ["/shared.txt"]})
    f.check(st == 201 and isinstance(rep, dict) and rep.get("objects") == 2,
            f"without a site every site's object is covered ({rep})")

    # The deploy-script CLI scopes by site too.
    get("/index.html", "alpha.test")
    get("/index.html", "beta.test")
    r = subprocess.run([EDGE, "invalidate", "--admin", f"127.0.0.1:{edge.admin_port}", "--token-file", token_file,
                        "--site", "alpha", "/index.html"], capture_output=True, text=True, timeout=60)
    # alpha's /index.html is stored once per Host it was asked for (alpha.test, the unknown hosts above).
    f.check(r.returncode == 0 and json.loads(r.stdout or "{}").get("objects", 0) >= 1,
            f"CLI --site alpha applied ({r.stdout}{r.stderr})")
    f.check(get("/index.html", "beta.test")[1].startswith("Hit"), "CLI --site alpha left beta's index cached")
    f.check(get("/index.html", "alpha.test")[1].startswith("Miss"), "CLI --site alpha removed alpha's index")

    # HTTP/1.1 without Host is refused before any site is chosen (RFC 9112 §3.2).
    with socket.create_connection(("127.0.0.1", edge.port), timeout=10) as s:
        s.sendall(b"GET /index.html HTTP/1.1\r\nConnection: close\r\n\r\n")
        f.eq(read_response(s, timeout=10)[0], 400, "HTTP/1.1 without Host: 400")

    # Reload: beta removed, gamma takes its host, and no default site any more.
    get("/shared.txt", "beta.test")  # cached again under beta
    get("/shared.txt", "alpha.test")  # and under alpha
    reload(site("alpha", ["alpha.test"]) + site("gamma", ["beta.test"]))
    st, xc, _, body = get("/shared.txt", "beta.test")
    f.eq((st, body), (200, "gamma shared.txt\n"), "after the reload beta.test is gamma's, never beta's object")
    f.check(xc.startswith("Miss"), f"gamma starts cold ({xc})")
    f.check(get("/shared.txt", "alpha.test")[1].startswith("Hit"), "alpha kept its cache over the reload")
    st, xc, _, body = get("/index.html", "nobody.example")
    f.eq(st, 421, "no default site: an unknown host gets 421 Misdirected Request")
    f.check(xc.startswith("Error"), f"421 is an edge error ({xc})")
    f.check("dropped the objects of removed sites" in edge.log(), "the removed site's objects were dropped")

    # beta comes back under its old name (its folder now holds new bytes): nothing of its earlier self is served.
    with open(os.path.join(tmp, "beta", "shared.txt"), "w") as fh:
        fh.write("beta v2 shared.txt\n")
    reload(site("alpha", ["alpha.test"], default=True) + site("beta", ["beta.test"]))
    st, xc, _, body = get("/shared.txt", "beta.test")
    f.eq(body, "beta v2 shared.txt\n", "the re-added site fetches anew")
    f.check(xc.startswith("Miss"), f"the re-added site starts cold ({xc})")

    # A broken reload (a host claimed twice) keeps the running sites.
    reload_before = edge.log().count("reload failed")
    edge.rewrite(HEAD + site("alpha", ["alpha.test"], default=True) + site("beta", ["alpha.test"]))
    edge.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 30
    while time.time() < deadline and edge.log().count("reload failed") == reload_before:
        time.sleep(0.05)
    f.check("is already claimed by site" in edge.log(), "the failed reload names the host claimed twice")
    f.eq(get("/shared.txt", "beta.test")[3], "beta v2 shared.txt\n", "the running sites stay")

    f.check(edge.proc.poll() is None, "the edge is alive")
finally:
    code = edge.stop()
f.eq(code, 0, "SIGTERM exit code")

lines = open(edge.access_log).read().splitlines()
fields = [l.split("\t") for l in lines]
f.check(any(x[6] == "beta.test" and x[14] == "beta" for x in fields), "access log: x-site beta beside cs(Host)")
f.check(any(x[6] == "alpha.test" and x[14] == "alpha" for x in fields), "access log: x-site alpha")
f.check(any(x[14] == "gamma" for x in fields), "access log: x-site gamma after the reload")
f.check(any(x[8] == "421" and x[14] == "-" for x in fields), "access log: a 421 has no site")
f.done()
