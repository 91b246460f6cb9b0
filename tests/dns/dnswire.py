"""Minimal DNS wire helpers for Meridian's integration tests (python3 stdlib only): build queries, parse responses
into comparable tuples, and talk UDP/TCP to a server on loopback. Not a test itself (no it_ prefix)."""
import socket
import struct
import time

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33,
         "NAPTR": 35, "DNAME": 39, "OPT": 41, "DS": 43, "SSHFP": 44, "TLSA": 52, "SVCB": 64, "HTTPS": 65,
         "IXFR": 251, "AXFR": 252, "ANY": 255, "CAA": 257}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 9: "NOTAUTH",
          16: "BADVERS"}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split(".") if name not in (".", "") else []:
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def build_query(name, qtype, qid=1, edns=1232, do=False, rd=False, qclass=1, opcode=0, options=b"", version=0):
    flags = (opcode << 11) | (0x0100 if rd else 0)
    ar = 1 if edns is not None else 0
    msg = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, ar) + encode_name(name) + struct.pack("!HH", qtype, qclass)
    if edns is not None:
        msg += b"\0" + struct.pack("!HHBBHH", 41, edns, 0, version, 0x8000 if do else 0, len(options)) + options
    return msg


def read_name(msg, off):
    labels, jumped, end, hops = [], False, None, 0
    while True:
        l = msg[off]
        if l & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off = ((l & 0x3F) << 8) | msg[off + 1]
            jumped = True
            hops += 1
            if hops > 64:
                raise ValueError("pointer loop")
            continue
        if l == 0:
            off += 1
            break
        labels.append(msg[off + 1:off + 1 + l].decode("latin-1").lower())
        off += 1 + l
    return ".".join(labels) + ".", (end if jumped else off)


def rdata_canonical(msg, rtype, off, rdlen):
    """RDATA with names decompressed and lower-cased (for the types that may carry compressed names)."""
    end = off + rdlen
    if rtype in (2, 5, 12, 39):
        n, _ = read_name(msg, off)
        return n
    if rtype == 15:
        n, _ = read_name(msg, off + 2)
        return "%d %s" % (struct.unpack("!H", msg[off:off + 2])[0], n)
    if rtype == 33:
        n, _ = read_name(msg, off + 6)
        return "%s %s" % (msg[off:off + 6].hex(), n)
    if rtype == 6:
        a, o = read_name(msg, off)
        b, o = read_name(msg, o)
        return "%s %s %s" % (a, b, msg[o:end].hex())
    return msg[off:end].hex()


def parse_response(msg):
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    off = 12
    r = {"id": qid, "qr": flags >> 15, "opcode": (flags >> 11) & 0xF, "aa": (flags >> 10) & 1, "tc": (flags >> 9) & 1,
         "rd": (flags >> 8) & 1, "ra": (flags >> 7) & 1, "ad": (flags >> 5) & 1, "cd": (flags >> 4) & 1,
         "rcode": flags & 0xF, "an": [], "ns": [], "ar": [], "opt": None, "question": None, "raw_qname": None}
    for _ in range(qd):
        start = off
        name, off = read_name(msg, off)
        qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
        r["raw_qname"] = msg[start:off]
        off += 4
        r["question"] = (name, qtype, qclass)
    for sec, count in (("an", an), ("ns", ns), ("ar", ar)):
        for _ in range(count):
            name, off = read_name(msg, off)
            rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
            off += 10
            if rtype == 41:
                opts = msg[off:off + rdlen]
                r["opt"] = {"size": rclass, "ext_rcode": ttl >> 24, "version": (ttl >> 16) & 0xFF,
                            "do": (ttl >> 15) & 1, "options": opts}
                r["rcode"] |= (ttl >> 24) << 4
            else:
                r[sec].append((name, rtype, rclass, ttl, rdata_canonical(msg, rtype, off, rdlen)))
            off += rdlen
    r["length"] = len(msg)
    return r


def fmt_msg(r):
    return "rcode=%s flags=%s an=%s ns=%s ar=%s" % (RCODES.get(r["rcode"], r["rcode"]),
                                                     "".join(f for f in ("qr", "aa", "tc", "rd") if r[f]),
                                                     r["an"], r["ns"], r["ar"])


_handed_out = set()


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1, never one this process was given before (the kernel may hand
    a just-closed port out again, and two servers on one port refuse to start)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        if port in _handed_out:
            t.close()
            continue
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            _handed_out.add(port)
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port")


def udp_query(port, wire, timeout=2.0, retries=2):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        for _ in range(retries):
            s.sendto(wire, ("127.0.0.1", port))
            try:
                while True:
                    data, _ = s.recvfrom(65535)
                    if data[:2] == wire[:2]:
                        return data
            except socket.timeout:
                continue
        return None
    finally:
        s.close()


def wait_udp(port, seconds):
    deadline = time.time() + seconds
    probe = build_query("probe.invalid.", 1, qid=0xBEEF)
    while time.time() < deadline:
        if udp_query(port, probe, timeout=0.2, retries=1):
            return True
        time.sleep(0.1)
    return False


def tcp_exchange(s, wire):
    """One query on the open TCP socket `s`; returns its answer message, or None when the peer closes or errs first."""
    try:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
    except OSError:
        return None
    return buf[2:2 + struct.unpack("!H", buf[:2])[0]]


def tcp_query(port, wires, timeout=5.0):
    """Sends all queries pipelined on one connection; returns the answers matched back to the queries' order."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"".join(struct.pack("!H", len(w)) + w for w in wires))
        answers = {}
        buf = b""
        deadline = time.time() + timeout
        while len(answers) < len(wires) and time.time() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                n = struct.unpack("!H", buf[:2])[0]
                msg, buf = buf[2:2 + n], buf[2 + n:]
                answers.setdefault(msg[:2], msg)
        return [answers.get(w[:2]) for w in wires if w[:2] in answers]
    finally:
        s.close()


def tcp_messages(port, wire, timeout=5.0, until=None):
    """Sends one query over TCP and returns every message until `until(msgs)` is true or the peer closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        msgs, buf = [], b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                n = struct.unpack("!H", buf[:2])[0]
                msgs.append(buf[2:2 + n])
                buf = buf[2 + n:]
            if until and until(msgs):
                break
        return msgs
    finally:
        s.close()
