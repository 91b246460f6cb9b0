# ctest: COST 1 LABELS tooling
"""bench/loadtest's sweep bookkeeping (bench/lib/sweep_rows.py) and its targets in report.py, on wrk outputs in the
exact format of wrk 4.1 with the zipf script's HITS and P90 lines: the client core's busy share from bash's time and
the client-capped mark; the median round by rate with p99 a median of its own; the p99 crossing, the next search
point; the rows written for report.py and the issue-15 verdicts (4,096 connections against our own peak and nginx,
the crossing against nginx's, "none" counted as past every step). And common.sh: a python3 shim on PATH (pyenv's
costs 3-5 s a call on a loaded machine) is called once, not on every call."""
import json
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("MERIDIAN_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
LIB = os.path.join(SRC, "bench", "lib")
sys.path.insert(0, LIB)
import report  # noqa: E402
import sweep_rows  # noqa: E402

SWEEP = os.path.join(LIB, "sweep_rows.py")
fails = 0


def check(ok, what):
    global fails
    print(("ok   " if ok else "FAIL ") + what)
    fails += not ok


WRK = """Running 5s test @ http://127.0.0.1:40000/
  1 threads and {c} connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    10.00ms    5.00ms  {p99}   90.00%
  Latency Distribution
     50%    8.00ms
     75%   12.00ms
     90%   20.00ms
     99%   {p99}
  {n} requests in 5.00s, 100.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  {rps}
Transfer/sec:     20.00MB
HITS {h} {n} 3
P90 20000
"""

tmp = tempfile.mkdtemp()
runs = os.path.join(tmp, "runs.jsonl")


def add(server, c, rnd, rps, p99, times="5.0 4.75 0.0", hits=None, cli=False):
    out = os.path.join(tmp, f"{server}-{c}-{rnd}.out")
    n = int(rps * 5)
    with open(out, "w") as f:
        f.write(WRK.format(c=c, p99=p99, n=n, rps=f"{rps:.2f}", h=n if hits is None else hits))
    args = [runs, out, server, str(c), str(rnd), "", "0", "7", times]
    if cli:
        p = subprocess.run([sys.executable, SWEEP, "add", *args], capture_output=True, text=True)
        check(p.returncode == 0, f"add {server} {c} round {rnd} exits 0 ({p.stderr.strip()[:200]})")
    else:
        sweep_rows.add(*args)


add("meridian", 16, 1, 1000, "20.00ms", hits=4000, cli=True)
r = sweep_rows.load(runs)[-1]
check(r["rps"] == 1000 and r["p99_us"] == 20000 and r["p90_us"] == 20000 and r["hit_ratio"] == 0.8
      and r["origin_requests"] == 7, f"one run: rate, p99, p90, hit ratio, origin requests: {r}")
check(r["errors"] == 6, f"errors: wrk's socket errors (3) and the script's >= 400 (3): {r['errors']}")
check(r["client_core_busy"] == 0.95 and r["limit"] == "client" and r["client_cpu_us_per_req"] == 950.0,
      f"client CPU / wall = 4.75 / 5.0: the client core set the rate; 4.75 s / 5,000 requests: {r}")
add("meridian", 16, 2, 1200, "30.00ms", times="5.0 2.0 0.5")
check(sweep_rows.load(runs)[-1]["limit"] == "", "client core at 0.5 and no server PID: no cap claimed")
add("meridian", 16, 3, 1100, "250.00ms")
# meridian: 16 under (median p99 30 ms), 256 under, 1024 over; nginx crosses at 256.
for rnd in (1, 2, 3):
    add("meridian", 256, rnd, 3000 + rnd, "40.00ms")
    add("meridian", 1024, rnd, 2500, "150.00ms")
    add("meridian", 4096, rnd, 2000 + 100 * rnd, "1.20s")
    add("nginx", 16, rnd, 900, "10.00ms")
    add("nginx", 256, rnd, 1000, "120.00ms")
    add("nginx", 1024, rnd, 1000, "300.00ms")
    add("nginx", 4096, rnd, 1300, "2.00s")
rows = sweep_rows.medians(sweep_rows.load(runs))
m16 = rows[("meridian", 16)]
check(m16["rps"] == 1100 and m16["rounds_rps"] == "1000,1200,1100" and m16["p99_us"] == 30000,
      f"median round by rate (1100), p99 a median of its own (30 ms, not the 1100 round's 250): {m16}")
check(sweep_rows.crossing(rows, "meridian", 100000) == (1024, 256), "meridian crosses at 1024, last under 256")
check(sweep_rows.crossing(rows, "nginx", 100000) == (256, 16), "nginx crosses at 256, last under 16")
p = subprocess.run([sys.executable, SWEEP, "next", runs, "100"], capture_output=True, text=True)
check(p.stdout.split() == ["64", "512"], f"search: the geometric middles 64 (nginx) and 512 (meridian): {p.stdout!r}")

results = os.path.join(tmp, "results.jsonl")
p = subprocess.run([sys.executable, SWEEP, "report", runs, results, "100"], capture_output=True, text=True)
check(p.returncode == 0 and "/nginx" in p.stderr and "1.69x" in p.stderr and "client-capped" in p.stderr,
      f"the table has ours / nginx (2200 / 1300 = 1.69x at 4096) and the client cap: {p.stderr[-600:]}")
order, cases = report.by_case(report.load(results))
t = [(d, v) for d, *_, v in report.targets(cases) if d.startswith("loadtest")]
peak = next(x for x in t if "own peak" in x[0])
check(peak[1] == "FAIL" and "at 256" in peak[0] and "client-capped" in peak[0],
      f"4096 at 2200 against the peak 3002 at 256: 0.73x, FAIL, client-capped said: {peak}")
ng = next(x for x in t if "nginx proxy_cache" in x[0])
check(ng[1] == "PASS", f"4096: 2200 against nginx's 1300 = 1.69x >= 1.5: {ng}")
cr = next(x for x in t if "p99 crosses" in x[0])
check(cr[1] == "PASS", f"p99 crosses at 1024 against nginx's 256: PASS: {cr}")
lines = report.table(order, cases)
check(any("zipf sweep 4096" in line_ and "nginx" in line_ and "1.69x" in line_ for line_ in lines),
      "report table: the nginx row of the 4096 step shows 1.69x")

# "none" (never crossed) counts as past every step.
rows2 = [{"group": "loadtest", "case": "p99 bound 100ms", "server": "meridian", "crossed_at": 1024},
         {"group": "loadtest", "case": "p99 bound 100ms", "server": "nginx", "crossed_at": "none"}]
_, c2 = report.by_case(rows2)
v = next(x for x in report.targets(c2) if x[0].startswith("loadtest p99"))
check(v[5] == "FAIL", f"we cross at 1024 and nginx never: FAIL: {v}")
rows2[0]["crossed_at"] = "none"
_, c2 = report.by_case(rows2)
v = next(x for x in report.targets(c2) if x[0].startswith("loadtest p99"))
check(v[5] == "PASS", f"neither crosses: PASS: {v}")

# common.sh: a python3 shim is asked once which interpreter it runs; later calls go to that interpreter directly.
shim_dir = os.path.join(tmp, "shim")
os.makedirs(shim_dir)
count = os.path.join(tmp, "shim-calls")
with open(os.path.join(shim_dir, "python3"), "w") as f:
    f.write(f"#!/bin/sh\necho x >>{count}\nexec {sys.executable} \"$@\"\n")
os.chmod(os.path.join(shim_dir, "python3"), 0o755)
bench_tmp = os.path.join(tmp, "bt")
os.makedirs(bench_tmp)
script = (f'export BENCH_TMP={bench_tmp} BENCH_LIB={LIB} RESULTS={tmp}/r; source {LIB}/common.sh; '
          'for i in 1 2 3; do python3 -c pass; done; $PY free-port >/dev/null; command -v python3')
p = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                   env=dict(os.environ, PATH=shim_dir + ":" + os.environ["PATH"]))
calls = len(open(count).read().split()) if os.path.exists(count) else 0
check(p.returncode == 0 and calls == 1 and p.stdout.strip().startswith(bench_tmp),
      f"the shim ran once for 4 python3 calls ({calls}), python3 is {p.stdout.strip()} {p.stderr.strip()[:200]}")

print(f"{'FAILED' if fails else 'passed'}: {fails} check(s) failed")
sys.exit(1 if fails else 0)
