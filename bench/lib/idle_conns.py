#!/usr/bin/env python3
"""What idle keep-alive connections cost a server: RSS of PID (and its descendants) with none open, then N
connections that each make one request (a GET of PATH, read to its end) and stay open, idle, then RSS again.
The same client for every server, so the rows compare. Prints one JSON object:
  {"wanted": N, "connected": n, "answered": n, "rss_empty_kib": ..., "rss_held_kib": ..., "per_conn_kib": ...}

usage: idle_conns.py PORT PATH N PID [SETTLE_SECONDS]
"""
import errno
import json
import os
import resource
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchpy import rss  # noqa: E402


def main():
    port, path, n, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    settle = float(sys.argv[5]) if len(sys.argv) > 5 else 2.0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 100
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    req = f"GET {path} HTTP/1.1\r\nHost: bench.test\r\n\r\n".encode()

    time.sleep(settle)
    empty = rss(pid)
    sel = selectors.DefaultSelector()
    bufs = {}
    socks = []
    answered = 0
    failed = 0
    # In batches, so the listen backlog (and the server's accept loop) is not what is measured.
    batch = 256
    t0 = time.time()
    while len(socks) + failed < n and time.time() - t0 < 120:
        for _ in range(min(batch, n - len(socks) - failed)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex(("127.0.0.1", port))
            if rc not in (0, errno.EINPROGRESS):
                s.close()
                failed += 1
                continue
            socks.append(s)
            bufs[s] = None  # None: not sent yet
            sel.register(s, selectors.EVENT_WRITE)
        # Drive the batch: send once writable, read the whole answer (Content-Length), then leave it idle.
        pending = sum(1 for v in bufs.values() if v is None or isinstance(v, bytearray))
        deadline = time.time() + 30
        while pending and time.time() < deadline:
            for key, ev in sel.select(timeout=1):
                s = key.fileobj
                if bufs[s] is None:
                    try:
                        s.send(req)
                    except OSError:
                        sel.unregister(s)
                        bufs[s] = False
                        pending -= 1
                        continue
                    bufs[s] = bytearray()
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                try:
                    data = s.recv(1 << 16)
                except OSError:
                    data = b""
                done = not data
                bufs[s] += data
                head, sep, body = bytes(bufs[s]).partition(b"\r\n\r\n")
                if sep:
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            length = int(v)
                    if len(body) >= length:
                        done = True
                        if data:
                            answered += 1
                if done:
                    sel.unregister(s)
                    bufs[s] = True if data else False
                    pending -= 1
    time.sleep(settle)
    held = rss(pid)
    connected = sum(1 for v in bufs.values() if v is True)
    out = {
        "wanted": n,
        "connected": connected,
        "answered": answered,
        "rss_empty_kib": empty,
        "rss_held_kib": held,
        "per_conn_kib": round((held - empty) / connected, 2) if connected else None,
    }
    print(json.dumps(out))
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
