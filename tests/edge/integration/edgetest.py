"""Helpers for the meridian-edge integration tests: free ports, a config in a temp dir, starting and stopping the
edge (and nginx) by PID, raw-socket HTTP exchanges. Not a test itself (only it_*.py files are registered)."""
import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("MERIDIAN_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))
EDGE = os.environ.get("MERIDIAN_EDGE", os.path.join(SRC, "build/bin/meridian-edge"))


def skip(why):
    print("SKIP:", why)
    sys.exit(77)


_handed_out = set()


def free_port():
    """A free port, never one this process was given before: the kernel may hand a just-closed port out again, and
    two of a test's servers on one port now refuse to start (no silent port sharing)."""
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p not in _handed_out:
            _handed_out.add(p)
            return p


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port, timeout=10.0, host="127.0.0.1"):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {host}:{port} after {timeout}s")


# ASan's quarantine holds freed buffers (up to 256 MiB by default), so RSS bounds give a sanitizer build more room.
ASAN_BUILD = os.path.basename(os.environ.get("MERIDIAN_BUILD", "").rstrip("/")) == "asan"


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def nfds(pid):
    """Open descriptors of a process (the edge's connections among them)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def read_until_close(s):
    """Everything `s` receives until the peer closes (its timeout still applies)."""
    got = b""
    while True:
        d = s.recv(65536)
        if not d:
            return got
        got += d


def closed_by_server(s, deadline):
    """Waits until the server closes `s` (EOF or reset) or `deadline`; returns (closed, bytes read)."""
    got = b""
    while time.time() < deadline:
        s.settimeout(max(0.05, min(0.5, deadline - time.time())))
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True, got
        if not d:
            return True, got
        got += d
    return False, got


class Failures:
    def __init__(self):
        self.items = []

    def check(self, cond, what):
        if cond:
            print("ok  ", what)
        else:
            print("FAIL", what)
            self.items.append(what)

    def eq(self, got, want, what):
        self.check(got == want, f"{what}: got {got!r}, want {want!r}")

    def done(self):
        if self.items:
            print(f"{len(self.items)} check(s) failed")
            sys.exit(1)
        print("all checks passed")
        sys.exit(0)


class Edge:
    """A meridian-edge on free ports with `body` as the rest of its config."""

    def __init__(self, tmp, body, workers=1, extra_env=None, ipv6=False):
        if not os.access(EDGE, os.X_OK):
            skip(f"meridian-edge not built at {EDGE}")
        self.tmp = tmp
        self.port = free_port()
        self.admin_port = free_port()
        self.config = os.path.join(tmp, "edge.toml")
        self.access_log = os.path.join(tmp, "access.log")
        self.ipv6 = ipv6 and has_ipv6_loopback()
        self.rewrite(body, workers)
        self.log_path = os.path.join(tmp, "edge.log")
        self.env = dict(os.environ)
        if extra_env:
            self.env.update(extra_env)
        self.proc = None

    def rewrite(self, body, workers=1):
        self._body, self._workers = body, workers
        listen = f'"127.0.0.1:{self.port}"' + (f', "[::1]:{self.port}"' if self.ipv6 else "")
        with open(self.config, "w") as f:
            f.write(f'allow_root = true\nworkers = {workers}\nlisten = [{listen}]\nserver_name = "edge-test"\n'
                    f'[admin]\nlisten = "127.0.0.1:{self.admin_port}"\n[access_log]\nfile = "{self.access_log}"\n')
            f.write(body)

    def start(self):
        # free_port() cannot hold a port until the edge binds it: a test running beside this one (ctest -j2) may
        # take it first. Such a start fails at once with "Address already in use"; it is tried again on new ports.
        for attempt in range(3):
            self.logf = open(self.log_path, "w")
            self.proc = subprocess.Popen([EDGE, "--config", self.config], stdout=self.logf, stderr=subprocess.STDOUT,
                                         env=self.env)
            if self._came_up() or attempt == 2 or "Address already in use" not in self.log():
                break
            self.logf.close()
            self.port, self.admin_port = free_port(), free_port()
            self.rewrite(self._body, self._workers)
        try:
            wait_port(self.port)
            # The admin listener opens on its own thread, after or before the workers': a test that goes to it first
            # found it closed under TSan.
            wait_port(self.admin_port)
        except RuntimeError:
            self.stop()
            print(open(self.log_path).read())
            raise
        return self

    def _came_up(self, timeout=10.0):
        """Both listeners answer (False as soon as the process is gone)."""
        end = time.time() + timeout
        for port in (self.port, self.admin_port):
            while not port_open(port):
                if self.proc.poll() is not None or time.time() > end:
                    return False
                time.sleep(0.02)
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("meridian-edge did not stop in time")
        return self.proc.returncode if self.proc else None

    def log(self):
        return open(self.log_path).read()

    def metrics(self):
        return http_get(self.admin_port, "/_meridian/metrics")[2].decode()

    def metric(self, name_with_labels):
        for line in self.metrics().splitlines():
            if line.startswith(name_with_labels + " "):
                return float(line.split()[-1])
        return None

    def metric_sum(self, name):
        """The sum of every series of a metric family (all label values), 0 when it has none."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.split()[-1])
        return total


def has_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def read_response(sock, head_only=False, timeout=5.0):
    """Reads one HTTP/1.1 response (Content-Length, chunked or close-delimited). Returns (status, headers, body)."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            if not buf:
                return None, {}, b""
            raise RuntimeError(f"connection closed inside the head: {buf!r}")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, v = l.split(":", 1)
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    hdr = {k: ", ".join(v) for k, v in headers.items()}
    if head_only or status in (204, 304) or 100 <= status < 200:
        return status, hdr, b""
    if "content-length" in hdr:
        n = int(hdr["content-length"])
        while len(rest) < n:
            d = sock.recv(65536)
            if not d:
                raise RuntimeError("connection closed inside the body")
            rest += d
        return status, hdr, rest[:n]
    if hdr.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                d = sock.recv(65536)
                if not d:
                    raise RuntimeError("connection closed inside a chunk header")
                rest += d
            line, rest = rest.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            while len(rest) < size + 2:
                d = sock.recv(65536)
                if not d:
                    raise RuntimeError("connection closed inside a chunk")
                rest += d
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                return status, hdr, body
    while True:
        d = sock.recv(65536)
        if not d:
            return status, hdr, rest
        rest += d


def http_get(port, path, headers=None, method="GET", host="127.0.0.1", timeout=5.0, body=b""):
    with socket.create_connection((host, port), timeout=timeout) as s:
        h = {"Host": f"[{host}]:{port}" if ":" in host else f"{host}:{port}", "Connection": "close"}
        h.update(headers or {})
        if body:
            h["Content-Length"] = str(len(body))
        req = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        s.sendall(req.encode() + body)
        return read_response(s, head_only=(method == "HEAD"), timeout=timeout)


def raw_exchange(port, data, timeout=5.0):
    """Sends raw bytes, returns everything the server sends until it closes (or the timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        s.settimeout(timeout)
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        except socket.timeout:
            out += b"<timeout>"
        except ConnectionResetError:
            out += b"<reset>"
        return out


def status_of(raw):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return int(m.group(1)) if m else None


class Nginx:
    """nginx as an http origin on loopback, logging Host/X-Forwarded-For/Via of every request."""

    def __init__(self, tmp, root, locations="", ssl=None):
        """ssl = (cert_file, key_file): listen with TLS only."""
        self.bin = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.access(self.bin, os.X_OK):
            skip("nginx is not installed")
        self.tmp = os.path.join(tmp, "nginx")
        os.makedirs(os.path.join(self.tmp, "logs"), exist_ok=True)
        self.port = free_port()
        self.access_log = os.path.join(self.tmp, "logs", "access.log")
        conf = f"""
daemon off;
master_process off;
worker_processes 1;
pid {self.tmp}/nginx.pid;
error_log {self.tmp}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {self.tmp}/body;
  proxy_temp_path {self.tmp}/proxy;
  fastcgi_temp_path {self.tmp}/fastcgi;
  uwsgi_temp_path {self.tmp}/uwsgi;
  scgi_temp_path {self.tmp}/scgi;
  log_format edge '$request_method $request_uri host=$http_host xff=$http_x_forwarded_for via=$http_via';
  types {{ text/html html; application/javascript js; text/plain txt; }}
  server {{
    listen 127.0.0.1:{self.port}{" ssl" if ssl else ""};
    {f"ssl_certificate {ssl[0]}; ssl_certificate_key {ssl[1]};" if ssl else ""}
    root {root};
    access_log {self.access_log} edge;
    etag on;
    {locations}
  }}
}}
"""
        self.conf = os.path.join(self.tmp, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.proc = None

    def start(self):
        self.errf = open(os.path.join(self.tmp, "stderr.log"), "w")
        self.proc = subprocess.Popen([self.bin, "-c", self.conf, "-p", self.tmp], stdout=self.errf,
                                     stderr=subprocess.STDOUT)
        wait_port(self.port)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def requests(self, path=None):
        """Access-log lines (optionally only those for `path`); waits briefly for nginx to write them."""
        time.sleep(0.1)
        try:
            lines = open(self.access_log).read().splitlines()
        except FileNotFoundError:
            return []
        if path is None:
            return lines
        return [l for l in lines if l.split(" ")[1] == path]


def http_origin(name, port):
    """An [[origin]] block for an http origin on loopback."""
    return f'[[origin]]\nname = "{name}"\ntype = "http"\naddress = "127.0.0.1:{port}"\n'


def bucket_origin(name, root):
    """An [[origin]] block for a bucket origin serving the folder `root`."""
    return f'[[origin]]\nname = "{name}"\ntype = "bucket"\npath = "{root}"\n'


def catch_all(origin_name, *keys):
    """A [[behavior]] sending every path to `origin_name`, with `keys` (TOML lines such as 'compress = false')."""
    return f'[[behavior]]\npath_pattern = "*"\norigin = "{origin_name}"\n' + "".join(k + "\n" for k in keys)


def bucket_edge_conf(root, *behavior_keys):
    """The usual static site: one bucket origin "site" at `root` serving every path (catch_all's `keys`)."""
    return bucket_origin("site", root) + catch_all("site", *behavior_keys)


def make_test_certs(tmp):
    """Makes the example certificates (conf/examples/tls/make-certs.sh) in `tmp`/tls; returns that folder."""
    certs = os.path.join(tmp, "tls")
    os.makedirs(certs)
    subprocess.run(["sh", os.path.join(SRC, "conf/examples/tls/make-certs.sh"), certs], check=True, capture_output=True)
    return certs


def tls_listen(port, certs, cert="example.test", default=True):
    """A [tls] table listening on loopback `port` with one certificate, `cert`.crt/.key from `certs`."""
    return (f'[tls]\nlisten = ["127.0.0.1:{port}"]\n[[tls.certificate]]\ncert = "{certs}/{cert}.crt"\n'
            f'key = "{certs}/{cert}.key"\n' + ("default = true\n" if default else ""))


_TMPDIRS = []


def _remove_tmpdirs():
    if not os.environ.get("MERIDIAN_KEEP_TMP"):
        for d in _TMPDIRS:
            shutil.rmtree(d, ignore_errors=True)


def tmpdir():
    """A scratch folder removed when the test exits (set MERIDIAN_KEEP_TMP=1 to keep them for a post-mortem): a CI run
    used to leave two thousand behind."""
    d = tempfile.mkdtemp(prefix="meridian-edge-it-")
    if not _TMPDIRS:
        atexit.register(_remove_tmpdirs)
    _TMPDIRS.append(d)
    return d


# The one behavior most scripted-origin tests need: everything to "py", cached per its headers, uncompressed.
PY_CATCH_ALL = "\n" + catch_all("py", "compress = false")


@contextlib.contextmanager
def edge_before_pyorigin(conf_tail, origin_keys="", mode=None, tmp=None, workers=1):
    """A scripted origin (pyorigin.PyOrigin, http origin "py" with `origin_keys` added to its table) and an edge in
    front of it whose config ends with `conf_tail`; yields (edge, origin) and stops both, by PID, on the way out.
    The test also asserts the edge is still alive at the end."""
    from pyorigin import PyOrigin  # a sibling module, imported here so edgetest stays importable without it
    py = PyOrigin(mode)
    edge = None
    try:
        edge = Edge(tmp or tmpdir(), http_origin("py", py.port) + origin_keys + conf_tail, workers=workers).start()
        yield edge, py
        if edge.proc.poll() is not None:
            raise RuntimeError(f"the edge exited ({edge.proc.returncode}) during the test")
    finally:
        if edge:
            edge.stop()
        py.stop()
