"""OCSP stapling on the HTTPS listener: a test CA issues the certificate and, with `openssl ocsp` as the responder
(its index file), the DER responses. `openssl s_client -status` gets the configured response stapled (TLS 1.3 and
1.2, verified against the CA), an entry without ocsp_file staples nothing; a response that is not DER, says
"revoked", or is for another certificate is a config error naming file:line and ocsp_file (`--check`, start), and on
SIGHUP refuses the reload while the running response stays stapled."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import EDGE, Edge, Failures, bucket_edge_conf, free_port, skip, tmpdir, wait_port  # noqa: E402

if not shutil.which("openssl"):
    skip("openssl not installed")

tmp = tmpdir()
d = os.path.join(tmp, "pki")
os.makedirs(d)


def sh(*args):
    return subprocess.run(args, check=True, capture_output=True, timeout=60, cwd=d)


def path(n):
    return os.path.join(d, n)


# A CA (signs the certificates and, as its own OCSP responder, the responses) and two leaves.
sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
   "-subj", "/CN=Meridian OCSP Test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
   "keyUsage=critical,keyCertSign,cRLSign,digitalSignature", "-keyout", path("ca.key"), "-out", path("ca.crt"))


def leaf(stem, cn, serial):
    sh("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
       f"/CN={cn}", "-keyout", path(stem + ".key"), "-out", path(stem + ".csr"))
    with open(path(stem + ".ext"), "w") as fh:
        fh.write(f"subjectAltName=DNS:{cn}\n")
    sh("openssl", "x509", "-req", "-in", path(stem + ".csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
       "-set_serial", "0x" + serial, "-days", "20", "-extfile", path(stem + ".ext"), "-out", path(stem + ".crt"))
    with open(path(stem + ".chain.crt"), "w") as fh:  # the leaf, then its issuer
        fh.write(open(path(stem + ".crt")).read() + open(path("ca.crt")).read())


leaf("www", "www.example.test", "1001")
leaf("other", "other.example.test", "2002")
leaf("plain", "example.test", "3003")


def ocsp(stem, serial, cn, status, out):
    """A response from the CA's responder for `stem`'s certificate, the index saying `status` (V or R)."""
    exp = time.strftime("%y%m%d%H%M%SZ", time.gmtime(time.time() + 20 * 86400))
    rev = time.strftime("%y%m%d%H%M%SZ", time.gmtime(time.time() - 3600)) if status == "R" else ""
    with open(path("index.txt"), "w") as fh:
        fh.write(f"{status}\t{exp}\t{rev}\t{serial}\tunknown\t/CN={cn}\n")
    sh("openssl", "ocsp", "-issuer", path("ca.crt"), "-cert", path(stem + ".crt"), "-no_nonce", "-reqout",
       path(stem + ".req"))
    sh("openssl", "ocsp", "-index", path("index.txt"), "-rsigner", path("ca.crt"), "-rkey", path("ca.key"), "-CA",
       path("ca.crt"), "-reqin", path(stem + ".req"), "-respout", path(out), "-ndays", "7")


ocsp("www", "1001", "www.example.test", "V", "www.good.der")
ocsp("www", "1001", "www.example.test", "R", "www.revoked.der")
ocsp("other", "2002", "other.example.test", "V", "other.good.der")
with open(path("garbage.der"), "wb") as fh:
    fh.write(b"\x30\x03\x0a\x01\x00 and then not DER\n")  # a DER prefix followed by junk
shutil.copy(path("www.good.der"), path("www.ocsp.der"))  # the file the config names

tls_port = free_port()


def body(ocsp_file):
    return f"""
[tls]
listen = ["127.0.0.1:{tls_port}"]
[[tls.certificate]]
cert = "pki/www.chain.crt"
key = "pki/www.key"
ocsp_file = "{ocsp_file}"
[[tls.certificate]]
cert = "pki/plain.chain.crt"
key = "pki/plain.key"
default = true
""" + bucket_edge_conf("site")


os.makedirs(os.path.join(tmp, "site"))
with open(os.path.join(tmp, "site", "index.html"), "w") as fh:
    fh.write("stapled\n")


def s_client(name, *extra):
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{tls_port}", "-servername", name, "-status",
                        "-ign_eof", "-CAfile", path("ca.crt"), "-verify_return_error", *extra],
                       input=b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                       capture_output=True, timeout=30)
    return p.returncode, (p.stdout + p.stderr).decode("latin-1")


f = Failures()
edge = Edge(tmp, body("pki/www.ocsp.der"))
try:
    # --- config errors: --check names file:line and ocsp_file ---
    for bad, why in (("garbage.der", "not a DER OCSP response"), ("www.revoked.der", "revoked"),
                     ("other.good.der", "not for the certificate"), ("missing.der", "cannot read")):
        chk = Edge(tmpdir(), body(path(bad)))
        shutil.copytree(d, os.path.join(chk.tmp, "pki"))
        os.makedirs(os.path.join(chk.tmp, "site"))
        r = subprocess.run([EDGE, "--check", "--config", chk.config], capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        f.check(r.returncode == 1 and "edge.toml:" in out and "ocsp_file" in out and why in out,
                f"ocsp_file {bad}: config error ({r.returncode}): {out.strip()[:300]}")
        p = subprocess.run([EDGE, "--config", chk.config], capture_output=True, text=True, timeout=60)
        f.check(p.returncode != 0 and why in p.stdout + p.stderr, f"ocsp_file {bad}: the edge does not start")

    # --- the configured response is stapled ---
    edge.start()
    wait_port(tls_port)
    for version in ("-tls1_3", "-tls1_2"):
        rc, out = s_client("www.example.test", version)
        f.check("OCSP Response Status: successful" in out and "Cert Status: good" in out and "Serial Number: 1001" in
                out, f"{version}: the OCSP response is stapled (s_client -status)")
        f.check(rc == 0 and "Verify return code: 0 (ok)" in out and "HTTP/1.1 200" in out,
                f"{version}: verified against the test CA and served ({rc}): {out[-600:]}")
    rc, out = s_client("example.test")
    f.check("OCSP response: no response sent" in out and "HTTP/1.1 200" in out,
            "an entry without ocsp_file staples nothing")
    rc, out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{tls_port}", "-servername",
                              "www.example.test"], input=b"", capture_output=True, timeout=30).returncode, ""
    f.check(rc == 0, "a client that does not ask gets a handshake without a staple")

    # --- a reload with a revoked response is refused; the running one stays stapled ---
    shutil.copy(path("www.revoked.der"), path("www.ocsp.der"))
    n_failed = edge.log().count("reload failed")
    edge.proc.send_signal(signal.SIGHUP)
    end = time.time() + 20
    while time.time() < end and edge.log().count("reload failed") == n_failed:
        time.sleep(0.1)
    f.check(edge.log().count("reload failed") > n_failed and "www.ocsp.der" in edge.log(),
            "a revoked response on reload refuses the reload, naming the file")
    rc, out = s_client("www.example.test")
    f.check("Cert Status: good" in out and "HTTP/1.1 200" in out, "the running response is still stapled")
    # --- a refreshed response is picked up by SIGHUP ---
    ocsp("www", "1001", "www.example.test", "V", "www.ocsp.der")
    n_ok = edge.log().count("configuration reloaded")
    edge.proc.send_signal(signal.SIGHUP)
    end = time.time() + 20
    while time.time() < end and edge.log().count("configuration reloaded") == n_ok:
        time.sleep(0.1)
    rc, out = s_client("www.example.test")
    f.check(edge.log().count("configuration reloaded") > n_ok and "Cert Status: good" in out,
            "a refreshed response is stapled after SIGHUP")
    f.check(edge.proc.poll() is None, "edge alive")
    f.eq(edge.stop(), 0, "SIGTERM exit code")
finally:
    edge.stop()
f.done()
