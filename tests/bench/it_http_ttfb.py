# ctest: COST 3 LABELS tooling
"""bench/'s http_ttfb (the miss time-to-first-byte rows): against a loopback server that waits 80 ms before its
first byte it reports one sample per request with a TTFB of at least that and below the whole response's time; a
404 is not a sample and makes it exit 1; a server that sends a head and then stalls is given up at --timeout."""
import os
import socket
import subprocess
import sys
import threading
import time

BIN = os.environ.get("MERIDIAN_BIN")
if not BIN or not os.access(os.path.join(BIN, "http_ttfb"), os.X_OK):
    print("FAIL: MERIDIAN_BIN must point at the folder with http_ttfb")
    sys.exit(1)
TOOL = os.path.join(BIN, "http_ttfb")
fails = 0


def check(ok, what):
    global fails
    print(("ok   " if ok else "FAIL ") + what)
    fails += not ok


def serve(conn):
    with conn:
        req = b""
        while b"\r\n\r\n" not in req:
            chunk = conn.recv(4096)
            if not chunk:
                return
            req += chunk
        path = req.split(b" ")[1]
        if path.startswith(b"/slow/"):
            time.sleep(0.08)
            body = b"x" * 200000
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
            time.sleep(0.02)
            conn.sendall(body)
        elif path.startswith(b"/stall/"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            time.sleep(3)
        else:
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


lsock = socket.socket()
lsock.bind(("127.0.0.1", 0))
lsock.listen(16)
port = lsock.getsockname()[1]


def accept_loop():
    while True:
        try:
            c, _ = lsock.accept()
        except OSError:
            return
        threading.Thread(target=serve, args=(c,), daemon=True).start()


threading.Thread(target=accept_loop, daemon=True).start()

p = subprocess.run([TOOL, "-p", str(port), "-n", "3", "--prefix", "/slow/k-"], capture_output=True, text=True,
                   timeout=20)
rows = [tuple(map(float, line.split())) for line in p.stdout.splitlines()]
check(p.returncode == 0 and len(rows) == 3, f"3 samples, exit 0 (got {len(rows)}, exit {p.returncode})")
check(all(0.075 <= t < 1.0 for t, _ in rows), f"TTFB includes the server's 80 ms wait: {[t for t, _ in rows]}")
# The body came 20 ms after the head: the speed is of the whole response, about 200 KB / 0.1 s.
check(all(0 < v < 200000 / 0.095 for _, v in rows), f"speed is over the whole response: {[v for _, v in rows]}")

p = subprocess.run([TOOL, "-p", str(port), "-n", "2", "--prefix", "/missing/"], capture_output=True, text=True,
                   timeout=20)
check(p.returncode == 1 and p.stdout == "" and "2 of 2" in p.stderr, f"404s are failures: {p.returncode} {p.stderr!r}")

t0 = time.monotonic()
p = subprocess.run([TOOL, "-p", str(port), "-n", "1", "--timeout", "0.5", "--prefix", "/stall/"], capture_output=True,
                   text=True, timeout=20)
took = time.monotonic() - t0
check(p.returncode == 1 and took < 2.0, f"a stalled response is given up at --timeout ({took:.2f} s)")

p = subprocess.run([TOOL, "-p", "0", "-n", "1", "--prefix", "/x"], capture_output=True, text=True, timeout=20)
check(p.returncode == 2 and "usage" in p.stderr, "bad arguments: usage, exit 2")

lsock.close()
sys.exit(1 if fails else 0)
