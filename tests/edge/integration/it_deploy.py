# ctest: PROCESSORS 2 COST 50
"""Deploying a new version of a bucket site under concurrent load, both ways front-end teams do it:
(a) delete and copy (`rm -rf site && cp -r vN site`) and (b) an atomic release symlink switch
(`ln -sfn releases/vN current.tmp && mv -T current.tmp current`). Several threads request every file of the site
meanwhile (a small page, a 200 KB bundle, a zero-length file, a file over max_object_bytes that is passed through,
a file in one release only, a missing key answered with the error document). Asserted: every 200 body is exactly one
release's bytes (never torn, never empty in place of a file), style (b) answers only 200 (no 404/503 at all for
files in both releases), style (a) answers 404 for a file in every release only while a deploy is under way (or
that 404 is still cached), never after, and 503 only while a deploy is under way, the process lives, and after the
last deploy every file is the new release's within the object TTL."""
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import Edge, Failures, bucket_origin, catch_all, http_get, tmpdir  # noqa: E402

DURATION = float(os.environ.get("MERIDIAN_DEPLOY_SECONDS", "8"))  # per style; bounded load loops
THREADS = 6
TTL = 1  # default_ttl and error_ttl of the test behaviors (seconds)

tmp = tmpdir()
rng = random.Random(18)
VERSIONS = ["v1", "v2", "v3"]
BIG = 1_600_000  # over max_object_bytes (1 MiB): passed through


def release_files(v, prefix):
    mark = v.encode()
    files = {
        f"{prefix}/index.html": b"<h1>release " + mark + b"</h1>\n",
        f"{prefix}/app.js": (b"/* " + mark + b" */ " + bytes(rng.getrandbits(8) for _ in range(4000)) * 50),
        f"{prefix}/empty.txt": b"",
        f"{prefix}/big.bin": mark * (BIG // len(mark)) + os.urandom(1000),
        f"{prefix}/only-{v}.html": b"only in " + mark + b"\n",
        "404.html": b"<h1>missing, release " + mark + b"</h1>\n",
    }
    return files


def write_tree(root, files):
    for rel, data in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as fh:
            fh.write(data)


# Copy-style releases (keys under /c/) and link-style releases (keys under /l/), each a complete site folder.
content = {}  # path -> {version: bytes}
for v in VERSIONS:
    for prefix, parent in (("c", "dist"), ("l", "releases")):
        files = release_files(v, prefix)
        write_tree(os.path.join(tmp, parent, v), files)
        for rel, data in files.items():
            content.setdefault((prefix, "/" + rel), {})[v] = data

site = os.path.join(tmp, "site")
shutil.copytree(os.path.join(tmp, "dist", "v1"), site)
os.symlink("releases/v1", os.path.join(tmp, "current"))

f = Failures()
edge = Edge(tmp, f"""
[cache]
max_object_bytes = "1MiB"
{bucket_origin("copy", site)}
error_document = "404.html"
{bucket_origin("link", os.path.join(tmp, "current"))}
error_document = "404.html"
[[behavior]]
path_pattern = "/c/*"
origin = "copy"
default_ttl = "{TTL}s"
error_ttl = "{TTL}s"
compress = false
{catch_all("link")}
default_ttl = "{TTL}s"
error_ttl = "{TTL}s"
compress = false
""", workers=2)
edge.start()
t_started = time.monotonic()


def paths_for(prefix):
    out = [f"/{prefix}/", f"/{prefix}/index.html", f"/{prefix}/app.js", f"/{prefix}/empty.txt", f"/{prefix}/big.bin",
           f"/{prefix}/missing.html"]
    out += [f"/{prefix}/only-{v}.html" for v in VERSIONS]
    return out


def expected(prefix, path):
    """{version: (status, body)} for a path."""
    if path.endswith("/"):
        path += "index.html"
    per = content.get((prefix, path))
    out = {}
    for v in VERSIONS:
        if per and v in per:
            out[v] = (200, per[v])
        else:
            out[v] = (404, content[(prefix, "/404.html")][v])
    return out


def in_both(prefix, path):
    """The file exists in every release (a 404 for it is a 404 storm)."""
    if path.endswith("/"):
        path += "index.html"
    per = content.get((prefix, path))
    return per is not None and len(per) == len(VERSIONS)


def load(prefix, stop, results):
    paths = paths_for(prefix)
    r = random.Random(threading.get_ident())
    while not stop.is_set():
        p = r.choice(paths)
        t0 = time.monotonic()
        try:
            st, h, body = http_get(edge.port, p, timeout=20)
            results.append((p, st, body, h.get("content-length"), t0, time.monotonic()))
        except Exception as e:  # noqa: BLE001 - a cut connection is recorded, judged below
            results.append((p, "error", repr(e), None, t0, time.monotonic()))


def run_style(prefix, deploy, pause):
    """Deploys in a loop under load; returns the results, the deploys' (start, end) times, the final release."""
    stop = threading.Event()
    results = []
    threads = [threading.Thread(target=load, args=(prefix, stop, results)) for _ in range(THREADS)]
    for t in threads:
        t.start()
    windows = []
    end = time.monotonic() + DURATION
    i = 0
    while time.monotonic() < end:
        i += 1
        t0 = time.monotonic()
        deploy(VERSIONS[i % len(VERSIONS)])
        windows.append((t0, time.monotonic()))
        time.sleep(pause())
    # The last deploy is always v3, never the starting release: an edge stuck on v1 cannot pass by chance.
    t0 = time.monotonic()
    deploy("v3")
    windows.append((t0, time.monotonic()))
    stop.set()
    for t in threads:
        t.join(60)
    return results, windows, "v3"


def judge(prefix, results, style_a, windows):
    """Counts statuses; a 404 for a file in every release is a storm unless a deploy was under way (or its 404 still
    cached: error_ttl) while the request ran."""
    counts = {}
    torn = []
    storm = 0
    late_503 = 0
    for p, st, body, cl, t0, t1 in results:
        counts[st] = counts.get(st, 0) + 1
        if st == "error":
            continue
        during = style_a and any(s <= t1 and t0 <= e + TTL + 0.5 for s, e in windows)
        if st == 503 and not during:
            late_503 += 1
        exp = expected(prefix, p)
        if st in (200, 404):
            # Style (a): between `rm -rf` and the copy reaching it, the error document is missing too; and a file not
            # copied yet is a 404 with whichever release's error document is there (judged as a storm below when no
            # deploy was under way).
            plain_404 = style_a and st == 404 and body == b"Not Found\n"
            copying_404 = style_a and st == 404 and body in content[(prefix, "/404.html")].values()
            if (st, body) not in exp.values() and not plain_404 and not copying_404:
                torn.append((p, st, len(body), body[:40]))
            if st == 404 and in_both(prefix, p) and not during:
                storm += 1
            if cl is not None and int(cl) != len(body):
                torn.append((p, st, "content-length", cl, len(body)))
        elif st != 503:
            torn.append((p, st, "unexpected status"))
    total = len(results)
    busy = sum(e - s for s, e in windows)
    print(f"style {'(a) delete-and-copy' if style_a else '(b) symlink switch'}: {total} requests, statuses {counts}, "
          f"{len(windows)} deploys taking {busy:.1f}s in all, 404 for files in every release outside them: {storm}")
    f.check(total >= 100, f"/{prefix}: the load ran ({total} requests)")
    f.check(not torn, f"/{prefix}: every 200/404 body is exactly one release's bytes (bad: {torn[:5]})")
    f.eq(late_503, 0, f"/{prefix}: no 503 once a deploy is done")
    return counts, storm, total


def wait_converged(prefix, final, since):
    """Every path serves the final release within TTL (+ slack for a loaded machine)."""
    deadline = since + TTL + 10
    pending = set(paths_for(prefix))
    while pending and time.monotonic() < deadline:
        for p in list(pending):
            try:
                st, h, body = http_get(edge.port, p, timeout=20)
            except Exception:  # noqa: BLE001
                continue
            if (st, body) == expected(prefix, p)[final]:
                pending.discard(p)
        if pending:
            time.sleep(0.1)
    took = time.monotonic() - since
    f.check(not pending, f"/{prefix}: release {final} served everywhere {took:.1f}s after the last deploy "
                         f"(TTL {TTL}s; still old: {sorted(pending)})")


try:
    # Warm the caches so expiries and revalidations happen during the deploys.
    for pre in ("c", "l"):
        for p in paths_for(pre):
            http_get(edge.port, p, timeout=20)

    # (a) delete and copy.
    def copy_deploy(v):
        subprocess.run(["sh", "-c", f'rm -rf "{site}" && cp -r "{os.path.join(tmp, "dist", v)}" "{site}"'],
                       check=True)

    # Some deploys back to back, some with quiet time after them (longer than the TTL of a 404 stored meanwhile).
    pauses = random.Random(7)
    results, windows, final = run_style("c", copy_deploy, lambda: pauses.choice([0.1, 0.2, TTL + 1.0]))
    counts, storm, total = judge("c", results, True, windows)
    f.check(len(windows) >= 4, f"(a) {len(windows)} delete-and-copy deploys under load")
    # A 404 for a file in every release happens only between `rm -rf` and the copy reaching it (and while that 404
    # is cached): never once the copy is done.
    f.eq(storm, 0, "(a) no 404 for files in every release once a deploy is done")
    f.check(counts.get(200, 0) > total / 3, f"(a) most answers are 200 ({counts.get(200, 0)} of {total})")
    f.check(edge.proc.poll() is None, "(a) the edge is alive")
    wait_converged("c", final, windows[-1][1])

    # (b) atomic symlink switch.
    def link_deploy(v):
        subprocess.run(["sh", "-c", f'cd "{tmp}" && ln -sfn releases/{v} current.tmp && mv -T current.tmp current'],
                       check=True)

    results, windows, final = run_style("l", link_deploy, lambda: 0.15)
    counts, storm, total = judge("l", results, False, windows)
    f.check(len(windows) >= 5, f"(b) {len(windows)} release switches under load")
    f.eq(storm, 0, "(b) no 404 for files in every release, ever")
    f.eq({k: v for k, v in counts.items() if k not in (200, 404)}, {}, "(b) nothing but 200/404 answers")
    f.check(edge.proc.poll() is None, "(b) the edge is alive")
    wait_converged("l", final, windows[-1][1])

    # A file changed in place under a pass-through (over max_object_bytes): the viewer never gets a body that looks
    # complete. Truncated: the read comes up short and the connection is cut. Rewritten with the same size: the
    # last piece is withheld and the connection cut. The client reads slowly, so the edge is mid-file.
    stream = os.path.join(tmp, "releases", "v3", "l", "stream.bin")
    for how in ("truncated", "rewritten"):
        with open(stream, "wb") as fh:
            fh.write(os.urandom(24 << 20))
        time.sleep(0.05)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.settimeout(30)
        s.connect(("127.0.0.1", edge.port))
        s.sendall(f"GET /l/stream.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(65536)
        head, body = got.split(b"\r\n\r\n", 1)
        cl = int([ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")][0])
        while len(body) < (1 << 20):
            body += s.recv(65536)
        with open(stream, "r+b") as fh:
            if how == "truncated":
                fh.truncate(8 << 20)
            else:
                fh.seek(20 << 20)
                fh.write(os.urandom(1 << 20))
        try:
            while True:
                d = s.recv(1 << 20)
                if not d:
                    break
                body += d
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        f.check(cl == 24 << 20 and len(body) < cl,
                f"pass-through of a file {how} under it: cut short ({len(body)} of {cl} bytes), never complete")
    os.unlink(stream)
    f.check(edge.proc.poll() is None, "the edge is alive after the in-place changes")

    # A missing folder: 503 with Retry-After (never a stored 404), logged, and found again once it is back.
    shutil.rmtree(site)
    time.sleep(TTL + 0.5)
    st, h, body = http_get(edge.port, "/c/index.html")  # expired: its revalidation finds no folder
    f.check(st == 503 or (st == 200 and body in content[("c", "/c/index.html")].values()),
            f"missing folder, expired copy: the stale copy or 503 (got {st}, {h.get('cache-status')})")
    st, h, body = http_get(edge.port, "/c/never-cached.html")
    f.eq(st, 503, "missing folder, nothing stale: 503")
    f.eq(h.get("retry-after"), "1", "... with Retry-After")
    f.check("bucket folder cannot be opened" in edge.log() and site in edge.log(),
            "missing folder: a warning naming the folder")
    shutil.copytree(os.path.join(tmp, "dist", "v2"), site)
    st, h, body = http_get(edge.port, "/c/never-cached.html")
    f.eq((st, body), (404, content[("c", "/404.html")]["v2"]), "folder back: the new error document")
    warned = edge.log().count("bucket folder cannot be opened")
    allowed = int((time.monotonic() - t_started) / 10) + 1  # one per 10 s; style (a) misses the folder too
    f.check(1 <= warned <= allowed, f"the warning is rate-limited: {warned} in all, at most {allowed}")
finally:
    alive = edge.proc.poll() is None
    edge.stop()
f.check(alive, "the edge lived through every deploy")
if not f.items:
    shutil.rmtree(tmp, ignore_errors=True)  # several MB of releases
f.done()
