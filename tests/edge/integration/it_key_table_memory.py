# ctest: PROCESSORS 2 COST 60
"""Memory stays bounded under unique URLs on an uncacheable path (issue: the hit-for-miss table grew without limit,
35 MB -> 1.25 GB RSS in 40 s while the cache stayed at 23 MB). wrk sends ~7 KB unique URLs to a no-store origin
path for a bounded time; every answer is remembered as hit-for-miss, so without a budget each request would keep its
key (the run below sends well over 100 MB of distinct keys). Asserts: RSS grows by less than 32 MiB, the
hit-for-miss table stays within cache.hit_for_miss_max_bytes, its evictions show in /_meridian/metrics as a
counter, the edge still answers, and a remembered key still passes (hit-for-miss keeps working)."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, Nginx, catch_all, http_get, http_origin, rss_mb, skip, tmpdir  # noqa: E402

WRK = shutil.which("wrk")
if not WRK:
    skip("wrk is not installed")

RSS_BOUND_MB = 32
HFM_BUDGET = 1 << 20
URL_PAD = 7000

tmp = tmpdir()
root = os.path.join(tmp, "www")
os.makedirs(root)
nginx = Nginx(tmp, root, locations='location /nostore/ { add_header Cache-Control no-store; return 200 "x"; }\n'
                                   '  large_client_header_buffers 4 16k;')
f = Failures()
edge = None




def run_wrk(port, seconds, lua):
    out = subprocess.run([WRK, "-t2", "-c32", f"-d{seconds}s", "--timeout", "10s", "-s", lua,
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=seconds + 60).stdout
    reqs = 0
    for line in out.splitlines():
        if "requests in" in line:
            reqs = int(line.split()[0])
    return reqs, out


try:
    nginx.start()
    # Sanitizer builds keep freed memory in a quarantine (256 MB by default), which would hide the signal.
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = {"ASAN_OPTIONS": (asan + ":" if asan else "") + "quarantine_size_mb=8"}
    edge = Edge(tmp, http_origin("n", nginx.port) + f"""
[limits]
max_uri_bytes = "8KiB"
[cache]
hit_for_miss_max_bytes = {HFM_BUDGET}
""" + catch_all("n"), workers=2, extra_env=env).start()
    port = edge.port
    runs = [0]

    def lua_script():
        """A wrk script whose every request, across its threads and across runs, has a path never sent before."""
        runs[0] += 1
        path = os.path.join(tmp, f"unique{runs[0]}.lua")
        with open(path, "w") as fh:
            fh.write(f"""
local pad = string.rep("p", {URL_PAD})
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/nostore/r{runs[0]}-t" .. tid .. "-" .. n .. "/" .. pad)
end
""")
        return path

    s, h, b = http_get(port, "/nostore/probe")
    f.eq(s, 200, "no-store path answers")

    warm, _ = run_wrk(port, 2, lua_script())  # allocator pools, connections, worker buffers
    base = rss_mb(edge.proc.pid)
    peak = base
    # Load until the distinct keys sent are several times the bound (bounded in time: slow sanitizer builds need
    # longer runs than a Release build for the same number of requests).
    reqs = 0
    t0 = time.time()
    while reqs * (URL_PAD + 40) / 1e6 < 3 * RSS_BOUND_MB and time.time() - t0 < 60:
        wrk = subprocess.Popen([WRK, "-t2", "-c32", "-d5s", "--timeout", "10s", "-s", lua_script(),
                                f"http://127.0.0.1:{port}/"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
        while wrk.poll() is None:
            time.sleep(0.5)
            peak = max(peak, rss_mb(edge.proc.pid))
        out = wrk.stdout.read()
        for line in out.splitlines():
            if "requests in" in line:
                reqs += int(line.split()[0])
        if "Non-2xx" in out or "Socket errors" in out:
            print(out)
            f.check(False, "every request answered 200")
            break
    peak = max(peak, rss_mb(edge.proc.pid))
    keys_mb = (warm + reqs) * (URL_PAD + 40) / 1e6
    print(f"requests: {warm} warm-up + {reqs} in {time.time() - t0:.0f}s; distinct keys sent: {keys_mb:.0f} MB; "
          f"RSS {base:.1f} -> {peak:.1f} MB")
    # The test only means something if unbounded memory would have shown: the keys alone exceed the bound.
    f.check(keys_mb > 2 * RSS_BOUND_MB, f"load sent more distinct key bytes ({keys_mb:.0f} MB) than twice the bound")
    f.check(peak - base < RSS_BOUND_MB, f"RSS grew {peak - base:.1f} MB (< {RSS_BOUND_MB} MB) for {keys_mb:.0f} MB "
                                        "of unique no-store keys")

    text = edge.metrics()
    f.check("# TYPE meridian_edge_hit_for_miss_evictions_total counter" in text, "evictions exported as a counter")
    f.check("# TYPE meridian_edge_cache_evictions_total counter" in text, "cache evictions exported as a counter")
    ev = edge.metric("meridian_edge_hit_for_miss_evictions_total") or 0
    hb = edge.metric("meridian_edge_hit_for_miss_bytes")
    he = edge.metric("meridian_edge_hit_for_miss_entries")
    print(f"hit-for-miss: {he} entries, {hb} bytes, {ev} evictions")
    f.check(ev > 1000, f"hit-for-miss evictions counted ({ev})")
    f.check(hb is not None and 0 < hb <= HFM_BUDGET, f"hit-for-miss bytes within the budget ({hb} <= {HFM_BUDGET})")
    f.check(he is not None and he > 0, "hit-for-miss entries exported")
    f.check((edge.metric("meridian_edge_collapse_bytes") or 0) >= 0, "collapse table bytes exported")

    # Hit-for-miss still works for a key that is remembered: the second miss passes without collapsing.
    before = edge.metric("meridian_edge_hit_for_miss_passes_total") or 0
    http_get(port, "/nostore/again")
    http_get(port, "/nostore/again")
    f.check((edge.metric("meridian_edge_hit_for_miss_passes_total") or 0) > before, "a remembered key passes")
    f.eq(edge.proc.poll(), None, "edge alive")
    f.eq(http_get(port, "/nostore/final")[0], 200, "edge still answers")
finally:
    if edge:
        edge.stop()
    nginx.stop()
f.done()
