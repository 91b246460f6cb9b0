#!/usr/bin/env python3
# ctest: LABELS tooling
"""Both live consoles in a real browser: meridian-dns and two meridian-edges run on conf/demo under load (HTTP
requests to the demo site, DNS queries steered by client subnet); headless Chromium loads each console page, lets it
poll its stats.json, and the DOM it renders is checked against the JSON: every number shown (its data-value and its
formatted text) is the one in the stats document the page rendered (kept in <pre id="raw">), that document lies
between two the test fetched before and after, and the tables (popular URLs; rcodes, steering by edge, health) show
its rows. Screenshots of both pages are kept in $MERIDIAN_BUILD/artifacts/ (docs/console-*.png are made so)."""
import html.parser
import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.environ.get("MERIDIAN_SRC", os.getcwd())
EDGE = os.environ.get("MERIDIAN_EDGE")
DNS = os.environ.get("MERIDIAN_DNS")
BUILD = os.environ.get("MERIDIAN_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests/dns"))
from dnswire import build_query  # noqa: E402

if not EDGE or not DNS or not os.path.exists(EDGE) or not os.path.exists(DNS):
    print("skip: the daemons are not built")
    sys.exit(77)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    print("skip: chromium not installed (Debian package chromium, in ./run's TEST_DEPS)")
    sys.exit(77)

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_tcp(port, host="127.0.0.1", seconds=15):
    end = time.time() + seconds
    while time.time() < end:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def get_json(port, path="/_meridian/stats.json", host="127.0.0.1"):
    c = http.client.HTTPConnection(host, port, timeout=5)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return json.loads(body)


class Dom(html.parser.HTMLParser):
    """Elements with an id (attributes and text), table cells (data-key, data-value, text) by table id, <pre id=raw>."""

    def __init__(self):
        super().__init__()
        self.by_id, self.tables, self.body = {}, {}, {}
        self.stack = []  # open elements: (tag, id, table id)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        table = next((t for _, _, t in reversed(self.stack) if t), None)
        if tag == "table" and a.get("id"):
            table = a["id"]
            self.tables[table] = []
        if tag == "tr" and table is not None:
            self.tables[table].append([])
        if tag == "td" and table is not None and self.tables[table]:
            self.tables[table][-1].append({"key": a.get("data-key"), "value": a.get("data-value"), "text": ""})
        if tag == "body":
            self.body = a
        if a.get("id"):
            self.by_id[a["id"]] = {"attrs": a, "text": ""}
        if tag not in ("meta", "br", "hr", "img", "input", "link") and not self._closed:
            self.stack.append((tag, a.get("id"), table if tag in ("table", "thead", "tbody", "tr", "td", "th") else None))

    _closed = False

    def handle_startendtag(self, tag, attrs):
        self._closed = True  # <x/>: nothing to pop later
        self.handle_starttag(tag, attrs)
        self._closed = False

    def handle_endtag(self, tag):
        if not any(t == tag for t, _, _ in self.stack):
            return  # a stray end tag closes nothing
        while self.stack:
            t, _, _ = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, i, _ in self.stack:
            if i:
                self.by_id[i]["text"] += data
        if self.stack and self.stack[-1][0] == "td":
            table = next((t for _, _, t in reversed(self.stack) if t), None)
            if table is not None and self.tables[table] and self.tables[table][-1]:
                self.tables[table][-1][-1]["text"] += data


def chromium(url, *args, budget_ms=4000, timeout=40):
    profile = tempfile.mkdtemp(prefix="meridian-chromium-")
    try:
        cmd = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
               *args, url]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return r.stdout, r.stderr
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def parse_shown(text, unit):
    """The number a formatted text stands for (the page's M.fmt), and how far rounding may have moved it."""
    t = text.strip()
    if t == "–":
        return None, 0
    if unit == "%":
        return float(t.rstrip("%")) / 100, 0.0005
    if unit == "ms":
        v = float(t.split()[0])
        return v, 0.005 if v < 10 else 0.5
    if unit in ("B", "B/s"):
        num, u = t.split()[0], t.split()[1].split("/")[0]
        mult = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3, "TiB": 1024 ** 4}[u]
        return float(num) * mult, (0.5 if u == "B" else 0.05) * mult
    t = t.removesuffix("/s")
    mult = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}.get(t[-1:], 1)
    if mult != 1:
        t = t[:-1]
    return float(t) * mult, 0.05 * mult


def check_number(dom, el, want, unit, page):
    e = dom.by_id.get(el)
    if e is None:
        check(False, f"{page}: #{el} is on the page")
        return
    dv = e["attrs"].get("data-value")
    if want is None:
        check(dv == "" and e["text"].strip() == "–", f"{page}: #{el} shows no value for null ({e['text']!r})")
        return
    check(dv not in (None, "") and abs(float(dv) - want) <= 1e-9 * max(1, abs(want)),
          f"{page}: #{el} data-value {dv} = JSON {want}")
    shown, tol = parse_shown(e["text"], unit)
    check(shown is not None and abs(shown - want) <= tol + 1e-9,
          f"{page}: #{el} shows {e['text']!r} for {want} ({unit or 'count'})")


def dig(obj, path):
    for p in path.split("."):
        obj = obj[p]
    return obj


def ecs(a, b, c):
    return struct.pack("!HHHBB", 8, 7, 1, 24, 0) + bytes([a, b, c])


tmp = tempfile.mkdtemp(prefix="meridian-it-console-browser-")
artifacts = os.path.join(BUILD, "artifacts")
os.makedirs(artifacts, exist_ok=True)
procs = []
stop = threading.Event()
t0 = time.time()
try:
    EP, EA, DP, DA, EP2, EA2, ETP, ETP2 = free_ports(8)
    env = dict(os.environ, EDGE_LISTEN=f"127.0.0.1:{EP}", EDGE_ADMIN_LISTEN=f"127.0.0.1:{EA}",
               DNS_LISTEN=f"127.0.0.1:{DP}", DNS_ADMIN_LISTEN=f"127.0.0.1:{DA}", EDGE_TLS_LISTEN=f"127.0.0.1:{ETP}",
               EDGE_PORT=str(EP), EDGE2_PORT=str(EP2))
    env2 = dict(env, EDGE_LISTEN=f"127.0.0.2:{EP2}", EDGE_ADMIN_LISTEN=f"127.0.0.2:{EA2}",
                EDGE_TLS_LISTEN=f"127.0.0.2:{ETP2}")
    # The edges first, so the DNS server's first health checks find them up (no failing open at start).
    for name, cmd, e in (("edge", [EDGE, "--config", os.path.join(SRC, "conf/demo/edge.toml")], env),
                         ("edge2", [EDGE, "--config", os.path.join(SRC, "conf/demo/edge.toml")], env2),
                         ("dns", [DNS, "--config", os.path.join(SRC, "conf/demo/dns.toml")], env)):
        log = open(os.path.join(tmp, name + ".log"), "w")
        procs.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=e)))
        if name == "edge2" and not (wait_tcp(EP) and wait_tcp(EP2, "127.0.0.2")):
            raise SystemExit("the edges did not start")
    if not (wait_tcp(DA) and wait_tcp(EA)):
        raise SystemExit("the daemons did not start")

    # Load: a skewed mix of the demo site's files (index most), and DNS queries for www and the steered geo name
    # from European and American subnets, plus some NXDOMAIN.
    site = [("/", 40), ("/assets/app.224ae4da.css", 20), ("/assets/app.0c867573.js", 20), ("/images/hero.png", 10),
            ("/images/logo.svg", 8), ("/docs/", 5), ("/fonts/dejavu-mono.6c5ed648.woff", 3), ("/nope", 2)]
    mix = [p for p, n in site for _ in range(n)]

    def http_load():
        c = http.client.HTTPConnection("127.0.0.1", EP, timeout=5)
        while not stop.is_set():
            for p in mix:
                c.request("GET", p, headers={"Host": "www.demo.test"})
                c.getresponse().read()
            time.sleep(0.01)
        c.close()

    def dns_load():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1)
        qs = ([build_query("geo.demo.test", 1, qid=1, options=ecs(10, 1, 0))] * 6 +
              [build_query("geo.demo.test", 1, qid=2, options=ecs(10, 3, 0))] * 3 +
              [build_query("www.demo.test", 1, qid=3)] * 4 + [build_query("nope.demo.test", 1, qid=4)])
        while not stop.is_set():
            for q in qs:
                s.sendto(q, ("127.0.0.1", DP))
                try:
                    s.recv(4096)
                except socket.timeout:
                    pass
            time.sleep(0.002)
        s.close()

    loaders = [threading.Thread(target=http_load), threading.Thread(target=dns_load)]
    for t in loaders:
        t.start()
    time.sleep(2.5)  # a few samples, so rates and sparklines have a history

    pages = {
        "edge": (EA, [("rps", "requests_per_s", "/s"), ("hit_ratio", "hit_ratio_recent", "%"),
                      ("byte_hit_ratio", "byte_hit_ratio_recent", "%"), ("bps", "bytes_per_s", "B/s"),
                      ("p50", "latency_ms.p50", "ms"), ("p99", "latency_ms.p99", "ms"),
                      ("requests_total", "requests_total", ""), ("hits_total", "hits_total", ""),
                      ("misses_total", "misses_total", ""), ("hit_ratio_total", "hit_ratio", "%"),
                      ("bytes_total", "bytes_total", "B"), ("s2xx", "status_per_s.2xx", "/s"),
                      ("s4xx", "status_per_s.4xx", "/s"), ("s4xx_total", "status_total.4xx", ""),
                      ("s5xx_total", "status_total.5xx", ""), ("origin_rps", "origin_requests_per_s", "/s"),
                      ("origin_requests_total", "origin_requests_total", ""),
                      ("origin_errors_total", "origin_errors_total", ""), ("cache_bytes", "cache.bytes", "B"),
                      ("cache_budget", "cache.budget_bytes", "B"), ("cache_fill", "cache.fill_ratio", "%"),
                      ("cache_objects", "cache.objects", ""), ("evictions_total", "cache.evictions_total", ""),
                      ("invalidations_total", "invalidations_total", "")], "requests_total"),
        "dns": (DA, [("qps", "queries_per_s", "/s"), ("udp_ps", "protocol.udp.per_s", "/s"),
                     ("tcp_ps", "protocol.tcp.per_s", "/s"), ("queries_total", "queries_total", ""),
                     ("rrl_total", "rrl_total", ""), ("steered_ps", "steering.answers_per_s", "/s"),
                     ("steered_total", "steering.answers_total", ""),
                     ("failed_open_total", "steering.failed_open_total", "")], "queries_total"),
    }
    for page, (admin, numbers, total_key) in pages.items():
        if page == "dns":
            check(get_json(admin)["steering"]["failed_open_total"] == 0, "dns: no answer failed open")
        url = f"http://127.0.0.1:{admin}/_meridian/console"
        before = get_json(admin)
        dom_text, err = chromium(url, "--dump-dom")
        after = get_json(admin)
        shot = os.path.join(artifacts, f"console-{page}.png")
        if os.path.exists(shot):
            os.remove(shot)
        chromium(url, f"--screenshot={shot}", "--window-size=" + ("1280,1750" if page == "edge" else "1280,1080"),
                 "--hide-scrollbars")
        check(os.path.exists(shot) and os.path.getsize(shot) > 10_000, f"{page}: screenshot kept in {shot}")
        with open(os.path.join(artifacts, f"console-{page}.html"), "w") as fh:
            fh.write(dom_text)
        dom = Dom()
        dom.feed(dom_text)
        polls = int(dom.body.get("data-polls", "0") or 0)
        check(polls >= 2, f"{page}: the page polled stats.json and rendered it ({polls} times)")
        if polls == 0:
            print(err[-2000:])
            continue
        raw = json.loads(dom.by_id["raw"]["text"])
        check(before[total_key] <= raw[total_key] <= after[total_key],
              f"{page}: the page's {total_key} {raw[total_key]} lies between the test's fetches "
              f"({before[total_key]}..{after[total_key]})")
        check(raw.get("samples", 0) >= 2, f"{page}: rates from at least two samples")
        check("connecting" not in dom.by_id["status"]["text"] and "HTTP" not in dom.by_id["status"]["text"],
              f"{page}: status line {dom.by_id['status']['text']!r}")
        for el, path, unit in numbers:
            check_number(dom, el, dig(raw, path), unit, page)
        spark = dom.by_id.get("spark_rps" if page == "edge" else "spark_qps")
        check(spark is not None and int(spark["attrs"].get("data-points", "0")) >= 1,
              f"{page}: the sparkline is drawn from the history")
        if page == "edge":
            rows = dom.tables["top_requests"][1:]  # the header row first
            check(len(rows) == len(raw["top_by_requests"]) and len(rows) >= 8,
                  f"edge: a row per popular URL ({len(rows)})")
            check(rows and rows[0][0]["text"] == raw["top_by_requests"][0]["url"] == "www.demo.test/",
                  f"edge: the most requested URL is / ({rows[0][0]['text'] if rows else None!r})")
            for r, j in zip(rows, raw["top_by_requests"]):
                check(r[0]["text"] == j["url"] and float(r[1]["value"]) == j["requests"],
                      f"edge: row {j['url']} shows {j['requests']} requests")
            brow = dom.tables["top_bytes"][1:]
            check(brow and brow[0][0]["text"] == raw["top_by_bytes"][0]["url"], "edge: popular URLs by bytes")
            check(raw["requests_per_s"] > 10 and raw["hit_ratio_recent"] > 0.9,
                  f"edge under load: {raw['requests_per_s']:.0f}/s, hit ratio {raw['hit_ratio_recent']}")
        else:
            rc = {r[0]["text"]: float(r[2]["value"]) for r in dom.tables["rcodes"][1:]}
            check(rc == {r["rcode"]: r["total"] for r in raw["rcodes"]}, f"dns: rcode table = JSON ({rc})")
            check(rc.get("NXDOMAIN", 0) > 0 and rc.get("NOERROR", 0) > 0, "dns: NOERROR and NXDOMAIN counted")
            edges = {r[0]["text"]: (r[2]["text"], float(r[4]["value"])) for r in dom.tables["by_edge"][1:]}
            check(edges == {e["edge"]: (e["health"], e["answers"]) for e in raw["steering"]["by_edge"]},
                  f"dns: steering by edge = JSON ({edges})")
            check(edges.get("eu", ("", 0))[1] > 0 and edges.get("us", ("", 0))[1] > 0,
                  "dns: both edges got steered answers (Frankfurt and Ashburn clients)")
            health = {r[0]["text"]: r[2]["text"] for r in dom.tables["health"][1:]}
            check(health == {"eu": "healthy", "us": "healthy"}, f"dns: both demo edges healthy ({health})")
            check(all("ago" in r[3]["text"] for r in dom.tables["health"][1:]), "dns: each edge's last check shown")
            check(raw["queries_per_s"] > 10, f"dns under load: {raw['queries_per_s']:.0f}/s")
    elapsed = time.time() - t0
    check(elapsed < 90, f"the browser test took {elapsed:.0f} s")
finally:
    stop.set()
    for t in threading.enumerate():
        if t is not threading.current_thread():
            t.join(5)
    for name, p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                rc = p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
            check(rc == 0, f"{name} exit code {rc}")
    if failures:
        for name, _ in procs:
            print(f"--- {name}.log")
            print(open(os.path.join(tmp, name + ".log")).read()[-1500:])
    shutil.rmtree(tmp, ignore_errors=True)

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
