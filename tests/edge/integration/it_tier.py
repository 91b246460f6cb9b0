"""Tiered caching: two parent edges in front of one origin, child edges whose origin is the tier (parents = [...]).
Each key goes to one parent (rendezvous hashing on the cache key), so every key is fetched from the origin once
however many children ask; requests between tiers carry CDN-Loop (RFC 8586) with each edge's cdn_id (default: its server_name, "edge-test" here), and a request
already naming it cdn_loop_max times is answered 508. Stopping one parent moves only its keys: the other parent's
keys are still hits there (the origin is not asked again), the dead parent's keys go to the survivor (asked once
more each). Takes about 4 s."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from counting_origin import CountingOrigin  # noqa: E402
from edgetest import Edge, Failures, http_get, http_origin, tmpdir  # noqa: E402

f = Failures()
origin = CountingOrigin("origin")
edges = []
KEYS = [f"/k/{i}.js" for i in range(40)]
HOST = {"Host": "www.example.test"}  # the site's name, the same through every child (it is in the cache key)


def parent_conf(name):
    # Each parent names itself in the Host it sends the origin, so the test sees which parent fetched a key.
    return http_origin("origin", origin.port) + f'host_header = "{name}.origin.test"\n'


def child_conf(parents):
    addrs = ", ".join(f'"127.0.0.1:{p.port}"' for p in parents)
    return f"""
[[origin]]
name = "tier"
type = "http"
parents = [{addrs}]
connect_timeout = "1s"
cooldown = "30s"
"""


try:
    p1 = Edge(tmpdir(), parent_conf("p1")).start()
    edges.append(p1)
    p2 = Edge(tmpdir(), parent_conf("p2")).start()
    edges.append(p2)
    children = [Edge(tmpdir(), child_conf([p1, p2])).start() for _ in range(3)]
    edges += children

    for c in children:
        for k in KEYS:
            st, h, b = http_get(c.port, k, headers=HOST)
            if st != 200 or b != f"origin {k}".encode():
                f.check(False, f"{k} via child {c.port}: {st} {b!r}")
    f.eq(sorted(set(origin.paths)), sorted(KEYS), "every key reached the origin")
    f.eq(origin.count(), len(KEYS), "... once: 3 children x 40 keys, 40 origin requests")
    owner = {}
    for path, head in zip(origin.paths, origin.heads):
        owner[path] = head.get("host", "").split(".")[0]
    n1 = sum(1 for k in KEYS if owner[k] == "p1")
    f.check(10 <= n1 <= 30, f"the keys are spread over both parents ({n1} on p1, {len(KEYS) - n1} on p2)")
    loop = origin.heads[0].get("cdn-loop", "")
    f.eq(loop, "edge-test, edge-test", "the origin sees CDN-Loop with the child's and the parent's id")

    st, h, b = http_get(p1.port, "/loop.js", headers={"CDN-Loop": ", ".join(["edge-test"] * 4)})
    f.eq(st, 508, "a request already through this CDN cdn_loop_max (4) times: 508 Loop Detected")
    st, h, b = http_get(p1.port, "/loop.js", headers={"CDN-Loop": "other, edge-test;x=1"})
    f.eq(st, 200, "once (a child of the tier): served")

    # p1 goes away: a fresh child (empty cache) asks for every key again.
    f.eq(p1.stop(), 0, "parent p1 stopped")
    before = {k: origin.count(k) for k in KEYS}
    fresh = Edge(tmpdir(), child_conf([p1, p2])).start()
    edges.append(fresh)
    for k in KEYS:
        st, h, b = http_get(fresh.port, k, headers=HOST)
        if st != 200:
            f.check(False, f"{k} with p1 down: {st}")
    moved = [k for k in KEYS if origin.count(k) != before[k]]
    f.eq(sorted(moved), sorted(k for k in KEYS if owner[k] == "p1"), "only p1's keys were fetched again (by p2)")
    f.check(all(origin.count(k) == before[k] + 1 for k in moved), "... once each")
    failovers = fresh.metric_sum("meridian_edge_origin_failover_total")
    f.check(failovers >= n1, f"the moves are counted ({failovers}: a refused parent, then skipped while down)")
    for e in edges:
        if e is not p1:
            f.eq(e.stop(), 0, f"edge {e.port}: SIGTERM exit code")
finally:
    for e in edges:
        if e.proc and e.proc.poll() is None:
            e.proc.kill()
    origin.stop()
f.done()
