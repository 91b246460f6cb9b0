"""The edge's live console on the real daemon: GET /_meridian/stats.json under load counts what was sent (requests,
hits and misses, 2xx/4xx, bytes, the hit ratios), the popular URLs come out right from the per-worker sketches (the
most requested URL first, the one with the most bytes first, with thousands of one-off URLs in between), rates move
while load runs, latency quantiles exist, cache fill and invalidations are reported; the page itself is one
self-contained document. With admin.token_file: console, stats and metrics need the token (401 and
WWW-Authenticate without it or with a wrong one; Bearer or a browser's Basic), health stays open, and the
invalidation API keeps its own token."""
import base64
import http.client
import json
import random
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, bucket_edge_conf, http_get, tmpdir  # noqa: E402

tmp = tmpdir()
site = os.path.join(tmp, "site")
os.makedirs(site)
with open(os.path.join(site, "hot.bin"), "wb") as fh:
    fh.write(os.urandom(1000))
with open(os.path.join(site, "warm.bin"), "wb") as fh:
    fh.write(os.urandom(10_000))
with open(os.path.join(site, "big.bin"), "wb") as fh:
    fh.write(os.urandom(100_000))
for i in range(10):
    with open(os.path.join(site, f"spin{i}.txt"), "wb") as fh:
        fh.write(b"x" * 100)
TOKEN = "console-token-0123456789"
INV_TOKEN = "invalidate-token-0123456789"
for name, tok in (("admin.token", TOKEN), ("inv.token", INV_TOKEN)):
    with open(os.path.join(tmp, name), "w") as fh:
        fh.write(tok + "\n")

f = Failures()
edge = Edge(tmp, f"""
[cache]
max_bytes = "64MiB"
[invalidation]
token_file = "{os.path.join(tmp, 'inv.token')}"
""" + bucket_edge_conf(site, "compress = false"), workers=2)
# The admin token goes in the [admin] table Edge writes.
with open(edge.config) as fh:
    conf = fh.read()
conf = conf.replace("[admin]\n", f'[admin]\ntoken_file = "{os.path.join(tmp, "admin.token")}"\n', 1)
with open(edge.config, "w") as fh:
    fh.write(conf)
edge.start()

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def stats():
    st, h, b = http_get(edge.admin_port, "/_meridian/stats.json", headers=BEARER)
    assert st == 200, (st, b)
    return json.loads(b)


def drive(paths, conns=1):
    """GETs every path over keep-alive connections (spread over `conns`); returns the statuses seen."""
    statuses = {}
    lock = threading.Lock()

    def run(part):
        c = http.client.HTTPConnection("127.0.0.1", edge.port, timeout=10)
        for p in part:
            c.request("GET", p, headers={"Host": "console.test"})
            r = c.getresponse()
            r.read()
            with lock:
                statuses[r.status] = statuses.get(r.status, 0) + 1
        c.close()

    ts = [threading.Thread(target=run, args=(paths[i::conns],)) for i in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return statuses


try:
    # --- the token ---
    for path in ("/_meridian/stats.json", "/_meridian/console", "/_meridian/metrics"):
        st, h, _ = http_get(edge.admin_port, path)
        f.eq(st, 401, f"{path} without the token")
        f.check("bearer" in h.get("www-authenticate", "").lower() or "basic" in h.get("www-authenticate", "").lower(),
                f"{path}: 401 says how to authenticate (WWW-Authenticate): {h.get('www-authenticate')!r}")
        st, _, _ = http_get(edge.admin_port, path, headers={"Authorization": "Bearer wrong-token-000000000000"})
        f.eq(st, 401, f"{path} with a wrong token")
        st, _, _ = http_get(edge.admin_port, path, headers=BEARER)
        f.eq(st, 200, f"{path} with the token")
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    st, _, _ = http_get(edge.admin_port, "/_meridian/stats.json", headers={"Authorization": f"Basic {basic}"})
    f.eq(st, 200, "Basic with the token as password (a browser's login prompt)")
    st, _, b = http_get(edge.admin_port, "/_meridian/health")
    f.eq((st, b), (200, b"ok\n"), "health needs no token")

    # --- the page: self-contained, polls stats.json ---
    st, h, page = http_get(edge.admin_port, "/_meridian/console", headers=BEARER)
    page = page.decode()
    f.check(h.get("content-type", "").startswith("text/html"), "the console is HTML")
    f.check("stats.json" in page and "setTimeout(poll, 1000)" in page, "the page polls stats.json every second")
    f.check("http://" not in page and "https://" not in page and "<link" not in page and " src=" not in page,
            "the page loads nothing from elsewhere (no URL, stylesheet link or script src)")
    for el in ("rps", "hit_ratio", "p99", "top_requests", "top_bytes", "cache_fill", "invalidations_total"):
        f.check(f'id="{el}"' in page, f"the page has #{el}")

    base = stats()
    f.eq(base["requests_total"], 0, "no request counted before any")
    f.eq(base["top_by_requests"], [], "no popular URL before any request")

    # --- known traffic: 300 hot, 100 warm, 20 big, 3000 one-off 404s (more distinct URLs than the sketches keep) ---
    paths = ["/hot.bin"] * 300 + ["/warm.bin"] * 100 + ["/big.bin"] * 20 + [f"/missing/{i}" for i in range(3000)]
    random.Random(16).shuffle(paths)  # interleaved
    got = drive(paths, conns=4)
    f.eq(got, {200: 420, 404: 3000}, "statuses sent")
    # A request is counted when its exchange ends, just after its last byte is written: the viewer may read the last
    # answer a moment before it is counted.
    s = stats()
    settle = time.time() + 5
    while s["requests_total"] < 3420 and time.time() < settle:
        time.sleep(0.05)
        s = stats()
    f.eq(s["requests_total"], 3420, "requests_total counts every request")
    f.eq(s["status_total"]["2xx"], 420, "2xx total")
    f.eq(s["status_total"]["4xx"], 3000, "4xx total")
    f.eq(s["status_total"]["5xx"], 0, "5xx total")
    # Each 200 URL misses once (or a few times, when the four connections race on its first request), then hits.
    hits, misses = s["hits_total"], s["misses_total"]
    f.check(405 <= hits <= 417, f"hits_total {hits} (420 requests of 3 URLs)")
    f.eq(hits + misses, 420, "hits + misses = the 200s (the 404s are errors, not misses)")
    f.check(abs(s["hit_ratio"] - hits / (hits + misses)) < 1e-9, f"hit_ratio = hits / (hits + misses): {s['hit_ratio']}")
    f.check(s["byte_hit_ratio"] is not None and 0.8 < s["byte_hit_ratio"] <= 1, f"byte hit ratio {s['byte_hit_ratio']}")
    body_bytes = 300 * 1000 + 100 * 10_000 + 20 * 100_000
    f.check(s["bytes_total"] > body_bytes, f"bytes_total {s['bytes_total']} > the bodies' {body_bytes}")
    top = s["top_by_requests"]
    f.eq(len(top), 20, "top 20 URLs by requests")
    f.eq((top[0]["url"], top[0]["requests"]), ("console.test/hot.bin", 300), "the most requested URL, exactly counted")
    f.eq((top[1]["url"], top[1]["requests"]), ("console.test/warm.bin", 100), "the second")
    f.eq(top[2]["url"], "console.test/big.bin", "the third")
    f.check(top[2]["requests"] >= 20, "big.bin counted at least 20 times")
    tb = s["top_by_bytes"]
    f.eq([t["url"] for t in tb[:3]], ["console.test/big.bin", "console.test/warm.bin", "console.test/hot.bin"],
         "top URLs by bytes")
    f.check(tb[0]["bytes"] >= 20 * 100_000, f"big.bin bytes {tb[0]['bytes']} >= its bodies")
    f.check(s["latency_ms"]["p50"] is not None and s["latency_ms"]["p99"] is not None
            and s["latency_ms"]["p50"] <= s["latency_ms"]["p99"], f"latency quantiles {s['latency_ms']}")
    c = s["cache"]
    f.eq(c["budget_bytes"], 64 << 20, "cache budget")
    f.check(c["objects"] >= 3 and c["bytes"] >= 111_000, f"cache fill {c}")
    f.check(abs(c["fill_ratio"] - c["bytes"] / c["budget_bytes"]) < 1e-9, "fill ratio = bytes / budget")
    f.eq(s["origin_errors_total"], 0, "no origin error")

    # --- rates move under load and fall back after ---
    stop = threading.Event()

    def load():
        while not stop.is_set():
            drive([f"/spin{i}.txt" for i in range(10)] * 20)

    t = threading.Thread(target=load)
    t.start()
    time.sleep(0.3)
    s1 = stats()
    time.sleep(1.2)
    s2 = stats()
    time.sleep(1.2)
    s3 = stats()
    stop.set()
    t.join()
    f.check(s3["samples"] >= 3, f"samples kept: {s3['samples']}")
    f.check(s2["requests_per_s"] > 50 and s3["requests_per_s"] > 50,
            f"requests/s under load: {s2['requests_per_s']:.0f}, {s3['requests_per_s']:.0f}")
    window = s3["rate_window_s"]
    want = (s3["requests_total"] - s2["requests_total"]) / window
    f.check(abs(s3["requests_per_s"] - want) < 1e-6 * max(1, want),
            f"the rate is the counter's delta over the sample interval ({s3['requests_per_s']:.1f} vs {want:.1f})")
    f.check(len(s3["history"]["requests_per_s"]) >= 2, "a history for the sparkline")
    f.check(s3["hit_ratio_recent"] > 0.9, f"recent hit ratio under a hit load: {s3['hit_ratio_recent']}")
    f.check(s1["requests_total"] < s2["requests_total"] < s3["requests_total"], "the totals move under load")
    time.sleep(1.1)
    stats()
    time.sleep(1.1)
    f.eq(stats()["requests_per_s"], 0, "requests/s back to 0 once the load stops")

    # --- an invalidation shows, with the API's own token ---
    st, _, _ = http_get(edge.admin_port, "/_meridian/invalidate", method="POST",
                        headers={"Authorization": f"Bearer {INV_TOKEN}", "Content-Type": "application/json"},
                        body=json.dumps({"paths": ["/hot.bin"]}).encode())
    f.eq(st, 201, "invalidation accepted with its own token while admin.token_file is set")
    s = stats()
    f.eq(s["invalidations_total"], 1, "invalidations_total")
    f.check(s["invalidated_objects_total"] >= 1, "objects invalidated")
    f.check(edge.proc.poll() is None, "the edge is still running")
finally:
    code = edge.stop()
f.eq(code, 0, "exit code")
f.done()
