"""Signed URLs and signed cookies (CloudFront's scheme) through a real meridian-edge: a private behavior with a
trusted key group in front of a bucket (and of an http origin, to see what it receives), a public one beside it.
Signatures come from `openssl dgst` (an independent signer: RSA-SHA1 and ECDSA P-256/SHA-256) and from
`meridian-edge sign`. Valid → 200 and the next request with another signature is a Hit (the signing parameters are
not in the cache key); expired, tampered, wrong key, unknown key, wrong IP, wrong resource and missing → 403 with the
reason logged and counted; the origin never sees the signing parameters. Over the HTTPS listener the signed resource
is an https:// URL: one signed for https:// is served there (200), one signed for http:// is refused (403)."""
import base64
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import (EDGE, Edge, Failures, bucket_origin, catch_all, free_port, http_get, http_origin,  # noqa: E402
                      make_test_certs, read_response, skip, tls_listen, tmpdir, wait_port)

if not shutil.which("openssl"):
    skip("the openssl command is not installed")

tmp = tmpdir()
site = os.path.join(tmp, "site")
os.makedirs(os.path.join(site, "private"))
os.makedirs(os.path.join(site, "public"))
with open(os.path.join(site, "private", "a.txt"), "w") as fh:
    fh.write("private bytes\n")
with open(os.path.join(site, "private", "b.txt"), "w") as fh:
    fh.write("other private bytes\n")
with open(os.path.join(site, "public", "p.txt"), "w") as fh:
    fh.write("public bytes\n")
keys = os.path.join(tmp, "keys")
os.makedirs(keys)
certs = make_test_certs(tmp)
tls_port = free_port()


def run(*args, data=None):
    return subprocess.run(args, input=data, capture_output=True, check=True, timeout=60).stdout


def key(name, *gen):
    priv = os.path.join(keys, name + ".pem")
    run("openssl", *gen, "-out", priv)
    run("openssl", "pkey", "-in", priv, "-pubout", "-out", os.path.join(keys, name + ".pub.pem"))
    return priv


rsa = key("rsa", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
ec = key("ec", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
other = key("other", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")


def cf_b64(raw):
    return base64.b64encode(raw).decode().replace("+", "-").replace("=", "_").replace("/", "~")


def openssl_sign(priv, text):
    digest = "-sha256" if "ec" in os.path.basename(priv) else "-sha1"
    return cf_b64(run("openssl", "dgst", digest, "-sign", priv, data=text.encode()))


def canned(url, expires):
    return ('{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}' % (url, expires))


def custom(resource, less, extra=None):
    cond = {"DateLessThan": {"AWS:EpochTime": less}}
    cond.update(extra or {})
    return json.dumps({"Statement": [{"Resource": resource, "Condition": cond}]}, separators=(",", ":"))


# An http origin that records the targets it is asked for.
seen = []


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        seen.append(self.path)
        body = b"api\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=60")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
threading.Thread(target=origin.serve_forever, daemon=True).start()

f = Failures()
edge = Edge(tmp, f"""
[log]
level = "debug"

{tls_listen(tls_port, certs)}
[[key_group]]
name = "signers"
keys = [{{ id = "KRSA", public_key = "keys/rsa.pub.pem" }},
        {{ id = "KEC", public_key = "keys/ec.pub.pem" }}]

[[key_group]]
name = "unused"
keys = [{{ id = "KOTHER", public_key = "keys/other.pub.pem" }}]

{bucket_origin("site", site)}
{http_origin("api", origin.server_address[1])}

[[behavior]]
path_pattern = "/private/*"
origin = "site"
trusted_key_groups = ["signers"]
query_string = "all"

[[behavior]]
path_pattern = "/api/*"
origin = "api"
trusted_key_groups = "signers"
query_string = "all"

""" + catch_all("site", 'query_string = "all"'))
edge.start()
try:
    wait_port(tls_port)
    port = edge.port
    base = f"http://127.0.0.1:{port}"
    now = int(time.time())

    def get(target, headers=None):
        return http_get(port, target, headers=headers, timeout=30)

    def q(url, **params):
        sep = "&" if "?" in url else "?"
        return url + sep + "&".join(f"{k.replace('_', '-')}={v}" for k, v in params.items())

    def path_of(url):
        return url[len(base):]

    # Canned policy, RSA-SHA1 by openssl: 200, then another signature for the same URL is a Hit.
    url = base + "/private/a.txt"
    exp = now + 3600
    st, h, body = get(path_of(q(url, Expires=exp, Signature=openssl_sign(rsa, canned(url, exp)), Key_Pair_Id="KRSA")))
    f.eq(st, 200, "canned RSA-SHA1 (openssl) status")
    f.eq(body, b"private bytes\n", "canned RSA-SHA1 body")
    f.eq(h.get("x-cache"), "Miss from meridian", "first signed request is a miss")
    exp2 = now + 7200
    st, h, _ = get(path_of(q(url, Expires=exp2, Signature=openssl_sign(ec, canned(url, exp2)), Key_Pair_Id="KEC")))
    f.eq(st, 200, "canned ECDSA P-256 (openssl) status")
    f.eq(h.get("x-cache"), "Hit from meridian", "another signature for the same URL is a Hit (params not in the key)")

    # The viewer's own query parameters stay in the URL that is signed (before the signing parameters).
    qurl = url + "?v=2&lang=en"
    st, _, _ = get(path_of(q(qurl, Expires=exp, Signature=openssl_sign(rsa, canned(qurl, exp)), Key_Pair_Id="KRSA")))
    f.eq(st, 200, "canned with the viewer's query parameters")
    reordered = base + "/private/a.txt?lang=en&v=2"
    st, _, _ = get(path_of(q(reordered, Expires=exp, Signature=openssl_sign(rsa, canned(qurl, exp)),
                             Key_Pair_Id="KRSA")))
    f.eq(st, 403, "query parameters in another order than signed: 403")

    # Denials.
    denied_before = edge.metric('meridian_edge_signed_request_denied_total{reason="expired"}') or 0
    old = now - 10
    st, h, body = get(path_of(q(url, Expires=old, Signature=openssl_sign(rsa, canned(url, old)), Key_Pair_Id="KRSA")))
    f.eq(st, 403, "expired canned policy")
    f.check(b"signed" in body, "403 body says a signed URL is needed")
    f.eq(h.get("x-cache"), "Error from meridian", "403 X-Cache Error")
    sig = openssl_sign(rsa, canned(url, exp))
    st, _, _ = get(path_of(q(url, Expires=exp + 1, Signature=sig, Key_Pair_Id="KRSA")))
    f.eq(st, 403, "tampered Expires")
    st, _, _ = get(path_of(q(base + "/private/b.txt", Expires=exp, Signature=sig, Key_Pair_Id="KRSA")))
    f.eq(st, 403, "signature of another URL")
    bad = sig[:20] + ("A" if sig[20] != "A" else "B") + sig[21:]
    st, _, _ = get(path_of(q(url, Expires=exp, Signature=bad, Key_Pair_Id="KRSA")))
    f.eq(st, 403, "tampered signature")
    st, _, _ = get(path_of(q(url, Expires=exp, Signature=openssl_sign(other, canned(url, exp)), Key_Pair_Id="KRSA")))
    f.eq(st, 403, "signed by a key the group does not hold")
    st, _, _ = get(path_of(q(url, Expires=exp, Signature=openssl_sign(other, canned(url, exp)),
                             Key_Pair_Id="KOTHER")))
    f.eq(st, 403, "key of a group this behavior does not trust")
    st, _, _ = get("/private/a.txt")
    f.eq(st, 403, "no signature at all")

    # Custom policies: wildcard resource, IpAddress, DateGreaterThan.
    pol = custom(base + "/private/*", now + 3600)
    st, _, body = get(path_of(q(base + "/private/b.txt", Policy=cf_b64(pol.encode()), Signature=openssl_sign(ec, pol),
                                Key_Pair_Id="KEC")))
    f.eq(st, 200, "custom policy with a wildcard resource")
    f.eq(body, b"other private bytes\n", "custom policy body")
    pol = custom(base + "/private/*", now + 3600, {"IpAddress": {"AWS:SourceIp": "192.0.2.0/24"}})
    st, _, _ = get(path_of(q(url, Policy=cf_b64(pol.encode()), Signature=openssl_sign(rsa, pol), Key_Pair_Id="KRSA")))
    f.eq(st, 403, "custom policy whose IpAddress excludes 127.0.0.1")
    pol = custom(base + "/private/*", now + 3600, {"IpAddress": {"AWS:SourceIp": "127.0.0.0/8"}})
    st, _, _ = get(path_of(q(url, Policy=cf_b64(pol.encode()), Signature=openssl_sign(rsa, pol), Key_Pair_Id="KRSA")))
    f.eq(st, 200, "custom policy whose IpAddress includes 127.0.0.1")
    pol = custom(base + "/private/*", now + 3600, {"DateGreaterThan": {"AWS:EpochTime": now + 1800}})
    st, _, _ = get(path_of(q(url, Policy=cf_b64(pol.encode()), Signature=openssl_sign(rsa, pol), Key_Pair_Id="KRSA")))
    f.eq(st, 403, "custom policy not yet valid")
    pol = custom(base + "/public/*", now + 3600)
    st, _, _ = get(path_of(q(url, Policy=cf_b64(pol.encode()), Signature=openssl_sign(rsa, pol), Key_Pair_Id="KRSA")))
    f.eq(st, 403, "custom policy for another resource")

    # Signed cookies.
    cookie_pol = custom(base + "/private/*", now + 3600)
    cookies = (f"CloudFront-Policy={cf_b64(cookie_pol.encode())}; CloudFront-Signature={openssl_sign(rsa, cookie_pol)}"
               "; CloudFront-Key-Pair-Id=KRSA")
    st, _, body = get("/private/b.txt", {"Cookie": "theme=dark; " + cookies})
    f.eq(st, 200, "signed cookies (custom policy)")
    st, _, _ = get("/private/a.txt", {"Cookie": f"CloudFront-Expires={exp}; CloudFront-Signature="
                                      f"{openssl_sign(ec, canned(url, exp))}; CloudFront-Key-Pair-Id=KEC"})
    f.eq(st, 200, "signed cookies (canned policy, ECDSA)")
    st, _, _ = get("/private/a.txt", {"Cookie": cookies.replace("KRSA", "KEC")})
    f.eq(st, 403, "signed cookies naming the wrong key")

    # The public behavior is unaffected, with or without parameters that look like signing ones.
    st, _, body = get("/public/p.txt")
    f.eq(st, 200, "public behavior")
    st, _, _ = get("/public/p.txt?Expires=1&Signature=x&Key-Pair-Id=nobody")
    f.eq(st, 200, "public behavior ignores signing-like parameters")

    # `meridian-edge sign`: URL (canned, RSA) and cookies (custom policy file, EC).
    out = run(EDGE, "sign", "--key", rsa, "--key-pair-id", "KRSA", "--url", base + "/private/a.txt?cli=1",
              "--expires", "1h").decode().strip()
    st, _, _ = get(path_of(out))
    f.eq(st, 200, "meridian-edge sign URL accepted")
    pol_file = os.path.join(tmp, "policy.json")
    with open(pol_file, "w") as fh:
        fh.write(json.dumps(json.loads(custom(base + "/private/*", now + 600)), indent=2))  # with whitespace
    out = run(EDGE, "sign", "--key", ec, "--key-pair-id", "KEC", "--url", base + "/private/", "--policy", pol_file,
              "--cookie").decode()
    pairs = [line.split(":", 1)[1].split(";")[0].strip() for line in out.splitlines() if line.startswith("Set-Cookie:")]
    f.eq(len(pairs), 3, "meridian-edge sign --cookie prints three Set-Cookie lines")
    st, _, _ = get("/private/b.txt", {"Cookie": "; ".join(pairs)})
    f.eq(st, 200, "meridian-edge sign cookies accepted")
    out = run(EDGE, "sign", "--key", rsa, "--key-pair-id", "KRSA", "--url", url, "--expires",
              str(now - 5)).decode().strip()
    st, _, _ = get(path_of(out))
    f.eq(st, 403, "meridian-edge sign with a past expiry: 403")
    bad_args = subprocess.run([EDGE, "sign", "--key", rsa], capture_output=True, timeout=30)
    f.eq(bad_args.returncode, 2, "meridian-edge sign with missing arguments exits 2")

    # The http origin never sees the signing parameters.
    aurl = base + "/api/x?a=1"
    st, _, _ = get(path_of(q(aurl, Expires=exp, Signature=openssl_sign(rsa, canned(aurl, exp)), Key_Pair_Id="KRSA")))
    f.eq(st, 200, "private http-origin behavior")
    f.eq(seen, ["/api/x?a=1"], "origin target has no signing parameters")

    # Over HTTPS the resource is the https:// URL the viewer asked for (CloudFront signs the scheme too).
    def https_get(target):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls_port), timeout=30),
                             server_hostname="example.test") as s:
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{tls_port}\r\nConnection: close\r\n\r\n".encode())
            return read_response(s, timeout=30)

    surl = f"https://127.0.0.1:{tls_port}/private/a.txt"
    st, _, body = https_get(surl[surl.index("/private"):] + q("", Expires=exp, Signature=openssl_sign(
        rsa, canned(surl, exp)), Key_Pair_Id="KRSA"))
    f.eq((st, body), (200, b"private bytes\n"), "https:// signed URL fetched over HTTPS")
    hurl = f"http://127.0.0.1:{tls_port}/private/a.txt"
    st, _, _ = https_get("/private/a.txt" + q("", Expires=exp, Signature=openssl_sign(rsa, canned(hurl, exp)),
                                              Key_Pair_Id="KRSA"))
    f.eq(st, 403, "http:// signature refused over HTTPS")
    pol = custom(f"https://127.0.0.1:{tls_port}/private/*", now + 3600)
    st, _, _ = https_get("/private/b.txt" + q("", Policy=cf_b64(pol.encode()), Signature=openssl_sign(ec, pol),
                                              Key_Pair_Id="KEC"))
    f.eq(st, 200, "custom policy for https://.../private/* over HTTPS")

    # Reasons are logged and counted.
    time.sleep(0.2)
    log = edge.log()
    for reason in ("expired", "bad_signature", "unknown_key", "missing", "wrong_ip", "not_yet_valid",
                   "resource_mismatch"):
        f.check(f'msg="signed request denied" client=127.0.0.1' in log and f"reason={reason} " in log,
                f"log names reason {reason}")
    got = edge.metric('meridian_edge_signed_request_denied_total{reason="expired"}') or 0
    f.check(got >= denied_before + 2, f"expired denials counted ({got})")
    f.check((edge.metric('meridian_edge_signed_request_denied_total{reason="wrong_ip"}') or 0) >= 1,
            "wrong_ip denial counted")
finally:
    rc = edge.stop()
    origin.shutdown()
f.check(rc == 0, f"edge exits 0 on SIGTERM (got {rc})")
f.done()
