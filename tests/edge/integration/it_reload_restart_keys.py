"""SIGHUP with a changed `listen` / `admin.listen` (keys that need a restart): the edge used to log "reloaded" and
silently keep the old ports. Asserts: a warning names each such key (with the running and configured values), the
old listener and the old admin listener keep serving, the new ports are not bound, the rest of the new config still
applies, and the next reload compares against what really runs (it warns again, and a reload back to the running
ports warns no more)."""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, bucket_origin, free_port, http_get, tmpdir  # noqa: E402

tmp = tmpdir()
root = os.path.join(tmp, "site")
os.makedirs(root)
with open(os.path.join(root, "a.txt"), "w") as fh:
    fh.write("hello\n")

BODY = bucket_origin("site", root)
f = Failures()
edge = None


def wait_log(text, count, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if edge.log().count(text) >= count:
            return True
        time.sleep(0.1)
    return False


def refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except OSError:
        return True


def reload_with(port, admin_port, server_name):
    running = (edge.port, edge.admin_port)
    edge.port, edge.admin_port = port, admin_port
    edge.rewrite(BODY, workers=1)
    edge.port, edge.admin_port = running
    # server_name is written by rewrite(); swap it to see that the rest of the config applied.
    with open(edge.config) as fh:
        text = fh.read()
    with open(edge.config, "w") as fh:
        fh.write(text.replace('server_name = "edge-test"', f'server_name = "{server_name}"'))
    edge.proc.send_signal(signal.SIGHUP)


WARN = 'msg="reload: changing this key needs a restart; keeping the running value"'

try:
    edge = Edge(tmp, BODY, workers=1).start()
    old_port, old_admin = edge.port, edge.admin_port
    f.eq(http_get(old_port, "/a.txt")[2], b"hello\n", "serves before the reload")

    new_port, new_admin = free_port(), free_port()
    reload_with(new_port, new_admin, "edge-reloaded")
    f.check(wait_log("configuration reloaded", 1), "reload finished")
    log = edge.log()
    warns = [l for l in log.splitlines() if WARN in l]
    print("\n".join(warns))
    f.check(any(" key=listen " in l and f"configured=127.0.0.1:{new_port}" in l and
                f"running=127.0.0.1:{old_port}" in l for l in warns), "warning names listen with both values")
    f.check(any(" key=admin.listen " in l and f"configured=127.0.0.1:{new_admin}" in l for l in warns),
            "warning names admin.listen")
    f.check(len(warns) == 2 and all(" warn edge " in l for l in warns), "two warnings, at warn level")
    s, h, b = http_get(old_port, "/a.txt")
    f.eq((s, b), (200, b"hello\n"), "old port still serves")
    f.check("edge-reloaded" in h.get("via", ""), f"the rest of the new config applied (Via: {h.get('via')})")
    f.check(http_get(old_admin, "/_meridian/metrics")[0] == 200, "old admin port still serves metrics")
    f.check(refused(new_port), "new listen port not bound")
    f.check(refused(new_admin), "new admin port not bound")

    # The running values stay the reference: the same file again warns again.
    edge.proc.send_signal(signal.SIGHUP)
    f.check(wait_log("configuration reloaded", 2), "second reload finished")
    f.check(edge.log().count(" key=listen ") == 2, "second reload with the changed listen warns again")
    # Back to the running ports: no warning.
    edge.rewrite(BODY, workers=1)
    edge.proc.send_signal(signal.SIGHUP)
    f.check(wait_log("configuration reloaded", 3), "third reload finished")
    f.check(edge.log().count(" key=listen ") == 2, "a reload to the running ports does not warn")
    f.eq(http_get(old_port, "/a.txt")[0], 200, "still serving")
    f.eq(edge.proc.poll(), None, "edge alive")
    f.eq(edge.stop(), 0, "clean exit")
finally:
    if edge:
        edge.stop()
f.done()
