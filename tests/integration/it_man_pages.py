#!/usr/bin/env python3
# ctest: LABELS tooling
"""The man pages cannot drift from conf/README.md: the built meridian.toml(5) documents exactly the keys of
conf/README.md's key tables (section by section), the built pages are what the generator makes of the current
README (the build regenerated them), each daemon's page lists every option its --help prints and the keys of its
sections, and groff renders all three without a warning."""
import os
import re
import subprocess
import sys

SRC = os.environ["MERIDIAN_SRC"]
BUILD = os.environ["MERIDIAN_BUILD"]
README = os.path.join(SRC, "conf/README.md")
GEN = os.path.join(SRC, "dist/man/make_man.py")
MAN = os.path.join(BUILD, "man")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def unescape(s):
    s = re.sub(r"\\\[u([0-9A-F]{4})\]", lambda m: chr(int(m.group(1), 16)), s)
    return s.replace("\\fB", "").replace("\\fR", "").replace("\\fI", "").replace("\\-", "-").replace("\\e", "\\")


def man_keys(path):
    """(section, key) for every .TP entry under a .SH/.SS heading whose first line is `key (type; default ...)`."""
    out, section, lines = [], None, open(path, encoding="ascii").read().split("\n")
    for i, line in enumerate(lines):
        m = re.match(r'^\.S[HS] "?(.*?)"?$', line)
        if m:
            section = unescape(m.group(1))
            continue
        if line == ".TP" and i + 1 < len(lines):
            m = re.match(r"^(\\fB.*?\\fR) \(.*; default ", lines[i + 1])
            if m:  # one entry may document several keys: \fBipv4\fR, \fBipv6\fR
                out.extend((section, unescape(k)) for k in re.findall(r"\\fB(.*?)\\fR", m.group(1)))
    return out


readme_keys = [tuple(l.split("\t")) for l in
               subprocess.run([sys.executable, GEN, "--keys", README], capture_output=True, text=True,
                              check=True).stdout.splitlines()]
check(len(readme_keys) > 150, "conf/README.md has its key tables (%d keys)" % len(readme_keys))
toml5 = os.path.join(MAN, "meridian.toml.5")
check(os.path.exists(toml5), "the build made meridian.toml.5")
if os.path.exists(toml5):
    got = man_keys(toml5)
    norm = lambda ks: sorted((s.lower(), k) for s, k in ks)
    missing = set(norm(readme_keys)) - set(norm(got))
    extra = set(norm(got)) - set(norm(readme_keys))
    check(not missing, "meridian.toml(5) documents every key of conf/README.md (missing: %s)" % sorted(missing)[:10])
    check(not extra, "meridian.toml(5) documents no key conf/README.md lacks (extra: %s)" % sorted(extra)[:10])
    check(len(got) == len(readme_keys), "same number of key entries (%d in the page, %d in the README)"
          % (len(got), len(readme_keys)))

# The built pages are the generator's output for the README as it is now.
fresh = os.path.join(BUILD, "man-fresh")
subprocess.run([sys.executable, GEN, README, "0", fresh], check=True)
strip_th = lambda t: re.sub(r"^\.TH .*$", "", t, flags=re.M)
for page in ("meridian-edge.8", "meridian-dns.8", "meridian.toml.5"):
    built = os.path.join(MAN, page)
    same = os.path.exists(built) and strip_th(open(built).read()) == strip_th(open(os.path.join(fresh, page)).read())
    check(same, "%s is current with conf/README.md (rebuild regenerates it)" % page)
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", built], capture_output=True, text=True)
    check(r.returncode == 0 and not r.stderr.strip(), "groff renders %s without warnings %s" % (page, r.stderr[:300]))

# Each daemon's page: every option of its --help, and every key of its own sections.
for name, env in (("meridian-edge", "MERIDIAN_EDGE"), ("meridian-dns", "MERIDIAN_DNS")):
    help_text = subprocess.run([os.environ[env], "--help"], capture_output=True, text=True).stdout
    page = unescape(open(os.path.join(MAN, name + ".8")).read())
    for opt in re.findall(r"(?m)^\s+(-\w), (--[\w-]+)", help_text):
        check(opt[0] in page and opt[1] in page, "%s(8) documents %s, %s" % (name, *opt))
    own = [k for s, k in readme_keys if s.startswith(name) or s.startswith("Common keys")]
    check(all(k in page for k in own), "%s(8) lists the keys of its sections (%d)" % (name, len(own)))

print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
