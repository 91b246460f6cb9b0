"""meridian-edge in front of an https origin: nginx (started here, TLS only, with a self-signed certificate this test
generates for 127.0.0.1 and origin.test). Miss then Hit over TLS with the bytes equal, the certificate trusted through
tls_ca_file and matched against the address's host by default; tls_verify = false accepts it; verification against
the system store (no CA file) and a wrong tls_server_name are refused → 502 Error, counted as tls-error, and never
reach nginx as a request."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, Nginx, catch_all, http_get, skip, tmpdir  # noqa: E402

if not shutil.which("openssl"):
    skip("openssl is not installed")

tmp = tmpdir()
root = os.path.join(tmp, "www")
for d in ("ok", "nv", "sys", "wrong", "sni"):
    os.makedirs(os.path.join(root, d))
blob = os.urandom(150_000)
for d in ("ok", "nv", "sys", "wrong", "sni"):
    with open(os.path.join(root, d, "o.bin"), "wb") as fh:
        fh.write(blob)
cert = os.path.join(tmp, "origin.pem")
key = os.path.join(tmp, "origin.key")
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-days", "2", "-subj", "/CN=origin.test", "-addext",
                "subjectAltName=DNS:origin.test,IP:127.0.0.1", "-keyout", key, "-out", cert],
               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

f = Failures()
nginx = Nginx(tmp, root, locations='location / { add_header Cache-Control "max-age=300"; }', ssl=(cert, key))
edge = None
try:
    nginx.start()

    def origin(name, extra):
        return f'[[origin]]\nname = "{name}"\ntype = "http"\naddress = "127.0.0.1:{nginx.port}"\ntls = true\n{extra}\n'

    body = (origin("ok", f'tls_ca_file = "{cert}"') +
            origin("nv", "tls_verify = false") +
            origin("sys", "") +
            origin("wrong", f'tls_ca_file = "{cert}"\ntls_server_name = "other.test"') +
            origin("sni", f'tls_ca_file = "{cert}"\ntls_server_name = "origin.test"'))
    for name in ("ok", "nv", "sys", "wrong", "sni"):
        body += f'[[behavior]]\npath_pattern = "/{name}/*"\norigin = "{name}"\n'
    body += catch_all("ok")
    edge = Edge(tmp, body).start()
    port = edge.port

    st, h, b = http_get(port, "/ok/o.bin")
    f.eq((st, h.get("x-cache")), (200, "Miss from meridian"), "https origin, CA file: miss")
    f.check(b == blob, "https miss: bytes equal")
    st, h, b = http_get(port, "/ok/o.bin")
    f.eq((st, h.get("x-cache")), (200, "Hit from meridian"), "https origin: hit")
    f.check(b == blob, "https hit: bytes equal")
    f.eq(len(nginx.requests("/ok/o.bin")), 1, "nginx (TLS only) served the miss once")

    st, h, b = http_get(port, "/sni/o.bin")
    f.check(st == 200 and b == blob, f"tls_server_name matching the certificate → 200 ({st})")

    st, h, b = http_get(port, "/nv/o.bin")
    f.check(st == 200 and b == blob, f"tls_verify = false accepts the self-signed certificate ({st})")

    st, h, _ = http_get(port, "/sys/o.bin")
    f.eq((st, h.get("x-cache")), (502, "Error from meridian"), "verify against the system store, untrusted → 502")
    st, h, _ = http_get(port, "/wrong/o.bin")
    f.eq((st, h.get("x-cache")), (502, "Error from meridian"), "wrong tls_server_name → 502")
    f.eq(len(nginx.requests("/sys/o.bin")) + len(nginx.requests("/wrong/o.bin")), 0,
         "refused handshakes never sent a request")
    errs = edge.metric('meridian_edge_origin_errors_total{kind="tls-error"}')
    f.check(errs is not None and errs >= 2, f"TLS failures counted as tls-error ({errs})")
    st, h, _ = http_get(port, "/sys/o.bin")
    f.eq(st, 502, "a failed handshake is not cached")

    f.eq(edge.stop(), 0, "SIGTERM exit code")
finally:
    if edge and edge.proc and edge.proc.poll() is None:
        edge.proc.kill()
    nginx.stop()
    shutil.rmtree(tmp, ignore_errors=True)
f.done()
