"""The invalidation API (CloudFront's CreateInvalidation) on the real edge's admin listener, and its CLI: a purge of
an exact path, a wildcard and a tag each forces exactly those objects to be fetched again (the origin counts); a
soft purge makes an object stale so it is revalidated with a 304 instead of fetched; 401 without a token, 403 with
a wrong one, 400 with a clear reason for a bad body; GET reports an invalidation by id; the purge tags never reach
viewers; the CLI exits 0 on success and 1 when refused."""
import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import EDGE, Failures, catch_all, edge_before_pyorigin, http_get, read_response, tmpdir  # noqa: E402

tmp = tmpdir()
f = Failures()
TOKEN = "s3cret-token-0123456789"
token_file = os.path.join(tmp, "token")
with open(token_file, "w") as fh:
    fh.write(TOKEN + "\n")
bad_token_file = os.path.join(tmp, "bad-token")
with open(bad_token_file, "w") as fh:
    fh.write("not-the-token-0123456789\n")


def admin(method, path, body=None, token=TOKEN):
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    head = f"{method} {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\nContent-Length: {len(data)}\r\n"
    if token is not None:
        head += f"Authorization: Bearer {token}\r\n"
    with socket.create_connection(("127.0.0.1", edge.admin_port), timeout=10) as s:
        s.sendall(head.encode() + b"\r\n" + data)
        st, h, b = read_response(s, timeout=10)
    try:
        return st, h, json.loads(b)
    except ValueError:
        return st, h, b


def get(path):
    st, h, b = http_get(edge.port, path)
    return h.get("x-cache"), h


# Two workers serve while the admin thread scans the shared cache (the TSan stage runs this test too).
with edge_before_pyorigin(tmp=tmp, workers=2, conf_tail=f"""
[invalidation]
token_file = "{token_file}"
""" + catch_all("py", "compress = false")) as (edge, py):

    names = ["/inv/a", "/inv/b", "/inv/c", "/inv/sub/d", "/other/inv/e"]
    for p in names:
        get(p)
    f.check(all(get(p)[0] == "Hit from meridian" for p in names), "all cached")
    f.check(all("surrogate-key" not in get(p)[1] and "cache-tag" not in get(p)[1] for p in names),
            "purge tags never reach viewers")

    st, h, b = admin("POST", "/_meridian/invalidate", {"paths": ["/inv/a"]}, token=None)
    f.eq((st, h.get("www-authenticate", "")[:6]), (401, "Bearer"), "no token: 401 with WWW-Authenticate")
    st, h, b = admin("POST", "/_meridian/invalidate", {"paths": ["/inv/a"]}, token="wrong-token-0000000000")
    f.eq(st, 403, "wrong token: 403")
    st, h, b = admin("POST", "/_meridian/invalidate", b"{\"paths\": [\"/inv/*/x\"]}")
    f.eq(st, 400, "a star inside a path: 400")
    f.check("only at its end" in str(b), "the 400 says why")
    f.eq(admin("POST", "/_meridian/invalidate", b"{not json")[0], 400, "bad JSON: 400")
    f.eq(sum(py.count(p) for p in names), len(names), "nothing refetched by refused requests")

    st, h, b = admin("POST", "/_meridian/invalidate", {"host": "127.0.0.1:%d" % edge.port, "paths": ["/inv/a"]})
    f.eq((st, b.get("objects"), b.get("status")), (201, 1, "Completed"), "exact path: 201, one object")
    f.eq(h.get("location"), "/_meridian/invalidate/" + b["id"], "Location names the report")
    f.eq([get(p)[0] for p in names],
         ["Miss from meridian"] + ["Hit from meridian"] * 4, "exact path: only /inv/a is fetched again")
    report = admin("GET", "/_meridian/invalidate/" + b["id"])
    f.eq((report[0], report[2].get("paths")), (200, ["/inv/a"]), "GET reports the invalidation")
    f.eq(admin("GET", "/_meridian/invalidate/I999999")[0], 404, "an unknown id: 404")

    st, h, b = admin("POST", "/_meridian/invalidate", {"paths": ["/inv/*"]})
    f.eq((st, b.get("objects")), (201, 4), "wildcard: /inv/a, b, c and sub/d")
    f.eq([get(p)[0] for p in names], ["Miss from meridian"] * 4 + ["Hit from meridian"], "wildcard: those four")

    st, h, b = admin("POST", "/_meridian/invalidate", {"tags": ["tagged-c", "e"]})
    f.eq((st, b.get("objects")), (201, 2), "tags: Cache-Tag tagged-c and Surrogate-Key e")
    f.eq([get(p)[0] for p in ["/inv/b", "/inv/c", "/other/inv/e"]],
         ["Hit from meridian", "Miss from meridian", "Miss from meridian"], "tags: exactly those")

    # Soft: stale, so revalidated (304) instead of fetched whole.
    v = "/py/validate/soft"
    get(v)
    st, h, b = admin("POST", "/_meridian/invalidate", {"paths": [v], "mode": "soft"})
    f.eq((st, b.get("mode"), b.get("objects")), (201, "soft", 1), "soft purge")
    f.eq(get(v)[0], "RefreshHit from meridian", "soft purge: revalidated with a 304")
    f.eq([c for c in py.conditional if c[0] == v], [(v, '"v-soft"')], "soft purge: one conditional request")

    cli = [EDGE, "invalidate", "--admin", "127.0.0.1:%d" % edge.admin_port, "--token-file", token_file, "/inv/b"]
    r = subprocess.run(cli, capture_output=True, text=True, timeout=30)
    f.eq((r.returncode, json.loads(r.stdout).get("objects")), (0, 1), "CLI: exit 0 and the answer on stdout")
    f.eq(get("/inv/b")[0], "Miss from meridian", "CLI: the path is fetched again")
    r = subprocess.run(cli[:5] + [bad_token_file, "/inv/b"], capture_output=True, text=True, timeout=30)
    f.eq(r.returncode, 1, "CLI: exit 1 when refused")
    r = subprocess.run([EDGE, "invalidate", "--admin", "127.0.0.1:1", "--token-file", token_file, "/x"],
                       capture_output=True, text=True, timeout=30)
    f.eq(r.returncode, 2, "CLI: exit 2 when the admin listener cannot be reached")
    m = edge.metrics()
    f.check("meridian_edge_invalidations_total 5" in m, "invalidations counted")
f.done()
