# ctest: COST 2 LABELS tooling
"""The tls bench group's bookkeeping, on outputs in the exact formats of openssl s_time 3.0 and h2load 1.52: the
connections of every parallel s_time client over the wall time, the resumed share from its progress marks, a
client that failed counted; h2load's rate, errors and protocol; the median round by rate with its own median CPU per
request; and the verdict basis in report.py (requests per server CPU second while a server's core was not saturated,
the rates once both were)."""
import json
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("MERIDIAN_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
LIB = os.path.join(SRC, "bench", "lib")
sys.path.insert(0, LIB)
import report  # noqa: E402

BENCHPY = os.path.join(LIB, "benchpy.py")
fails = 0


def check(ok, what):
    global fails
    print(("ok   " if ok else "FAIL ") + what)
    fails += not ok


def tlsrow(rows, kind, out, c0, c1, client, t0, t1, *extra):
    p = subprocess.run([sys.executable, BENCHPY, "tlsrow", rows, kind, out, str(c0), str(c1), str(client), str(t0),
                        str(t1), *extra], capture_output=True, text=True)
    check(p.returncode == 0, f"tlsrow {kind} exits 0 ({p.stderr.strip()[:200]})")
    with open(rows) as f:
        return json.loads(f.read().splitlines()[-1])


tmp = tempfile.mkdtemp()
# Two s_time -reuse clients (one full handshake, then the timed resumed pass) and one that could not connect.
stime = os.path.join(tmp, "stime")
os.makedirs(stime)
with open(os.path.join(stime, "out.1"), "w") as f:
    f.write("Collecting connection statistics for 5 seconds\n*\n\n1 connections in 0.01s; 100.00 connections/user "
            "sec, bytes read 1357\n1 connections in 1 real seconds, 1357 bytes read per connection\n\n\n"
            "Now timing with session id reuse.\nstarting\n" + "r" * 300 + "\n\n300 connections in 0.30s; 1000.00 "
            "connections/user sec, bytes read 407100\n300 connections in 6 real seconds, 1357 bytes read per "
            "connection\n")
with open(os.path.join(stime, "out.2"), "w") as f:
    f.write("Now timing with session id reuse.\nstarting\n*" + "r" * 199 + "\n\n200 connections in 0.20s; 1000.00 "
            "connections/user sec, bytes read 271400\n200 connections in 6 real seconds, 1357 bytes read per "
            "connection\n")
with open(os.path.join(stime, "out.3"), "w") as f:
    f.write("connect: Connection refused\nconnect:errno=111\n")
rows = os.path.join(tmp, "rows")
r = tlsrow(rows, "stime", stime, 10.0, 12.5, 4.0, 100.0, 105.0, "server=meridian")
check(r["requests"] == 500 and abs(r["rps"] - 100.0) < 1e-6, f"s_time: 500 connections over 5 s wall = 100/s: {r}")
check(r["clients_failed"] == 1, "s_time: the client that could not connect is counted")
check(abs(r["resumed_share"] - 500 / 502) < 1e-3, f"s_time: resumed share from the marks: {r['resumed_share']}")
check(r["cpu_us_per_req"] == 5000.0 and r["server_core_busy"] == 0.5 and r["client_core_busy"] == 0.8,
      f"s_time: CPU per request and both cores' busy shares: {r}")

h2 = os.path.join(tmp, "h2load.out")
with open(h2, "w") as f:
    f.write("starting benchmark...\nspawning thread #0: 10 total client(s). Timing-based test with 0s of warm-up "
            "time and 5s of main duration for measurements.\nApplication protocol: h2\n\nfinished in 5.00s, "
            "20000.40 req/s, 25.00MB/s\nrequests: 100002 total, 100102 started, 100002 done, 99990 succeeded, 12 "
            "failed, 0 errored, 0 timeout\nstatus codes: 99990 2xx, 0 3xx, 12 4xx, 0 5xx\n")
r = tlsrow(rows, "h2load", h2, 0, 2.0, 1.0, 0, 5.0, "server=nginx")
check(r["rps"] == 20000.4 and r["requests"] == 99990 and r["errors"] == 12 and r["non2xx"] == 12
      and r["protocol"] == "h2", f"h2load: rate, succeeded, failed, 4xx, protocol: {r}")

# Median round by rate, CPU per request median of its own.
prefix = os.path.join(tmp, "ka.meridian")
for i, (rps, cpu) in enumerate(((900, 30.0), (1000, 10.0), (1100, 20.0)), 1):
    with open(f"{prefix}.{i}", "w") as f:
        f.write(json.dumps({"rps": rps, "cpu_us_per_req": cpu, "server_core_busy": 0.3}) + "\n")
p = subprocess.run([sys.executable, BENCHPY, "median", prefix, "3"], capture_output=True, text=True)
m = json.loads(p.stdout)
check(m["rps"] == 1000 and m["cpu_us_per_req_median"] == 20.0 and m["rounds_rps"] == "900,1000,1100",
      f"median round by rate, CPU median apart: {m}")
p = subprocess.run([sys.executable, BENCHPY, "median", os.path.join(tmp, "none"), "3"], capture_output=True, text=True)
check(p.returncode == 0 and p.stdout.strip() == "", "no rounds: empty (the group records a skipped row)")


def verdict(mrow, nrow, case="HTTPS cache hit 1KiB keep-alive"):
    rows = [dict(mrow, group="tls", case=case, server="meridian"), dict(nrow, group="tls", case=case, server="nginx")]
    _, cases = report.by_case(rows)
    return next(t for t in report.targets(cases) if t[0].startswith("tls keep-alive HTTPS 1KiB"))


t = verdict({"rps": 10000, "cpu_us_per_req_median": 20.0, "server_core_busy": 0.3},
            {"rps": 10000, "cpu_us_per_req_median": 40.0, "server_core_busy": 0.5})
check(t[5] == "PASS" and abs(t[3] - 2.0) < 1e-9 and "server CPU" in t[0],
      f"client-bound: the verdict compares requests per server CPU second: {t}")
t = verdict({"rps": 10000, "cpu_us_per_req_median": 20.0, "server_core_busy": 0.95},
            {"rps": 9000, "cpu_us_per_req_median": 40.0, "server_core_busy": 0.97})
check(t[5] == "FAIL" and abs(t[3] - 10000 / 9000) < 1e-9 and "saturated" in t[0],
      f"both servers saturated: the verdict compares the rates: {t}")
rows = [{"group": "tls", "case": "h2 cache hit 1KiB (h2load -c10 -m10)", "server": "meridian",
         "skipped": "skipped: edge has no h2 yet"},
        {"group": "tls", "case": "h2 cache hit 1KiB (h2load -c10 -m10)", "server": "nginx", "rps": 100}]
_, cases = report.by_case(rows)
t = next(t for t in report.targets(cases) if t[0].startswith("tls h2"))
check(t[5] == "N/A" and "edge has no h2 yet" in t[0], f"the h2 row says why it is not measured: {t}")

print(f"{'FAILED' if fails else 'passed'}: {fails} check(s) failed")
sys.exit(1 if fails else 0)
