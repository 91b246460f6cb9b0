# ctest: COST 60
"""Viewer timeouts that must fire (issue: slowloris and stalled viewers held connections forever):
- header_timeout is a deadline from a request's first byte: a connection that sends only blank lines ("\\r\\n")
  forever, or dribbles a request line, is closed at header_timeout (nginx closes at client_header_timeout);
- a request body still arriving is not cut by header_timeout; body_timeout (silence between body reads) ends a
  stalled upload with 408;
- send_timeout: a viewer that stops reading a large response is disconnected, and its descriptors go back.
Asserts the edge stays alive, its descriptor count returns to the baseline, and RSS stays bounded."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import ASAN_BUILD, Edge, Failures, closed_by_server, nfds, rss_mb, tmpdir  # noqa: E402

HEADER_TIMEOUT = 2
BODY_TIMEOUT = 3
SEND_TIMEOUT = 3
RSS_BOUND_MB = 192 if ASAN_BUILD else 64








tmp = tmpdir()
site = os.path.join(tmp, "site")
os.makedirs(site)
big = os.urandom(16 << 20)
with open(os.path.join(site, "big.bin"), "wb") as fh:
    fh.write(big)
with open(os.path.join(site, "x.html"), "w") as fh:
    fh.write("x\n")

f = Failures()
edge = Edge(tmp, f"""
[limits]
header_timeout = "{HEADER_TIMEOUT}s"
body_timeout = "{BODY_TIMEOUT}s"
send_timeout = "{SEND_TIMEOUT}s"
keepalive_timeout = "60s"
client_buffer_bytes = "64KiB"
[cache]
max_bytes = "64MiB"
max_object_bytes = "32MiB"
shards = 1
[[origin]]
name = "site"
type = "bucket"
path = "{site}"
[[behavior]]
path_pattern = "*"
origin = "site"
""")
try:
    edge.start()
    pid = edge.proc.pid
    # Warm the cache first: a large cached body is a shared-memory file (one descriptor of the baseline).
    with socket.create_connection(("127.0.0.1", edge.port), timeout=20) as s:
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        closed_by_server(s, time.time() + 30)
    time.sleep(0.3)
    base_fds = nfds(pid)
    rss0 = rss_mb(pid)

    # 1. Blank lines forever, and a request line dribbled a byte at a time: closed at header_timeout.
    N = 100
    socks = []
    for _ in range(N):
        s = socket.create_connection(("127.0.0.1", edge.port), timeout=10)
        socks.append(s)
    dribbler = socket.create_connection(("127.0.0.1", edge.port), timeout=10)
    line = b"GET /x.html HTTP/1.1\r\nHost: a.test\r\nX-Long: " + b"a" * 1000
    t0 = time.time()
    stop = time.time() + HEADER_TIMEOUT + 12
    open_socks = set(range(N))
    dribble_pos = 0
    dribbler_open = True
    while time.time() < stop and (open_socks or dribbler_open):
        for i in list(open_socks):
            try:
                socks[i].sendall(b"\r\n")
            except OSError:
                open_socks.discard(i)
        if dribbler_open:
            try:
                dribbler.sendall(line[dribble_pos:dribble_pos + 1])
                dribble_pos += 1
            except OSError:
                dribbler_open = False
        time.sleep(0.2)
        # A closed socket shows as readable EOF (or a 408 answer then EOF); check without blocking.
        for i in list(open_socks):
            socks[i].setblocking(False)
            try:
                d = socks[i].recv(4096)
                if not d or d.startswith(b"HTTP/1.1 408"):
                    open_socks.discard(i)
            except BlockingIOError:
                pass
            except OSError:
                open_socks.discard(i)
            socks[i].setblocking(True)
        if dribbler_open:
            dribbler.setblocking(False)
            try:
                d = dribbler.recv(4096)
                if not d or d.startswith(b"HTTP/1.1 408"):
                    dribbler_open = False
            except BlockingIOError:
                pass
            except OSError:
                dribbler_open = False
            dribbler.setblocking(True)
    took = time.time() - t0
    f.eq(len(open_socks), 0, f"connections sending only CRLF closed at header_timeout ({took:.1f}s)")
    f.check(not dribbler_open, "a dribbled request line is closed at header_timeout")
    for s in socks:
        s.close()
    dribbler.close()
    f.check(edge.proc.poll() is None, "edge alive after the blank-line flood")

    # 2. A body arriving slowly (one piece per second for longer than header_timeout) is not cut; when it stops,
    #    body_timeout answers 408.
    s = socket.create_connection(("127.0.0.1", edge.port), timeout=10)
    s.sendall(b"POST /x.html HTTP/1.1\r\nHost: a.test\r\nContent-Length: 100000\r\n\r\n")
    cut_early = False
    for _ in range(HEADER_TIMEOUT * 2 + 2):
        try:
            s.sendall(b"b" * 100)
            last_send = time.time()
        except OSError:
            cut_early = True
            break
        s.setblocking(False)
        try:
            d = s.recv(4096)
            cut_early = True  # an answer or EOF before the body is complete
            break
        except BlockingIOError:
            pass
        except OSError:
            cut_early = True
            break
        finally:
            s.setblocking(True)
        time.sleep(1)
    f.check(not cut_early, f"a body still arriving is not cut by header_timeout ({HEADER_TIMEOUT}s)")
    closed, got = closed_by_server(s, time.time() + BODY_TIMEOUT + 10)
    waited = time.time() - last_send
    f.check(closed and got.startswith(b"HTTP/1.1 408"),
            f"a stalled body gets 408 after body_timeout (after {waited:.1f}s: {got[:40]!r})")
    f.check(waited >= BODY_TIMEOUT - 0.5, f"not before body_timeout ({waited:.1f}s)")
    s.close()

    t_start = time.time()
    # 3. Viewers that stop reading a 16 MiB response are disconnected after send_timeout.
    K = 10
    stalled = []
    for _ in range(K):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", edge.port))
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a.test\r\n\r\n")
        stalled.append(s)
    time.sleep(1)
    f.check(nfds(pid) >= base_fds + K, f"stalled viewers hold descriptors while sending ({nfds(pid)} vs {base_fds})")
    time.sleep(SEND_TIMEOUT + 3)
    # The server must have given up on them: draining now ends with EOF/reset before the whole body.
    short = 0
    for s in stalled:
        closed, got = closed_by_server(s, time.time() + 10)
        if closed and len(got) < len(big):
            short += 1
        s.close()
    f.eq(short, K, "viewers that stopped reading were disconnected (send_timeout)")
    deadline = time.time() + 10
    while time.time() < deadline and nfds(pid) > base_fds:
        time.sleep(0.2)
    f.check(nfds(pid) <= base_fds, f"descriptors back to the baseline ({nfds(pid)} vs {base_fds})")

    # A reading viewer still gets the whole body afterwards.
    with socket.create_connection(("127.0.0.1", edge.port), timeout=20) as s:
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        closed, got = closed_by_server(s, time.time() + 30)
        f.check(got.endswith(big), "a reading viewer gets the whole 16 MiB body")
    f.check(edge.proc.poll() is None, "edge alive")
    print(f"sections took {time.time() - t_start:.1f}s")
    rss1 = rss_mb(pid)
    f.check(rss1 - rss0 < RSS_BOUND_MB, f"RSS grew {rss1 - rss0:.1f} MiB (< {RSS_BOUND_MB})")
finally:
    edge.stop()
f.done()
