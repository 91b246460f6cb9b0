# ctest: COST 20 LABELS tooling
"""bench/sizing.py's model holds: Che's approximation of an LRU cache against an exact LRU simulation of Zipf
streams, and against a running meridian-edge whose cache holds a fraction of a Zipf-requested catalog (the hit
ratio the edge reports in X-Cache over thousands of requests, with the capacity the edge reports in its metrics)."""
import os
import random
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
sys.path.insert(0, os.path.join(HERE, "..", "edge", "integration"))
import sizing  # noqa: E402
from edgetest import Edge, Failures, read_response, tmpdir  # noqa: E402

f = Failures()

# 1. The approximation against an exact LRU.
for n, s, cap in ((10_000, 0.8, 500), (20_000, 1.0, 2_000)):
    model = sizing.predicted_hit_ratio(n, s, cap)
    sim = sizing.simulate(n, s, cap, 150_000)
    f.check(abs(model - sim) < 0.015, f"N={n} s={s} C={cap}: model {model:.3f} vs exact LRU {sim:.3f}")

# 2. Against meridian-edge: 3,000 objects of 2 KiB from a bucket, a cache with room for about a fifth of them.
OBJECTS, SKEW, REQUESTS = 3000, 0.9, 12_000
tmp = tmpdir()
site = os.path.join(tmp, "site")
os.makedirs(site)
body = b"x" * 2048
for i in range(OBJECTS):
    with open(os.path.join(site, f"o{i}"), "wb") as fh:
        fh.write(body)
edge = Edge(tmp, f"""
[cache]
max_bytes = "1536KiB"
max_object_bytes = "64KiB"
shards = 1
[[origin]]
name = "site"
type = "bucket"
path = "{site}"
[[behavior]]
path_pattern = "*"
origin = "site"
default_ttl = "1h"
""")
try:
    edge.start()
    rng = random.Random(7)
    draws = rng.choices(range(OBJECTS), weights=[(i + 1) ** -SKEW for i in range(OBJECTS)], k=REQUESTS)
    warm = REQUESTS // 4
    hits = counted = bad = 0
    sock = socket.create_connection(("127.0.0.1", edge.port), timeout=5)
    for n, k in enumerate(draws):
        sock.sendall(f"GET /o{k} HTTP/1.1\r\nHost: sizing.test\r\n\r\n".encode())
        status, hdr, got = read_response(sock)
        if status != 200 or got != body:
            bad += 1
        if n >= warm:
            counted += 1
            hits += hdr.get("x-cache", "").lower().startswith("hit")
    sock.close()
    capacity = edge.metric("meridian_edge_cache_objects")
    f.eq(bad, 0, "every answer 200 with the whole body")
    f.check(capacity and 300 < capacity < OBJECTS, f"the cache holds part of the catalog ({capacity} objects)")
    measured = hits / counted
    predicted = sizing.predicted_hit_ratio(OBJECTS, SKEW, capacity or 1)
    f.check(abs(measured - predicted) < 0.04,
            f"edge hit ratio {measured:.3f} vs the model's {predicted:.3f} for {capacity:.0f} objects")
    f.eq(edge.stop(), 0, "exit code")
finally:
    if edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
f.done()
