#!/usr/bin/env python3
"""Writes a benchmark zone of N names and a dnsperf-format query file with the issue's mix:
80% existing names (A or AAAA that exist), 15% NXDOMAIN, 5% NODATA (TXT at a name that has none).

Every name h<i> has an A record; every second one also an AAAA, so the zone has about 1.5 N records plus the apex.
The same zone file is served by Meridian, NSD, Knot and gdnsd, so every server answers the same data.
usage: gen_zone.py --origin bench.test (--names 10000 | --records 1000000) --zone FILE [--queries FILE --count 200000] [--seed 1]
"""
import argparse
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--origin", default="bench.test")
    ap.add_argument("--names", type=int)
    ap.add_argument("--records", type=int, help="instead of --names: about this many records (1.5 per name)")
    ap.add_argument("--zone", required=True)
    ap.add_argument("--queries")
    ap.add_argument("--count", type=int, default=200000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    origin = a.origin.rstrip(".")
    if (a.names is None) == (a.records is None):
        ap.error("give exactly one of --names and --records")
    n = a.names if a.names is not None else max(1, (2 * a.records + 2) // 3)
    with open(a.zone, "w") as z:
        w = z.write
        w(f"$ORIGIN {origin}.\n$TTL 3600\n")
        w(f"@ 3600 IN SOA ns1.{origin}. hostmaster.{origin}. 2024010101 7200 3600 1209600 300\n")
        w(f"@ 3600 IN NS ns1.{origin}.\n@ 3600 IN NS ns2.{origin}.\n")
        w("ns1 3600 IN A 192.0.2.53\nns2 3600 IN A 192.0.2.54\n")
        w("@ 3600 IN A 192.0.2.1\n@ 3600 IN MX 10 mail\nmail 3600 IN A 192.0.2.25\n")
        lines = []
        for i in range(n):
            lines.append(f"h{i} 300 IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
            if i % 2 == 0:
                lines.append(f"h{i} 300 IN AAAA 2001:db8::{i >> 16:x}:{i & 0xffff:x}\n")
            if len(lines) > 65536:
                z.writelines(lines)
                lines = []
        z.writelines(lines)
    if not a.queries:
        return
    rnd = random.Random(a.seed)
    with open(a.queries, "w") as q:
        out = []
        for _ in range(a.count):
            r = rnd.random()
            i = rnd.randrange(n)
            if r < 0.80:
                t = "AAAA" if (i % 2 == 0 and rnd.random() < 0.5) else "A"
                out.append(f"h{i}.{origin}. {t}\n")
            elif r < 0.95:
                out.append(f"nx{rnd.randrange(1 << 30)}.{origin}. A\n")
            else:
                out.append(f"h{i}.{origin}. TXT\n")
        q.writelines(out)


if __name__ == "__main__":
    main()
