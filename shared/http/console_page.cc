#include "shared/http/console_page.h"

namespace shared {

namespace {

constexpr std::string_view kHead = R"M(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>)M";

constexpr std::string_view kStyle = R"M(</title>
<style>
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2330;--mute:#6b7385;--line:#e3e6ec;--accent:#2563eb;--bad:#c2410c;--good:#15803d}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif}
header{display:flex;align-items:baseline;gap:1rem;padding:.8rem 1.2rem;background:var(--ink);color:#fff}
header h1{font-size:1.1rem;margin:0;font-weight:600}
#status{color:#c8cddb;font-size:.85rem}
#status.err{color:#fca5a5}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:.9rem;padding:1rem 1.2rem}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem}
section.wide{grid-column:1/-1}
h2{font-size:.8rem;text-transform:uppercase;letter-spacing:.05em;color:var(--mute);margin:0 0 .6rem}
.kpis{display:flex;flex-wrap:wrap;gap:1.2rem}
.kpi{min-width:7.5rem}
.kpi b{display:block;font-size:1.5rem;font-weight:600;font-variant-numeric:tabular-nums}
.kpi span{color:var(--mute);font-size:.8rem}
svg.spark{display:block;width:100%;height:42px;margin-top:.5rem}
svg.spark polyline{fill:none;stroke:var(--accent);stroke-width:1.5;vector-effect:non-scaling-stroke}
svg.spark polygon{fill:#dbe6fd;stroke:none}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid var(--line);white-space:nowrap}
th{color:var(--mute);font-weight:500;font-size:.8rem}
td.n,th.n{text-align:right}
td.k{max-width:28rem;overflow:hidden;text-overflow:ellipsis}
.good{color:var(--good)}.bad{color:var(--bad)}
pre#raw{display:none}
</style></head><body>
<header><h1>)M";

constexpr std::string_view kMain = R"M(</h1><span id="status">connecting…</span></header>
<main>
)M";

constexpr std::string_view kScript = R"M(
</main>
<pre id="raw"></pre>
<script>
"use strict";
const M = (() => {
  const el = id => document.getElementById(id);
  const units = ["", "k", "M", "G", "T"];
  const bytes = ["B", "KiB", "MiB", "GiB", "TiB"];
  function fmt(v, unit) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (unit === "%") return (v * 100).toFixed(1) + "%";
    if (unit === "ms") return (v < 10 ? v.toFixed(2) : v.toFixed(0)) + " ms";
    if (unit === "B" || unit === "B/s") {
      let i = 0;
      while (Math.abs(v) >= 1024 && i < bytes.length - 1) { v /= 1024; i++; }
      return (i ? v.toFixed(1) : v.toFixed(0)) + " " + bytes[i] + (unit === "B/s" ? "/s" : "");
    }
    let i = 0;
    while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++; }
    const s = i ? v.toFixed(1) + units[i] : (Number.isInteger(v) ? String(v) : v.toFixed(1));
    return s + (unit === "/s" ? "/s" : "");
  }
  function num(id, v, unit) {
    const e = el(id);
    if (!e) return;
    e.textContent = fmt(v, unit || "");
    e.dataset.value = v === null || v === undefined ? "" : String(v);
  }
  function text(id, s) { const e = el(id); if (e) e.textContent = s; }
  function table(id, cols, rows) {
    const t = el(id);
    if (!t) return;
    const head = "<tr>" + cols.map(c => "<th" + (c[2] !== undefined ? " class=n" : "") + ">" + c[0] + "</th>").join("") + "</tr>";
    t.innerHTML = "<thead>" + head + "</thead><tbody></tbody>";
    const body = t.tBodies[0];
    for (const r of rows) {
      const tr = body.insertRow();
      for (const c of cols) {
        const td = tr.insertCell();
        const v = r[c[1]];
        if (c[2] !== undefined) {
          td.className = "n";
          td.textContent = fmt(v, c[2]);
          td.dataset.value = String(v);
        } else {
          td.className = "k";
          td.textContent = v === undefined ? "" : String(v);
          td.title = td.textContent;
        }
        td.dataset.key = c[1];
      }
    }
  }
  function spark(id, values) {
    const e = el(id);
    if (!e || !values) return;
    const w = 300, h = 40, n = values.length;
    const max = Math.max(1e-9, ...values);
    const pts = values.map((v, i) => ((n < 2 ? w : i * w / (n - 1)).toFixed(1) + "," + (h - 1 - v / max * (h - 2)).toFixed(1)));
    e.setAttribute("viewBox", "0 0 " + w + " " + h);
    e.setAttribute("preserveAspectRatio", "none");
    e.innerHTML = '<polygon points="0,' + h + " " + pts.join(" ") + " " + w + "," + h + '"/>' +
                  '<polyline points="' + pts.join(" ") + '"/>';
    e.dataset.points = String(n);
  }
  return {fmt, num, text, table, spark, el};
})();
)M";

constexpr std::string_view kTail = R"M(
(() => {
  let polls = 0;
  const status = document.getElementById("status");
  async function poll() {
    try {
      const r = await fetch("stats.json", {cache: "no-store", credentials: "same-origin"});
      if (r.status === 401) throw new Error("401: this admin listener needs its token (admin.token_file)");
      if (!r.ok) throw new Error("HTTP " + r.status);
      const txt = await r.text();
      const d = JSON.parse(txt);
      render(d);
      document.getElementById("raw").textContent = txt;
      polls++;
      document.body.dataset.polls = String(polls);
      status.className = "";
      status.textContent = "updated " + new Date().toLocaleTimeString() + " · every second";
    } catch (e) {
      status.className = "err";
      status.textContent = String(e.message || e);
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
</script></body></html>
)M";

} // namespace

std::string console_page(std::string_view title, std::string_view body_html, std::string_view render_js) {
    std::string out;
    out.reserve(kHead.size() + kStyle.size() + kMain.size() + kScript.size() + kTail.size() + body_html.size() +
                render_js.size() + 2 * title.size());
    out.append(kHead).append(title).append(kStyle).append(title).append(kMain).append(body_html).append(kScript);
    out.append(render_js).append(kTail);
    return out;
}

} // namespace shared
