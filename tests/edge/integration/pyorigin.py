"""A scripted HTTP origin in a thread, for the failure and streaming cases nginx cannot play: hold back the last
byte, send garbage, truncate, never answer. Not a test itself.

Modes answer every request one way:
- None: by path (see _answer, _validate, _flaky), or what the test put in `scripts` for that path;
- "streamed": a chunked body of 64 chunks of 16 KiB, a little at a time, keep-alive; /pass/ paths are no-store;
- "lengthless": GET /<kind>/<size>/<name> is body_of(path, size) with max-age=60 and no Content-Length, then close;
  kind = chunked, close (close-delimited) or dies (chunked, reset at half the body)."""
import hashlib
import socket
import threading
import time

STREAMED_CHUNK = b"x" * 16384


def body_of(path, size):
    """The body "lengthless" mode sends for `path`: `size` bytes that differ from path to path."""
    seed = hashlib.sha256(path.encode()).digest()
    block = seed * (65536 // len(seed))
    return (block * (size // len(block) + 1))[:size]


class PyOrigin:
    def __init__(self, mode=None):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.release = threading.Event()  # lets a held-back response finish
        self.requests = []
        self.last_head = b""
        self.conditional = []  # (path, If-None-Match value) of every conditional request
        self.fail_mode = None  # /flaky/ paths: None answers, "503" answers 503, "reset" resets the connection
        # path → raw answers the test wrote (status line, fields, body: every byte), sent in order, the last one
        # again for every later request; for what no other mode says (interim responses, exact Date fields).
        self.scripts = {}
        self.lock = threading.Lock()
        self.stopped = False
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def count(self, path):
        with self.lock:
            return sum(1 for p in self.requests if p == path)

    def stop(self):
        self.stopped = True
        self.release.set()
        try:
            self.sock.close()
        except OSError:
            pass
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                method = head.split(b" ")[0].decode()
                path = head.split(b" ")[1].decode()
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v.strip())
                while len(buf) < length:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                body, buf = buf[:length], buf[length:]
                inm = None
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"if-none-match":
                        inm = v.strip().decode()
                with self.lock:
                    self.requests.append(path)
                    self.last_head = head
                    if inm is not None:
                        self.conditional.append((path, inm))
                with self.lock:
                    script = self.scripts.get(path)
                    answer = script and (script.pop(0) if len(script) > 1 else script[0])
                if answer:
                    c.sendall(answer)
                    continue
                if self.mode == "streamed":
                    self._streamed(c, path)
                    continue
                if self.mode == "lengthless":
                    self._lengthless(c, path)
                    return
                if path.startswith("/py/validate/"):
                    self._validate(c, path, inm)
                    continue
                if "/flaky/" in path:
                    if not self._flaky(c, path, inm):
                        return
                    continue
                if "/swr/" in path:
                    self._swr(c, path)
                    continue
                if "/tgt/" in path:
                    self._targeted(c, path)
                    continue
                if "/inv/" in path:
                    self._invalidation(c, method, path, head)
                    continue
                if "/hdrs/" in path:
                    self._headers(c, path, head)
                    continue
                if "/vary/" in path:
                    self._vary(c, method, path, head)
                    continue
                if path.endswith("/echo"):
                    out = method.encode() + b" " + body
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nCache-Control: max-age=60\r\n\r\n"
                              % len(out) + out)
                    continue
                if not self._answer(c, path):
                    return
        except OSError:
            return
        finally:
            try:
                c.close()
            except OSError:
                pass

    def _streamed(self, c, path):
        cc = b"no-store" if "/pass/" in path else b"max-age=60"
        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nCache-Control: " + cc + b"\r\n\r\n")
        for i in range(64):
            c.sendall(b"%x\r\n" % len(STREAMED_CHUNK) + STREAMED_CHUNK + b"\r\n")
            if i % 8 == 0:
                time.sleep(0.002)
        c.sendall(b"0\r\n\r\n")

    def _lengthless(self, c, path):
        _, kind, size, _ = path.split("/", 3)
        body = body_of(path, int(size))
        if kind == "close":
            c.sendall(b"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nConnection: close\r\n\r\n")
            for i in range(0, len(body), 256 << 10):
                c.sendall(body[i:i + (256 << 10)])
            return
        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nCache-Control: max-age=60\r\n"
                  b"Connection: close\r\n\r\n")
        stop = len(body) // 2 if kind == "dies" else len(body)
        for i in range(0, stop, 256 << 10):
            part = body[i:min(i + (256 << 10), stop)]
            c.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
        if kind == "dies":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return
        c.sendall(b"0\r\n\r\n")

    def _swr(self, c, path):
        """.../swr/<name>: "<path> #<n>" with max-age=1, stale-while-revalidate=60; from the second request on, the
        answer waits for `release` (a slow origin the edge must not make viewers wait for)."""
        n = self.count(path)
        if n >= 2:
            self.release.wait(20)
        body = b"%s #%d" % (path.encode(), n)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nCache-Control: max-age=1, stale-while-revalidate=60"
                  b"\r\n\r\n" % len(body) + body)

    TARGETED = {  # kind → the cache-control fields of the answer
        "cdn": b"Cache-Control: no-store\r\nCDN-Cache-Control: max-age=60\r\n",
        "surrogate": b"Cache-Control: private\r\nSurrogate-Control: max-age=60\r\n",
        "cdnnostore": b"Cache-Control: max-age=60\r\nCDN-Cache-Control: no-store\r\n",
    }

    def _targeted(self, c, path):
        """.../tgt/<kind>/<name>: an answer whose Cache-Control and targeted field disagree (TARGETED)."""
        kind = path.split("/tgt/", 1)[1].split("/", 1)[0]
        body = b"targeted " + kind.encode()
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body) + self.TARGETED[kind] + b"\r\n" + body)

    def _invalidation(self, c, method, path, head):
        """.../inv/<name>: GET answers "<path> #<n>" (n = how many requests reached this path), max-age=60, tagged
        Surrogate-Key "inv <name>" and Cache-Tag "tagged-<name>"; any other method answers 201, with the request's
        X-Location as Location when it has one."""
        if method == "GET":
            body = b"%s #%d" % (path.encode(), self.count(path))
            tag = path.rsplit("/", 1)[1].encode()
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nCache-Control: max-age=60\r\n"
                      b"Surrogate-Key: inv %s\r\nCache-Tag: tagged-%s\r\n\r\n" % (len(body), tag, tag) + body)
            return
        loc = b""
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"x-location":
                loc = b"Location: " + v.strip() + b"\r\n"
        c.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n" + loc + b"\r\n")

    def _vary(self, c, method, path, head):
        """.../vary/<fields>/<name>: max-age=60 with Vary: <fields> ("+" separates names; "star" is *), the body
        naming each field's value in the request ("-" when absent) and how many requests reached this path; a name
        ending in "-slow" answers after 0.3 s; any other method than GET/HEAD answers 201."""
        if method not in ("GET", "HEAD"):
            c.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
            return
        spec = path.split("/vary/", 1)[1].split("/", 1)[0]
        if path.endswith("-slow"):
            time.sleep(0.3)  # long enough for concurrent requests to collapse onto this fetch
        names = ["*"] if spec == "star" else spec.split("+")
        values = {}
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            k = k.strip().decode().lower()
            if k in [n.lower() for n in names]:
                values[k] = (values[k] + "," if k in values else "") + v.strip().decode()
        body = ("".join(f"{n}={values.get(n.lower(), '-')};" for n in names) + f" #{self.count(path)}").encode()
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nCache-Control: max-age=60\r\nVary: %s\r\n\r\n"
                  % (len(body), ", ".join(names).encode()) + (body if method == "GET" else b""))

    def _headers(self, c, path, head):
        """.../hdrs/<kind>/<name>: the request head as received (after the request line), as the body; kind = cache:
        max-age=60; public: public, max-age=60; validate: max-age=1 with ETag "h", and a bare 304 to If-None-Match
        naming it (the 304's X-Seen-Req-Num says which X-Req-Num the revalidation carried)."""
        kind = path.split("/hdrs/", 1)[1].split("/", 1)[0]
        lines = head.split(b"\r\n")[1:]
        seen = b""
        for line in lines:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"x-req-num":
                seen = v.strip()
        if kind == "validate" and any(line.lower() == b'if-none-match: "h"' for line in lines):
            c.sendall(b'HTTP/1.1 304 Not Modified\r\nETag: "h"\r\nX-Seen-Req-Num: ' + seen + b"\r\n\r\n")
            return
        cc = {"public": b"public, max-age=60", "validate": b"max-age=1"}.get(kind, b"max-age=60")
        body = b"\r\n".join(lines) + b"\r\n"
        c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\nCache-Control: %s\r\nETag: "h"\r\n\r\n'
                  % (len(body), cc) + body)

    def _validate(self, c, path, inm):
        """/py/validate/<kind>: an object with ETag "v-<kind>"; an If-None-Match naming it gets a bare 304 (no
        Cache-Control: RFC 9111 §4.3.4 says the stored one still applies). kind = nocache: Cache-Control: no-cache;
        kind = maxage2: max-age=2; kind = update: max-age=1, and its 304 says max-age=60 and X-Version: 2 (the 200
        says X-Version: 1)."""
        kind = path.rsplit("/", 1)[1]
        etag = f'"v-{kind}"'.encode()
        if inm is not None and inm.encode() == etag:
            extra = b"Cache-Control: max-age=60\r\nX-Version: 2\r\n" if kind == "update" else b""
            c.sendall(b"HTTP/1.1 304 Not Modified\r\nETag: " + etag + b"\r\n" + extra + b"\r\n")
            return
        cc = {"nocache": b"no-cache", "maxage2": b"max-age=2", "update": b"max-age=1"}.get(kind, b"max-age=60")
        body = b"body of " + kind.encode()
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nETag: %s\r\nCache-Control: %s\r\nX-Version: 1\r\n\r\n"
                  % (len(body), etag, cc) + body)

    def _flaky(self, c, path, inm):
        """.../flaky/<kind>: max-age=1 with ETag "f-<kind>" (kind = mr adds must-revalidate), 304 to its ETag, while
        fail_mode is None; else a 503 or a reset. Returns False when the connection is done."""
        mode = self.fail_mode
        if mode == "503":
            c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\ndown\n")
            return True
        if mode == "reset":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return False
        kind = path.rsplit("/", 1)[1]
        etag = f'"f-{kind}"'.encode()
        if inm is not None and inm.encode() == etag:
            c.sendall(b"HTTP/1.1 304 Not Modified\r\nETag: " + etag + b"\r\n\r\n")
            return True
        cc = b"max-age=1, must-revalidate" if kind == "mr" else b"max-age=1"
        body = b"flaky " + kind.encode()
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nETag: %s\r\nCache-Control: %s\r\n\r\n"
                  % (len(body), etag, cc) + body)
        return True

    def _answer(self, c, path):
        if path.startswith("/py/"):
            path = path[3:]  # the edge forwards the full path; the behavior's prefix is ours
        if path.startswith("/stream"):
            body = b"A" * 1000 + b"Z"
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nCache-Control: max-age=60\r\n\r\n" % len(body)
                      + body[:-1])
            self.release.wait(20)
            c.sendall(body[-1:])
            return True
        if path.startswith("/garbage"):
            c.sendall(b"this is not http\r\n\r\n")
            return False
        if path.startswith("/truncated"):
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nCache-Control: max-age=60\r\n\r\n0123456789")
            return False
        if path.startswith("/reset"):
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return False
        if path.startswith("/silent"):
            self.release.wait(20)
            return False
        if path.startswith("/cookie"):
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: s=1\r\nCache-Control: max-age=60\r\n\r\nok")
            return True
        if path.startswith("/chunked"):
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nCache-Control: max-age=60\r\n\r\n"
                      b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            return True
        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return True
