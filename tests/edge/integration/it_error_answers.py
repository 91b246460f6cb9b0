"""Error answers must reach the viewer (issue: after 413/414/431 the edge closed with unread input, the kernel
sent RST, and 13 of 20 chunked 3 MB uploads never saw the status). Like nginx, the edge answers, half-closes,
and drains the viewer's input for a bounded time (lingering_time / lingering_timeout) before closing.
- 20 concurrent chunked 3 MB uploads (max body 1 MiB): every one sees 413;
- 20 uploads with Content-Length 3 MB: 413; 414 and 431 with a body behind them: the status arrives;
- a viewer that keeps sending after the answer is cut after lingering_time; one that goes quiet after
  lingering_timeout. The edge stays alive and its RSS bounded."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, tmpdir  # noqa: E402

LINGERING_TIME = 4
LINGERING_TIMEOUT = 2
# ASan's quarantine holds freed buffers (up to 256 MiB by default), so a sanitizer build gets more room.
RSS_BOUND_MB = 192 if os.path.basename(os.environ.get("MERIDIAN_BUILD", "").rstrip("/")) == "asan" else 64
UPLOAD = 3 << 20


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def upload(port, head, body_chunks, out, idx):
    """Sends head + body like a client that writes everything before reading, then reads the answer."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.settimeout(30)
        try:
            s.sendall(head)
            for c in body_chunks():
                s.sendall(c)
        except (BrokenPipeError, ConnectionResetError) as e:
            pass  # the answer may still be readable; a reset below is the failure
        got = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got += d
        except ConnectionResetError:
            got += b"<reset>"
        except socket.timeout:
            got += b"<timeout>"
        s.close()
        out[idx] = got
    except Exception as e:  # noqa: BLE001
        out[idx] = f"<{e!r}>".encode()


def chunked_body():
    piece = b"z" * 65536
    sent = 0
    while sent < UPLOAD:
        yield b"%x\r\n" % len(piece) + piece + b"\r\n"
        sent += len(piece)
    yield b"0\r\n\r\n"


def plain_body():
    piece = b"z" * 65536
    for _ in range(UPLOAD // len(piece)):
        yield piece


def run_many(port, head, body, n=20):
    out = [b""] * n
    ts = [threading.Thread(target=upload, args=(port, head, body, out, i)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return out


tmp = tmpdir()
site = os.path.join(tmp, "site")
os.makedirs(site)
with open(os.path.join(site, "x.html"), "w") as fh:
    fh.write("x\n")

f = Failures()
edge = Edge(tmp, f"""
[limits]
max_uri_bytes = "1KiB"
max_header_bytes = "4KiB"
lingering_time = "{LINGERING_TIME}s"
lingering_timeout = "{LINGERING_TIMEOUT}s"
[[origin]]
name = "site"
type = "bucket"
path = "{site}"
[[behavior]]
path_pattern = "*"
origin = "site"
""", workers=2)
try:
    edge.start()
    pid = edge.proc.pid
    rss0 = rss_mb(pid)

    def statuses(out):
        return [o[9:12].decode("latin-1", "replace") if o.startswith(b"HTTP/1.1 ") else o[-40:] for o in out]

    out = run_many(edge.port, b"POST /up HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n", chunked_body)
    ok = sum(1 for o in out if o.startswith(b"HTTP/1.1 413"))
    f.eq(ok, 20, f"chunked 3 MB uploads that saw 413 ({statuses(out)})")

    out = run_many(edge.port, b"POST /up HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n\r\n" % UPLOAD, plain_body)
    ok = sum(1 for o in out if o.startswith(b"HTTP/1.1 413"))
    f.eq(ok, 20, f"Content-Length 3 MB uploads that saw 413 ({statuses(out)})")

    out = run_many(edge.port, b"POST /" + b"u" * 2000 + b" HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n\r\n"
                   % UPLOAD, plain_body, n=10)
    ok = sum(1 for o in out if o.startswith(b"HTTP/1.1 414"))
    f.eq(ok, 10, f"414 with a 3 MB body behind it ({statuses(out)})")

    out = run_many(edge.port, b"POST /up HTTP/1.1\r\nHost: a.test\r\nX-Big: " + b"h" * 5000 +
                   b"\r\nContent-Length: %d\r\n\r\n" % UPLOAD, plain_body, n=10)
    ok = sum(1 for o in out if o.startswith(b"HTTP/1.1 431"))
    f.eq(ok, 10, f"431 with a 3 MB body behind it ({statuses(out)})")

    out = run_many(edge.port, b"POST /up HTTP/1.1\r\nHost: a b\r\nContent-Length: %d\r\n\r\n" % UPLOAD, plain_body,
                   n=10)
    ok = sum(1 for o in out if o.startswith(b"HTTP/1.1 400"))
    f.eq(ok, 10, f"400 with a 3 MB body behind it ({statuses(out)})")

    # Lingering is bounded: a viewer that keeps sending is cut after lingering_time, a quiet one after
    # lingering_timeout.
    def nfds():
        return len(os.listdir(f"/proc/{pid}/fd"))

    def linger_probe(keep_sending):
        """The edge half-closes after its answer (the viewer reads EOF), so whether it still holds the connection
        is read from its descriptor count."""
        time.sleep(0.5)
        base = nfds()
        s = socket.create_connection(("127.0.0.1", edge.port), timeout=10)
        s.sendall(b"POST /up HTTP/1.1\r\nHost: a.test\r\nContent-Length: 99999999\r\n\r\n" + b"z" * 1000)
        s.settimeout(10)
        got = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
        t0 = time.time()
        held = nfds() > base
        closed = False
        while time.time() - t0 < LINGERING_TIME + 10:
            if keep_sending:
                try:
                    s.sendall(b"z" * 100)
                except OSError:
                    pass
            if nfds() <= base:
                closed = True
                break
            time.sleep(0.25)
        took = time.time() - t0
        s.close()
        return got, held, closed, took

    got, held, closed, took = linger_probe(True)
    f.check(got.startswith(b"HTTP/1.1 413"), "lingering viewer saw 413, then EOF (half-close)")
    f.check(held, "the edge still holds the connection after its answer (lingering)")
    f.check(closed and took < LINGERING_TIME + 3, f"a viewer that keeps sending is cut after lingering_time "
            f"({took:.1f}s, limit {LINGERING_TIME}s)")
    got, held, closed, took = linger_probe(False)
    f.check(closed and LINGERING_TIMEOUT - 1 < took < LINGERING_TIMEOUT + 3,
            f"a quiet viewer is closed after lingering_timeout ({took:.1f}s, limit {LINGERING_TIMEOUT}s)")

    # Keep-alive still works after all this, and the edge lives.
    with socket.create_connection(("127.0.0.1", edge.port), timeout=10) as s:
        s.sendall(b"GET /x.html HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        got = b""
        s.settimeout(10)
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
        f.check(got.startswith(b"HTTP/1.1 200") and got.endswith(b"x\n"), "a normal request after the uploads")
    f.check(edge.proc.poll() is None, "edge alive")
    rss1 = rss_mb(pid)
    f.check(rss1 - rss0 < RSS_BOUND_MB, f"RSS grew {rss1 - rss0:.1f} MiB (< {RSS_BOUND_MB})")
finally:
    edge.stop()
f.done()
