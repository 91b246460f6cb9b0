#!/usr/bin/env python3
"""Turns a run's results.jsonl into the table bench.sh prints, results.json, a gnuplot chart and latest.md.

Each result row has group, case, server and numbers (rps/qps, p50_us, p99_us, cpu_s, ...), or `skipped` with the
reason. Ratios are Meridian / peer (higher is better for throughput). Targets come from the edge (3), DNS (4) and
geo (5) issues; each is printed PASS, FAIL or N/A (a side was not measured) in the closing note.
usage: report.py RESULTS_JSONL OUT_DIR [--latest FILE] [--command CMD]
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys


def load(path):
    rows = []
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return rows


def throughput(r):
    for k in ("rps", "qps"):
        if isinstance(r.get(k), (int, float)):
            return float(r[k]), k
    return None, None


def fmt_num(v):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return f"{v:,}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_lat(r):
    p50, p99 = r.get("p50_us"), r.get("p99_us")
    if p50 is None and p99 is None:
        if r.get("avg_us") is not None:
            return f"avg {r['avg_us']:.0f}us"
        return ""
    def one(v):
        if v is None:
            return "?"
        return f"{v / 1000:.2f}ms" if v >= 1000 else f"{v:.0f}us"
    return f"{one(p50)} / {one(p99)}"


def machine():
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) // 1024
    except OSError:
        pass
    distro = ""
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    try:
        load = open("/proc/loadavg").read().split()[:3]
        load = f", load average {' '.join(load)} at the end of the run"
    except OSError:
        load = ""
    netns = " (own network namespace)" if os.environ.get("MERIDIAN_BENCH_IN_NETNS") else ""
    cc = os.environ.get("BENCH_TCP_CC_USED", "")
    tcp = f", TCP congestion control {cc}{netns}" if cc else ""
    return f"{os.cpu_count()} cores {cpu}, {mem} MiB RAM, {distro}, kernel {platform.release()}{tcp}{load}"


MERIDIAN = {"meridian", "meridian-edge", "meridian-dns"}


def by_case(rows):
    cases = {}
    order = []
    for r in rows:
        key = (r.get("group", "?"), r.get("case", "?"))
        if key not in cases:
            cases[key] = []
            order.append(key)
        cases[key].append(r)
    return order, cases


def find(cases, group, case, server):
    for r in cases.get((group, case), []):
        if r.get("server") == server and "skipped" not in r:
            return r
    return None


def targets(cases):
    """(description, meridian value, peer value, ratio, target, verdict) for every stated target."""
    out = []

    def ratio_target(desc, group, case, peer, target, metric=None, lower_better=False, meridian_case=None):
        m = find(cases, group, meridian_case or case, "meridian")
        p = find(cases, group, case, peer)
        mv = m.get(metric) if (m and metric) else (throughput(m)[0] if m else None)
        pv = p.get(metric) if (p and metric) else (throughput(p)[0] if p else None)
        if mv is None or pv is None or pv == 0 or mv == 0:
            out.append((desc, mv, pv, None, target, "N/A"))
            return
        ratio = (pv / mv) if lower_better else (mv / pv)
        out.append((desc, mv, pv, ratio, target, "PASS" if ratio >= target else "FAIL"))

    # Issue 13 (speed): the TLS group, and (issue 15) the hit rows, whose one wrk thread can be the limit as well.
    # On 2 cores the client has one core; when either server's core was not saturated the client set the rate, so
    # the verdict compares requests per server CPU second (1e6 / CPU per request), which is what each server's one
    # core would do; else the rates themselves.
    def server_rate_target(group, case, desc, t, peer="nginx", peer_label="nginx"):
        m, p = find(cases, group, case, "meridian"), find(cases, group, case, peer)
        desc = f"{desc} >= {t}x {peer_label}"
        skipped = next((r["skipped"] for r in cases.get((group, case), []) if r.get("server") == "meridian"
                        and "skipped" in r), None)
        if not m or not p or not throughput(m)[0] or not throughput(p)[0]:
            out.append((desc + (f" ({skipped})" if skipped else ""), None, None, None, t, "N/A"))
            return
        busy = min(m.get("server_core_busy") or 0, p.get("server_core_busy") or 0)
        mc = m.get("cpu_us_per_req_median") or m.get("cpu_us_per_req")
        pc = p.get("cpu_us_per_req_median") or p.get("cpu_us_per_req")
        if busy >= m.get("saturated", 0.9) or not mc or not pc:
            mv, pv = throughput(m)[0], throughput(p)[0]
            desc += " (req/s, both servers saturated)"
        else:
            mv, pv = 1e6 / mc, 1e6 / pc
            desc += " (req per server CPU s"
            if (m.get("client_core_busy") or 0) >= 0.9:
                desc += f"; client-capped, client core busy {m['client_core_busy']:.2f}"
            desc += ")"
        out.append((desc, mv, pv, mv / pv, t, "PASS" if mv / pv >= t else "FAIL"))

    for size, t in (("1KiB", 1.5), ("100KiB", 1.25)):
        case = f"cache hit {size} keep-alive"
        server_rate_target("edge", case, f"edge {size} hits", t, "nginx", "nginx proxy_cache")
        server_rate_target("edge", case, f"edge {size} hits", t, "varnish", "Varnish")
    case = "cache hit 1MiB keep-alive"
    n, v = find(cases, "edge", case, "nginx"), find(cases, "edge", case, "varnish")
    m1 = find(cases, "edge", case, "meridian")

    # CPU the whole machine spends per response: the server's plus wrk's. When wrk's core is full the rate measures
    # wrk, and per server CPU alone is not fair either: on loopback, once a socket's buffer is full the rest of a
    # large response goes out from the ACKs wrk's reads send, on wrk's core, so part of a server's transmit is
    # charged to the client (session 13: wrk spent 4.02 CPU s on nginx's 4,537 responses, 3.37 s on meridian's
    # 6,580). Server plus client counts that work once, wherever the kernel ran it.
    def machine_us(r):
        rps = throughput(r)[0] if r else 0
        if not rps or not r.get("cpu_us_per_req") or r.get("client_core_busy") is None:
            return None
        return r["cpu_us_per_req"] + r["client_core_busy"] * 1e6 / rps

    peers1 = [x for x in (n, v) if x]
    capped1 = m1 and peers1 and all((r.get("client_core_busy") or 0) >= 0.9 for r in [m1] + peers1)
    if capped1 and machine_us(m1) and all(machine_us(r) for r in peers1):
        b = min(peers1, key=machine_us)
        mv, pv = 1e6 / machine_us(m1), 1e6 / machine_us(b)
        out.append((f"edge 1MiB hits >= 1.0x the better of nginx/Varnish ({b['server']}) (responses per CPU s of "
                    f"server + client; client-capped, client core busy {m1['client_core_busy']:.2f})",
                    mv, pv, mv / pv, 1.0, "PASS" if mv / pv >= 1.0 else "FAIL"))
    else:
        best = max(peers1, key=lambda r: throughput(r)[0] or 0)["server"] if peers1 else None
        ratio_target(f"edge 1MiB hits >= 1.0x the better of nginx/Varnish ({best or 'n/a'})", "edge", case,
                     best or "nginx", 1.0)
    ratio_target("edge 1KiB p99 <= nginx's p99", "edge", "cache hit 1KiB keep-alive", "nginx", 1.0,
                 metric="p99_us", lower_better=True)
    dns_case = "static zone 10k names, saturating"
    ratio_target("dns static >= 1.25x NSD", "dns", dns_case, "nsd", 1.25)
    ratio_target("dns static >= 1.2x Knot DNS", "dns", dns_case, "knot", 1.2)
    ratio_target("dns static >= 1.0x gdnsd", "dns", dns_case, "gdnsd", 1.0)
    ratio_target("dns CPU per query <= gdnsd's (dnsperf fixed rate)", "dns", "dnsperf fixed rate", "gdnsd", 1.0,
                 metric="cpu_us_per_q", lower_better=True)
    m90 = find(cases, "dns", "90% of max rate", "meridian")
    if m90:
        lost = m90.get("lost", 0)
        out.append(("dns no lost queries at 90% of max rate", lost, 0, None, 0, "PASS" if lost == 0 else "FAIL"))
    else:
        out.append(("dns no lost queries at 90% of max rate", None, None, None, 0, "N/A"))
    ratio_target("dns 1M-record zone load time <= 2x NSD's", "scale", "zone load 1M records", "nsd", 0.5,
                 metric="load_s", lower_better=True)
    ratio_target("dns 1M-record zone RSS <= 1.5x NSD's", "scale", "zone load 1M records", "nsd", 1 / 1.5,
                 metric="rss_kib", lower_better=True)
    ratio_target("geo ECS >= 1.0x gdnsd geoip", "geo", "geo-steered name with ECS", "gdnsd", 1.0)
    # Our geo rate against our own static rate in the same run.
    g = find(cases, "geo", "geo-steered name with ECS", "meridian")
    s = find(cases, "dns", dns_case, "meridian")
    if g and s and throughput(s)[0]:
        ratio = throughput(g)[0] / throughput(s)[0]
        out.append(("geo ECS >= 0.9x our static rate", throughput(g)[0], throughput(s)[0], ratio, 0.9,
                    "PASS" if ratio >= 0.9 else "FAIL"))
    else:
        out.append(("geo ECS >= 0.9x our static rate", None, None, None, 0.9, "N/A"))
    # Issue #3 of meridian-edge: (RSS growth - key - headers - body) / objects, from bench/tools/cache_memory.
    bk = next((find(cases, g, c, "meridian") for g, c in cases
               if g == "edge" and c.startswith("cache bookkeeping per object (")), None)
    if bk and bk.get("bytes_per_object") is not None:
        v, n = bk["bytes_per_object"], bk.get("stored")
        n = f"{n:,}" if isinstance(n, int) else "?"
        out.append((f"edge cache bookkeeping <= 256 B/object ({n} objects)", v, None, None, 256,
                    "PASS" if v <= 256 else "FAIL"))
    else:
        out.append(("edge cache bookkeeping <= 256 B/object", None, None, None, 256, "N/A"))
    # Issue 17: conditional and range hits at >= 0.95x the plain-hit rate of the same object, same run.
    plain = find(cases, "edge", "cache hit 10KiB keep-alive", "meridian")
    for label, case in (("conditional (304)", "cache hit 10KiB conditional (If-None-Match, 304)"),
                        ("range (206)", "cache hit 10KiB range (bytes=0-1023, 206)")):
        m = find(cases, "edge", case, "meridian")
        desc = f"edge 10KiB {label} hits >= 0.95x plain hits"
        if m and plain and throughput(m)[0] and throughput(plain)[0]:
            ratio = throughput(m)[0] / throughput(plain)[0]
            out.append((desc, throughput(m)[0], throughput(plain)[0], ratio, 0.95,
                        "PASS" if ratio >= 0.95 else "FAIL"))
        else:
            out.append((desc, None, None, None, 0.95, "N/A"))
    # Issue 17: a wildcard invalidation of 100,000 objects in < 1 s, hits' p99 meanwhile < 2x normal.
    inv = find(cases, "invalidation", "invalidation of /s/* (wildcard) on a full cache", "meridian")
    if inv and inv.get("took_ms") is not None:
        n = inv.get("objects", 0)
        ok = inv["took_ms"] < 1000 and n >= 100000
        out.append((f"edge invalidates {n:,} objects by wildcard in < 1 s", inv["took_ms"], None, None, 1000,
                    "PASS" if ok else "FAIL"))
    else:
        out.append(("edge invalidates 100,000 objects by wildcard in < 1 s", None, None, None, 1000, "N/A"))
    calm = find(cases, "invalidation", "cache hit p99, no invalidation running", "meridian")
    busy = find(cases, "invalidation", "cache hit p99, invalidation of /s/* running", "meridian")
    if calm and busy and calm.get("p99_us") and busy.get("p99_us"):
        ratio = busy["p99_us"] / calm["p99_us"]
        out.append(("edge hit p99 during an invalidation < 2x normal", busy["p99_us"], calm["p99_us"], ratio, 2,
                    "PASS" if ratio < 2 else "FAIL"))
    else:
        out.append(("edge hit p99 during an invalidation < 2x normal", None, None, None, 2, "N/A"))
    # Issue 12: signed DO=1 rates beside our unsigned rate and Knot serving the zone pre-signed, per query mix; the
    # re-signing of every steered answer after a health change.
    # Both denial modes: compact (signs new names per query) and the NSEC chain (signs nothing per query).
    for mix in ("DO=1, existing names and NODATA", "DO=1, 15% NXDOMAIN at new random names"):
        for ours, mode in (("meridian_signed", "compact"), ("meridian_nsec", "nsec")):
            signed = find(cases, "dnssec", mix, ours)
            for peer, label, want in (("meridian", "our unsigned rate", 0.9), ("knot_signed", "Knot pre-signed", 1.0)):
                other = find(cases, "dnssec", mix, peer)
                desc = f"dnssec ({mode}) {mix.split(', ', 1)[1]} >= {want}x {label}"
                if signed and other and throughput(other)[0]:
                    ratio = throughput(signed)[0] / throughput(other)[0]
                    out.append((desc, throughput(signed)[0], throughput(other)[0], ratio, want,
                                "PASS" if ratio >= want else "FAIL"))
                else:
                    out.append((desc, None, None, None, want, "N/A"))
    # The same comparison in instructions per answer (callgrind, user space): immune to a shared machine's noise.
    # The positive mix only: with NXDOMAINs the kernel's share (larger answers) and, in compact mode, signing each
    # new name are the point, and the rates above are the verdict (the "all" rows stay in the table).
    for mix in ("positive",):
        case = f"instructions per answer (callgrind), {mix}"
        base = find(cases, "dnssec", case, "meridian")
        for ours, mode in (("meridian_signed", "compact"), ("meridian_nsec", "nsec")):
            signed = find(cases, "dnssec", case, ours)
            desc = f"dnssec ({mode}) instructions/answer, {mix} mix, unsigned/signed >= 0.9"
            if base and signed and signed.get("ir_per_answer"):
                ratio = float(base["ir_per_answer"]) / float(signed["ir_per_answer"])
                out.append((desc, float(signed["ir_per_answer"]), float(base["ir_per_answer"]), ratio, 0.9,
                            "PASS" if ratio >= 0.9 else "FAIL"))
            else:
                out.append((desc, None, None, None, 0.9, "N/A"))
    rs = find(cases, "dnssec", "re-sign all steered answers after a health change (example config)", "meridian")
    if rs and rs.get("render_ms") not in (None, ""):
        v = float(rs["render_ms"])
        out.append(("dnssec re-sign of steered answers after a health change < 100 ms", v, None, None, 100,
                    "PASS" if v < 100 else "FAIL"))
    else:
        out.append(("dnssec re-sign of steered answers after a health change < 100 ms", None, None, None, 100, "N/A"))

    for case, desc, t in (("full TLS 1.3 handshakes (new connection + 1 KiB GET)", "tls full TLS 1.3 handshakes", 1.0),
                          ("resumed TLS 1.3 handshakes (session tickets)", "tls resumed handshakes (tickets)", 1.0),
                          ("HTTPS cache hit 1KiB keep-alive", "tls keep-alive HTTPS 1KiB hits", 1.5),
                          ("HTTPS cache hit 100KiB keep-alive", "tls keep-alive HTTPS 100KiB hits", 1.2),
                          ("h2 cache hit 1KiB (h2load -c10 -m10)", "tls h2 1KiB hits (h2load -c10 -m10)", 1.2)):
        server_rate_target("tls", case, desc, t)
    # Issue 15: new connections and misses. A new connection per request is client-capped on 2 cores (wrk's connect
    # and close cost it more than the server), hence the same basis as the TLS rows.
    server_rate_target("edge", "cache hit 1KiB new connection per request", "edge 1KiB hits, a new connection each", 1.2)
    server_rate_target("edge", "miss path 10KiB (unique keys, 16 conns)", "edge miss throughput 10KiB", 1.3)
    full = next((c for (g, c) in cases if g == "edge" and c.startswith("miss path 10KiB, full ")), None)
    if full:
        server_rate_target("edge", full, "edge miss throughput 10KiB, full cache (evicting)", 1.3)
    for size in ("1KiB", "100KiB", "1MiB"):
        case = next((c for (g, c) in cases if g == "edge" and c.startswith(f"miss {size} time to first byte")), None)
        m = find(cases, "edge", case, "meridian") if case else None
        p = find(cases, "edge", case, "nginx") if case else None
        for key, what in (("ttfb_ms", "median"), ("ttfb_p99_ms", "p99")):
            desc = f"edge miss {size} time to first byte, {what} <= nginx's"
            if m and p and m.get(key) and p.get(key):
                out.append((desc, m[key], p[key], p[key] / m[key], 1.0, "PASS" if m[key] <= p[key] else "FAIL"))
            else:
                out.append((desc, None, None, None, 1.0, "N/A"))
    # Issue 15, item 5: DNS over TCP against the best of NSD, Knot and gdnsd in the same run; a row whose client core
    # was saturated (client_core_busy >= 0.9) measured the client, and says so.
    for case, label in (("TCP reused connections (pipelined), 10k names", "reused connections"),
                        ("TCP one query per connection, 10k names", "one query per connection")):
        m = find(cases, "dnstcp", case, "meridian")
        peers = [p for p in (find(cases, "dnstcp", case, k) for k in ("nsd", "knot", "gdnsd")) if p]
        best = max(peers, key=lambda r: throughput(r)[0] or 0) if peers else None
        desc = f"dnstcp {label} >= 1.0x the best peer ({best['server'] if best else 'n/a'})"
        if not m or not best or not throughput(m)[0] or not throughput(best)[0]:
            out.append((desc, None, None, None, 1.0, "N/A"))
        else:
            capped = [f"{r['server']} {r['client_core_busy']:.2f}" for r in [m] + peers
                      if (r.get("client_core_busy") or 0) >= 0.9]
            if capped:
                desc += f" (client-capped: client core busy {', '.join(capped)})"
            ratio = throughput(m)[0] / throughput(best)[0]
            out.append((desc, throughput(m)[0], throughput(best)[0], ratio, 1.0, "PASS" if ratio >= 1.0 else "FAIL"))
        # CPU per query, lower is better: against the peer that spends the least. One query per connection compares
        # its row at one window for every server (dnstcp_bench.sh: DNSTCP_CPU_WINDOW) when the run has it.
        cpu_case = next((c for g, c in cases if g == "dnstcp" and c.startswith(case.split(",")[0] + ",")
                         and c.endswith("(CPU per query)")), None) if "one query" in label else None
        if cpu_case:
            m = find(cases, "dnstcp", cpu_case, "meridian")
            peers = [p for p in (find(cases, "dnstcp", cpu_case, k) for k in ("nsd", "knot", "gdnsd")) if p]
            label += " at " + cpu_case.split(", ")[1].split(" (")[0]
        cheap = [p for p in peers if p.get("cpu_us_per_q")]
        cbest = min(cheap, key=lambda r: r["cpu_us_per_q"]) if cheap else None
        desc = f"dnstcp {label} CPU per query <= the best peer's ({cbest['server'] if cbest else 'n/a'})"
        if m and m.get("cpu_us_per_q") and cbest:
            ratio = cbest["cpu_us_per_q"] / m["cpu_us_per_q"]
            out.append((desc, m["cpu_us_per_q"], cbest["cpu_us_per_q"], ratio, 1.0, "PASS" if ratio >= 1.0 else "FAIL"))
        else:
            out.append((desc, None, None, None, 1.0, "N/A"))
    axfr_case = next((c for g, c in cases if g == "dnstcp" and c.startswith("AXFR of a")), "AXFR of a 1M-record zone")
    ratio_target(f"dnstcp {axfr_case} time <= NSD's", "dnstcp", axfr_case, "nsd", 1.0, metric="axfr_s",
                 lower_better=True)
    ratio_target(f"dnstcp {axfr_case} server peak RSS <= NSD's", "dnstcp", axfr_case, "nsd", 1.0,
                 metric="rss_kib", lower_better=True)
    # Issue 15: the Zipf sweep at 4,096 connections against our own peak and nginx at the same point (same run,
    # interleaved rounds); the p99-crossing against nginx's. A row whose client core was saturated says so.
    def capped(*rows):
        lim = [f"{r['server']} at {r.get('conns', '?')} {r['limit']}-capped, client core {r.get('client_core_busy')}"
               for r in rows if r and r.get("limit") in ("client", "both")]
        return f" ({'; '.join(lim)})" if lim else ""

    top = "zipf sweep 4096 connections"
    m4k = find(cases, "loadtest", top, "meridian")
    sweep = [find(cases, "loadtest", c, "meridian") for g, c in cases
             if g == "loadtest" and c.startswith("zipf sweep ") and c.endswith(" connections")]
    peak = max((r for r in sweep if r and throughput(r)[0]), key=lambda r: throughput(r)[0], default=None)
    desc = "loadtest zipf 4,096 connections >= 0.8x meridian's own peak"
    if m4k and peak and throughput(m4k)[0]:
        ratio = throughput(m4k)[0] / throughput(peak)[0]
        out.append((f"{desc} (at {peak.get('conns', '?')}){capped(m4k, peak)}", throughput(m4k)[0],
                    throughput(peak)[0], ratio, 0.8, "PASS" if ratio >= 0.8 else "FAIL"))
    else:
        out.append((desc, None, None, None, 0.8, "N/A"))
    n4k = find(cases, "loadtest", top, "nginx")
    ratio_target("loadtest zipf 4,096 connections >= 1.5x nginx proxy_cache" + capped(m4k, n4k), "loadtest", top,
                 "nginx", 1.5)
    bound = next((c for g, c in cases if g == "loadtest" and c.startswith("p99 bound ")), "p99 bound 100ms")
    mc, nc = find(cases, "loadtest", bound, "meridian"), find(cases, "loadtest", bound, "nginx")
    desc = f"loadtest p99 crosses {bound[len('p99 bound '):]} at >= nginx's connections"
    if mc and nc and "crossed_at" in mc and "crossed_at" in nc:
        def at(r):  # never crossed: past every step measured
            return float("inf") if r["crossed_at"] in ("none", None) else float(r["crossed_at"])
        ma, na = at(mc), at(nc)
        ratio = (ma / na) if ma != float("inf") and na != float("inf") else None
        out.append((desc, mc["crossed_at"], nc["crossed_at"], ratio, 1.0, "PASS" if ma >= na else "FAIL"))
    else:
        out.append((desc, None, None, None, 1.0, "N/A"))
    lt = find(cases, "loadtest", "10k keep-alive connections", "meridian")
    if lt:
        ok = lt.get("connected", 0) >= 10000 and lt.get("rss_kib", 1 << 30) < 1024 * 1024
        out.append(("edge holds 10,000 keep-alive connections with RSS < 1 GiB", lt.get("rss_kib"),
                    lt.get("connected"), None, None, "PASS" if ok else "FAIL"))
    # Idle keep-alive connections (bench/loadtest's idle hold, meridian and nginx side by side, same client).
    im = find(cases, "loadtest", "10k idle keep-alive connections", "meridian")
    inx = find(cases, "loadtest", "10k idle keep-alive connections", "nginx")
    if im and im.get("per_conn_kib") is not None:
        ok = im.get("connected", 0) >= 10000 and im["per_conn_kib"] <= 6.5
        out.append(("edge 10,000 idle keep-alive connections <= 6.5 KiB each above the empty edge",
                    im["per_conn_kib"], inx.get("per_conn_kib") if inx else None, None, None,
                    "PASS" if ok else "FAIL"))
        # nginx allocates its worker_connections slots (32,768 in the bench config) at start, so its growth per
        # connection leaves them out: the side-by-side figure is the RSS each holds with the connections open.
        if inx and inx.get("rss_held_kib") and im.get("rss_held_kib"):
            mv, pv = im["rss_held_kib"], inx["rss_held_kib"]
            out.append(("edge RSS holding 10,000 idle connections <= nginx proxy_cache's", mv, pv, pv / mv, 1.0,
                        "PASS" if mv <= pv else "FAIL"))
        else:
            out.append(("edge RSS holding 10,000 idle connections <= nginx proxy_cache's", im.get("rss_held_kib"),
                        None, None, 1.0, "N/A"))
    return out


def table(order, cases):
    lines = []
    hdr = f"{'case':56} {'server':10} {'value':>12} {'unit':7} {'vs Meridian':>11} {'p50 / p99':>20}  notes"
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for key in order:
        group, case = key
        rows = cases[key]
        m = next((r for r in rows if r.get("server") == "meridian" and "skipped" not in r), None)
        for r in rows:
            if "skipped" in r:
                lines.append(f"{group + ': ' + case:56.56} {r.get('server', '?'):10} {'n/a':>12} {'':7} {'':>11} "
                             f"{'':>20}  {r['skipped']}")
                continue
            v, unit = throughput(r)
            if v is None:
                for k in ("axfr_s", "ttfb_ms", "load_s", "per_conn_kib", "rss_kib", "connected", "crossed_at", "ir_per_answer", "render_ms"):
                    if k in r:
                        v, unit = r[k], k
                        break
            ratio = ""
            mv = m.get(unit) if (m and unit) else None
            if r.get("server") != "meridian" and isinstance(mv, (int, float)) and isinstance(v, (int, float)) and mv and v:
                # Throughput: Meridian / peer; times and memory (lower is better): peer / Meridian.
                ratio = f"{mv / v:.2f}x" if unit in ("rps", "qps", "connected", "crossed_at") else f"{v / mv:.2f}x"
            notes = []
            for k in ("lost", "errors", "non2xx", "cpu_us_per_q", "cpu_us_per_req", "cpu_us_per_req_median", "resumed_share", "server_core_busy", "client_core_busy", "rss_kib", "rss_before_kib", "cpu_s_per_transfer", "conn_errors", "records", "first_byte_ms",
                      "rss_empty_kib", "rss_held_kib", "connected",
                      "load_s", "hit_ratio", "objects",
                      "bytes_per_object", "origin_requests", "ttfb_ms", "mbps", "last_ok", "limit", "client_cpu_us_per_req",
                      "rounds_rps",
                      "note"):
                if k in r and k != unit and r[k] not in (None, ""):
                    val = r[k]
                    notes.append(f"{k}={fmt_num(val) if not isinstance(val, str) else val}")
            lines.append(f"{group + ': ' + case:56.56} {r.get('server', '?'):10} {fmt_num(v):>12} {unit or '':7} "
                         f"{ratio:>11} {fmt_lat(r):>20}  {' '.join(notes)}")
    return lines


def run_gnuplot(gp, png):
    """Runs a gnuplot script; the PNG path, or None when gnuplot fails."""
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0:
        # Debian's gnuplot-nox may lack pngcairo; fall back to the libgd png terminal.
        txt = open(gp).read().replace("pngcairo", "png")
        open(gp, "w").write(txt)
        r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
        if r.returncode != 0:
            print("report: gnuplot failed: " + r.stderr.strip()[:300], file=sys.stderr)
            return None
    return png


def chart(order, cases, out_dir):
    """One bar group per throughput case: Meridian and each peer, normalized to the case's best (so rps and qps
    share an axis); absolute numbers are in the table."""
    if not shutil.which("gnuplot"):
        return None
    servers = []
    data = []
    for key in order:
        vals = {}
        for r in cases[key]:
            if "skipped" in r:
                continue
            v, unit = throughput(r)
            if v is not None and unit in ("rps", "qps"):
                vals[r["server"]] = v
        # Only comparisons belong in the chart (single-server rows are in the table).
        if len(vals) >= 2:
            data.append((f"{key[0]}: {key[1]}", vals))
            for srv in vals:
                if srv not in servers:
                    servers.append(srv)
    if not data:
        return None
    dat = os.path.join(out_dir, "chart.dat")
    with open(dat, "w") as f:
        f.write("case " + " ".join(servers) + "\n")
        for name, vals in data:
            best = max(vals.values())
            f.write('"' + name.replace('"', "'") + '" ' +
                    " ".join(f"{100 * vals[s] / best:.1f}" if s in vals else "-" for s in servers) + "\n")
    png = os.path.join(out_dir, "chart.png")
    gp = os.path.join(out_dir, "chart.gp")
    with open(gp, "w") as f:
        f.write(f"""set terminal pngcairo size 1600,{300 + 40 * len(data)} noenhanced font ',10'
set output '{png}'
set title 'Meridian vs peers: throughput, % of the best server in each case (absolute numbers in results.json)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set datafile missing '-'
set yrange [0:110]
set ylabel '% of best'
set xtics rotate by -35 left
set key outside right top
set grid ytics
set bmargin 14
plot for [i=2:{len(servers) + 1}] '{dat}' using i:xtic(1) title columnheader(i)
""")
    return run_gnuplot(gp, png)


def scale_chart(rows, out_dir):
    """The scaling curves: zone size -> load time, RSS, q/s (Meridian vs NSD); cache objects -> bytes per object and
    hits/s (Meridian vs nginx). Log-scale x; one data file per (curve, server)."""
    if not shutil.which("gnuplot"):
        return None
    zone = [r for r in rows if r.get("group") == "scale" and "records" in r and "skipped" not in r]
    cache = [r for r in rows if r.get("group") == "scale" and "objects" in r and "skipped" not in r]
    if not zone and not cache:
        return None
    files = {}
    for name, subset, xkey in (("zone", zone, "records"), ("cache", cache, "objects")):
        for srv in sorted({r["server"] for r in subset}):
            path = os.path.join(out_dir, f"scale-{name}-{srv}.dat")
            with open(path, "w") as f:
                for r in sorted((r for r in subset if r["server"] == srv), key=lambda r: r[xkey]):
                    f.write(f"{r[xkey]} {r.get('load_s', 0)} {r.get('rss_kib', 0) / 1024:.1f} "
                            f"{r.get('qps', r.get('rps', 0))} {r.get('bytes_per_object') or 0}\n")
            files.setdefault(name, []).append((srv, path))

    def plot(name, col, title, ylabel):
        if name not in files:
            return "set title '" + title + " (not measured)'\nplot 0 notitle\n"
        parts = [f"'{p}' using 1:{col} with linespoints lw 2 title '{srv}'" for srv, p in files[name]]
        return (f"set title '{title}'\nset ylabel '{ylabel}'\nplot " + ", ".join(parts) + "\n")

    png = os.path.join(out_dir, "scale.png")
    gp = os.path.join(out_dir, "scale.gp")
    with open(gp, "w") as f:
        f.write(f"set terminal pngcairo size 1400,1000 noenhanced font ',10'\nset output '{png}'\n"
                "set multiplot layout 2,2 title 'Scaling: Meridian beside NSD (zone size) and nginx (cache size)'\n"
                "set logscale x\nset grid\nset key top left\n")
        f.write("set xlabel 'zone records'\n")
        f.write(plot("zone", 2, "zone load time", "seconds"))
        f.write(plot("zone", 3, "resident memory after load", "MiB"))
        f.write(plot("zone", 4, "queries/s (80/15/5 mix)", "q/s"))
        f.write("set xlabel 'cached objects (100 B each)'\n")
        f.write(plot("cache", 5, "memory per cached object", "bytes"))
        f.write("unset multiplot\n")
    return run_gnuplot(gp, png)


def busy_warning():
    """A benchmark on a box that is busy with other work measures the other work too: say so."""
    try:
        load1 = float(open("/proc/loadavg").read().split()[0])
    except (OSError, ValueError, IndexError):
        return ""
    cores = os.cpu_count() or 1
    if load1 <= cores:
        return ""
    return (f"Warning: load average {load1:.1f} on {cores} cores at the end of the run: other processes competed with "
            "the pinned server and load generator, so absolute numbers are low and ratios noisy. "
            "Re-run on an idle machine before quoting them.")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("out_dir")
    ap.add_argument("--latest")
    ap.add_argument("--command", default="./run bench all --seconds 10")
    ap.add_argument("--seconds", default="")
    a = ap.parse_args()
    rows = load(a.results)
    order, cases = by_case(rows)
    lines = table(order, cases)
    # A partial run (`bench.sh BUILD tls`) lists the targets it measured, not every other group's as N/A.
    ran = {g for g, _ in cases}
    tg = [t for t in targets(cases) if t[5] != "N/A" or t[0].split()[0] in ran]
    mach = machine()
    busy = busy_warning()
    print()
    print(f"Meridian side-by-side benchmark  ({mach})")
    if busy:
        print(busy)
    print()
    print("\n".join(lines))
    print()
    print("Targets (ratio = Meridian / peer; for latency, memory and time: peer / Meridian):")
    tlines = []
    for desc, mv, pv, ratio, target, verdict in tg:
        rt = f"{ratio:.2f}x" if ratio is not None else "n/a"
        tt = f">= {target:.2f}x" if isinstance(target, float) and ratio is not None else ""
        tlines.append(f"  [{verdict:4}] {desc:62} Meridian {fmt_num(mv):>10}  peer {fmt_num(pv):>10}  {rt:>7} {tt}")
    print("\n".join(tlines))
    met = sum(1 for t in tg if t[5] == "PASS")
    failed = [t[0] for t in tg if t[5] == "FAIL"]
    na = [t[0] for t in tg if t[5] == "N/A"]
    note = f"{met} of {len(tg)} targets met"
    if failed:
        note += f"; not met: {', '.join(failed)}"
    if na:
        note += f"; not measured: {len(na)} (a side failed to start or the group was not run)"
    print()
    print("Closing note: " + note)
    os.makedirs(a.out_dir, exist_ok=True)
    with open(os.path.join(a.out_dir, "results.json"), "w") as f:
        json.dump({"machine": mach, "command": a.command, "rows": rows,
                   "targets": [dict(zip(("target", "meridian", "peer", "ratio", "wanted", "verdict"), t))
                               for t in tg]}, f, indent=1)
    png = chart(order, cases, a.out_dir)
    spng = scale_chart(rows, a.out_dir)
    print(f"\nresults: {os.path.join(a.out_dir, 'results.json')}" + (f"   chart: {png}" if png else "   (no chart)") +
          (f"   scaling curves: {spng}" if spng else ""))
    if a.latest:
        with open(a.latest, "w") as f:
            f.write("# Latest benchmark run\n\n")
            f.write(f"Machine: {mach}\n\nReproduce: `{a.command}` (see bench/README.md)\n\n")
            if busy:
                f.write(f"**{busy}**\n\n")
            f.write("```\n" + "\n".join(lines) + "\n```\n\n## Targets\n\n```\n" + "\n".join(tlines) + "\n```\n\n")
            f.write(f"**Closing note:** {note}.\n")


if __name__ == "__main__":
    main()
