#!/usr/bin/env python3
"""bench/loadtest's Zipf sweep bookkeeping: one JSON line per wrk run (server, connections, round), then per server
and step the median round, the p99-crossing per server, the next points of the crossing search, and the
side-by-side table with every row's ratio to nginx and Varnish, both cores' busy shares and the server's CPU per
request (what is left to compare when the client set the rate).

usage:
  sweep_rows.py add RUNS OUT SERVER CONNS ROUND PID CPU0 ORIGIN_REQS CLIENT_TIMES [KEY=VALUE...]
        one wrk run (OUT: wrk --latency output with the zipf script's HITS and P90 lines; PID: the server, CPU0 its
        CPU seconds before; CLIENT_TIMES: "real user sys" of wrk from bash's time) -> a line appended to RUNS
  sweep_rows.py next RUNS BOUND_MS [MAX_POINTS]
        connection counts to measure next: per server, the geometric middle of its last step under the bound and
        its first step over it, when they are 1.5x or more apart and the middle was not measured
  sweep_rows.py report RUNS RESULTS BOUND_MS
        the median rows and crossing rows appended to RESULTS (group loadtest), the table printed on stderr
"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchpy  # noqa: E402

# A core at least this busy set the rate (the other side waited on it).
SATURATED = 0.9


def limit(client_busy, server_busy):
    """Which side's core set the rate: client, server, both, or '' (neither saturated: the machine's other load)."""
    c = (client_busy or 0) >= SATURATED
    s = (server_busy or 0) >= SATURATED
    return "both" if c and s else "client" if c else "server" if s else ""


def add(runs, out, server, conns, rnd, pid, cpu0, origin_reqs, client_times, *extra):
    text = open(out, errors="replace").read() if os.path.exists(out) else ""
    r = benchpy.parse_wrk(text)
    hits = total = lua_errors = 0
    p90 = None
    for line in text.splitlines():
        w = line.split()
        if len(w) == 4 and w[0] == "HITS":
            hits, total, lua_errors = int(w[1]), int(w[2]), int(w[3])
        elif len(w) == 2 and w[0] == "P90":
            p90 = float(w[1])
    wall, user, sys_ = (float(x) for x in client_times.split())
    r.update(server=server, conns=int(conns), round=int(rnd), p90_us=p90, hits=hits,
             hit_ratio=round(hits / total, 4) if total else None, origin_requests=int(origin_reqs),
             errors=r["errors"] + lua_errors, wall_s=round(wall, 3))
    if r["requests"]:  # wrk's own cost per response: what sets the rate once its core is saturated
        r["client_cpu_us_per_req"] = round((user + sys_) * 1e6 / r["requests"], 1)
    if wall > 0:
        r["client_core_busy"] = round((user + sys_) / wall, 2)
        if pid:
            cpu = benchpy.cpu(int(pid)) - float(cpu0)
            r["server_core_busy"] = round(cpu / wall, 2)
            if r["requests"]:
                r["cpu_us_per_req"] = round(cpu * 1e6 / r["requests"], 1)
    r["limit"] = limit(r.get("client_core_busy"), r.get("server_core_busy"))
    r.update(benchpy.parse_kv(extra))
    with open(runs, "a") as f:
        f.write(json.dumps(r) + "\n")
    busy = f"client core {r.get('client_core_busy', '?')}, server core {r.get('server_core_busy', '?')}"
    print(f"{server:9} {conns:>5} conns round {rnd}: {r['rps']:>10,.0f} req/s  p99 {ms(r['p99_us'])}  {busy}"
          + (f"  errors {r['errors']}" if r["errors"] else "")
          + (f"  listen overflows {r['listen_overflows']}" if r.get("listen_overflows") else ""))


def ms(us):
    return "n/a" if us is None else f"{us / 1000:.2f}ms"


def load(runs):
    out = []
    if os.path.exists(runs):
        for line in open(runs):
            if line.strip():
                out.append(json.loads(line))
    return out


def median(vals):
    vals = sorted(v for v in vals if isinstance(v, (int, float)))
    return vals[len(vals) // 2] if vals else None


def medians(runs):
    """{(server, conns): row}: the median round by rate, with p50/p90/p99 and the busy shares as medians of their
    own (a round slowed by the machine's other load moves the rate and the tail differently)."""
    groups = {}
    for r in runs:
        groups.setdefault((r["server"], r["conns"]), []).append(r)
    rows = {}
    for key, rs in groups.items():
        pick = dict(sorted(rs, key=lambda r: r.get("rps") or 0)[len(rs) // 2])
        for k in ("p50_us", "p90_us", "p99_us", "client_core_busy", "server_core_busy", "cpu_us_per_req",
                  "client_cpu_us_per_req"):
            pick[k] = median([r.get(k) for r in rs])
        pick["limit"] = limit(pick.get("client_core_busy"), pick.get("server_core_busy"))
        pick["rounds"] = len(rs)
        by_round = sorted(rs, key=lambda r: r["round"])
        pick["rounds_rps"] = ",".join(f"{r.get('rps', 0):.0f}" for r in by_round)
        pick["rounds_p99_ms"] = ",".join(f"{(r.get('p99_us') or 0) / 1000:.1f}" for r in by_round)
        pick.pop("round", None)
        rows[key] = pick
    return rows


def crossing(rows, server, bound_us):
    """(crossed_at, last_ok): the fewest connections whose p99 is over the bound (None: never), and the most under
    it below that point."""
    pts = sorted((c, r.get("p99_us")) for (s, c), r in rows.items() if s == server)
    crossed = next((c for c, p in pts if p is not None and p > bound_us), None)
    ok = [c for c, p in pts if p is not None and p <= bound_us and (crossed is None or c < crossed)]
    return crossed, (max(ok) if ok else None)


def next_points(rows, bound_us, max_points=2):
    servers = sorted({s for s, _ in rows})
    have = {c for _, c in rows}
    pts = set()
    for s in servers:
        crossed, ok = crossing(rows, s, bound_us)
        if crossed and ok and crossed / ok >= 1.5:
            mid = int(round(math.sqrt(crossed * ok)))
            if mid not in have:
                pts.add(mid)
    return sorted(pts)[:max_points]


def report(runs_path, results, bound_ms):
    rows = medians(load(runs_path))
    bound_us = bound_ms * 1000
    known = ("meridian", "nginx", "varnish")
    servers = sorted({s for s, _ in rows})
    order = [s for s in known if s in servers] + [s for s in servers if s not in known]
    steps = sorted({c for _, c in rows})
    with open(results, "a") as f:
        for c in steps:
            for s in order:
                r = rows.get((s, c))
                if r:
                    f.write(json.dumps(dict(r, group="loadtest", case=f"zipf sweep {c} connections")) + "\n")
        for s in order:
            crossed, ok = crossing(rows, s, bound_us)
            f.write(json.dumps({"group": "loadtest", "case": f"p99 bound {bound_ms}ms", "server": s,
                                "crossed_at": crossed if crossed is not None else "none",
                                "last_ok": ok if ok is not None else "none",
                                "points": ",".join(str(c) for c in steps if (s, c) in rows)}) + "\n")
    # The table: rates, ratios of ours to each peer, p99 and both cores' busy shares (client/server) per server.
    e = sys.stderr
    head = f"{'conns':>6} " + " ".join(f"{s + ' req/s':>15}" for s in order)
    peers = [p for p in ("nginx", "varnish") if p in order and "meridian" in order]
    head += "".join(f" {'/' + p:>9}" for p in peers)
    head += " " + " ".join(f"{s[:8] + ' p99':>13}" for s in order)
    head += "  busy client/server, server CPU per request"
    print("\n" + head, file=e)
    for c in steps:
        line = f"{c:>6} "
        line += " ".join(f"{rows[(s, c)]['rps']:>15,.0f}" if (s, c) in rows else f"{'n/a':>15}" for s in order)
        m = rows.get(("meridian", c))
        for p in peers:
            pr = rows.get((p, c))
            line += f" {m['rps'] / pr['rps']:>8.2f}x" if m and pr and pr["rps"] else f" {'n/a':>9}"
        line += " " + " ".join(f"{ms(rows[(s, c)].get('p99_us')):>13}" if (s, c) in rows else f"{'n/a':>13}"
                               for s in order)
        busy = []
        for s in order:
            r = rows.get((s, c))
            if r:
                cb, sb = (r.get(k) for k in ("client_core_busy", "server_core_busy"))
                cpu = r.get("cpu_us_per_req")
                busy.append(f"{s[:1]} {'?' if cb is None else cb}/{'?' if sb is None else sb}"
                            + (f" {cpu:.0f}us/req" if cpu is not None else "")
                            + (f" ({r['limit']}-capped)" if r.get("limit") in ("client", "server") else ""))
        print(line + "  " + ", ".join(busy), file=e)
    for s in order:
        crossed, ok = crossing(rows, s, bound_us)
        print(f"ramp {s}: p99 " + (f"crossed {bound_ms} ms at {crossed} connections (last under: {ok or 'none'})"
                                   if crossed else f"stayed under {bound_ms} ms up to {steps[-1]} connections"),
              file=e)


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "add":
        add(*a)
    elif cmd == "next":
        pts = next_points(medians(load(a[0])), float(a[1]) * 1000, int(a[2]) if len(a) > 2 else 2)
        print(" ".join(str(p) for p in pts))
    elif cmd == "report":
        report(a[0], a[1], int(a[2]))
    else:
        raise SystemExit(f"sweep_rows: unknown command {cmd}")


if __name__ == "__main__":
    main()
