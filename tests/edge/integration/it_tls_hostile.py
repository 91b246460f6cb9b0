"""Hostile viewers on the HTTPS listener (issue #13 item 4), against the real edge: plain HTTP on the TLS port gets
nginx's plain-text 400; garbage, a handshake that never finishes or never starts (closed by handshake_timeout),
an unknown SNI with no default certificate (unrecognized_name alert), a TLS 1.2 renegotiation attempt (refused), a viewer that stops mid-record or
dribbles a record a byte at a time (closed by header_timeout, far below keepalive_timeout), viewers that half-close
or reset mid-handshake and mid-response, viewers that never read a large response (RSS bounded, closed by
send_timeout). Each one is closed and counted by reason in
meridian_edge_tls_handshake_errors_total{reason} / meridian_edge_tls_connection_errors_total{reason}; afterwards
the edge lives, serves HTTPS, and holds no connection open (meridian_edge_open_connections back to zero)."""
import hashlib
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import (ASAN_BUILD, Edge, Failures, bucket_edge_conf, closed_by_server, free_port,  # noqa: E402
                      make_test_certs, read_response, rss_mb, skip, tls_listen, tmpdir, wait_port)

if not shutil.which("openssl"):
    skip("openssl not installed")

tmp = tmpdir()
certs = make_test_certs(tmp)
site = os.path.join(tmp, "site")
os.makedirs(site)
with open(os.path.join(site, "index.html"), "w") as fh:
    fh.write("<h1>hello</h1>\n")
huge = os.urandom(8 << 20)
with open(os.path.join(site, "huge.bin"), "wb") as fh:
    fh.write(huge)

NAME = "www.example.test"
HEADER_TIMEOUT = 2
HANDSHAKE_TIMEOUT = 4
tls_port = free_port()
f = Failures()
# No default certificate: a name the only entry does not serve is refused. keepalive_timeout is far above
# header_timeout, so a close within a few seconds shows header_timeout bounding a stalled record.
edge = Edge(tmp, f"""
[limits]
header_timeout = "{HEADER_TIMEOUT}s"
handshake_timeout = "{HANDSHAKE_TIMEOUT}s"
keepalive_timeout = "120s"
lingering_timeout = "2s"
send_timeout = "4s"
client_buffer_bytes = "64KiB"
[cache]
max_bytes = "64MiB"
max_object_bytes = "16MiB"
{tls_listen(tls_port, certs, cert="www.example.test", default=False)}{bucket_edge_conf(site, 'default_ttl = "1h"')}""")


class Tls:
    """A TLS client over a raw socket through memory BIOs, so the test controls every byte and the TCP side:
    half a record, a FIN without close_notify, a reset."""

    def __init__(self, name=NAME, rcvbuf=None):
        self.raw = socket.socket()
        if rcvbuf:
            self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.raw.settimeout(20)
        self.raw.connect(("127.0.0.1", tls_port))
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname=name)

    def flush(self):
        data = self.out.read()
        if data:
            self.raw.sendall(data)

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                d = self.raw.recv(65536)
                if not d:
                    raise ConnectionError("closed during the handshake")
                self.inc.write(d)

    def record(self, plaintext):
        """The ciphertext of `plaintext`, not sent."""
        self.obj.write(plaintext)
        return self.out.read()

    def read_some(self):
        """Plaintext (b"" at EOF or close_notify)."""
        while True:
            try:
                return self.obj.read(65536)
            except ssl.SSLWantReadError:
                d = self.raw.recv(65536)
                if not d:
                    return b""
                self.inc.write(d)
            except ssl.SSLZeroReturnError:
                return b""

    def reset(self):
        self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.raw.close()


def hs_errors(reason):
    return edge.metric(f'meridian_edge_tls_handshake_errors_total{{reason="{reason}"}}') or 0


def conn_errors(reason):
    return edge.metric(f'meridian_edge_tls_connection_errors_total{{reason="{reason}"}}') or 0


def wait_count(read, want, what, timeout=15):
    end = time.time() + timeout
    got = read()
    while got < want and time.time() < end:
        time.sleep(0.1)
        got = read()
    f.check(got >= want, f"{what} counted ({got}, want >= {want})")


def serves(what):
    t = Tls()
    t.handshake()
    t.obj.write(f"GET /index.html HTTP/1.1\r\nHost: {NAME}\r\nConnection: close\r\n\r\n".encode())
    t.flush()
    got = b""
    while True:
        d = t.read_some()
        if not d:
            break
        got += d
    t.raw.close()
    f.check(edge.proc.poll() is None and got.startswith(b"HTTP/1.1 200") and got.endswith(b"<h1>hello</h1>\n"),
            f"edge alive and serving HTTPS after {what}")


def partial_client_hello():
    return b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(20)


edge.start()
try:
    wait_port(tls_port)
    time.sleep(0.5)
    serves("start")

    # --- plain HTTP on the TLS port: nginx's plain-text 400, then close ---
    n0 = hs_errors("http_request")
    c = socket.create_connection(("127.0.0.1", tls_port), timeout=20)
    c.sendall(f"GET /index.html HTTP/1.1\r\nHost: {NAME}\r\n\r\n".encode())
    st, hdr, body = read_response(c, timeout=20)
    f.eq((st, body), (400, b"The plain HTTP request was sent to HTTPS port\n"), "plain HTTP on the TLS port")
    closed, _ = closed_by_server(c, time.time() + 10)
    f.check(closed, "plain HTTP: connection closed after the 400")
    c.close()
    p = subprocess.run(["curl", "-sS", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}",
                        f"http://127.0.0.1:{tls_port}/index.html"], capture_output=True, timeout=60)
    f.check(p.stdout.endswith(b"\n400") and b"HTTPS port" in p.stdout, f"curl http:// on the TLS port: {p.stdout!r}")
    wait_count(lambda: hs_errors("http_request"), n0 + 2, "plain HTTP (http_request)")

    # --- garbage ---
    n0 = hs_errors("not_tls")
    for junk in (b"\x00" * 64, b"SSH-2.0-OpenSSH_9.2\r\n", bytes([0x17, 0x03, 0x03, 0x07, 0xd0]) + os.urandom(2000)):
        c = socket.create_connection(("127.0.0.1", tls_port), timeout=20)
        c.sendall(junk)
        closed, got = closed_by_server(c, time.time() + 10)
        f.check(closed, f"garbage {junk[:8]!r}...: connection closed")
        c.close()
    wait_count(lambda: hs_errors("not_tls"), n0 + 3, "garbage (not_tls)")

    # --- handshakes that never finish, or never start: closed by handshake_timeout ---
    n0 = hs_errors("timeout")
    c1 = socket.create_connection(("127.0.0.1", tls_port), timeout=20)
    c1.sendall(partial_client_hello())
    c2 = socket.create_connection(("127.0.0.1", tls_port), timeout=20)
    t0 = time.time()
    closed1, _ = closed_by_server(c1, t0 + 30)
    closed2, _ = closed_by_server(c2, t0 + 30)
    took = time.time() - t0
    f.check(closed1 and closed2 and HANDSHAKE_TIMEOUT - 0.5 <= took < 30,
            f"stalled handshakes closed by handshake_timeout ({took:.1f}s, {HANDSHAKE_TIMEOUT}s)")
    c1.close()
    c2.close()
    wait_count(lambda: hs_errors("timeout"), n0 + 2, "handshake timeouts (timeout)")

    # --- an unknown SNI (and no SNI) without a default certificate: unrecognized_name alert ---
    n0 = hs_errors("unknown_sni")
    for name in ("other.invalid", None):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        err = ""
        try:
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls_port), timeout=20), server_hostname=name):
                pass
        except (ssl.SSLError, OSError) as e:
            err = str(e)
        f.check("UNRECOGNIZED_NAME" in err.upper(), f"SNI {name}: unrecognized_name alert ({err})")
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{tls_port}", "-servername", "nope.invalid"],
                       input=b"", capture_output=True, timeout=30)
    out = (p.stdout + p.stderr).decode("latin-1")
    f.check(p.returncode != 0 and "unrecognized name" in out, "openssl s_client: alert unrecognized name")
    wait_count(lambda: hs_errors("unknown_sni"), n0 + 3, "unknown SNI (unknown_sni)")

    # --- a TLS 1.2 renegotiation attempt is refused and counted ---
    n0 = conn_errors("renegotiation")
    p = subprocess.Popen(["openssl", "s_client", "-tls1_2", "-servername", NAME, "-connect", f"127.0.0.1:{tls_port}"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    p.stdin.write(b"R\n")
    p.stdin.flush()
    time.sleep(2)
    try:
        out = p.communicate(timeout=20)[0].decode("latin-1")
    except subprocess.TimeoutExpired:
        p.kill()
        out = p.communicate()[0].decode("latin-1")
    f.check("RENEGOTIATING" in out and "no renegotiation" in out, "TLS 1.2 renegotiation refused (no_renegotiation)")
    wait_count(lambda: conn_errors("renegotiation"), n0 + 1, "renegotiation attempt (renegotiation)")

    # --- half a record, then nothing: closed by header_timeout (not the 120s keep-alive timeout) ---
    n0 = conn_errors("stalled_record")
    t = Tls()
    t.handshake()
    rec = t.record(f"GET /index.html HTTP/1.1\r\nHost: {NAME}\r\n\r\n".encode())
    t.raw.sendall(rec[: len(rec) // 2])
    t0 = time.time()
    closed, _ = closed_by_server(t.raw, t0 + 30)
    took = time.time() - t0
    f.check(closed and took < 30, f"half a record then nothing: closed ({took:.1f}s, header_timeout {HEADER_TIMEOUT}s)")
    t.raw.close()
    # A record dribbled a byte a second: every byte is activity, so only header_timeout can end it.
    t = Tls()
    t.handshake()
    rec = t.record(f"GET /index.html HTTP/1.1\r\nHost: {NAME}\r\n\r\n".encode())
    t0 = time.time()
    closed = False
    for b in rec[:-1]:
        try:
            t.raw.sendall(bytes([b]))
        except OSError:
            closed = True
            break
        c, _ = closed_by_server(t.raw, time.time() + 1)
        if c:
            closed = True
            break
        if time.time() - t0 > 30:
            break
    took = time.time() - t0
    f.check(closed and took < 30, f"a record dribbled a byte a second: closed ({took:.1f}s)")
    t.raw.close()
    wait_count(lambda: conn_errors("stalled_record"), n0 + 2, "stalled records (stalled_record)")

    # --- half-close and reset mid-handshake ---
    n0 = hs_errors("closed")
    c = socket.create_connection(("127.0.0.1", tls_port), timeout=20)
    c.sendall(partial_client_hello())
    c.shutdown(socket.SHUT_WR)
    closed, _ = closed_by_server(c, time.time() + 10)
    f.check(closed, "half-close mid-handshake: connection closed")
    c.close()
    t = Tls()
    try:
        t.obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    t.flush()  # the whole ClientHello; the server answers with its flight
    time.sleep(0.3)
    t.reset()
    wait_count(lambda: hs_errors("closed"), n0 + 2, "viewers gone mid-handshake (closed)")
    serves("viewers gone mid-handshake")

    # --- reset mid-response ---
    n0 = conn_errors("reset")
    t = Tls(rcvbuf=8192)
    t.handshake()
    t.obj.write(f"GET /huge.bin HTTP/1.1\r\nHost: {NAME}\r\n\r\n".encode())
    t.flush()
    first = t.read_some()
    f.check(first.startswith(b"HTTP/1.1 200"), "a large response starts")
    time.sleep(0.5)
    t.reset()
    wait_count(lambda: conn_errors("reset"), n0 + 1, "reset mid-response (reset)")

    # --- half-close (FIN without close_notify) mid-response: the response is still finished, then closed ---
    n0 = conn_errors("eof_mid_response")
    t = Tls(rcvbuf=8192)
    t.handshake()
    t.obj.write(f"GET /huge.bin HTTP/1.1\r\nHost: {NAME}\r\n\r\n".encode())
    t.flush()
    got = t.read_some()
    time.sleep(0.5)
    t.raw.shutdown(socket.SHUT_WR)
    while True:
        d = t.read_some()
        if not d:
            break
        got += d
    head, _, body = got.partition(b"\r\n\r\n")
    f.check(head.startswith(b"HTTP/1.1 200") and hashlib.sha256(body).digest() == hashlib.sha256(huge).digest(),
            f"half-close mid-response: the whole 8 MiB still arrives ({len(body)} bytes)")
    t.raw.close()
    wait_count(lambda: conn_errors("eof_mid_response"), n0 + 1, "half-close mid-response (eof_mid_response)")

    # --- viewers that never read a large response: bounded memory, closed by send_timeout ---
    n0 = conn_errors("send_timeout")
    rss0 = rss_mb(edge.proc.pid)
    stalled = []
    for _ in range(12):
        t = Tls(rcvbuf=4096)
        t.handshake()
        t.obj.write(f"GET /huge.bin HTTP/1.1\r\nHost: {NAME}\r\n\r\n".encode())
        t.flush()
        stalled.append(t)
    time.sleep(2)
    grew = rss_mb(edge.proc.pid) - rss0
    limit = 60 if ASAN_BUILD else 30
    f.check(grew < limit, f"12 viewers not reading an 8 MiB HTTPS body: RSS grew {grew:.1f} MB (< {limit})")
    serves("viewers that do not read")
    wait_count(lambda: conn_errors("send_timeout"), n0 + 12, "viewers that stopped reading (send_timeout)", 30)
    for t in stalled:
        t.raw.close()

    # --- afterwards: alive, serving, nothing left open, every reason on the admin page ---
    serves("all of the above")
    end = time.time() + 20
    while time.time() < end and (edge.metric("meridian_edge_open_connections") or 0) > 0:
        time.sleep(0.2)
    f.eq(edge.metric("meridian_edge_open_connections"), 0.0, "no viewer connection left open (no stuck connection)")
    page = edge.metrics()
    for r in ("http_request", "not_tls", "protocol_version", "no_shared_cipher", "unknown_sni", "peer_alert",
              "timeout", "closed", "other"):
        f.check(f'meridian_edge_tls_handshake_errors_total{{reason="{r}"}}' in page, f"metric reason {r} exported")
    for r in ("renegotiation", "bad_record", "stalled_record", "reset", "eof_mid_response", "send_timeout"):
        f.check(f'meridian_edge_tls_connection_errors_total{{reason="{r}"}}' in page, f"metric reason {r} exported")
    f.eq(edge.stop(), 0, "SIGTERM exit code")
finally:
    edge.stop()

f.done()
