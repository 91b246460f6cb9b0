"""HTTP/2 limits against hostile viewers: the rapid-reset flood of CVE-2023-44487 (HEADERS then RST_STREAM, over and
over, on one connection) ends in GOAWAY ENHANCE_YOUR_CALM and is counted while the edge lives on and serves others;
a few cancels stay fine; streams over SETTINGS_MAX_CONCURRENT_STREAMS are refused (before and after the viewer
acknowledged the setting); an oversized header list gets 431; garbage after the preface gets GOAWAY; a request body
that stops arriving gets 408 at body_timeout and a header block that never ends closes the connection at
header_timeout."""
import os
import shutil
import signal
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import (Edge, Failures, bucket_origin, catch_all, free_port, http_origin, make_test_certs,  # noqa: E402
                      skip, tls_listen, tmpdir, wait_port)
from pyorigin import PyOrigin  # noqa: E402

if not shutil.which("openssl"):
    skip("openssl not installed")
try:
    from h2client import H2Client  # noqa: E402
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")  # Debian's python3-h2 under another python3 first on PATH
    try:
        from h2client import H2Client  # noqa: E402
    except ImportError:
        skip("python3-h2 not installed")
import h2.settings  # noqa: E402

tmp = tmpdir()
certs = make_test_certs(tmp)
site = os.path.join(tmp, "site")
os.makedirs(site)
with open(os.path.join(site, "index.html"), "w") as fh:
    fh.write("<h1>hello</h1>\n")

py = PyOrigin()
tls_port = free_port()
conf = f"""
[limits]
header_timeout = "2s"
body_timeout = "2s"
keepalive_timeout = "5s"
{tls_listen(tls_port, certs)}
[http2]
max_concurrent_streams = 8
max_stream_resets = 50
reset_window = "10s"
{http_origin("py", py.port)}
{bucket_origin("site", site)}
[[behavior]]
path_pattern = "/py/*"
origin = "py"
""" + catch_all("site")
f = Failures()
edge = Edge(tmp, conf).start()
wait_port(tls_port)


def metric(name):
    return edge.metric(name) or 0


try:
    # --- a few cancels are what browsers do: fine ---
    c = H2Client(tls_port)
    for i in range(20):
        sid = c.request("/index.html", send=False)
        c.conn.reset_stream(sid)
    c.flush()
    sid = c.request("/index.html")
    c.pump(lambda: c.done(sid), timeout=10)
    f.check(c.streams[sid]["ended"] and c.goaway is None, "20 cancelled streams, then a request is answered")
    c.close()

    # --- rapid reset: HEADERS + RST_STREAM in a flood ---
    before = metric("meridian_edge_http2_rapid_reset_goaways_total")
    c = H2Client(tls_port)
    sent = 0
    try:
        for burst in range(20):
            for i in range(100):
                sid = c.request(f"/py/flood-{burst}-{i}" if i % 2 else "/index.html", send=False)
                c.conn.reset_stream(sid)
                sent += 1
            c.flush()
            if c.pump(lambda: c.goaway is not None, timeout=0.05):
                break
    except OSError:
        pass  # the edge closed the connection mid-flood
    c.pump(lambda: c.goaway is not None, timeout=10)
    f.eq(int(c.goaway) if c.goaway is not None else None, 11, f"after {sent} HEADERS+RST_STREAM: GOAWAY "
         "ENHANCE_YOUR_CALM (0xb)")
    c.pump(lambda: False, timeout=2)
    f.check(c.closed, "the flooding connection is closed")
    c.close()
    f.check(edge.proc.poll() is None, "the edge lives on")
    f.check(metric("meridian_edge_http2_rapid_reset_goaways_total") >= before + 1,
            "meridian_edge_http2_rapid_reset_goaways_total counts it")
    f.check(metric("meridian_edge_http2_client_resets_total") >= 50, "client resets counted")
    f.check(py.count("/py/flood-0-1") <= 1, "no origin request repeated by the flood")
    c = H2Client(tls_port)
    sid = c.request("/index.html")
    c.pump(lambda: c.done(sid), timeout=10)
    f.check(c.streams[sid]["ended"] and c.streams[sid]["headers"].get(":status") == "200",
            "a new connection is served after the flood")
    c.close()

    # --- over max_concurrent_streams before the SETTINGS ACK: refused ---
    c = H2Client(tls_port, settings=False)
    ids = [c.request(f"/py/stream-a{i}", send=False) for i in range(20)]
    c.flush()
    c.pump(lambda: sum(1 for i in ids if c.streams[i]["reset"] is not None) >= 12, timeout=10)
    refused = [i for i in ids if c.streams[i]["reset"] == 7]
    f.eq(len(refused), 12, "20 streams at once with max_concurrent_streams = 8: 12 REFUSED_STREAM (0x7)")
    f.check(c.goaway is None, "the connection stays up")
    py.release.set()
    held = [i for i in ids if i not in refused]
    c.pump(lambda: all(c.done(i) for i in held), timeout=15)
    f.check(all(c.streams[i]["ended"] for i in held), "the 8 streams taken complete")
    c.close()
    # --- and after it: nghttp2 ends the connection (RFC 9113 §5.1.2 and §5.4.1 allow it; Apache httpd's
    # mod_http2 does the same with nghttp2) ---
    c = H2Client(tls_port)
    c.pump(lambda: c.conn.remote_settings.max_concurrent_streams == 8, timeout=5)
    c.pump(lambda: False, timeout=0.3)  # our ACK goes out
    c.conn.remote_settings = h2.settings.Settings(client=False, initial_values={
        h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100})
    more = [c.request(f"/py/stream-b{i}", send=False) for i in range(12)]
    c.flush()
    c.pump(lambda: c.goaway is not None, timeout=10)
    f.eq(int(c.goaway) if c.goaway is not None else None, 1,
         "12 streams at once after the viewer acknowledged max_concurrent_streams = 8: GOAWAY PROTOCOL_ERROR")
    c.close()
    f.check(metric("meridian_edge_http2_refused_streams_total") >= 12, "refused streams counted")

    # --- an oversized header list: 431 ---
    c = H2Client(tls_port)
    sid = c.request("/index.html", headers=[("x-big", "a" * 40000)])
    c.pump(lambda: c.done(sid), timeout=10)
    st = c.streams[sid]["headers"].get(":status")
    f.check(st == "431" or c.streams[sid]["reset"] is not None or c.goaway is not None,
            f"a 40 KB header: 431 or refused (status {st}, reset {c.streams[sid]['reset']}, goaway {c.goaway})")
    c.close()

    # --- garbage after the preface: GOAWAY, connection closed, edge alive ---
    c = H2Client(tls_port)
    c.sock.sendall(b"\x00\x00\x04\x08\x00\x00\x00\x00\x00" + b"garbage-garbage-garbage" * 10)
    c.pump(lambda: c.closed, timeout=10)
    f.check(c.closed, "garbage frames: the connection is closed")
    c.close()
    s = socket.create_connection(("127.0.0.1", edge.port), timeout=5)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff" * 64)
    s.settimeout(5)
    got = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except OSError:
        pass
    s.close()
    f.check(b"\x07\x00\x00\x00\x00" in got or len(got) > 0, "h2c with garbage frames: answered (GOAWAY) and closed")
    # --- timeouts: a preface that never comes (header_timeout), an idle connection (keepalive_timeout) ---
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls_port), timeout=10))  # h2, then silence
    t0 = time.time()
    closed = False
    try:
        while time.time() - t0 < 8:
            if not s.recv(4096):  # the server's SETTINGS, then the end
                closed = True
                break
    except OSError:
        closed = True
    elapsed = time.time() - t0
    s.close()
    f.check(closed and 1.5 < elapsed < 4.5, f"no preface: closed after {elapsed:.1f}s (header_timeout 2s)")
    # --- a request that stops arriving: body_timeout answers 408 (then RST_STREAM NO_ERROR frees the stream), a
    # header block that never ends closes the connection at header_timeout; both held their streams for ever ---
    c = H2Client(tls_port)
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid, [(":method", "POST"), (":path", "/py/upload"), (":scheme", "https"),
                              (":authority", "example.test")])
    c.streams[sid] = {"headers": {}, "data": bytearray(), "ended": False, "reset": None}
    c.conn.send_data(sid, b"part of a body")
    c.flush()
    t0 = time.time()
    c.pump(lambda: c.streams[sid]["reset"] is not None, timeout=10)
    f.check(c.streams[sid]["headers"].get(":status") == "408" and c.streams[sid]["reset"] == 0 and
            1.5 < time.time() - t0 < 6, f"stalled body: 408 and reset after {time.time() - t0:.1f}s (body_timeout 2s)")
    c.close()
    c = H2Client(tls_port)
    c.pump(lambda: False, timeout=0.5)  # the edge's SETTINGS, acknowledged: no frame may follow the block below
    c.sock.sendall(b"\x00\x00\x01\x01\x01\x00\x00\x00\x01\x82")  # HEADERS, END_STREAM, no END_HEADERS
    t0 = time.time()
    c.pump(lambda: c.closed, timeout=10)
    f.check(c.closed and 1.5 < time.time() - t0 < 6,
            f"unfinished header block: closed after {time.time() - t0:.1f}s (header_timeout 2s)")
    c.close()
    c = H2Client(tls_port)
    sid = c.request("/index.html")
    c.pump(lambda: c.done(sid), timeout=10)
    t0 = time.time()
    c.pump(lambda: c.closed, timeout=10)
    f.check(c.goaway == 0 and c.closed and 4 < time.time() - t0 < 12,
            f"idle: GOAWAY NO_ERROR and closed after {time.time() - t0:.1f}s (keepalive_timeout 5s)")
    c.close()
    # --- reload: an HTTP/2 connection gets GOAWAY NO_ERROR at once (not at its idle timeout) and closes ---
    c = H2Client(tls_port)
    sid = c.request("/index.html")
    c.pump(lambda: c.done(sid), timeout=10)
    t0 = time.time()
    edge.proc.send_signal(signal.SIGHUP)
    c.pump(lambda: c.closed, timeout=10)
    f.check(c.goaway == 0 and c.closed and time.time() - t0 < 3,
            f"SIGHUP: GOAWAY NO_ERROR and closed after {time.time() - t0:.1f}s (keepalive_timeout 5s)")
    c.close()
    c = H2Client(tls_port)
    sid = c.request("/index.html")
    c.pump(lambda: c.done(sid), timeout=10)
    f.check(c.done(sid), "a new connection is served after the reload")
    c.close()
    f.check(edge.proc.poll() is None, "the edge is alive at the end")
    f.eq(edge.stop(), 0, "SIGTERM exit code (no sanitizer report)")
finally:
    edge.stop()
    py.stop()
f.done()
