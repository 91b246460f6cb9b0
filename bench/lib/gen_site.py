#!/usr/bin/env python3
"""Builds a static site for the load test: N objects with a realistic mix of types and sizes (HTML pages, CSS, JS,
images, fonts), and a manifest of their paths in popularity order (rank 1 first), which the Zipf request script
reads. Sizes are drawn from log-normal distributions per type, clamped; the seed makes the site reproducible.
usage: gen_site.py DIR N [--seed 7]   (writes DIR/site/... and DIR/paths.txt)
"""
import argparse
import math
import os
import random

KINDS = [  # (share, folder, extension, median bytes, sigma, min, max)
    (0.30, "pages", "html", 12_000, 0.8, 1_000, 200_000),
    (0.10, "assets/css", "css", 20_000, 0.9, 500, 300_000),
    (0.15, "assets/js", "js", 40_000, 1.0, 500, 1_000_000),
    (0.40, "img", "webp", 60_000, 1.1, 1_000, 2_000_000),
    (0.05, "fonts", "woff2", 30_000, 0.5, 5_000, 200_000),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    site = os.path.join(a.dir, "site")
    paths = []
    total = 0
    chunk = os.urandom(1 << 20)
    for i in range(a.n):
        r, acc = rnd.random(), 0.0
        for share, folder, ext, median, sigma, lo, hi in KINDS:
            acc += share
            if r <= acc:
                break
        size = int(min(hi, max(lo, rnd.lognormvariate(math.log(median), sigma))))
        rel = f"{folder}/{i // 1000:03d}/o{i}.{ext}"
        full = os.path.join(site, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            off = rnd.randrange(len(chunk) - min(size, len(chunk)) + 1)
            left = size
            while left > 0:
                part = chunk[off:off + left] if left < len(chunk) - off else chunk[off:]
                f.write(part)
                left -= len(part)
                off = 0
        total += size
        paths.append("/" + rel)
    # Popularity is independent of type: shuffle, so rank 1 is any object.
    rnd.shuffle(paths)
    with open(os.path.join(a.dir, "paths.txt"), "w") as f:
        f.write("\n".join(paths) + "\n")
    with open(os.path.join(site, "index.html"), "w") as f:
        f.write("<!doctype html><title>load test site</title>\n")
    print(f"{a.n} objects, {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
