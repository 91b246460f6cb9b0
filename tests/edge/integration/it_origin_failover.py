"""Origin groups (CloudFront's origin failover): a behavior with failover_origin sends a GET to its secondary when
the primary answers a failover status (503 here) or refuses the connection, before the viewer sees anything; the
move is counted (meridian_edge_origin_failover_total{reason}) and logged; the failing primary is marked down and
skipped for its cool-down (reason "down", the primary not asked), then the next request tries it, finds it
answering, and it is back. A POST is never failed over. Takes about 3 s."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from counting_origin import CountingOrigin  # noqa: E402
from edgetest import Edge, Failures, catch_all, free_port, http_get, http_origin, tmpdir  # noqa: E402

tmp = tmpdir()
f = Failures()
primary = CountingOrigin("primary")
secondary = CountingOrigin("secondary")
dead_port = free_port()  # nothing listens here: connections are refused
edge = None
try:
    edge = Edge(tmp, f"""
{http_origin("primary", primary.port)}
cooldown = "1s"
{http_origin("secondary", secondary.port)}
{http_origin("dead", dead_port)}
[[behavior]]
path_pattern = "/r/*"
origin = "dead"
failover_origin = "secondary"
[[behavior]]
path_pattern = "/post/*"
origin = "primary"
failover_origin = "secondary"
allowed_methods = "ALL"
{catch_all("primary")}
failover_origin = "secondary"
""").start()
    port = edge.port
    failovers = lambda r: edge.metric(f'meridian_edge_origin_failover_total{{reason="{r}"}}') or 0  # noqa: E731

    st, h, b = http_get(port, "/ok")
    f.eq((st, b), (200, b"primary /ok"), "a healthy primary answers")

    primary.status = 503
    st, h, b = http_get(port, "/a")
    f.eq((st, b), (200, b"secondary /a"), "primary 503: served from the secondary")
    f.eq(primary.count("/a"), 1, "... after asking the primary once")
    f.eq(failovers("status"), 1, "... counted as reason=status")
    f.eq(edge.metric("meridian_edge_origin_marked_down_total"), 1, "the primary is marked down")

    st, h, b = http_get(port, "/b")
    f.eq((st, b), (200, b"secondary /b"), "within the cool-down: the secondary")
    f.eq(primary.count("/b"), 0, "... without asking the primary")
    f.eq(failovers("down"), 1, "... counted as reason=down")

    st, h, b = http_get(port, "/r/x")
    f.eq((st, b), (200, b"secondary /r/x"), "refused connection: served from the secondary")
    f.eq(failovers("connect"), 1, "... counted as reason=connect")

    st, h, b = http_get(port, "/post/x", method="POST", body=b"x")
    f.eq(st, 501, "a POST is never failed over: the primary's own answer (this origin answers POST with 501)")

    primary.status = 200
    time.sleep(1.2)  # the cool-down is over
    st, h, b = http_get(port, "/c")
    f.eq((st, b), (200, b"primary /c"), "after the cool-down the next request tries the primary, which answers")
    f.eq(edge.metric("meridian_edge_origin_back_up_total"), 1, "... and it is back up")
    st, h, b = http_get(port, "/d")
    f.eq(b, b"primary /d", "... for every request")

    log = edge.log()
    f.check("origin failover" in log and "origin marked down" in log, "failover and marking down are logged")
    f.eq(edge.stop(), 0, "SIGTERM exit code")
finally:
    if edge and edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
    primary.stop()
    secondary.stop()
f.done()
