#!/usr/bin/env python3
"""Differential test: meridian-dns and NSD serve the same zones on loopback; a generated query set goes to both and
the responses must match (rcode, flags, each section as a multiset of RRs with TTLs, OPT presence and DO bit).
Every allowed difference is a named category below, with its RFC reason; the test prints how often each was used.
Exit 77 (skip) when nsd is not installed."""
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnswire import (build_query, encode_name, parse_response, free_port, wait_udp, tcp_query, udp_query, TYPES, fmt_msg)  # noqa

SRC = os.environ.get("MERIDIAN_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
DNS = os.environ.get("MERIDIAN_DNS", os.path.join(SRC, "build/dns/bin/meridian-dns"))

ZONES = [("example.test.", os.path.join(SRC, "conf/examples/zones/example.test.zone")),
         ("example.", os.path.join(SRC, "tests/dns/data/rfc4592.example.zone"))]

# Allowed differences. Each returns True when the difference between m (meridian) and n (nsd) is of its kind.
CATEGORIES = {
    # RFC 1034 §4.3.2 step 6 / RFC 2181 §6.1: NS records of the zone in the authority section of a positive answer
    # are optional. NSD (minimal-responses: no) adds them; Meridian answers minimally, like Knot.
    "authority-apex-ns": None,
    # RFC 2181 §9 / RFC 1034 §4.3.2 step 6: the additional section is optional data; servers differ on which
    # address records they add (NSD adds them for the apex NS it put in authority).
    "additional-optional": None,
    # RFC 8482 §4.1: a server may answer ANY with a single RRset of its choice. NSD returns all RRsets.
    "any-minimal": None,
    # RFC 2181 §9: when an answer does not fit, TC=1 is set; what, if anything, is kept of the partial answer is
    # implementation-defined (Meridian sends the question only, NSD keeps the RRsets that fit).
    "truncated-payload": None,
    # RFC 6891 §6.2.5: the advertised UDP payload size in the OPT is each server's own choice.
    "opt-payload-size": None,
}
used = {k: 0 for k in CATEGORIES}


def rrset_key(rrs):
    return sorted(rrs)


def compare(q, m, n):
    """Returns a list of unexplained differences (strings)."""
    problems = []
    if m is None or n is None:
        if (m is None) != (n is None):
            problems.append("one server did not answer: meridian=%s nsd=%s" % (m is not None, n is not None))
        return problems
    cats = set()
    if m["raw_qname"] != q["wire_qname"]:
        problems.append("question not echoed byte for byte (0x20 case): %r" % m["raw_qname"])
    if m["rcode"] != n["rcode"]:
        problems.append("rcode %s vs nsd %s" % (m["rcode"], n["rcode"]))
    if m["tc"] and n["tc"]:
        cats.add("truncated-payload")
        m_an, n_an, m_ns, n_ns, m_ar, n_ar = [], [], [], [], [], []
    else:
        m_an, n_an = m["an"], n["an"]
        m_ns, n_ns = m["ns"], n["ns"]
        m_ar, n_ar = m["ar"], n["ar"]
    for f in ("qr", "aa", "tc", "rd", "ra", "ad", "cd", "opcode"):
        if m[f] != n[f]:
            problems.append("flag %s: %s vs nsd %s" % (f, m[f], n[f]))
    if (m["opt"] is None) != (n["opt"] is None):
        problems.append("OPT presence: %s vs nsd %s" % (m["opt"] is not None, n["opt"] is not None))
    elif m["opt"] is not None:
        if m["opt"]["do"] != n["opt"]["do"] or m["opt"]["version"] != n["opt"]["version"]:
            problems.append("OPT flags/version differ: %s vs nsd %s" % (m["opt"], n["opt"]))
        if m["opt"]["size"] != n["opt"]["size"]:
            cats.add("opt-payload-size")
    if q["qtype"] == TYPES["ANY"] and sorted(m_an) != sorted(n_an):
        one_set = len({(r[0], r[1]) for r in m_an}) == 1
        if m_an and one_set and (set(m_an) <= set(n_an) or len({(r[0], r[1]) for r in n_an}) == 1):
            cats.add("any-minimal")
            m_an = n_an
            m_ns, n_ns, m_ar, n_ar = [], [], [], []
    if sorted(m_an) != sorted(n_an):
        problems.append("answer differs:\n    meridian %s\n    nsd      %s" % (sorted(m_an), sorted(n_an)))
    if sorted(m_ns) != sorted(n_ns):
        extra = [r for r in n_ns if r not in m_ns]
        apex_ns = extra and all(r[1] == TYPES["NS"] for r in extra) and len({r[0] for r in extra}) == 1 and \
            [r for r in m_ns if r not in n_ns] == [] and m["an"]
        if apex_ns:
            cats.add("authority-apex-ns")
        else:
            problems.append("authority differs:\n    meridian %s\n    nsd      %s" % (sorted(m_ns), sorted(n_ns)))
    if sorted(m_ar) != sorted(n_ar):
        # Ours must be a subset of NSD's (NSD adds more: addresses of the apex NS it put in authority).
        if all(r[1] in (TYPES["A"], TYPES["AAAA"]) for r in m_ar + n_ar) and set(m_ar) <= set(n_ar):
            cats.add("additional-optional")
        else:
            problems.append("additional differs:\n    meridian %s\n    nsd      %s" % (sorted(m_ar), sorted(n_ar)))
    if not problems:
        for c in cats:
            used[c] += 1
    return problems


def query_set():
    names_ex = ["example.test.", "www.example.test.", "web.example.test.", "cdn.example.test.", "alias.example.test.",
                "AlIaS.eXaMpLe.TeSt.", "mail.example.test.", "ns1.example.test.", "ns2.example.test.",
                "_sip._udp.example.test.", "_443._tcp.web.example.test.",
                "100.2.0.192.in-addr.example.test.", "sipsrv.example.test.", "opaque.example.test.",
                "foo.apps.example.test.", "a.b.apps.example.test.", "apps.example.test.", "b.ent.example.test.",
                "x.b.ent.example.test.", "sub.example.test.", "x.sub.example.test.", "ns1.sub.example.test.",
                "ext.example.test.", "nope.example.test.", "deep.nope.example.test.", "WwW.ExAmPlE.TeSt.",
                "FOO.Apps.EXAMPLE.test.", "example.org.", "test."]
    names_4592 = ["host3.example.", "foo.bar.example.", "host1.example.", "sub.*.example.",
                  "_telnet._tcp.host1.example.", "host.subdel.example.", "subdel.example.", "ghost.*.example.",
                  "_ssh._tcp.host1.example.", "_tcp.host1.example.", "host2.example.", "*.example.", "example.",
                  "loop1.example.", "big.example.", "wcname.example.", "x.wc.example.", "WC.example.",
                  "www.alias.example.", "alias.example.", "x.y.alias.example.", "a.out.example.",
                  "WWW.Alias.Example.", "www.target.example."]
    types = ["A", "AAAA", "NS", "SOA", "MX", "TXT", "CNAME", "SRV", "CAA", "PTR", "NAPTR", "SSHFP", "TLSA", "HTTPS",
             "DS", "ANY", "DNAME", 65280]
    out = []
    for name in names_ex + names_4592:
        for t in types:
            out.append(dict(name=name, qtype=TYPES[t] if isinstance(t, str) else t, edns=1232, do=False))
    # EDNS variations on a subset.
    for name in ["www.example.test.", "alias.example.test.", "example.test.", "nope.example.test.", "big.example.",
                 "x.sub.example.test.", "foo.apps.example.test.", "host3.example."]:
        for t in ["A", "MX", "TXT", "NS", "ANY"]:
            for edns, do in [(None, False), (512, False), (1232, True), (4096, False)]:
                out.append(dict(name=name, qtype=TYPES[t], edns=edns, do=do))
    return out


def start_nsd(tmp, port):
    conf = os.path.join(tmp, "nsd.conf")
    zones = "".join('zone:\n  name: "%s"\n  zonefile: "%s"\n' % z for z in ZONES)
    with open(conf, "w") as f:
        f.write("""server:
  ip-address: 127.0.0.1@%d
  port: %d
  server-count: 1
  database: ""
  zonelistfile: "%s/zone.list"
  xfrdfile: "%s/xfrd.state"
  xfrdir: "%s"
  pidfile: "%s/nsd.pid"
  logfile: "%s/nsd.log"
  username: ""
  chroot: ""
  zonesdir: ""
  verbosity: 1
remote-control:
  control-enable: no
%s""" % (port, port, tmp, tmp, tmp, tmp, tmp, zones))
    return subprocess.Popen([shutil.which("nsd") or "/usr/sbin/nsd", "-d", "-c", conf],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "nsd.stderr"), "w"))


def start_meridian(tmp, port):
    conf = os.path.join(tmp, "dns.toml")
    zones = "".join('[[zone]]\nname = "%s"\nfile = "%s"\n' % z for z in ZONES)
    with open(conf, "w") as f:
        f.write('allow_root = true\nworkers = 1\nlisten = "127.0.0.1:%d"\n[log]\nlevel = "warn"\n%s' % (port, zones))
    return subprocess.Popen([DNS, "--config", conf], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, "meridian.stderr"), "w"))


def main():
    if not (shutil.which("nsd") or os.path.exists("/usr/sbin/nsd")):
        print("SKIP: nsd is not installed")
        return 77
    tmp = tempfile.mkdtemp(prefix="meridian-diff-")
    procs = []
    try:
        mport, nport = free_port(), free_port()
        procs.append(start_meridian(tmp, mport))
        procs.append(start_nsd(tmp, nport))
        for port, name in ((mport, "meridian"), (nport, "nsd")):
            if not wait_udp(port, 10):
                print("FAIL: %s did not start" % name)
                for f in ("meridian.stderr", "nsd.stderr", "nsd.log"):
                    p = os.path.join(tmp, f)
                    if os.path.exists(p):
                        print(open(p).read())
                return 1
        queries = query_set()
        failures = 0
        for i, q in enumerate(queries):
            wire = build_query(q["name"], q["qtype"], qid=i & 0xFFFF, edns=q["edns"], do=q["do"])
            q["wire_qname"] = encode_name(q["name"])
            m = udp_query(mport, wire)
            n = udp_query(nport, wire)
            probs = compare(q, m and parse_response(m), n and parse_response(n))
            if probs:
                failures += 1
                if failures <= 25:
                    print("MISMATCH %s %s edns=%s do=%s:" % (q["name"], q["qtype"], q["edns"], q["do"]))
                    for p in probs:
                        print("  " + p)
        # A sample over TCP, pipelined on one connection per server.
        tcp_sample = [q for q in queries if q["edns"] == 1232][::7]
        wires = [build_query(q["name"], q["qtype"], qid=i, edns=q["edns"], do=q["do"]) for i, q in enumerate(tcp_sample)]
        for q in tcp_sample:
            q["wire_qname"] = encode_name(q["name"])
        m_all = tcp_query(mport, wires)
        n_all = tcp_query(nport, wires)
        for q, m, n in zip(tcp_sample, m_all, n_all):
            probs = compare(q, m and parse_response(m), n and parse_response(n))
            if probs:
                failures += 1
                print("MISMATCH (tcp) %s %s:" % (q["name"], q["qtype"]))
                for p in probs:
                    print("  " + p)
        total = len(queries) + len(tcp_sample)
        print("%d queries (%d over TCP), %d unexplained differences" % (total, len(tcp_sample), failures))
        for c, k in used.items():
            print("  allowed difference %-22s used %d times" % (c, k))
        if len(m_all) != len(tcp_sample):
            print("FAIL: meridian answered %d of %d pipelined TCP queries" % (len(m_all), len(tcp_sample)))
            return 1
        return 1 if failures else 0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
