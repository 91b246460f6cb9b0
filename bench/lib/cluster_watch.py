#!/usr/bin/env python3
"""Health-checked anycast for one bench/cluster PoP (run inside the PoP's namespace): every INTERVAL it asks the
edge (its health path on the anycast address) and meridian-dns (its admin health) whether they serve, and through
BIRD's protocol control (birdc enable/disable anycast_web, anycast_dns) announces each service's /32 after OK
successes in a row and withdraws it after FAIL failures in a row. A MAINTENANCE file keeps both withdrawn. Each check
is bounded (TIMEOUT); the watcher ends on SIGTERM or when its PID file no longer names it. One line per decision on
stdout: "<epoch ms> announce|withdraw anycast_<svc>"."""
import argparse
import os
import signal
import socket
import subprocess
import sys
import time


def healthy(addr, port, path, timeout):
    try:
        with socket.create_connection((addr, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n".encode())
            status = s.recv(64).split(b"\r\n", 1)[0].split()
        return len(status) >= 2 and status[1] == b"200"
    except OSError:
        return False


def bird_state(sock, services):
    """Each anycast_<svc> protocol's state as BIRD reports it ("up", "down"), "unknown" when BIRD does not answer."""
    try:
        out = subprocess.run(["birdc", "-s", sock, "show", "protocols"], capture_output=True, text=True,
                             timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    seen = {f[0]: f[3] for f in (line.split() for line in out.splitlines()) if len(f) >= 4}
    return {svc: seen.get(f"anycast_{svc}", "unknown") for svc in services}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bird-socket", required=True)
    ap.add_argument("--web", required=True, help="edge health: ip:port")
    ap.add_argument("--dns", required=True, help="meridian-dns admin health: ip:port")
    ap.add_argument("--pid-file", required=True)
    ap.add_argument("--maintenance", required=True)
    ap.add_argument("--interval", type=float, default=0.2)
    ap.add_argument("--timeout", type=float, default=0.5)
    ap.add_argument("--fail", type=int, default=2)
    ap.add_argument("--ok", type=int, default=2)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    me = str(os.getpid())
    services = {"web": args.web, "dns": args.dns}
    state = {svc: "down" for svc in services}  # BIRD starts with both protocols disabled
    streak = {svc: 0 for svc in services}       # > 0: successes in a row, < 0: failures in a row
    loops = 0
    while True:
        loops += 1
        if loops % 10 == 0:
            state = bird_state(args.bird_socket, services)  # a restarted BIRD starts disabled again
        try:
            if open(args.pid_file).read().strip() != me:
                break
        except OSError:
            break
        t = time.monotonic()
        for svc, target in services.items():
            host, port = target.rsplit(":", 1)
            ok = not os.path.exists(args.maintenance) and healthy(host, int(port), "/_meridian/health", args.timeout)
            streak[svc] = max(streak[svc], 0) + 1 if ok else min(streak[svc], 0) - 1
            want = None
            if state[svc] != "up" and streak[svc] >= args.ok:
                want = ("enable", "up", "announce")
            elif state[svc] != "down" and -streak[svc] >= args.fail:
                want = ("disable", "down", "withdraw")
            if want:
                r = subprocess.run(["birdc", "-s", args.bird_socket, want[0], f"anycast_{svc}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=5)
                if r.returncode == 0:
                    state[svc] = want[1]
                    print(f"{int(time.time() * 1000)} {want[2]} anycast_{svc}", flush=True)
                else:
                    state[svc] = "unknown"  # BIRD is not answering: apply the decision once it does
        time.sleep(max(0.0, args.interval - (time.monotonic() - t)))
    sys.exit(0)


if __name__ == "__main__":
    main()
