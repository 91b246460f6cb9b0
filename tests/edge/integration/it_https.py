# ctest: COST 40
"""HTTPS for viewers: the [tls] listener against the real edge, driven by curl, openssl s_client and Python's ssl.
The certificate chosen by SNI (exact, wildcard, default), TLS 1.1 refused, ALPN http/1.1, the same bytes over HTTPS
as over HTTP (a 1 MiB object and a Range), session resumption (also across two workers), plain HTTP and a stalled
handshake on the TLS port closed and counted while the edge lives, a viewer that never reads a large HTTPS response
holding only a bounded buffer, the access log's ssl-protocol/ssl-cipher fields, and SIGHUP with a replaced
certificate: new connections get it while an open keep-alive connection carries on; a broken one keeps the running
certificates."""
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import (ASAN_BUILD, Edge, Failures, bucket_origin, catch_all, free_port, make_test_certs,  # noqa: E402
                      read_response, rss_mb, skip, tls_listen, tmpdir, wait_port)

for tool in ("openssl", "curl"):
    if not shutil.which(tool):
        skip(f"{tool} not installed")

tmp = tmpdir()
certs = make_test_certs(tmp)
site = os.path.join(tmp, "site")
os.makedirs(site)
big = os.urandom(1 << 20)
huge = os.urandom(6 << 20)
mid = os.urandom(60 << 10)
with open(os.path.join(site, "index.html"), "w") as fh:
    fh.write("<h1>hello over tls</h1>\n")
for d in ("only-https", "to-https"):
    os.makedirs(os.path.join(site, d))
    with open(os.path.join(site, d, "page.html"), "w") as fh:
        fh.write(f"<p>{d}</p>\n")
with open(os.path.join(site, "big.bin"), "wb") as fh:
    fh.write(big)
with open(os.path.join(site, "mid.bin"), "wb") as fh:
    fh.write(mid)
with open(os.path.join(site, "huge.bin"), "wb") as fh:
    fh.write(huge)

f = Failures()
edges = []


def config(tls_port, header_timeout="3s"):
    return f"""
[limits]
header_timeout = "{header_timeout}"
handshake_timeout = "{header_timeout}"
client_buffer_bytes = "64KiB"
[cache]
max_bytes = "64MiB"
max_object_bytes = "8MiB"
{tls_listen(tls_port, certs)}
[[tls.certificate]]
cert = "{certs}/www.example.test.crt"
key = "{certs}/www.example.test.key"
{bucket_origin("site", site)}
[[behavior]]
path_pattern = "/only-https/*"
origin = "site"
viewer_protocol_policy = "https-only"
[[behavior]]
path_pattern = "/to-https/*"
origin = "site"
viewer_protocol_policy = "redirect-to-https"
""" + catch_all("site", 'default_ttl = "1h"')


def start_edge(workers=1):
    tls_port = free_port()
    d = os.path.join(tmp, f"edge{len(edges)}")
    os.makedirs(d)
    # ASan's quarantine (256 MB by default) would keep every freed record buffer (OpenSSL frees them per record
    # with SSL_MODE_RELEASE_BUFFERS) and hide what the stalled-viewer check measures.
    asan = os.environ.get("ASAN_OPTIONS", "")
    e = Edge(d, config(tls_port), workers=workers,
             extra_env={"ASAN_OPTIONS": (asan + ":" if asan else "") + "quarantine_size_mb=8"})
    e.tls_port = tls_port
    edges.append(e)
    e.start()
    wait_port(tls_port)
    return e


def s_client(port, *args, stdin=b"", timeout=20):
    """Runs openssl s_client until the server closes (-ign_eof: a TLS 1.3 session ticket arrives after the
    handshake, so a client that quits at the end of its input may not have one yet); returns (exit code, output)."""
    try:
        p = subprocess.run(["openssl", "s_client", "-ign_eof", "-connect", f"127.0.0.1:{port}", *args], input=stdin,
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "<timeout>"
    return p.returncode, (p.stdout + p.stderr).decode("latin-1")


def subject(out):
    for line in out.splitlines():
        if line.startswith("subject="):
            return line
    return None


def curl(url, *args):
    p = subprocess.run(["curl", "-sS", "-k", "--max-time", "30", "-o", "-", "-w", "\n%{http_code}", *args, url],
                       capture_output=True, timeout=60)
    body, _, code = p.stdout.rpartition(b"\n")
    return code.decode(), body


def sha(b):
    return hashlib.sha256(b).hexdigest()


def tls_client(port, name):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(s, server_hostname=name)


def get_on(sock, path, host="www.example.test"):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return read_response(sock, timeout=10)


def closed_within(sock, seconds):
    """True when the server closes `sock` (EOF or reset) within `seconds`."""
    end = time.time() + seconds
    while time.time() < end:
        sock.settimeout(max(0.1, end - time.time()))
        try:
            d = sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            return True
        if not d:
            return True
    return False


HTTP_REQ = b"GET / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n"

try:
    edge = start_edge()
    port = edge.tls_port

    # --- certificates by SNI ---
    rc, out = s_client(port, "-servername", "www.example.test", stdin=HTTP_REQ)
    f.check(subject(out) and "CN = www.example.test" in subject(out), f"SNI www.example.test: {subject(out)}")
    rc, out = s_client(port, "-servername", "img.example.test", stdin=HTTP_REQ)
    f.check(subject(out) and "CN = example.test" in subject(out), f"SNI img.example.test (wildcard): {subject(out)}")
    rc, out = s_client(port, "-noservername", stdin=HTTP_REQ)
    f.check(subject(out) and "CN = example.test" in subject(out), f"no SNI gets the default: {subject(out)}")
    rc, out = s_client(port, "-servername", "other.invalid", stdin=HTTP_REQ)
    f.check(subject(out) and "CN = example.test" in subject(out), f"unknown SNI gets the default: {subject(out)}")

    # --- versions and ALPN ---
    rc, out = s_client(port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", stdin=HTTP_REQ)
    f.check(rc != 0 and "Cipher is (NONE)" in out, f"TLS 1.1 refused (exit {rc})")
    rc, out = s_client(port, "-tls1_2", stdin=HTTP_REQ)
    f.check(rc == 0 and "Protocol  : TLSv1.2" in out, "TLS 1.2 accepted")
    rc, out = s_client(port, "-alpn", "h2,http/1.1", stdin=HTTP_REQ)  # not the HTTP/2 preface: closed at once
    f.check("ALPN protocol: h2" in out, "ALPN: h2 chosen from h2,http/1.1 ([http2] is on by default)")
    rc, out = s_client(port, "-alpn", "http/1.1", stdin=HTTP_REQ)
    f.check("ALPN protocol: http/1.1" in out, "ALPN: http/1.1 chosen from http/1.1")
    f.check("HTTP/1.1 200" in out, "a request through s_client is answered")

    # --- the same bytes over HTTPS as over HTTP ---
    code, body = curl(f"https://www.example.test:{port}/big.bin", "--resolve", f"www.example.test:{port}:127.0.0.1",
                      "--cacert", os.path.join(certs, "www.example.test.crt"))
    f.check(code == "200" and sha(body) == sha(big), f"1 MiB over HTTPS, verified certificate ({code}, {len(body)})")
    code2, body2 = curl(f"http://127.0.0.1:{edge.port}/big.bin")
    f.check(code2 == "200" and sha(body2) == sha(body), "1 MiB over HTTP has the same bytes")
    code, body = curl(f"https://127.0.0.1:{port}/big.bin", "-r", "1000-300999")
    code2, body2 = curl(f"http://127.0.0.1:{edge.port}/big.bin", "-r", "1000-300999")
    f.check(code == "206" and body == big[1000:301000] and body2 == body, f"Range over HTTPS = HTTP ({code})")
    code, body = curl(f"https://127.0.0.1:{port}/huge.bin")
    f.check(code == "200" and sha(body) == sha(huge), f"6 MiB over HTTPS ({code}, {len(body)})")
    # Keep-alive: several requests on one connection, small and large.
    s = tls_client(port, "www.example.test")
    ok = True
    for path, want in (("/index.html", None), ("/big.bin", big), ("/index.html", None), ("/big.bin", big)):
        st, hdr, b = get_on(s, path)
        ok = ok and st == 200 and (want is None or b == want)
    s.close()
    f.check(ok, "four requests on one keep-alive HTTPS connection")

    # --- viewer protocol policy: requests over the HTTPS listener are secure ---
    code, body = curl(f"https://127.0.0.1:{port}/only-https/page.html")
    f.check(code == "200" and body == b"<p>only-https</p>\n", f"https-only over HTTPS: {code}")
    code, _ = curl(f"http://127.0.0.1:{edge.port}/only-https/page.html")
    f.eq(code, "403", "https-only over HTTP")
    code, body = curl(f"https://127.0.0.1:{port}/to-https/page.html")
    f.check(code == "200" and body == b"<p>to-https</p>\n", f"redirect-to-https over HTTPS is served: {code}")
    code, _ = curl(f"http://127.0.0.1:{edge.port}/to-https/page.html")
    f.eq(code, "301", "redirect-to-https over HTTP")

    # --- resumption ---
    def resumes(p, *extra):
        sess = os.path.join(tmp, "sess.pem")
        if os.path.exists(sess):
            os.unlink(sess)
        _, out1 = s_client(p, "-sess_out", sess, *extra, stdin=HTTP_REQ)
        if not os.path.exists(sess):
            return False, "no session saved"
        _, out2 = s_client(p, "-sess_in", sess, *extra, stdin=HTTP_REQ)
        return ("Reused," in out2), [l for l in out2.splitlines() if l.startswith(("New,", "Reused,"))]

    r, why = resumes(port)
    f.check(r, f"TLS 1.3 resumption (ticket): {why}")
    r, why = resumes(port, "-tls1_2")
    f.check(r, f"TLS 1.2 resumption (ticket): {why}")
    r, why = resumes(port, "-tls1_2", "-no_ticket")
    f.check(r, f"TLS 1.2 resumption (session cache): {why}")
    f.check((edge.metric("meridian_edge_tls_resumed_total") or 0) >= 3, "resumptions counted")

    # --- plain HTTP and garbage on the TLS port ---
    errors0 = edge.metric_sum("meridian_edge_tls_handshake_errors_total")
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n")
    f.check(closed_within(c, 10), "plain HTTP on the TLS port: connection closed")
    c.close()
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(os.urandom(4096))
    f.check(closed_within(c, 10), "garbage on the TLS port: connection closed")
    c.close()
    errors1 = edge.metric_sum("meridian_edge_tls_handshake_errors_total")
    f.check(errors1 >= errors0 + 2, f"handshake errors counted ({errors0} -> {errors1})")

    # --- a TLS 1.2 renegotiation attempt is refused (no_renegotiation alert), the edge lives ---
    p = subprocess.Popen(["openssl", "s_client", "-tls1_2", "-connect", f"127.0.0.1:{port}"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    p.stdin.write(b"R\n")
    p.stdin.flush()
    time.sleep(2)
    try:
        out = p.communicate(timeout=20)[0].decode("latin-1")
    except subprocess.TimeoutExpired:
        p.kill()
        out = p.communicate()[0].decode("latin-1")
    f.check("RENEGOTIATING" in out and "no renegotiation" in out, "TLS 1.2 renegotiation refused")
    code, _ = curl(f"https://127.0.0.1:{port}/index.html")
    f.eq(code, "200", "HTTPS served after the renegotiation attempt")

    # --- a handshake that stalls half-way, and one that never starts: closed by handshake_timeout (3s) ---
    c1 = socket.create_connection(("127.0.0.1", port), timeout=10)
    c1.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(20))  # a ClientHello cut short
    c2 = socket.create_connection(("127.0.0.1", port), timeout=10)
    t0 = time.time()
    closed1 = closed_within(c1, 15)
    closed2 = closed_within(c2, 15)
    took = time.time() - t0
    f.check(closed1 and closed2 and took >= 2, f"stalled handshakes closed by the timeout ({took:.1f}s)")
    c1.close()
    c2.close()
    f.check(edge.metric_sum("meridian_edge_tls_handshake_errors_total") >= errors1 + 2, "handshake timeouts counted")
    code, _ = curl(f"https://127.0.0.1:{port}/index.html")
    f.check(edge.proc.poll() is None and code == "200", "edge alive and serving HTTPS after the bad input")

    # --- hits answered in the read that brought the request leave in one write after it (corked), also when the
    # socket takes only part of them: a 60 KiB hit to a viewer with a 4 KiB receive buffer that reads late, on a
    # keep-alive connection (twice) and with Connection: close (closed once all of it is written) ---
    curl(f"https://127.0.0.1:{port}/mid.bin")  # cached
    for close in (False, True):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t = ctx.wrap_socket(raw, server_hostname="example.test")
        hdr = "Connection: close\r\n" if close else ""
        for i in range(1 if close else 2):
            t.sendall(f"GET /mid.bin HTTP/1.1\r\nHost: example.test\r\n{hdr}\r\n".encode())
            time.sleep(1)  # the edge has answered by now and the socket took only part of it
            st, _, b = read_response(t, timeout=10)
            f.check(st == 200 and b == mid, f"60 KiB hit to a slow reader, close={close}, request {i + 1}: "
                                            f"{st}, {len(b or b'')} bytes, intact: {b == mid}")
        if close:
            f.check(closed_within(t, 10), "closed after the whole Connection: close answer")
        t.close()

    # --- a viewer that never reads a large HTTPS response ---
    curl(f"https://127.0.0.1:{port}/huge.bin")  # cached
    rss0 = rss_mb(edge.proc.pid)
    stalled = []
    for _ in range(16):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t = ctx.wrap_socket(raw, server_hostname="example.test")
        t.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: example.test\r\n\r\n")
        t.recv(1024)
        stalled.append(t)
    time.sleep(2)
    grew = rss_mb(edge.proc.pid) - rss0
    limit = 60 if ASAN_BUILD else 40
    f.check(grew < limit, f"16 viewers stalled on a 6 MiB HTTPS body: RSS grew {grew:.1f} MB (< {limit})")
    code, body = curl(f"https://127.0.0.1:{port}/big.bin")
    f.check(code == "200" and body == big, "others are served while they stall")
    for t in stalled:
        t.close()

    # --- access log ---
    f.eq(edge.stop(), 0, "SIGTERM exit code (no sanitizer report)")
    lines = open(edge.access_log).read().splitlines()
    https_lines = [l.split("\t") for l in lines if "/big.bin" in l]
    tls_fields = {(x[15], x[16]) for x in https_lines}
    f.check(any(p.startswith("TLSv1.") and c != "-" for p, c in tls_fields), f"ssl-protocol/ssl-cipher: {tls_fields}")
    f.check(("-", "-") in tls_fields, "plain HTTP lines have \"-\" \"-\"")
    f.check(all(len(x) == 18 for x in https_lines), "18 fields per line")

    # --- resumption across two workers ---
    edge2 = start_edge(workers=2)
    reused = 0
    for _ in range(6):
        r, _ = resumes(edge2.tls_port)
        reused += bool(r)
    f.eq(reused, 6, "TLS 1.3 resumptions with workers = 2")
    reused = 0
    for _ in range(6):
        r, _ = resumes(edge2.tls_port, "-tls1_2")
        reused += bool(r)
    f.eq(reused, 6, "TLS 1.2 ticket resumptions with workers = 2")

    # --- SIGHUP with a replaced certificate ---
    old = tls_client(edge2.tls_port, "www.example.test")
    st, _, _ = get_on(old, "/index.html")
    f.eq(st, 200, "old keep-alive connection, first request")
    sess = os.path.join(tmp, "sess-reload.pem")
    s_client(edge2.tls_port, "-sess_out", sess, stdin=HTTP_REQ)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "2", "-subj", "/CN=www.example.test/O=Reloaded", "-addext",
                    "subjectAltName=DNS:www.example.test", "-keyout", os.path.join(certs, "www.new.key"), "-out",
                    os.path.join(certs, "www.new.crt")], check=True, capture_output=True)
    os.replace(os.path.join(certs, "www.new.key"), os.path.join(certs, "www.example.test.key"))
    os.replace(os.path.join(certs, "www.new.crt"), os.path.join(certs, "www.example.test.crt"))
    edge2.proc.send_signal(signal.SIGHUP)
    end = time.time() + 20
    while time.time() < end and "configuration reloaded" not in edge2.log():
        time.sleep(0.1)
    _, out = s_client(edge2.tls_port, "-servername", "www.example.test", stdin=HTTP_REQ)
    f.check(subject(out) and "O = Reloaded" in subject(out), f"after SIGHUP new connections: {subject(out)}")
    st, _, b = get_on(old, "/big.bin")
    f.check(st == 200 and b == big, "the old keep-alive connection carries on after the reload")
    old.close()
    _, out = s_client(edge2.tls_port, "-sess_in", sess, stdin=HTTP_REQ)
    f.check("Reused," in out, "a session from before the reload resumes after it (ticket keys kept)")

    # A broken key on reload: the running certificates stay.
    with open(os.path.join(certs, "www.example.test.key"), "w") as fh:
        fh.write("not a key\n")
    n_failed = edge2.log().count("reload failed")
    edge2.proc.send_signal(signal.SIGHUP)
    end = time.time() + 20
    while time.time() < end and edge2.log().count("reload failed") == n_failed:
        time.sleep(0.1)
    f.check(edge2.log().count("reload failed") > n_failed and "www.example.test.key" in edge2.log(),
            "a broken key on reload is refused, naming the file")
    _, out = s_client(edge2.tls_port, "-servername", "www.example.test", stdin=HTTP_REQ)
    f.check(subject(out) and "O = Reloaded" in subject(out) and "HTTP/1.1 200" in out,
            f"the running certificate is still served: {subject(out)}")
    f.check(edge2.proc.poll() is None, "edge alive")
    f.eq(edge2.stop(), 0, "SIGTERM exit code of the two-worker edge")
finally:
    for e in edges:
        try:
            e.stop()
        except Exception as ex:  # noqa: BLE001
            print("stop:", ex)

f.done()
