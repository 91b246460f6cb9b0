#!/usr/bin/env python3
"""Report of a bench/cluster load run (folder OUT): per-PoP edge hit ratio and DNS queries (from each daemon's
/_meridian/metrics before and after), the parent tier's hit ratio, origin offload (1 - origin requests / viewer
requests at the PoPs), and per client region the HTTP load (bench/loadtest rows: requests/s, hit ratio, p50/p99,
errors) and DNS load (dnsperf: queries/s, lost, average latency). Writes OUT/results.json, prints a table, and draws
OUT/chart.png with gnuplot when it is installed.
usage: cluster_load_report.py OUT --pops eu us ... --clients eu ..."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchpy import parse_dnsperf  # noqa: E402


def metrics(path):
    """{(name, labels): value} of a Prometheus text file; {} when missing."""
    out = {}
    try:
        text = open(path).read()
    except OSError:
        return out
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+)(\{[^}]*\})?\s+([0-9.eE+-]+)$", line)
        if m:
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def delta(out, name, labels=None):
    """Sum over the series of `name` (those whose labels contain `labels`) of after - before."""
    before, after = metrics(f"{out}/before-{name[0]}.prom"), metrics(f"{out}/after-{name[0]}.prom")
    total = 0.0
    for (n, lab), v in after.items():
        if n == name[1] and (labels is None or labels in lab):
            total += v - before.get((n, lab), 0.0)
    return total


def edge_stats(out, who):
    hit = delta(out, (who, "meridian_edge_requests_total"), 'result="hit"')
    refresh = delta(out, (who, "meridian_edge_requests_total"), 'result="refresh_hit"')
    miss = delta(out, (who, "meridian_edge_requests_total"), 'result="miss"')
    total = delta(out, (who, "meridian_edge_requests_total"))
    cacheable = hit + refresh + miss
    # The edge's own definition (its metric's help): a revalidated object (refresh_hit) is not a hit.
    return {"requests": int(total), "hit_ratio": hit / cacheable if cacheable else None,
            "revalidated": int(refresh),
            "origin_requests": int(delta(out, (who, "meridian_edge_origin_requests_total")))}


def pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--pops", nargs="+", required=True)
    ap.add_argument("--clients", nargs="*", default=[])
    a = ap.parse_args()
    res = {"pops": {}, "clients": {}}
    for p in a.pops:
        s = edge_stats(a.out, f"edge-{p}")
        s["dns_queries"] = int(delta(a.out, (f"dns-{p}", "meridian_dns_queries_total")))
        res["pops"][p] = s
    res["parent"] = edge_stats(a.out, "parent")
    viewer = sum(s["requests"] for s in res["pops"].values())
    origin = int(delta(a.out, ("origin", "meridian_edge_requests_total")))
    res["origin"] = {"requests": origin, "viewer_requests": viewer,
                     "offload": 1 - origin / viewer if viewer else None}
    for c in a.clients:
        row = {}
        try:
            rows = [json.loads(line) for line in open(f"{a.out}/http-{c}.jsonl") if line.strip()]
            row = next((r for r in rows if str(r.get("case", "")).startswith("zipf sweep")), {})
        except OSError:
            pass
        try:
            dns = parse_dnsperf(open(f"{a.out}/dns-{c}.log").read())
        except OSError:
            dns = {}
        res["clients"][c] = {"http": {k: row.get(k) for k in ("conns", "rps", "hit_ratio", "p50_us", "p99_us",
                                                              "errors", "requests")},
                             "dns": dns}
    json.dump(res, open(f"{a.out}/results.json", "w"), indent=1)

    print(f"{'tier':8} {'requests':>9} {'hit ratio':>9} {'revalidated':>11} {'upstream':>9} {'DNS queries':>11}")
    for p, s in res["pops"].items():
        print(f"pop-{p:4} {s['requests']:>9} {pct(s['hit_ratio']):>9} {s['revalidated']:>11} {s['origin_requests']:>9}"
              f" {s['dns_queries']:>11}")
    ps = res["parent"]
    print(f"{'parent':8} {ps['requests']:>9} {pct(ps['hit_ratio']):>9} {ps['revalidated']:>11} {ps['origin_requests']:>9}")
    o = res["origin"]
    print(f"origin: {o['requests']} requests for {o['viewer_requests']} viewer requests: offload {pct(o['offload'])}")
    if res["clients"]:
        print(f"\n{'client':9} {'conns':>5} {'req/s':>8} {'hit':>6} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
              f" {'DNS q/s':>8} {'lost':>5} {'DNS avg ms':>10}")
    for c, r in res["clients"].items():
        h, d = r["http"], r["dns"]
        ms = lambda us: "-" if us in (None, "") else f"{float(us) / 1000:.2f}"  # noqa: E731
        hr = h.get("hit_ratio")
        print(f"{c:9} {h.get('conns') or '-':>5} {float(h.get('rps') or 0):>8.0f} "
              f"{pct(float(hr)) if hr not in (None, '') else '-':>6} {ms(h.get('p50_us')):>7} {ms(h.get('p99_us')):>7} "
              f"{h.get('errors') if h.get('errors') is not None else '-':>6} {d.get('qps', 0):>8.0f} "
              f"{d.get('lost', 0):>5} {ms(d.get('avg_us')):>10}")

    if shutil.which("gnuplot"):
        with open(f"{a.out}/chart.dat", "w") as f:
            for p, s in res["pops"].items():
                f.write(f"pop-{p} {100 * (s['hit_ratio'] or 0):.1f}\n")
            f.write(f"parent {100 * (ps['hit_ratio'] or 0):.1f}\n")
            f.write(f"offload {100 * (o['offload'] or 0):.1f}\n")
        with open(f"{a.out}/chart-p99.dat", "w") as f:
            for c, r in res["clients"].items():
                f.write(f"client-{c} {float(r['http'].get('p99_us') or 0) / 1000:.2f}\n")
        script = f'''set terminal png size 1000,420
set output "{a.out}/chart.png"
set multiplot layout 1,2
set style data histogram
set style fill solid 0.7
set boxwidth 0.8
set yrange [0:105]
set title "hit ratio per tier, origin offload (%)"
plot "{a.out}/chart.dat" using 2:xtic(1) notitle lc rgb "#3070b0"
set yrange [0:*]
set title "HTTP p99 per client region (ms)"
plot "{a.out}/chart-p99.dat" using 2:xtic(1) notitle lc rgb "#b05030"
unset multiplot
'''
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        print(f"\nchart: {a.out}/chart.png" if r.returncode == 0 else f"\nchart failed: {r.stderr.strip()}")
    else:
        print("\n(no chart: gnuplot is not installed; ./run cluster load installs it)")
    print(f"results: {a.out}/results.json")


if __name__ == "__main__":
    main()
