#!/usr/bin/env python3
# ctest: PROCESSORS 2 COST 15 LABELS tooling
"""dns_loadgen's TCP modes against a small TCP DNS server here (about 5 s):
  --tcp: answers counted, none lost, exactly --sockets connections, pipelined answers sent in reverse order still
  matched by ID; --tcp-per-query: one connection per answered query; a server that closes every connection after
  one answer without answering the rest is counted as connection errors and lost queries, not as answers;
  --axfr: every record of a three-message transfer counted, ending at the second SOA, and a REFUSED transfer fails.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import threading

BIN = os.environ.get("MERIDIAN_BIN")
if not BIN:
    sys.exit("MERIDIAN_BIN must point at the folder with the bench tools")
LOADGEN = os.path.join(BIN, "dns_loadgen")
if not os.access(LOADGEN, os.X_OK):
    print(f"FAIL: {LOADGEN} not built")
    sys.exit(1)

AXFR_RECORDS = 2 + 250  # SOA, 250 A records, SOA


def rr(rtype, rdata):
    # Owner name: a compression pointer to the question's name at offset 12.
    return struct.pack("!HHHIH", 0xC00C, rtype, 1, 300, len(rdata)) + rdata


SOA = rr(6, b"\x00\x00" + struct.pack("!IIIII", 1, 3600, 600, 86400, 300))


def axfr_messages(query, refused):
    qend = 12
    while query[qend]:
        qend += 1 + query[qend]
    question = query[12:qend + 5]
    if refused:
        return [query[:2] + b"\x84\x05" + b"\x00\x01\x00\x00\x00\x00\x00\x00" + question]
    records = [SOA] + [rr(1, bytes([10, 0, i // 256, i % 256])) for i in range(250)] + [SOA]
    out = []
    for chunk in (records[:100], records[100:200], records[200:]):
        out.append(query[:2] + b"\x84\x00" + struct.pack("!HHHH", 1, len(chunk), 0, 0) + question + b"".join(chunk))
    return out


def serve(conn, mode):
    """mode: 'echo' answers every query (a pipelined batch in reverse order); 'one' answers the first query of a
    connection and closes it; 'refuse' refuses transfers."""
    buf = b""
    with conn:
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            queries = []
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                n = struct.unpack("!H", buf[:2])[0]
                queries.append(buf[2:2 + n])
                buf = buf[2 + n:]
            answers = []
            for q in queries:
                qend = 12
                while q[qend]:
                    qend += 1 + q[qend]
                qtype = struct.unpack("!H", q[qend + 1:qend + 3])[0]
                if qtype == 252:
                    answers += axfr_messages(q, mode == "refuse")
                else:
                    answers.append(q[:2] + bytes([q[2] | 0x84, q[3]]) + q[4:])
            if mode == "echo":
                answers.reverse()
            if mode == "one" and answers:
                answers = answers[:1]
            try:
                conn.sendall(b"".join(struct.pack("!H", len(a)) + a for a in answers))
            except OSError:
                return
            if mode == "one" and answers:
                return


def start_server(mode):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(512)

    def accept_loop():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(c, mode), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    return ls, ls.getsockname()[1]


def loadgen(port, *args):
    r = subprocess.run([LOADGEN, "-s", "127.0.0.1", "-p", str(port), "--json", *args], capture_output=True,
                       text=True, timeout=30)
    print(" ".join(args), "->", r.stdout.strip(), r.stderr.strip())
    return r.returncode, json.loads(r.stdout or "{}")


failed = 0


def check(name, cond):
    global failed
    print(("ok:   " if cond else "FAIL: ") + name)
    failed |= not cond


tmp_queries = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"it_loadgen_tcp.{os.getpid()}.q")
with open(tmp_queries, "w") as f:
    f.write("www.example.test A\nMixed.Example.TEST AAAA\nexample.test MX\n")
try:
    ls, port = start_server("echo")
    rc, d = loadgen(port, "-d", tmp_queries, "-l", "1.5", "--tcp", "--sockets", "4", "--window", "64")
    check("tcp: answered > 500", d.get("answered", 0) > 500)
    check("tcp: nothing lost, answered == sent", d.get("lost") == 0 and d.get("answered") == d.get("sent"))
    check("tcp: reversed pipelined answers matched by ID", d.get("bad_id") == 0 and d.get("bad_question") == 0)
    check("tcp: exactly 4 connections, no errors", d.get("connections") == 4 and d.get("conn_errors") == 0)
    check("tcp: 16 in flight per connection", d.get("per_connection") == 16)
    check("tcp: client core busy share reported", 0 < d.get("client_core_busy", 0) <= 1.5)

    rc, d = loadgen(port, "-d", tmp_queries, "-l", "1.5", "--tcp-per-query", "--window", "8", "--sources", "4")
    check("per-query: answered > 200", d.get("answered", 0) > 200)
    check("per-query: nothing lost", d.get("lost") == 0 and d.get("answered") == d.get("sent"))
    # Connections still connecting when the run stops carry no query: at most a window's worth more.
    check("per-query: one connection per query",
          d.get("answered", 0) <= d.get("connections", 0) <= d.get("answered", 0) + 8)
    check("per-query: no connection errors", d.get("conn_errors") == 0)

    rc, d = loadgen(port, "--axfr", "example.test")
    check("axfr: complete, exit 0", rc == 0 and d.get("complete") is True)
    check(f"axfr: {AXFR_RECORDS} records in 3 messages", d.get("records") == AXFR_RECORDS and d.get("messages") == 3)
    ls.close()

    ls, port = start_server("one")
    rc, d = loadgen(port, "-d", tmp_queries, "-l", "1", "--tcp", "--sockets", "2", "--window", "8", "--timeout",
                    "0.5")
    check("closing server: answers counted once per connection", 0 < d.get("answered", 0) <= d.get("connections", 0))
    check("closing server: unanswered queries lost", d.get("lost", 0) > 0 and d.get("conn_errors", 0) > 0)
    check("closing server: answered + lost == sent", d.get("answered", 0) + d.get("lost", 0) == d.get("sent"))
    ls.close()

    ls, port = start_server("refuse")
    rc, d = loadgen(port, "--axfr", "example.test")
    check("refused axfr: incomplete, exit 1", rc == 1 and d.get("complete") is False and d.get("rcode") == "REFUSED")
    ls.close()
finally:
    os.unlink(tmp_queries)
sys.exit(1 if failed else 0)
