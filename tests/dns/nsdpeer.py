"""NSD as a peer of meridian-dns in integration tests (a secondary that transfers from it, or a reference server to
compare answers with): its config in a temp dir, started in the foreground by PID, and the PID-based stop every
test with peers needs. Not a test itself (only it_*.py files are registered)."""
import os
import shutil
import subprocess


def nsd_binary():
    """The nsd executable, or None when NSD is not installed."""
    return shutil.which("nsd") or ("/usr/sbin/nsd" if os.path.exists("/usr/sbin/nsd") else None)


def start_nsd(nsd, tmp, port, key_name, secret, zones, verbosity=None):
    """Writes tmp/nsd.conf (server on 127.0.0.1@port, one hmac-sha256 key, `zones`: the zone: sections as text)
    and starts nsd in the foreground; its log is tmp/nsd.log, its stderr tmp/nsd.stderr. Returns the Popen."""
    conf = os.path.join(tmp, "nsd.conf")
    with open(conf, "w") as f:
        f.write(f'''server:
  ip-address: 127.0.0.1@{port}
  port: {port}
  server-count: 1
  database: ""
  zonelistfile: "{tmp}/zone.list"
  xfrdfile: "{tmp}/xfrd.state"
  xfrdir: "{tmp}"
  pidfile: "{tmp}/nsd.pid"
  logfile: "{tmp}/nsd.log"
  username: ""
  chroot: ""
  zonesdir: ""
''' + (f"  verbosity: {verbosity}\n" if verbosity is not None else "") + f'''remote-control:
  control-enable: no
key:
  name: "{key_name}"
  algorithm: hmac-sha256
  secret: "{secret}"
''' + zones)
    return subprocess.Popen([nsd, "-d", "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, "nsd.stderr"), "w"))


def stop_all(procs, timeout=5):
    """SIGTERM to every process the test started (by PID), then SIGKILL to those still running after `timeout`."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
