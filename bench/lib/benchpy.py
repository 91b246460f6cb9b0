#!/usr/bin/env python3
"""Helpers bench.sh calls: free ports, process-tree CPU and RSS, parsing wrk/dnsperf output, recording results.

usage:
  benchpy.py free-port                       a port free for both TCP and UDP on 127.0.0.1
  benchpy.py cpu PID                         CPU seconds (user+system) of PID and all its descendants
  benchpy.py rss PID                         resident KiB of PID and all its descendants
  benchpy.py wrk FILE                        wrk --latency output -> JSON {rps, p50_us, p99_us, errors, non2xx, mbps}
  benchpy.py dnsperf FILE                    dnsperf output -> JSON {qps, lost, avg_us}
  benchpy.py record RESULTS KEY=VALUE...     append one JSON object (numbers parsed) to RESULTS (JSON lines)
  benchpy.py merge RESULTS JSON KEY=VALUE... append JSON (a tool's output) plus KEY=VALUEs to RESULTS
"""
import json
import os
import re
import socket
import sys


def free_port():
    for _ in range(200):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            t.close()
            continue
        t.close()
        u.close()
        return port
    raise SystemExit("no free port")


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree(pid):
    kids = children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu(pid):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / tick


def rss(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def to_us(v, unit):
    v = float(v)
    return {"us": v, "ms": v * 1000, "s": v * 1e6}.get(unit, v)


def parse_wrk(text):
    r = {"rps": 0.0, "p50_us": None, "p99_us": None, "errors": 0, "non2xx": 0, "requests": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_us"), ("99", "p99_us")):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if m:
            r[key] = to_us(m.group(1), m.group(2))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["errors"] = sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", text)
    if m:
        mult = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}.get(m.group(2), 1)
        r["mbps"] = float(m.group(1)) * mult * 8 / 1e6
    return r


def parse_dnsperf(text):
    r = {"qps": 0.0, "lost": 0, "sent": 0, "avg_us": None}
    m = re.search(r"Queries per second:\s+([\d.]+)", text)
    if m:
        r["qps"] = float(m.group(1))
    m = re.search(r"Queries lost:\s+(\d+)", text)
    if m:
        r["lost"] = int(m.group(1))
    m = re.search(r"Queries sent:\s+(\d+)", text)
    if m:
        r["sent"] = int(m.group(1))
    m = re.search(r"Average Latency \(s\):\s+([\d.]+)", text)
    if m:
        r["avg_us"] = float(m.group(1)) * 1e6
    return r


def parse_kv(args):
    d = {}
    for a in args:
        k, _, v = a.partition("=")
        try:
            d[k] = int(v)
        except ValueError:
            try:
                d[k] = float(v)
            except ValueError:
                d[k] = v
    return d


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "free-port":
        print(free_port())
    elif cmd == "cpu":
        print(f"{cpu(int(args[0])):.3f}")
    elif cmd == "rss":
        print(rss(int(args[0])))
    elif cmd == "wrk":
        print(json.dumps(parse_wrk(open(args[0]).read())))
    elif cmd == "dnsperf":
        print(json.dumps(parse_dnsperf(open(args[0]).read())))
    elif cmd == "get":  # get JSON KEY [DEFAULT]: one field of a JSON object, for shell scripts
        try:
            v = json.loads(args[0]).get(args[1])
        except (json.JSONDecodeError, AttributeError):
            v = None
        print(args[2] if v is None and len(args) > 2 else ("" if v is None else v))
    elif cmd == "summary":  # summary JSON: one line for the progress log
        try:
            d = json.loads(args[0])
        except json.JSONDecodeError:
            d = {}
        parts = []
        if "rps" in d:
            parts.append(f"{d['rps']:,.0f} req/s")
        if "qps" in d:
            parts.append(f"{d['qps']:,.0f} q/s")
        for k in ("p50_us", "p99_us"):
            if d.get(k) is not None:
                parts.append(f"{k[:3]} {d[k] / 1000:.2f}ms")
        for k in ("lost", "errors", "non2xx"):
            if d.get(k):
                parts.append(f"{k} {d[k]:,}")
        print(", ".join(parts) or "no result")
    elif cmd == "record":
        with open(args[0], "a") as f:
            f.write(json.dumps(parse_kv(args[1:])) + "\n")
    elif cmd == "merge":
        try:
            d = json.loads(args[1]) if args[1].strip() else {}
        except json.JSONDecodeError:
            d = {"parse_error": args[1][:200]}
        d.update(parse_kv(args[2:]))
        with open(args[0], "a") as f:
            f.write(json.dumps(d) + "\n")
    else:
        raise SystemExit(f"benchpy: unknown command {cmd}")


if __name__ == "__main__":
    main()
