#!/usr/bin/env python3
"""meridian-dns as a process: UDP and TCP answers, FORMERR and dropped packets, RFC 7766 pipelining, idle timeout,
deferred accept and connection limit, AXFR allow-list, SIGHUP reload (new serial served, NOTIFY sent, a broken zone keeps the old
version), metrics, query log, --check, and a clean SIGTERM exit."""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnswire import build_query, parse_response, free_port, wait_udp, udp_query, tcp_query, tcp_messages, tcp_exchange, TYPES  # noqa

SRC = os.environ.get("MERIDIAN_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
DNS = os.environ.get("MERIDIAN_DNS", os.path.join(SRC, "build/dns/bin/meridian-dns"))
ZONE_SRC = os.path.join(SRC, "conf/examples/zones/example.test.zone")

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def write_config(tmp, port, admin, notify_port, allow):
    conf = os.path.join(tmp, "dns.toml")
    with open(conf, "w") as f:
        f.write(f'''allow_root = true\nworkers = 1
listen = "127.0.0.1:{port}"
nsid = "it-server"
notify = ["127.0.0.1:{notify_port}"]
[admin]
listen = "127.0.0.1:{admin}"
[log]
level = "info"
[[zone]]
name = "example.test."
file = "zones/example.test.zone"
[chaos]
id = "it-server-id"
[limits]
tcp_idle_timeout = "1s"
max_tcp_connections = 3
[axfr]
allow = {allow}
[query_log]
file = "query.log"
sample = 1
''')
    return conf


def set_serial(path, serial, extra=""):
    text = open(ZONE_SRC).read()
    text = re.sub(r"2026112501 ; serial", "%d ; serial" % serial, text)
    with open(path, "w") as f:
        f.write(text + extra)


def ask(port, name, qtype, **kw):
    r = udp_query(port, build_query(name, qtype, **kw))
    return parse_response(r) if r else None


def tcp_ask(s, qid):
    """One query on an open TCP connection; True when a whole answer with that ID comes back."""
    r = tcp_exchange(s, build_query("web.example.test.", 1, qid=qid))
    return r is not None and struct.unpack("!H", r[:2])[0] == qid


def server_side_states(port, client_port):
    """TCP states of the server's side of the connection from client_port (/proc/net/tcp; SYN-RECV or ESTAB)."""
    names = {"01": "ESTAB", "03": "SYN-RECV"}
    out = []
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        f = line.split()
        local, remote, st = f[1], f[2], f[3]
        if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == client_port:
            out.append(names.get(st, st))
    return out


def main():
    tmp = tempfile.mkdtemp(prefix="meridian-it-server-")
    proc = None
    try:
        os.makedirs(os.path.join(tmp, "zones"))
        zone = os.path.join(tmp, "zones/example.test.zone")
        set_serial(zone, 2026112501)
        port, admin = free_port(), free_port()
        notify_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        notify_sock.bind(("127.0.0.1", 0))
        notify_sock.settimeout(5)
        conf = write_config(tmp, port, admin, notify_sock.getsockname()[1], '["127.0.0.1/32"]')

        chk = subprocess.run([DNS, "--check", "--config", conf], capture_output=True, text=True)
        check(chk.returncode == 0, "--check accepts the config (%s)" % chk.stderr.strip().splitlines()[-1:])

        log = open(os.path.join(tmp, "stderr.log"), "w")
        proc = subprocess.Popen([DNS, "--config", conf], stderr=log, stdout=log)
        if not wait_udp(port, 10):
            print(open(os.path.join(tmp, "stderr.log")).read())
            check(False, "server started")
            return 1

        r = ask(port, "cdn.example.test.", TYPES["A"])
        check(r and r["rcode"] == 0 and r["aa"] == 1 and len(r["an"]) == 3, "UDP answer for cdn.example.test A (CNAME + 2 A)")
        r = ask(port, "id.server.", TYPES["TXT"], qclass=3)
        check(r and r["an"] and "69742d7365727665722d6964" in r["an"][0][4], "CHAOS id.server from config")
        r = ask(port, "web.example.test.", TYPES["A"], options=bytes([0, 3, 0, 0]))
        check(r and r["opt"] and b"it-server" in r["opt"]["options"], "NSID from config")

        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1)
        s.sendto(b"\x00\x07\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00garbage", ("127.0.0.1", port))
        data, _ = s.recvfrom(4096)
        check(len(data) == 12 and data[3] & 0xF == 1 and data[:2] == b"\x00\x07", "FORMERR for QDCOUNT=2")
        s.settimeout(0.3)
        resp = build_query("www.example.test.", 1, qid=9)
        s.sendto(resp[:2] + bytes([resp[2] | 0x80]) + resp[3:], ("127.0.0.1", port))
        try:
            s.recvfrom(4096)
            check(False, "a packet with QR=1 is dropped")
        except socket.timeout:
            check(True, "a packet with QR=1 is dropped")
        s.close()

        # RFC 7766: 30 queries pipelined on one connection, all answered.
        wires = [build_query("web.example.test.", 1, qid=100 + i) for i in range(30)]
        answers = tcp_query(port, wires)
        check(len(answers) == 30 and all(parse_response(a)["an"] for a in answers), "30 pipelined TCP queries answered")

        # Idle timeout (1 s): the server closes a connection that went silent after its answer.
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        check(tcp_ask(c, 70), "TCP query answered")
        t0 = time.time()
        closed = c.recv(10) == b""
        check(closed and 0.5 < time.time() - t0 < 4, "idle TCP connection closed after ~1s (%.1fs)" % (time.time() - t0))
        c.close()

        # TCP_DEFER_ACCEPT (1 s): a client that has sent nothing waits in the kernel, not in a connection slot (the
        # server side stays SYN-RECV; without the option it is established at once); the kernel hands it over after
        # one SYN-ACK retransmission and the idle timeout closes it then.
        c = socket.create_connection(("127.0.0.1", port), timeout=8)
        t0 = time.time()
        time.sleep(0.3)
        states = server_side_states(port, c.getsockname()[1])
        check(states == ["SYN-RECV"], "a connection with no query yet waits in the kernel (server side %s)" % states)
        closed = c.recv(10) == b""
        check(closed and 1.5 < time.time() - t0 < 6,
              "a connection that never sends is still closed: accepted after ~1 s, then the 1 s idle timeout (%.1fs)"
              % (time.time() - t0))
        c.close()

        # Connection limit 3. Each asks first: the kernel holds a connection that has not (deferred accept).
        conns = []
        answered = 0
        for i in range(3):
            conns.append(socket.create_connection(("127.0.0.1", port), timeout=3))
            answered += tcp_ask(conns[-1], 71 + i)
            time.sleep(0.02)  # so conns[0] is the one idle the longest
        check(answered == 3, "three TCP connections answered")
        # At the limit a fourth connection closes the longest-idle one (RFC 7766 §6.2.3) and is answered.
        extra = socket.create_connection(("127.0.0.1", port), timeout=3)
        check(tcp_ask(extra, 76), "a fourth TCP connection at max_tcp_connections=3 is answered")
        try:
            first_gone = conns[0].recv(10) == b""
        except (ConnectionResetError, socket.timeout):
            first_gone = False
        check(first_gone, "the longest-idle connection was closed to make room for it")
        # Every open connection mid-query (half a query sent): none is idle, so a fifth is closed at once.
        q = build_query("web.example.test.", 1, qid=78)
        framed = struct.pack("!H", len(q)) + q
        busy = conns[1:] + [extra]
        for c in busy:
            c.sendall(framed[:7])
        time.sleep(0.1)
        fifth = socket.create_connection(("127.0.0.1", port), timeout=3)
        fifth.sendall(framed)
        try:
            got = fifth.recv(10)
        except ConnectionResetError:
            got = b""
        except socket.timeout:
            got = None
        check(got == b"", "a fifth TCP connection is closed at once when no connection is idle (got %r)" % got)
        whole = 0
        for c in busy:
            c.sendall(framed[7:])
            buf = b""
            try:
                while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
            except OSError:
                pass
            whole += len(buf) >= 4 and struct.unpack("!H", buf[2:4])[0] == 78
        check(whole == 3, "the connections mid-query are answered once their queries are whole (%d of 3)" % whole)
        for c in conns + [extra, fifth]:
            c.close()
        time.sleep(0.2)

        # AXFR from an allowed address.
        msgs = tcp_messages(port, build_query("example.test.", TYPES["AXFR"], edns=None),
                            until=lambda m: sum(len(parse_response(x)["an"]) for x in m) > 1 and
                            parse_response(m[-1])["an"][-1][1] == 6)
        rrs = [rr for m in msgs for rr in parse_response(m)["an"]]
        check(len(rrs) > 10 and rrs[0][1] == 6 and rrs[-1][1] == 6, "AXFR: %d records, SOA first and last" % len(rrs))
        r = ask(port, "example.test.", TYPES["AXFR"])
        check(r and r["rcode"] == 5, "AXFR over UDP refused")

        # Reload with a higher serial and a new record: served, NOTIFY sent.
        set_serial(zone, 2026112502, "new IN A 192.0.2.123\n")
        proc.send_signal(signal.SIGHUP)
        try:
            data, _ = notify_sock.recvfrom(4096)
            n = parse_response(data)
            check(n["opcode"] == 4 and n["question"][0] == "example.test." and n["question"][1] == 6,
                  "NOTIFY sent after the serial grew")
        except socket.timeout:
            check(False, "NOTIFY sent after the serial grew")
        r = ask(port, "new.example.test.", TYPES["A"])
        check(r and r["rcode"] == 0 and r["an"] and r["an"][0][4] == "c000027b", "reloaded zone serves the new record")

        # A broken zone keeps the previous version.
        with open(zone, "a") as f:
            f.write("broken IN A 999.1.1.1\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        r = ask(port, "new.example.test.", TYPES["A"])
        check(r and r["rcode"] == 0 and r["an"], "broken zone on reload: previous version still served")
        r = ask(port, "example.test.", TYPES["SOA"])
        check(r and "%08x" % 2026112502 in r["an"][0][4], "serial stays 2026112502")
        stderr = open(os.path.join(tmp, "stderr.log")).read()
        check(re.search(r"example\.test\.zone:\d+:", stderr) is not None, "reload error names file:line")

        # A config that no longer allows us: AXFR refused after reload.
        set_serial(zone, 2026112503)
        write_config(tmp, port, admin, notify_sock.getsockname()[1], '["10.0.0.0/8"]')
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        msgs = tcp_messages(port, build_query("example.test.", TYPES["AXFR"], edns=None), until=lambda m: len(m) >= 1)
        check(len(msgs) == 1 and parse_response(msgs[0])["rcode"] == 5, "AXFR refused outside the allow-list")

        body = urllib.request.urlopen("http://127.0.0.1:%d/_meridian/metrics" % admin, timeout=5).read().decode()
        check('meridian_dns_queries_total{protocol="udp"}' in body, "metrics: queries by protocol")
        check('meridian_dns_responses_total{rcode="NOERROR"}' in body, "metrics: responses by rcode")
        # The limit checks above: one idle connection closed to let the fourth in, the fifth turned away.
        check("meridian_dns_tcp_reclaimed_total 1\n" in body and "meridian_dns_tcp_refused_total 1\n" in body,
              "metrics: one connection reclaimed and one refused at max_tcp_connections")
        check('meridian_dns_zone_serial{zone="example.test."} 2026112503' in body, "metrics: zone serial after reload")
        check("meridian_dns_query_duration_seconds_bucket" in body, "metrics: latency histogram")
        qlog = open(os.path.join(tmp, "query.log")).read()
        check("qname=cdn.example.test. qtype=A rcode=NOERROR" in qlog, "query log lines")

        # Log rotation: the file is moved away, SIGUSR1 reopens the path; new lines go to the new file only.
        qpath = os.path.join(tmp, "query.log")
        os.rename(qpath, qpath + ".1")
        proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + 5
        while time.time() < deadline and not os.path.exists(qpath):
            time.sleep(0.05)
        ask(port, "rotated.example.test.", TYPES["A"])
        deadline = time.time() + 5
        while time.time() < deadline and "rotated" not in open(qpath).read():
            time.sleep(0.05)
        check("qname=rotated.example.test. qtype=A rcode=NXDOMAIN" in open(qpath).read(),
              "SIGUSR1 reopens the query log: new lines in the new file")
        check("rotated" not in open(qpath + ".1").read(), "SIGUSR1: nothing more in the rotated file")
        check(proc.poll() is None, "SIGUSR1 does not stop the server")

        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(10)
        proc = None
        check(rc == 0, "SIGTERM: exit 0")

        with open(zone, "a") as f:
            f.write("broken IN A 999.1.1.1\n")
        with open(os.path.join(tmp, "bad.toml"), "w") as f:
            f.write('listen = "127.0.0.1:1"\n[[zone]]\nname = "example.test."\nfile = "zones/example.test.zone"\n'
                    '[limits]\nedns_buffer_size = 100\n')
        chk = subprocess.run([DNS, "--check", "--config", os.path.join(tmp, "bad.toml")], capture_output=True, text=True)
        check(chk.returncode == 1 and "bad.toml:6" in chk.stderr and "edns_buffer_size" in chk.stderr,
              "--check names file:line and key of a bad value")
        check(re.search(r"example\.test\.zone:\d+: Syntax error", chk.stderr) is not None,
              "--check reports the broken zone's line too")
        return 1 if failures else 0
    finally:
        if proc:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
