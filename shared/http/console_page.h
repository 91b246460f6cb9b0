// The live admin console's page shell both daemons serve (GET /_meridian/console): one self-contained HTML
// document (CSS and JavaScript inline, no external asset, font or CDN, so it works on an isolated host and under a
// strict CSP) that polls the daemon's GET /_meridian/stats.json every second and hands the parsed JSON to the
// daemon's render(d). The shell gives render() its building blocks, each writing into an element by id:
//   M.num(id, value, unit)   a number ("12.3k", "98.1%", "4.2 ms", "1.5 GiB"); unit: "", "/s", "%", "ms", "B", "B/s"
//   M.text(id, string)
//   M.table(id, [[header, key, unit]...], rows)   rows: objects; cell text formatted as M.num does
//   M.spark(id, values)      a small inline SVG line of the last values (rates, oldest first)
// Every number is shown formatted, with the exact value in the element's data-value attribute, and the JSON last
// rendered is kept in <pre id="raw">, so a test can read the page (chromium --dump-dom) and compare both.
#pragma once

#include <string>
#include <string_view>

namespace shared {

// `title`: the page's heading; `body_html`: the daemon's panels (elements with ids); `render_js`: a script that
// defines `function render(d)`.
std::string console_page(std::string_view title, std::string_view body_html, std::string_view render_js);

} // namespace shared
