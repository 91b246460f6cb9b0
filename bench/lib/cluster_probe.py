#!/usr/bin/env python3
"""Client prober for bench/cluster (run inside a client namespace): asks the anycast addresses, every INTERVAL, which
PoP answers, over HTTP (GET /index.html; the last Via entry names the PoP) and DNS (id.server. CH TXT, the PoP's
[chaos] id), and appends one line per answer to OUT/http and OUT/dns: "<epoch ms> <pop or fail>". One process that
keeps its sockets in hand measures convergence to a few ms, where a curl and a dig per probe cost 0.2 s each on a
loaded machine. Every probe is bounded by TIMEOUT; the whole run by DURATION (or SIGTERM)."""
import argparse
import os
import signal
import socket
import struct
import threading
import time


def now_ms():
    return int(time.time() * 1000)


def http_probe(addr, timeout):
    try:
        with socket.create_connection((addr, 80), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"GET /index.html HTTP/1.1\r\nHost: cdn.test\r\nConnection: close\r\n\r\n")
            data = b""
            deadline = time.monotonic() + timeout
            while b"\r\n\r\n" not in data and time.monotonic() < deadline:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        if len(head[0].split()) < 2 or head[0].split()[1] != "200":
            return "fail"
        via = [line.split(":", 1)[1] for line in head[1:] if line.lower().startswith("via:")]
        return via[-1].replace(",", " ").split()[-1] if via else "fail"
    except OSError:
        return "fail"


QUERY_ID = 0x4D43


def dns_probe(addr, timeout):
    qname = b"".join(bytes([len(p)]) + p for p in (b"id", b"server")) + b"\0"
    query = struct.pack("!HHHHHH", QUERY_ID, 0, 1, 0, 0, 0) + qname + struct.pack("!HH", 16, 3)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.connect((addr, 53))  # connected: an ICMP port unreachable fails the recv at once
            s.send(query)
            msg = s.recv(1500)
        qid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
        if qid != QUERY_ID or flags & 0xF or an < 1:
            return "fail"
        pos = 12 + len(qname) + 4
        pos += 2 if msg[pos] & 0xC0 == 0xC0 else len(qname)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[pos:pos + 10])
        if rtype != 16:
            return "fail"
        txt = msg[pos + 10:pos + 10 + rdlen]
        return txt[1:1 + txt[0]].decode() or "fail"
    except (OSError, IndexError, struct.error, UnicodeDecodeError):
        return "fail"


def loop(name, probe, addr, args, stop):
    with open(os.path.join(args.out, name), "a", buffering=1) as out:
        while not stop.is_set():
            t = time.monotonic()
            out.write(f"{now_ms()} {probe(addr, args.timeout)}\n")
            stop.wait(max(0.0, args.interval - (time.monotonic() - t)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--web", required=True)
    ap.add_argument("--dns", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--timeout", type=float, default=0.5)
    ap.add_argument("--duration", type=float, default=30)
    args = ap.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = [threading.Thread(target=loop, args=("http", http_probe, args.web, args, stop)),
               threading.Thread(target=loop, args=("dns", dns_probe, args.dns, args, stop))]
    for t in threads:
        t.start()
    stop.wait(args.duration)
    stop.set()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
