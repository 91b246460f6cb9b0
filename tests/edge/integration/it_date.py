"""Date and Age on what the edge serves (RFC 9110 §6.6.1, RFC 9111 §4, §4.2.3, §4.3.4), through the real edge and a
scripted origin: a stored answer keeps the origin's Date byte for byte (Age says how old it is), an answer without
Date gets the time it was received (and keeps that one), a 304 replaces the stored Date, and a pass-through answer
carries the origin's Date; never two Date fields."""
import email.utils
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from edgetest import PY_CATCH_ALL, Failures, edge_before_pyorigin, http_get  # noqa: E402


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


def seconds(d):
    return email.utils.parsedate_to_datetime(d).timestamp()


def answer(status, fields, body=b""):
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields)
    if not status.startswith("304"):
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


f = Failures()
with edge_before_pyorigin(PY_CATCH_ALL) as (edge, py):
    port = edge.port

    def get(path):
        t0 = time.time()
        st, h, b = http_get(port, path, timeout=20)
        return st, h, b, t0, time.time()

    # 1. A stored answer keeps the origin's Date; Age = the age it had on arrival plus its time in the cache.
    origin_date = http_date(time.time() - 100)
    py.scripts["/d/stored"] = [answer("200 OK", [("Date", origin_date), ("Cache-Control", "max-age=3600")], b"s")]
    st, h, b, t0, t1 = get("/d/stored")
    f.eq((st, h.get("date"), b), (200, origin_date, b"s"), "miss: the origin's Date, once")
    f.check(99 <= int(h.get("age", "-1")) <= 100 + (t1 - t0) + 1, f"miss: Age = apparent age 100 ({h.get('age')})")
    time.sleep(2.2)
    st, h, b, t0, t1 = get("/d/stored")
    f.eq((st, h.get("date"), h.get("x-cache")), (200, origin_date, "Hit from meridian"),
         "hit: the origin's Date, not the time of the hit")
    f.check(101 <= int(h.get("age", "-1")) <= t1 - seconds(origin_date) + 1,
            f"hit: Age grew with its time in the cache ({h.get('age')})")

    # 2. No Date from the origin: the edge adds the time it received the answer, and reuses keep that one.
    py.scripts["/d/none"] = [answer("200 OK", [("Cache-Control", "max-age=3600")], b"n")]
    st, h, b, t0, t1 = get("/d/none")
    received = h.get("date", "")
    f.check(received and int(t0) - 1 <= seconds(received) <= t1 + 1, f"miss without Date: the time of receipt "
            f"({received!r})")
    f.check("age" not in h or h["age"] == "0", f"miss without Date: no age ({h.get('age')})")
    time.sleep(2.2)
    st, h, b, t0, t1 = get("/d/none")
    f.eq((h.get("date"), h.get("x-cache")), (received, "Hit from meridian"), "hit: the Date added on receipt")
    f.check(2 <= int(h.get("age", "-1")) <= 2 + (t1 - seconds(received)), f"hit: Age counts from receipt "
            f"({h.get('age')})")

    # An invalid Date is replaced by the time of receipt too.
    py.scripts["/d/invalid"] = [answer("200 OK", [("Date", "yesterday"), ("Cache-Control", "max-age=3600")], b"i")]
    st, h, b, t0, t1 = get("/d/invalid")
    f.check(h.get("date", "") != "yesterday" and int(t0) - 1 <= seconds(h.get("date")) <= t1 + 1,
            f"invalid Date: replaced by the time of receipt ({h.get('date')!r})")

    # 3. A 304 revalidation replaces the stored Date (RFC 9111 §4.3.4), and Age restarts from the 304's.
    first = http_date(time.time() - 30)
    py.scripts["/d/reval"] = [answer("200 OK", [("Date", first), ("Cache-Control", "max-age=1"), ("ETag", '"r"')],
                                     b"r")]
    st, h, b, t0, t1 = get("/d/reval")
    f.eq((st, h.get("date")), (200, first), "before the revalidation: the first Date")
    time.sleep(1.5)  # stored with max-age=1 and already 30 s old: stale now anyway
    second = http_date(time.time() - 5)
    py.scripts["/d/reval"] = [answer("304 Not Modified", [("Date", second), ("Cache-Control", "max-age=3600"),
                                                          ("ETag", '"r"')])]
    st, h, b, t0, t1 = get("/d/reval")
    f.eq((st, h.get("date"), b), (200, second, b"r"), "revalidated: the 304's Date")
    f.check(4 <= int(h.get("age", "-1")) <= 5 + (t1 - t0) + 1, f"revalidated: Age from the 304 ({h.get('age')})")
    st, h, b, t0, t1 = get("/d/reval")
    f.eq((h.get("date"), h.get("x-cache")), (second, "Hit from meridian"), "hit after the 304: the 304's Date")
    f.eq(py.count("/d/reval"), 2, "one fill and one revalidation")
    # A viewer's own conditional request answered from the cache: the stored Date as well.
    st, h, b = http_get(port, "/d/reval", headers={"If-None-Match": '"r"'})
    f.eq((st, h.get("date")), (304, second), "304 to the viewer: the stored Date")

    # 4. Pass-through (not storable): the origin's Date goes on unchanged, once.
    old = http_date(time.time() - 50)
    py.scripts["/d/pass"] = [answer("200 OK", [("Date", old), ("Cache-Control", "no-store")], b"p")]
    st, h, b, t0, t1 = get("/d/pass")
    f.eq((st, h.get("date"), b), (200, old, b"p"), "pass-through: the origin's Date, once")
    py.scripts["/d/pass-none"] = [answer("200 OK", [("Cache-Control", "no-store")], b"q")]
    st, h, b, t0, t1 = get("/d/pass-none")
    f.check(int(t0) - 1 <= seconds(h.get("date", "")) <= t1 + 1 and h.get("date", "").count(",") == 1,
            f"pass-through without Date: one Date, the time of receipt ({h.get('date')!r})")
f.done()
