"""The edge's listening socket queues a burst of connects (its accept backlog, ss's Send-Q on a listener) up to the
kernel's limit, not the 1,024 it used to: 4,096 connects at once (a load test starting, a PoP taking over an anycast
address) wait there instead of being dropped and retried a second later."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, tmpdir  # noqa: E402

f = Failures()
tmp = tmpdir()
os.makedirs(os.path.join(tmp, "site"))
edge = Edge(tmp, f"""
[[origin]]
name = "site"
type = "bucket"
path = "{tmp}/site"
[[behavior]]
path_pattern = "*"
origin = "site"
""")
try:
    edge.start()
    out = subprocess.run(["ss", "-Hltn", f"sport = :{edge.port}"], capture_output=True, text=True).stdout
    queues = [int(line.split()[2]) for line in out.splitlines() if line.split()]
    somaxconn = int(open("/proc/sys/net/core/somaxconn").read())
    want = min(4096, somaxconn)
    f.check(queues and all(q == want for q in queues), f"accept backlog {queues}, want {want} (somaxconn {somaxconn})")
    f.eq(edge.stop(), 0, "exit code")
finally:
    if edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
f.done()
