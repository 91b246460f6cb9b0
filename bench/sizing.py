#!/usr/bin/env python3
"""Sizing a Meridian CDN on paper: PoPs x edges x cache bytes against a catalog's size and Zipf skew -> hit ratio at
the edges, at the parent tier, and the origin's load; and how many edges the request rate needs.

The model (bench/README.md, "Sizing on paper"):
- Popularity: object i of N is asked with probability p_i ~ 1 / i^s (Zipf, skew s), the same in every region (a
  pessimistic case: regional taste only raises the hit ratios).
- Each edge is an LRU cache of C objects (its byte budget over the mean stored size: body + key + headers). Its
  hit ratio follows Che's approximation: the cache keeps an object while it is asked again within a characteristic
  time T that solves sum_i (1 - exp(-lambda_i T)) = C, so object i hits with probability 1 - exp(-lambda_i T).
  `--check` compares that with an exact LRU simulation; tests/bench/it_sizing.py compares it with a running
  meridian-edge.
- Freshness: an object fresh for `--ttl` seconds is fetched again (revalidated) once it expires, at every layer,
  so a hot object costs the origin one request per TTL per cache that asks for it (per parent with a tier).
- Viewers reach a PoP by anycast and one of its edges by the load balancer or ECMP, so each edge sees 1/(P x E) of
  the traffic and caches on its own (the cache is per edge).
- The parent tier: K parents, each key sent to one parent by rendezvous hashing (edge [tier] in conf/README.md), so
  the tier acts as one cache of K x C_parent objects on the edges' aggregate miss stream; every object is fetched
  from the origin once per tier, not once per edge. Without hashing (each edge picks a parent at random) every
  parent would see every object's misses and hold the same hot set: `--parent-spread` shows that case.
- Edges needed: the request rate over one edge's measured rate (`--edge-rps`; bench/results/latest.md has this
  machine's figures per core: 1 KiB hits ~69k req/s, 100 KiB ~19k req/s, a 10 KiB miss ~9.4k req/s).

Object ranks are grouped into log-spaced bands of equal popularity, so 100 million objects take a few milliseconds.
"""
import argparse
import math
import random
import sys


def bands(n, s, per_decade=400):
    """[(count, probability of one object in the band)] over ranks 1..n, probabilities summing to 1."""
    edges, r = [1], 1.0
    step = 10 ** (1 / per_decade)
    while edges[-1] <= n:
        r *= step
        edges.append(max(edges[-1] + 1, int(r)))
    edges[-1] = n + 1
    out = []
    for a, b in zip(edges, edges[1:]):
        if a > n:
            break
        b = min(b, n + 1)
        mid = (a * (b - 1)) ** 0.5  # geometric middle rank of the band
        out.append((b - a, mid ** -s))
    total = sum(c * w for c, w in out)
    return [(c, w / total) for c, w in out]


def che_time(rates, capacity):
    """T with sum count * (1 - exp(-rate T)) = capacity; rates as [(count, rate of one object)]."""
    objects = sum(c for c, _ in rates)
    if capacity >= objects:
        return math.inf
    occupied = lambda t: sum(c * -math.expm1(-lam * t) for c, lam in rates)
    lo, hi = 0.0, 1.0
    while occupied(hi) < capacity:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        if occupied(mid) < capacity:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def lru(rates, capacity, ttl=math.inf):
    """(hit ratio, [(count, miss rate of one object)]) of an LRU cache of `capacity` objects fed `rates`, whose
    objects stay fresh `ttl` seconds. A request misses when the object was evicted (not asked within T) or has
    expired: an object asked at rate lam is fetched once, hit lam x ttl times on average, then fetched again (a
    revalidation), so a kept object still misses 1 / (1 + lam x ttl) of its requests."""
    t = che_time(rates, capacity)
    total = sum(c * lam for c, lam in rates)
    if total == 0:
        return 0.0, rates

    def miss(lam):
        kept = 1.0 if math.isinf(t) else -math.expm1(-lam * t)
        fresh = 1.0 if math.isinf(ttl) else lam * ttl / (1 + lam * ttl)
        return lam * (1 - kept * fresh)

    misses = [(c, miss(lam)) for c, lam in rates]
    return 1 - sum(c * m for c, m in misses) / total, misses


def model(a):
    b = bands(a.objects, a.zipf)
    edges = a.pops * a.edges_per_pop
    edge_cap = a.edge_cache_gib * 2**30 / (a.object_kib * 1024 + a.overhead_bytes)
    per_edge = [(c, a.rps / edges * p) for c, p in b]
    edge_hit, edge_miss = lru(per_edge, edge_cap, a.ttl)
    tier_in = [(c, m * edges) for c, m in edge_miss]  # the aggregate miss stream of every edge, per object
    tier_rps = sum(c * m for c, m in tier_in)
    res = {"edges": edges, "edge_capacity_objects": edge_cap, "edge_hit_ratio": edge_hit, "tier_rps": tier_rps}
    if a.parents:
        parent_cap = a.parent_cache_gib * 2**30 / (a.object_kib * 1024 + a.overhead_bytes)
        if a.parent_spread:
            parent_hit, parent_miss = lru([(c, m / a.parents) for c, m in tier_in], parent_cap, a.ttl)
            origin = sum(c * m for c, m in parent_miss) * a.parents
        else:
            parent_hit, parent_miss = lru(tier_in, parent_cap * a.parents, a.ttl)
            origin = sum(c * m for c, m in parent_miss)
        res["parent_hit_ratio"] = parent_hit
    else:
        origin = tier_rps
    res["origin_rps"] = origin
    res["offload"] = 1 - origin / a.rps if a.rps else 0
    res["edges_needed"] = math.ceil(a.rps / a.edge_rps) if a.edge_rps else None
    return res


def simulate(objects, s, capacity, requests, seed=1):
    """Exact LRU hit ratio of a Zipf(s) request stream (for --check and the test)."""
    from collections import OrderedDict
    rng = random.Random(seed)
    weights = [i ** -s for i in range(1, objects + 1)]
    draws = rng.choices(range(objects), weights=weights, k=requests)
    cache, hits = OrderedDict(), 0
    warm = requests // 5
    for n, k in enumerate(draws):
        if k in cache:
            cache.move_to_end(k)
            hits += n >= warm
        else:
            cache[k] = True
            if len(cache) > capacity:
                cache.popitem(last=False)
    return hits / (requests - warm)


def predicted_hit_ratio(objects, s, capacity):
    return lru([(c, p) for c, p in bands(objects, s)], capacity)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--objects", type=int, default=1_000_000, help="objects in the catalog")
    ap.add_argument("--zipf", type=float, default=0.9, help="popularity skew s (0.6-1.0 is typical of web content)")
    ap.add_argument("--object-kib", type=float, default=64, help="mean object size, KiB")
    ap.add_argument("--overhead-bytes", type=int, default=600, help="stored bytes per object beyond the body")
    ap.add_argument("--ttl", type=float, default=86400, help="seconds an object stays fresh (default_ttl: 1 day)")
    ap.add_argument("--rps", type=float, default=100_000, help="viewer requests per second, all PoPs")
    ap.add_argument("--pops", type=int, default=3)
    ap.add_argument("--edges-per-pop", type=int, default=2)
    ap.add_argument("--edge-cache-gib", type=float, default=8)
    ap.add_argument("--parents", type=int, default=2, help="parent tier size (0: edges fetch from the origin)")
    ap.add_argument("--parent-cache-gib", type=float, default=16)
    ap.add_argument("--parent-spread", action="store_true", help="parents chosen at random instead of by hash")
    ap.add_argument("--edge-rps", type=float, default=19_000,
                    help="one edge's measured rate for this mix (default: 100 KiB hits on one core here)")
    ap.add_argument("--check", action="store_true", help="compare the approximation with an exact LRU simulation")
    a = ap.parse_args()
    if a.check:
        print(f"{'objects':>8} {'s':>4} {'capacity':>9} {'model':>7} {'LRU sim':>8}")
        for n, s, c in ((10_000, 0.8, 500), (10_000, 0.9, 1_000), (50_000, 1.0, 2_000), (20_000, 0.6, 4_000)):
            print(f"{n:8,} {s:4} {c:9,} {predicted_hit_ratio(n, s, c):7.1%} {simulate(n, s, c, 400_000):8.1%}")
        return 0
    r = model(a)
    print(f"catalog {a.objects:,} objects x {a.object_kib:g} KiB, Zipf s={a.zipf}, {a.rps:,.0f} req/s, TTL {a.ttl:g} s, over "
          f"{a.pops} PoPs x {a.edges_per_pop} edges ({a.edge_cache_gib:g} GiB each, "
          f"{r['edge_capacity_objects']:,.0f} objects)")
    print(f"  edge hit ratio        {r['edge_hit_ratio']:7.1%}   (requests to the tier: {r['tier_rps']:,.0f}/s)")
    if a.parents:
        how = "at random" if a.parent_spread else "by rendezvous hash"
        print(f"  parent hit ratio      {r['parent_hit_ratio']:7.1%}   ({a.parents} parents x "
              f"{a.parent_cache_gib:g} GiB, keys spread {how})")
    print(f"  origin requests/s     {r['origin_rps']:9,.1f} (offload {r['offload']:.2%})")
    if r["edges_needed"]:
        print(f"  edges for the rate    {r['edges_needed']:5}     (at {a.edge_rps:,.0f} req/s each; have {r['edges']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
