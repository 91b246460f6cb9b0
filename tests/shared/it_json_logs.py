"""[log] format = "json" for both daemons and [access_log] format = "json" for the edge: every line each writes (start,
requests, a reload, shutdown, at debug level) is one JSON object that Python's json module reads, with time, level,
daemon, component, message and fields; access log lines carry CloudFront's real-time log field names, and request
bytes that are not UTF-8 or that are quotes and control characters come out escaped, never as broken JSON."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("MERIDIAN_SRC", os.getcwd())
sys.path.insert(0, os.path.join(SRC, "tests/edge/integration"))
from edgetest import Failures, free_port, http_get, raw_exchange, wait_port  # noqa: E402

EDGE = os.environ.get("MERIDIAN_EDGE", "")
DNS = os.environ.get("MERIDIAN_DNS", "")
if not (os.access(EDGE, os.X_OK) and os.access(DNS, os.X_OK)):
    print("SKIP: MERIDIAN_EDGE and MERIDIAN_DNS must be built")
    sys.exit(77)

f = Failures()
tmp = tempfile.mkdtemp(prefix="meridian-it-jsonlogs-")
procs = []


def start(binary, conf, port):
    out = open(os.path.join(tmp, os.path.basename(binary) + ".out"), "w")
    p = subprocess.Popen([binary, "--config", conf], stdout=out, stderr=subprocess.STDOUT)
    procs.append(p)
    wait_port(port)
    return p


def wait_line(path, message, timeout=10):
    """Until the log at `path` has a line with this message (the daemon's signal handlers are in place once it logged
    "started")."""
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path) and f'"message":"{message}"' in open(path, errors="replace").read():
            return
        time.sleep(0.05)
    f.check(False, f"{path} logs {message!r}")


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(20)
    return p.returncode


def json_lines(path, what):
    """Every line of `path` parsed; a line that does not parse is a failure."""
    out = []
    with open(path, "rb") as fh:
        raw = fh.read()
    for n, line in enumerate(raw.split(b"\n")[:-1], 1):
        try:
            out.append(json.loads(line.decode("utf-8")))  # strict: invalid UTF-8 would raise here
        except (ValueError, UnicodeDecodeError) as e:
            f.check(False, f"{what} line {n} is JSON ({e}): {line[:200]!r}")
    f.check(raw.endswith(b"\n") or not raw, f"{what} ends with a newline")
    return out


try:
    # ---- the edge ----
    site = os.path.join(tmp, "site")
    shutil.copytree(os.path.join(SRC, "conf/demo/site"), site)
    port, admin = free_port(), free_port()
    edge_log, access_log = os.path.join(tmp, "edge.log"), os.path.join(tmp, "access.log")
    edge_conf = os.path.join(tmp, "edge.toml")
    with open(edge_conf, "w") as fh:
        fh.write(f"""allow_root = true
workers = 2
listen = ["127.0.0.1:{port}"]
server_name = "json-edge"
[admin]
listen = "127.0.0.1:{admin}"
[log]
level = "debug"
format = "json"
file = "{edge_log}"
[access_log]
file = "{access_log}"
format = "json"
[[origin]]
name = "site"
type = "bucket"
path = "{site}"
""")
    edge = start(EDGE, edge_conf, port)
    wait_line(edge_log, "started")
    st, _, _ = http_get(port, "/index.html", headers={"User-Agent": 'say "hi"\\ <tab>', "Referer": "http://r.test/"})
    f.eq(st, 200, "GET /index.html")
    http_get(port, "/index.html")
    http_get(port, "/missing?q=%22x%22&b=1")
    # Bytes a field value may hold (obs-text) that are not UTF-8: Latin-1 in the User-Agent.
    raw_exchange(port, b"GET /a%22b HTTP/1.1\r\nHost: x.test\r\nUser-Agent: caf\xe9 \xff\r\nConnection: close\r\n\r\n")
    raw_exchange(port, b"BROKEN\r\n\r\n")  # a 400 before any request field was read
    edge.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    f.eq(stop(edge), 0, "the edge stops cleanly")

    lines = json_lines(edge_log, "edge log")
    f.check(len(lines) >= 3, f"the edge logged ({len(lines)} lines)")
    for rec in lines:
        keys = set(rec)
        if keys != {"time", "level", "daemon", "component", "message", "fields"}:
            f.check(False, f"edge log keys: {sorted(keys)}")
            break
    f.check(all(r.get("daemon") == "meridian-edge" for r in lines), "every edge line names its daemon")
    f.check(all(r.get("level") in ("debug", "info", "warn", "error") for r in lines), "levels")
    f.check(all(isinstance(r.get("fields"), dict) for r in lines), "fields are an object")
    f.check(any(r.get("message") == "listening" and r["fields"].get("addr") for r in lines),
            "the listening line with its address field")
    f.check(any("reload" in r.get("message", "") for r in lines), "the reload is logged")

    acc = json_lines(access_log, "access log")
    f.eq(len(acc), 5, "one access log line per request")

    def find(**want):
        """The access log record whose fields have these values (dashes in names written as _)."""
        for r in acc:
            if all(r.get(k.replace("_", "-")) == v for k, v in want.items()):
                return r
        f.check(False, f"an access log line with {want}")
        return {}

    first = find(x_edge_result_type="Miss")
    for k, v in {"cs-method": "GET", "cs-uri-stem": "/index.html", "sc-status": 200, "cs-protocol": "http",
                 "x-edge-location": "json-edge", "cs-user-agent": 'say "hi"\\ <tab>',
                 "cs-referer": "http://r.test/", "c-ip": "127.0.0.1", "c-ip-version": "IPv4",
                 "cs-protocol-version": "HTTP/1.1", "cs-uri-query": "-", "ssl-protocol": "-", "x-site": "-"}.items():
        f.eq(first.get(k), v, f"access log {k}")
    f.check(isinstance(first.get("timestamp"), float) and abs(first["timestamp"] - time.time()) < 60,
            f"timestamp is Unix seconds ({first.get('timestamp')})")
    f.check(isinstance(first.get("time-taken"), float), "time-taken is a number")
    f.check(first.get("sc-bytes", 0) > 1000, "sc-bytes counts the body")
    f.eq(find(x_edge_result_type="Hit").get("cs-uri-stem"), "/index.html", "then a hit")
    f.eq(find(cs_uri_stem="/missing").get("cs-uri-query"), "q=%22x%22&b=1", "the query as sent")
    f.eq(find(cs_uri_stem="/a%22b").get("cs-user-agent"), "caf\ufffd \ufffd", "bytes that are not UTF-8 read as U+FFFD")
    f.eq(find(sc_status=501).get("cs-method"), "-", "a request refused before its method")

    # ---- the DNS server ----
    dport, dadmin = free_port(), free_port()
    dns_log = os.path.join(tmp, "dns.log")
    with open(os.path.join(tmp, "json.test.zone"), "w") as fh:
        fh.write("$ORIGIN json.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\n"
                 "ns1 IN A 127.0.0.1\nwww IN A 192.0.2.1\n")
    dns_conf = os.path.join(tmp, "dns.toml")
    with open(dns_conf, "w") as fh:
        fh.write(f"""allow_root = true
workers = 1
listen = "127.0.0.1:{dport}"
[admin]
listen = "127.0.0.1:{dadmin}"
[log]
level = "debug"
format = "json"
file = "{dns_log}"
[[zone]]
name = "json.test."
file = "json.test.zone"
""")
    dns = start(DNS, dns_conf, dport)
    wait_line(dns_log, "started")
    q = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x04json\x04test\x00\x00\x01\x00\x01")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(q, ("127.0.0.1", dport))
        reply = s.recv(512)
    f.check(reply[:2] == b"\x12\x34" and reply[3] & 0x0F == 0, "the DNS server answers")
    dns.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    f.eq(stop(dns), 0, "the DNS server stops cleanly")
    dlines = json_lines(dns_log, "dns log")
    f.check(len(dlines) >= 2, f"the DNS server logged ({len(dlines)} lines)")
    f.check(all(r.get("daemon") == "meridian-dns" for r in dlines), "every DNS line names its daemon")
    f.check(all(set(r) == {"time", "level", "daemon", "component", "message", "fields"} for r in dlines),
            "DNS lines have the same keys")
    f.check(all(r.get("time", "").endswith("Z") and "T" in r.get("time", "") for r in dlines), "RFC 3339 UTC times")
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if os.environ.get("KEEP_TMP"): print("kept", tmp)
    else: shutil.rmtree(tmp, ignore_errors=True)
f.done()
