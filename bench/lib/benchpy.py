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
  benchpy.py probe PORT PATH SECONDS OUT     one keep-alive connection, one GET after another; "start_ns latency_ns"
                                             per request to OUT
  benchpy.py tlsrow ROWS KIND OUT C0 C1 CLIENT_CPU_S T0 T1 KEY=VALUE...
                                             one TLS bench round (KIND wrk, h2load, or stime-new / stime-reuse with
                                             OUT the folder of s_time outputs out.1..N) -> a JSON row appended to ROWS
                                             with the server's CPU per request and both cores' busy shares
  benchpy.py window OUT T0_NS T1_NS          latencies of the probe's requests started in [T0, T1] and in the second
                                             before T0 -> JSON {p50_us, p99_us, n, before_p50_us, before_p99_us, ...}
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


def parse_h2load(text):
    r = {"rps": 0.0, "requests": 0, "errors": 0, "non2xx": 0}
    m = re.search(r"finished in [\d.]+s, ([\d.]+) req/s", text)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, "
                  r"(\d+) timeout", text)
    if m:
        r["requests"] = int(m.group(1))
        r["errors"] = int(m.group(2)) + int(m.group(3)) + int(m.group(4))
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if m:
        r["non2xx"] = int(m.group(3)) + int(m.group(4))
    m = re.search(r"Application protocol: (\S+)", text)
    r["protocol"] = m.group(1) if m else "?"
    return r


def parse_stime(folder, wall):
    """Every `openssl s_time` output in folder (out.*): connections of the timed pass over the wall time of them all
    (s_time's own "real seconds" are whole seconds); the share of connections it marked resumed ('r')."""
    conns = reused = marks_n = failed = 0
    for name in sorted(os.listdir(folder)):
        if not name.startswith("out."):
            continue
        text = open(os.path.join(folder, name), errors="replace").read()
        m = re.findall(r"(\d+) connections in [\d.]+s;", text)
        if m:
            conns += int(m[-1])  # -reuse prints the timed pass last
        else:
            failed += 1
        # One mark per connection: 'r' resumed, '*' a full handshake (-reuse makes one full handshake first).
        marks = "".join(re.findall(r"(?m)^[rt3*]+$", text))
        reused += marks.count("r")
        marks_n += len(marks)
    r = {"rps": conns / wall if wall > 0 else 0.0, "requests": conns, "clients_failed": failed}
    if marks_n:
        r["resumed_share"] = round(reused / marks_n, 3)
    return r


def tls_row(args):
    rows, kind, out = args[0], args[1], args[2]
    c0, c1, client, t0, t1 = (float(x) for x in args[3:8])
    wall = t1 - t0
    if kind == "wrk":
        r = parse_wrk(open(out).read())
    elif kind == "h2load":
        r = parse_h2load(open(out, errors="replace").read())
    else:
        r = parse_stime(out, wall)
    cpu = c1 - c0
    r["cpu_s"] = round(cpu, 3)
    if wall > 0:
        r["server_core_busy"] = round(cpu / wall, 2)
        r["client_core_busy"] = round(client / wall, 2)
    if r.get("requests"):
        r["cpu_us_per_req"] = round(cpu * 1e6 / r["requests"], 2)
    r.update(parse_kv(args[8:]))
    with open(rows, "a") as f:
        f.write(json.dumps(r) + "\n")
    words = [f"{r['rps']:,.0f} req/s"] + [f"{k}={r[k]}" for k in ("cpu_us_per_req", "server_core_busy",
                                                                    "client_core_busy", "resumed_share", "errors",
                                                                    "non2xx", "clients_failed") if r.get(k)]
    print(" ".join(words))


def median_row(prefix, n):
    """The median round (by rps) of PREFIX.1..N (one JSON row each), with every round's rate and CPU per request,
    and the median CPU per request."""
    rounds = []
    for r in range(1, n + 1):
        try:
            with open(f"{prefix}.{r}") as f:
                rounds.append(json.loads(f.read().strip() or "{}"))
        except (OSError, json.JSONDecodeError):
            continue
    rounds = [j for j in rounds if j]
    if not rounds:
        return ""
    pick = dict(sorted(rounds, key=lambda j: j.get("rps", 0) or 0)[len(rounds) // 2])
    pick["rounds_rps"] = ",".join(f"{j.get('rps', 0):.0f}" for j in rounds)
    pick["rounds_cpu_us_per_req"] = ",".join(str(j.get("cpu_us_per_req", "")) for j in rounds)
    # CPU per request has its own median: a round slowed by the machine's other load drops the rate more than it
    # moves CPU per request, so the two medians can come from different rounds.
    cpus = sorted(j["cpu_us_per_req"] for j in rounds if isinstance(j.get("cpu_us_per_req"), (int, float)))
    if cpus:
        pick["cpu_us_per_req_median"] = cpus[len(cpus) // 2]
    return json.dumps(pick)


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


def probe(port, path, seconds, out):
    """Sequential GETs: a request waits for no other request of ours, so its latency is the server's (queueing
    included) and can be told apart by when it started."""
    import time
    req = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rows, buf, end = [], b"", time.time() + seconds
    while time.time() < end:
        t0 = time.time_ns()
        s.sendall(req)
        while True:
            i = buf.find(b"\r\n\r\n")
            if i >= 0:
                m = re.search(rb"(?im)^content-length:\s*(\d+)", buf[:i])
                n = int(m.group(1)) if m else 0
                if len(buf) >= i + 4 + n:
                    buf = buf[i + 4 + n:]
                    break
            d = s.recv(65536)
            if not d:
                raise SystemExit("probe: the server closed the connection")
            buf += d
        rows.append(f"{t0} {time.time_ns() - t0}\n")
    with open(out, "w") as f:
        f.writelines(rows)


def window(out, t0, t1):
    rows = [tuple(map(int, line.split())) for line in open(out)]

    def pct(v, p):
        v = sorted(v)
        return round(v[min(len(v) - 1, int(len(v) * p))] / 1000, 1) if v else None

    inside = [lat for start, lat in rows if t0 <= start <= t1]
    before = [lat for start, lat in rows if t0 - 1_000_000_000 <= start < t0]
    return {"n": len(inside), "p50_us": pct(inside, 0.5), "p99_us": pct(inside, 0.99), "before_n": len(before),
            "before_p50_us": pct(before, 0.5), "before_p99_us": pct(before, 0.99)}


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
    elif cmd == "tlsrow":
        tls_row(args)
    elif cmd == "median":  # median PREFIX N: see median_row
        print(median_row(args[0], int(args[1])))
    elif cmd == "probe":
        probe(int(args[0]), args[1], float(args[2]), args[3])
    elif cmd == "window":
        print(json.dumps(window(args[0], int(args[1]), int(args[2]))))
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
