#!/usr/bin/env python3
"""AWS Signature Version 4 to a private S3-style origin (issue 13 item 2), checked by an independent oracle: the
origin here recomputes every request's signature with botocore's S3SigV4Auth (Debian's python3-botocore) from the
request exactly as it arrived, and answers 403 when it differs, as S3 would. Through the real edge: paths and
queries with odd characters (spaces, UTF-8, sub-delims, '+', '~', '%'), each sent once-encoded (an S3 key must never
be double-encoded); the viewer's Authorization and x-amz-* headers never reach the origin; temporary credentials
carry their token; a body is hashed. The oracle can fail: an edge with a wrong secret, and one without signing, get
403 from it."""
import os
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import EDGE, Edge, Failures, catch_all, free_port, http_get, http_origin, skip, tmpdir  # noqa: E402

try:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    skip("python3-botocore is not installed")

AKID, SECRET, TOKEN, REGION = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session/token+=", "eu-west-3"
f = Failures()
seen = []  # (method, raw path, headers dict, verdict)


class Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def verdict(self, body):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return "no SigV4 Authorization"
        fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        cred = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        # botocore signs what it is given: hand it the request as received, with just the headers we signed.
        headers = {h: self.headers[h] for h in signed if self.headers.get(h) is not None}
        req = AWSRequest(method=self.command, url="http://" + self.headers["Host"] + self.path, headers=headers,
                         data=body)
        amz_date = self.headers.get("x-amz-date", "")
        req.context["timestamp"] = amz_date
        token = self.headers.get("x-amz-security-token")
        creds = Credentials(cred[0], SECRET, token)
        signer = S3SigV4Auth(creds, cred[3], cred[2])
        creq = signer.canonical_request(req)
        sts = signer.string_to_sign(req, creq)
        want = signer.signature(sts, req)
        if cred[0] != AKID or cred[1] != amz_date[:8] or cred[2] != REGION or cred[3] != "s3":
            return "bad credential scope " + fields["Credential"]
        if fields["Signature"] != want:
            return "signature mismatch; botocore's canonical request:\n" + creq
        if self.headers.get("x-amz-content-sha256") not in ("UNSIGNED-PAYLOAD",) and not body:
            return "unexpected payload hash"
        if token != TOKEN:
            return "missing session token"
        return "ok"

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        v = self.verdict(body)
        seen.append((self.command, self.path, {k.lower(): val for k, val in self.headers.items()}, v))
        if v == "ok":
            out = ("key=" + urllib.parse.unquote(self.path.split("?")[0]) + "\n").encode()
            self.send_response(200)
            self.send_header("Cache-Control", "max-age=60")
        else:
            out = ("<Error><Code>SignatureDoesNotMatch</Code>" + v + "</Error>").encode()
            self.send_response(403)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_HEAD = do_PUT = do_POST = answer


server = ThreadingHTTPServer(("127.0.0.1", free_port()), Origin)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]


def edge_conf(secret, signing=True):
    s4 = f'''[origin.sigv4]
access_key_id = "{AKID}"
secret_access_key = "${{TEST_SECRET}}"
session_token = "{TOKEN}"
region = "{REGION}"
''' if signing else ""
    return http_origin("s3", port) + f'''host_header = "private-bucket.s3.{REGION}.amazonaws.com"
{s4}[[behavior]]
path_pattern = "/up/*"
origin = "s3"
allowed_methods = "ALL"
cache = false
''' + catch_all("s3", "compress = false", 'query_string = "all"'), {"TEST_SECRET": secret}


edges = []
try:
    body, env = edge_conf(SECRET)
    edge = Edge(tmpdir(), body, extra_env=env).start()
    edges.append(edge)
    paths = ["/plain.txt", "/a%20b.txt", "/caf%C3%A9/na%C3%AFve.js", "/x!$&'()*+,;=:@.txt", "/~tilde/-._",
             "/per%25cent", "/dir/", "/q.txt?b=2&a=1&a=0&c=%2F/x&d=x+y&e&f=%7e", "/sp%20ace?k%20ey=v%20al"]
    for p in paths:
        st, hdrs, b = http_get(edge.port, p, headers={"Authorization": "Basic dmlld2VyOnB3", "X-Amz-Meta-Viewer": "1",
                                                      "X-Amz-Date": "20000101T000000Z"})
        got = seen[-1] if seen else None
        f.check(st == 200 and got and got[3] == "ok",
                f"GET {p}: signed as botocore computes it ({st}: {(got or ('', '', {}, 'no request'))[3][:300]})")
        if got:
            f.check("x-amz-meta-viewer" not in got[2] and got[2].get("x-amz-date") != "20000101T000000Z",
                    f"{p}: the viewer's x-amz-* header is not forwarded")
            f.check(got[2].get("authorization", "").startswith("AWS4-HMAC-SHA256"),
                    f"{p}: the viewer's Authorization is replaced by the edge's")
            f.check("%25" not in got[1] or p == "/per%25cent",
                    f"{p}: sent once-encoded, never double-encoded ({got[1]})")
    want_key = {"/a%20b.txt": "key=/a b.txt", "/caf%C3%A9/na%C3%AFve.js": "key=/café/naïve.js",
                "/per%25cent": "key=/per%cent"}
    for p, key in want_key.items():
        st, _, b = http_get(edge.port, p)
        f.check(st == 200 and b.decode().strip() == key, f"{p} names the key {key!r} at the origin ({b[:80]!r})")
    # A body is hashed into x-amz-content-sha256 and signed.
    st, _, b = http_get(edge.port, "/up/file.bin", method="PUT", body=b"Welcome to Amazon S3.")
    got = seen[-1]
    f.check(st == 200 and got[3] == "ok" and got[2].get("x-amz-content-sha256") ==
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            f"PUT with a body: payload hashed and signed ({st}: {got[3][:200]})")

    # The oracle can fail: a wrong secret, and no signing at all.
    for what, (body, env) in (("a wrong secret", edge_conf("not-the-secret")),
                              ("no signing", edge_conf(SECRET, signing=False))):
        bad = Edge(tmpdir(), body, extra_env=env).start()
        edges.append(bad)
        st, _, b = http_get(bad.port, "/plain.txt")
        f.check(st == 403 and seen[-1][3] != "ok", f"with {what} the origin refuses (403: {seen[-1][3][:60]})")

    # The secret comes from the environment; an unset variable is a config error naming it.
    body, _ = edge_conf(SECRET)
    chk = Edge(tmpdir(), body, extra_env={"TEST_SECRET": ""})
    chk.env.pop("TEST_SECRET", None)
    r = subprocess.run([EDGE, "--check", "--config", chk.config], capture_output=True, text=True, env=chk.env)
    f.check(r.returncode == 1 and "TEST_SECRET" in r.stdout + r.stderr,
            "an unset secret variable is a config error naming it: " + (r.stdout + r.stderr).strip()[:200])
    for e in edges:
        f.check(e.proc.poll() is None, "the edge is still running")
finally:
    for e in edges:
        e.stop()
    server.shutdown()
f.done()
