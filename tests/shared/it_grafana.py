# ctest: LABELS tooling
"""The Grafana dashboards in conf/grafana cannot drift from the code: each file is a dashboard Grafana can import
(panels with a type, a place on the 24-column grid that no other panel overlaps, and targets with a PromQL
expression, a datasource variable, an instance variable), and every metric an expression names is in the live
/_meridian/metrics output of a running daemon (meridian-edge with a bucket origin; meridian-dns with the demo
config, steering between two edges whose health checks reach that edge), with every label it filters or groups
by, every label value it names, and every {{label}} its legend shows. The areas operators look at first
(requests, hit ratio, origin errors and time to first byte, cache bytes and evictions, TLS and HTTP/2 errors; DNS
queries by rcode and protocol, steering, health, RRL) each have a panel."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

SRC = os.environ.get("MERIDIAN_SRC", os.getcwd())
sys.path.insert(0, os.path.join(SRC, "tests/edge/integration"))
from edgetest import Failures, free_port, http_get, wait_port  # noqa: E402

EDGE = os.environ.get("MERIDIAN_EDGE", "")
DNS = os.environ.get("MERIDIAN_DNS", "")
if not (os.access(EDGE, os.X_OK) and os.access(DNS, os.X_OK)):
    print("SKIP: MERIDIAN_EDGE and MERIDIAN_DNS must be built")
    sys.exit(77)

GRAFANA = os.path.join(SRC, "conf/grafana")
PANEL_TYPES = {"row", "timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "state-timeline"}
# What each dashboard must show (a metric family per area of the list).
REQUIRED = {
    "meridian-edge.json": ["meridian_edge_requests_total", "meridian_edge_requests_by_status_total",
                           "meridian_edge_origin_requests_total", "meridian_edge_origin_errors_total",
                           "meridian_edge_origin_first_byte_seconds_bucket", "meridian_edge_cache_bytes",
                           "meridian_edge_cache_evictions_total", "meridian_edge_tls_handshake_errors_total",
                           "meridian_edge_http2_protocol_errors_total", "meridian_edge_sent_bytes_total"],
    "meridian-dns.json": ["meridian_dns_responses_total", "meridian_dns_queries_total",
                          "meridian_dns_query_duration_seconds_bucket", "meridian_dns_edge_healthy",
                          "meridian_dns_health_checks_total", "meridian_dns_steering_failed_open_total",
                          "meridian_dns_rate_limited_total"],
}
# Labels Prometheus adds when it scrapes (not in the daemon's own output).
SCRAPE_LABELS = {"instance", "job"}

f = Failures()
tmp = tempfile.mkdtemp(prefix="meridian-it-grafana-")
procs = []


def parse_metrics(text):
    """{sample or family name: {label: set(values)}} from the Prometheus text format."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^# TYPE (\S+) (\S+)", line)
        if m:
            out.setdefault(m.group(1), {})
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ', line)
        if not m:
            f.check(False, f"metrics line parses: {line!r}")
            continue
        labels = out.setdefault(m.group(1), {})
        for k, v in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""):
            labels.setdefault(k, set()).add(v)
    return out


def scrape(admin_port):
    st, _, body = http_get(admin_port, "/_meridian/metrics")
    f.eq(st, 200, f"scrape of 127.0.0.1:{admin_port}")
    return parse_metrics(body.decode())


def check_structure(name, d):
    f.check(isinstance(d.get("title"), str) and d["title"], f"{name}: a title")
    f.check(isinstance(d.get("uid"), str) and re.fullmatch(r"[a-z0-9-]{1,40}", d.get("uid", "")), f"{name}: a uid")
    f.check(isinstance(d.get("schemaVersion"), int), f"{name}: schemaVersion")
    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    f.check(variables.get("datasource", {}).get("type") == "datasource"
            and variables["datasource"].get("query") == "prometheus", f"{name}: a Prometheus datasource variable")
    f.check("instance" in variables, f"{name}: an instance variable")
    panels = d.get("panels")
    f.check(isinstance(panels, list) and len(panels) >= 8, f"{name}: panels ({len(panels or [])})")
    ids, cells, graphs = set(), {}, 0
    for p in panels or []:
        what = f"{name}: panel {p.get('title')!r}"
        f.check(p.get("type") in PANEL_TYPES, f"{what}: a known type ({p.get('type')})")
        f.check(isinstance(p.get("id"), int) and p["id"] not in ids, f"{what}: a unique id")
        ids.add(p.get("id"))
        f.check(isinstance(p.get("title"), str) and p["title"], f"{what}: a title")
        g = p.get("gridPos", {})
        ok = all(isinstance(g.get(k), int) for k in "xywh") and g["x"] >= 0 and g["y"] >= 0 and g["w"] > 0 \
            and g["h"] > 0 and g["x"] + g["w"] <= 24
        f.check(ok, f"{what}: on the 24-column grid ({g})")
        if ok:
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    if (x, y) in cells:
                        f.check(False, f"{what}: overlaps {cells[(x, y)]!r}")
                        break
                    cells[(x, y)] = p.get("title")
                else:
                    continue
                break
        if p.get("type") == "row":
            continue
        graphs += 1
        f.check(p.get("datasource", {}).get("uid") == "${datasource}", f"{what}: uses the datasource variable")
        targets = p.get("targets") or []
        f.check(len(targets) >= 1, f"{what}: has targets")
        refs = [t.get("refId") for t in targets]
        f.check(len(set(refs)) == len(refs) and all(refs), f"{what}: unique refIds")
        for t in targets:
            f.check(isinstance(t.get("expr"), str) and t["expr"].strip(), f"{what}: target {t.get('refId')} has expr")
    return graphs


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def check_expr(name, title, expr, legend, metrics):
    what = f"{name}: {title!r}"
    bare = strip_strings(expr)
    depth = 0
    for c in bare:
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth < 0:
            break
    f.check(depth == 0 and bare.count("{") == bare.count("}") and bare.count("[") == bare.count("]"),
            f"{what}: balanced brackets in {expr}")
    f.check("$instance" in expr, f"{what}: filtered by $instance")
    used = re.findall(r'\b(meridian_[a-z0-9_]+)\b(\{[^}]*\})?', expr)
    f.check(used, f"{what}: names a metric")
    available = set(SCRAPE_LABELS)
    for metric, selector in used:
        if metric not in metrics:
            f.check(False, f"{what}: {metric} is exported by the daemon")
            continue
        labels = metrics[metric]
        available |= set(labels)
        for label, op, value in re.findall(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', selector):
            if label in SCRAPE_LABELS:
                continue
            if label not in labels:
                f.check(False, f"{what}: {metric} has label {label}")
                continue
            values = labels[label]
            if op == "=":
                f.check(value in values, f"{what}: {metric}{{{label}={value!r}}} exists")
            elif op == "=~" and re.fullmatch(r"[\w.-]+(\|[\w.-]+)*", value) and not re.search(r"\.", value):
                for v in value.split("|"):
                    f.check(v in values, f"{what}: {metric} has {label}={v!r}")
            elif op == "=~":
                f.check(any(re.fullmatch(value, v) for v in values), f"{what}: {label}=~{value!r} matches a value")
    grouped = set()
    for by in re.findall(r"\bby\s*\(([^)]*)\)", bare):
        for label in [x.strip() for x in by.split(",") if x.strip()]:
            f.check(label in available, f"{what}: groups by {label}, a label of its metrics")
            grouped.add(label)
    for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", legend or ""):
        f.check(label in grouped or (not grouped and label in available), f"{what}: legend {{{{{label}}}}} is kept")
    return {m for m, _ in used}


try:
    # The edge, with a bucket origin; the DNS server with the demo config, its health checks aimed at that edge.
    site = os.path.join(tmp, "site")
    shutil.copytree(os.path.join(SRC, "conf/demo/site"), site)
    port, admin = free_port(), free_port()
    conf = os.path.join(tmp, "edge.toml")
    with open(conf, "w") as fh:
        fh.write(f'allow_root = true\nworkers = 1\nlisten = ["127.0.0.1:{port}"]\n[admin]\n'
                 f'listen = "127.0.0.1:{admin}"\n[[origin]]\nname = "site"\ntype = "bucket"\npath = "{site}"\n')
    edge = subprocess.Popen([EDGE, "--config", conf], stdout=open(os.path.join(tmp, "edge.out"), "w"),
                            stderr=subprocess.STDOUT)
    procs.append(edge)
    wait_port(port)
    for _ in range(3):
        http_get(port, "/index.html")
    dport, dadmin = free_port(), free_port()
    env = dict(os.environ, DNS_LISTEN=f"127.0.0.1:{dport}", DNS_ADMIN_LISTEN=f"127.0.0.1:{dadmin}", DNS_WORKERS="1",
               EDGE_PORT=str(port), EDGE2_PORT=str(port))
    dns = subprocess.Popen([DNS, "--config", os.path.join(SRC, "conf/demo/dns.toml")], env=env,
                           stdout=open(os.path.join(tmp, "dns.out"), "w"), stderr=subprocess.STDOUT)
    procs.append(dns)
    wait_port(dport)
    live = {"meridian-edge.json": scrape(admin), "meridian-dns.json": scrape(dadmin)}

    files = sorted(n for n in os.listdir(GRAFANA) if n.endswith(".json"))
    f.eq(files, sorted(REQUIRED), "conf/grafana holds one dashboard per daemon")
    uids = set()
    for name in files:
        with open(os.path.join(GRAFANA, name)) as fh:
            try:
                d = json.load(fh)
            except ValueError as e:
                f.check(False, f"{name} is JSON ({e})")
                continue
        f.check(d.get("uid") not in uids, f"{name}: its uid is its own")
        uids.add(d.get("uid"))
        graphs = check_structure(name, d)
        named = set()
        for p in d.get("panels", []):
            for t in p.get("targets") or []:
                named |= check_expr(name, p.get("title"), t.get("expr", ""), t.get("legendFormat", ""), live[name])
        for m in REQUIRED.get(name, []):
            f.check(m in named, f"{name}: shows {m}")
        exported = {m for m in live[name] if m.startswith("meridian_")}
        unshown = sorted(m for m in exported if not re.search(r"_(bucket|sum|count)$", m) and m not in named
                         and m + "_bucket" not in named)
        print(f"info {name}: {graphs} panels, {len(named)} metrics shown; not shown: {unshown or 'none'}")
finally:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    shutil.rmtree(tmp, ignore_errors=True)
f.done()
